"""Period rollups (SPEC §6.1) stay equal to a count from scratch whatever happens, in any order."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

from sqlalchemy import select

from contracts import audits, bulk, complaints, deliveries, ratings
from contracts.models import Complaint, Rating
from core.errors import DomainError
from scoring import rollups
from scoring.models import PeriodRollup
from tests.scoring import world as sw


async def assert_rollups_are_exact(session, contract_ids) -> dict:
    stored = await rollups.stored(session, contract_ids)
    assert stored == await rollups.recounted(session, contract_ids)
    return stored


async def test_a_new_contract_has_one_empty_rollup_per_period(session):
    world = await sw.build(session)
    rows = (
        await session.scalars(
            select(PeriodRollup)
            .where(PeriodRollup.contract_id == world.contract.id)
            .order_by(PeriodRollup.period_index)
        )
    ).all()
    assert [(r.period_index, r.starts_on, r.ends_on) for r in rows] == [
        (1, dt.date(2030, 1, 1), dt.date(2030, 3, 31)),
        (2, dt.date(2030, 4, 1), dt.date(2030, 6, 30)),
        (3, dt.date(2030, 7, 1), dt.date(2030, 9, 30)),
        (4, dt.date(2030, 10, 1), dt.date(2030, 12, 31)),
    ]
    assert all(r.package_id == world.contract.package_id and r.ratings_given == 0 for r in rows)


async def test_rollups_equal_a_recount_after_a_random_sequence_of_operations(session):
    """A seeded random mix of everything that moves a rollup, across two periods; checked as it goes."""
    rng = random.Random(20261126)
    world = await sw.build(session, on=dt.date(2030, 3, 25))
    staff = sw.phone()
    await ratings.register_staff_phones(
        session=session, actor=world.provider, provider_id=world.contract.provider_id, phones=[staff]
    )
    made = {}
    links: list[tuple[int, str, dt.date]] = []  # (delivery id, token, day)
    open_complaints: list[int] = []
    for step in range(140):
        if step == 70:  # into period 2; period 1's audit goes on in draft
            await sw.move_to(world, dt.date(2030, 4, 12))
        today = await world.today()
        period = 1 if today <= sw.PERIOD_ENDS[1] else 2
        if period not in made:
            made[period] = (await sw.audit(world, period, value=95, submit=False))[0].id
        operation = rng.choice(["deliver"] * 4 + ["rate"] * 4 + ["change", "dispute", "false", "flag",
                                "clear", "complain", "resolve"])  # fmt: skip
        try:
            if operation == "deliver" or not links:
                day = today - dt.timedelta(days=rng.randrange(0, 20))
                delivery, token = await sw.deliver(world, day, rng.randrange(1, 4))
                links.append((delivery.id, token, day))
            elif operation in ("rate", "change"):
                _, token, _ = rng.choice(links)
                await sw.rate(world, token, rng.randrange(1, 6))
            elif operation == "dispute":
                _, token, _ = rng.choice(links)
                await deliveries.dispute_delivery(session=session, token=token, reason="没有")
            elif operation == "false":
                delivery_id, _, day = rng.choice(links)
                audit_id = made.get(1 if day <= sw.PERIOD_ENDS[1] else 2)
                await audits.mark_delivery_false(
                    session=session, actor=world.auditor, audit_id=audit_id, delivery_id=delivery_id
                )
            elif operation == "flag":
                delivery, token = await sw.deliver(world, today, 1, to=staff)
                links.append((delivery.id, token, today))
                await sw.rate(world, token, rng.randrange(1, 6))
            elif operation == "clear":
                flagged = await session.scalar(
                    select(Rating.delivery_id).where(
                        Rating.flag_reason.isnot(None), Rating.flag_cleared_at.is_(None)
                    )
                )
                if flagged:
                    await ratings.clear_rating_flag(session=session, actor=world.officer, delivery_id=flagged)
            elif operation == "complain":
                _, token, _ = rng.choice(links)
                filed = await complaints.file_complaint(
                    session=session, token=token, category="LATE", text="迟到"
                )
                open_complaints.append(filed.id)
            elif operation == "resolve" and open_complaints:
                complaint_id = open_complaints.pop(rng.randrange(len(open_complaints)))
                await complaints.close_complaint(
                    session=session, actor=world.officer, complaint_id=complaint_id, note="处理",
                    substantiated=rng.random() < 0.6, reject=rng.random() < 0.2,
                )  # fmt: skip
            await session.commit()
        except DomainError:  # e.g. a rating past its 48 hours, a dispute after 7 days: nothing changed
            await session.rollback()
            await session.refresh(world.contract)
        if step % 15 == 14:
            await assert_rollups_are_exact(session, [world.contract.id])
        if rng.random() < 0.3:
            await world.advance(rng.randrange(3600, 3 * 86400))

    counts = await assert_rollups_are_exact(session, [world.contract.id])
    first, second = counts[(world.contract.id, 1)], counts[(world.contract.id, 2)]
    # The sequence did exercise what it should.
    assert first["deliveries_recorded"] > 5 and second["deliveries_recorded"] > 5
    assert first["ratings_count"] > 0 and first["ratings_given"] > first["ratings_count"]
    assert first["verified_units"] + second["verified_units"] > 0
    assert first["substantiated_complaints"] + second["substantiated_complaints"] > 0
    assert await session.scalar(select(Complaint.id).where(Complaint.substantiated.is_(True)))


async def test_a_bulk_load_keeps_the_rollups_exact(session):
    world = await sw.build(session, on=dt.date(2030, 5, 20))
    await bulk.generate_ratings(session, contract_id=world.contract.id, count=1_500, batch_size=600, seed=3)
    counts = await assert_rollups_are_exact(session, [world.contract.id])
    assert sum(c["ratings_given"] for c in counts.values()) == 1_500
    assert (
        counts[(world.contract.id, 1)]["ratings_count"] > 0
        and counts[(world.contract.id, 2)]["ratings_count"] > 0
    )


async def test_recompute_repairs_rollups(session):
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    _, token = await sw.deliver(world, dt.date(2030, 3, 1), 2)
    await sw.rate(world, token, 4)
    before = await rollups.stored(session, [world.contract.id])
    await session.execute(PeriodRollup.__table__.update().values(ratings_sum=0, verified_units=0))
    await rollups.recompute(session, [world.contract.id])
    assert await rollups.stored(session, [world.contract.id]) == before
    assert before[(world.contract.id, 1)]["ratings_sum"] == 4


async def test_migration_0007_backfills_the_rollups_of_existing_contracts(scratch_engine):
    """Contracts with deliveries, ratings and complaints made before 0007: downgrade to 0006 (the scoring
    tables go), upgrade again: the backfill counts what the hooks had counted."""
    from alembic import command

    from core.db import alembic_config, create_sessionmaker

    sessionmaker = create_sessionmaker(scratch_engine)
    async with sessionmaker() as session:
        world = await sw.build(session, on=dt.date(2030, 4, 20))
        staff = sw.phone()
        await ratings.register_staff_phones(
            session=session, actor=world.provider, provider_id=world.contract.provider_id, phones=[staff]
        )
        for day, units, stars in [
            (dt.date(2030, 3, 1), 2, 5),
            (dt.date(2030, 4, 2), 1, 3),
            (dt.date(2030, 4, 15), 3, 4),
        ]:
            _, token = await sw.deliver(world, day, units)
            await sw.rate(world, token, stars)
        _, token = await sw.deliver(world, dt.date(2030, 4, 18), 1, to=staff)
        await sw.rate(world, token, 1)  # flagged
        await deliveries.dispute_delivery(session=session, token=token, reason="没有")
        await sw.complaint(world, token, substantiated=True)
        await session.commit()
        contract_id = world.contract.id
        before = await assert_rollups_are_exact(session, [contract_id])
    url = scratch_engine.url.render_as_string(hide_password=False)

    def migrate():
        command.downgrade(alembic_config(url), "0006_complaint_category_codes")
        command.upgrade(alembic_config(url), "head")

    await scratch_engine.dispose()
    await asyncio.to_thread(migrate)

    async with sessionmaker() as session:
        after = await rollups.stored(session, [contract_id])
    assert after == before
    assert after[(contract_id, 2)]["ratings_given"] == 3 and after[(contract_id, 2)]["ratings_count"] == 2
    assert after[(contract_id, 2)]["substantiated_complaints"] == 1
