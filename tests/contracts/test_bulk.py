"""Bulk demo data (contracts.bulk): deliveries and ratings as the services would have stored them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from contracts import bulk, lifecycle, ratings
from contracts.models import Delivery, Rating
from core import journal
from core.errors import DomainError, ErrorCode
from core.models import JournalEvent
from tests.contracts import world as cw


@pytest.fixture
async def world(session):
    return await cw.build(session, start_in_days=45)


async def test_generates_ratings_of_existing_deliveries_and_keeps_the_journal_valid(session, world):
    contract = world.contract
    events_before = await session.scalar(select(func.count()).select_from(JournalEvent))
    reported = []

    result = await bulk.generate_ratings(
        session, contract_id=contract.id, count=2_000, progress=reported.append, batch_size=700, seed=7
    )

    assert result.ratings == 2_000 and sum(reported) == 2_000 and reported == [700, 700, 600]
    assert result.batches == 3 and result.per_contract == {contract.id: 2_000}
    deliveries = (await session.scalars(select(Delivery).where(Delivery.contract_id == contract.id))).all()
    ratings = (await session.scalars(select(Rating).where(Rating.contract_id == contract.id))).all()
    assert len(ratings) == 2_000 and len(deliveries) == result.deliveries
    # Most deliveries are rated, some are not, a few were disputed (and so never rated).
    assert 0.75 < len(ratings) / len(deliveries) < 0.95
    by_id = {d.id: d for d in deliveries}
    assert all(r.delivery_id in by_id for r in ratings)
    assert not any(by_id[r.delivery_id].disputed_at for r in ratings)
    assert sum(1 for d in deliveries if d.disputed_at) == result.disputed
    # Realistic values: stars 1-5 skewed to 4-5, dimensions 1-5 or absent, within the term up to today.
    assert {r.stars for r in ratings} == {1, 2, 3, 4, 5}
    assert sum(r.stars >= 4 for r in ratings) / len(ratings) > 0.7
    for r in ratings:
        assert all(v is None or 1 <= v <= 5 for v in (r.timeliness, r.attitude, r.professionalism))
        assert r.flag_reason is None and r.created_at >= by_id[r.delivery_id].recorded_at
        assert r.created_at <= await world.now()
    today = await world.today()
    first, _last = lifecycle.contract_term(contract)
    assert all(first <= d.delivered_on <= today and d.units in (1, 2) for d in deliveries)
    assert len({d.token_hash for d in deliveries}) == len(deliveries)
    assert 20 <= len({d.phone_hash for d in deliveries}) < len(deliveries)
    assert any(r.comment for r in ratings) and any(r.client_address for r in ratings)
    # One journal event per batch, and the chain is intact.
    events = (
        await session.scalars(
            select(JournalEvent).where(JournalEvent.seq > events_before).order_by(JournalEvent.seq)
        )
    ).all()
    assert [e.action for e in events] == ["demo.ratings_generated"] * 3
    assert sum(json.loads(e.after)["ratings"] for e in events) == 2_000
    assert sum(json.loads(e.after)["deliveries"] for e in events) == len(deliveries)
    assert all(e.entity_type == "Contract" and e.entity_id == str(contract.id) for e in events)
    verification = await journal.verify(session)
    assert verification.ok, verification.reason


async def test_without_a_contract_every_started_active_contract_gets_a_share(session, world):
    result = await bulk.generate_ratings(session, count=300, seed=1)

    assert result.per_contract == {world.contract.id: 300}
    counted = await session.scalar(select(func.count()).select_from(Rating))
    assert counted == 300


async def test_a_suspended_contract_gets_nothing(session, world):
    await lifecycle.change_contract_status(
        session=session, actor=world.officer, contract_id=world.contract.id, change="suspended", reason="检查"
    )
    await session.commit()

    with pytest.raises(DomainError) as one:
        await bulk.generate_ratings(session, contract_id=world.contract.id, count=10)
    with pytest.raises(DomainError) as every:
        await bulk.generate_ratings(session, count=10)
    assert one.value.code == every.value.code == ErrorCode.INVALID_STATE


async def test_generated_deliveries_are_rated_through_their_links(session, world):
    tokens = [f"bench-token-{i:04d}" for i in range(30)]

    result = await bulk.generate_deliveries(
        session, contract_id=world.contract.id, tokens=tokens, batch_size=20
    )

    assert result.deliveries == 30 and result.batches == 2
    view = await ratings.rate_delivery(
        session=session, token=tokens[3], rating=ratings.Stars(4, 5, 4, 4), client_address="203.0.113.9"
    )
    await session.commit()
    assert view.rating.stars == 4 and view.rating.flag_reason is None
    assert (await world.today()) - view.delivery.delivered_on < dt.timedelta(days=7)
    assert (await journal.verify(session)).ok


async def test_from_an_engine_each_batch_commits_on_its_own(scratch_engine):
    from core.db import create_sessionmaker

    sessions = create_sessionmaker(scratch_engine)
    async with sessions() as session:
        contract_id = (await cw.build(session, start_in_days=10)).contract.id

    result = await bulk.generate_ratings(
        scratch_engine, contract_id=contract_id, count=1_500, batch_size=1_000
    )

    assert result.batches == 2 and result.ratings == 1_500
    async with sessions() as session:
        orphans = await session.scalar(
            select(func.count())
            .select_from(Rating)
            .outerjoin(Delivery, Delivery.id == Rating.delivery_id)
            .where(Delivery.id.is_(None) | (Delivery.contract_id != Rating.contract_id))
        )
        assert orphans == 0
        assert await session.scalar(select(func.count()).select_from(Rating)) == 1_500
        assert (await journal.verify(session)).ok
