"""Sealed bids: receipts, versions, withdrawal, prices, deadline (SPEC §4.2)."""

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import clock
from core.errors import DomainError, ErrorCode
from market import accounts, bids, providers, receipts, tenders
from market import models as m
from tests import factories
from tests.market import world as w


def _code(error: pytest.ExceptionInfo) -> ErrorCode:
    return error.value.problems[0].code


async def test_a_receipt_is_the_sha256_of_the_canonical_content(session):
    world = await w.build(session)
    tender = await world.published()
    submission = await world.bid(
        tender, 0, "99.50", capacity="12 certified carers", attachments=["licence.pdf"]
    )
    bid = submission.bid
    content = receipts.canonical_bid(bid, tender_id=tender.id, provider_id=bid.provider_id)
    assert (
        hashlib.sha256(content.encode()).hexdigest()
        == submission.receipt.receipt_sha256
        == bid.receipt_sha256
    )
    assert '"unitPrice":"99.50"' in content and "12 certified carers" in content
    assert submission.receipt.submitted_at == bid.submitted_at

    # After opening, the opened bid still matches its receipt.
    for i in (1, 2):
        await world.bid(tender, i, "100.00")
    await world.past_deadline(tender)
    await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    await session.refresh(bid)
    reopened = receipts.canonical_bid(bid, tender_id=tender.id, provider_id=bid.provider_id)
    assert hashlib.sha256(reopened.encode()).hexdigest() == submission.receipt.receipt_sha256
    assert tender.opening_record[0]["receipt_sha256"] == submission.receipt.receipt_sha256


async def test_an_amended_bid_is_a_new_version_with_a_new_receipt(session):
    world = await w.build(session)
    tender = await world.published()
    first = await world.bid(tender, 0, "99.00")
    first_hash = first.receipt.receipt_sha256
    await world.advance(60)
    second = await world.bid(tender, 0, "97.00", proposal="Better plan")
    assert second.bid.id == first.bid.id
    assert (second.bid.version, second.bid.unit_price) == (2, Decimal("97.00"))
    assert second.receipt.receipt_sha256 != first_hash
    versions = (
        await session.scalars(
            select(m.BidVersion).where(m.BidVersion.bid_id == first.bid.id).order_by(m.BidVersion.version)
        )
    ).all()
    assert [(v.version, v.unit_price, v.receipt_sha256) for v in versions] == [
        (1, Decimal("99.00"), first_hash),
        (2, Decimal("97.00"), second.receipt.receipt_sha256),
    ]


async def test_withdrawal_before_the_deadline_and_a_new_bid_after_it(session):
    world = await w.build(session)
    tender = await world.published()
    bid = (await world.bid(tender, 0, "99.00")).bid
    await bids.withdraw_bid(session=session, actor=world.bidders[0], bid_id=bid.id)
    assert bid.status == m.BidStatus.WITHDRAWN
    with pytest.raises(DomainError) as again:
        await bids.withdraw_bid(session=session, actor=world.bidders[0], bid_id=bid.id)
    assert _code(again) == ErrorCode.INVALID_STATE
    revived = (await world.bid(tender, 0, "98.00")).bid
    assert (revived.id, revived.status, revived.version) == (bid.id, m.BidStatus.SUBMITTED, 2)


async def test_withdrawn_bids_are_not_opened(session):
    world = await w.build(session)
    tender = await world.published(min_valid_bids=1)
    withdrawn = (await world.bid(tender, 0, "99.00")).bid
    await bids.withdraw_bid(session=session, actor=world.bidders[0], bid_id=withdrawn.id)
    await world.bid(tender, 1, "98.00")
    await world.past_deadline(tender)
    await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    assert [entry["bid_id"] for entry in tender.opening_record] != [withdrawn.id]
    assert len(tender.opening_record) == 1
    await session.refresh(withdrawn)
    assert withdrawn.status == m.BidStatus.WITHDRAWN


@pytest.mark.parametrize(
    ("price", "code"),
    [
        ("110.01", ErrorCode.PRICE_ABOVE_CEILING),
        ("59.99", ErrorCode.PRICE_OUT_OF_RANGE),
        ("0", ErrorCode.INVALID),
        ("99.999", ErrorCode.INVALID),
    ],
)
async def test_prices_are_checked_when_bidding(session, price, code):
    world = await w.build(session)
    tender = await world.published()
    with pytest.raises(DomainError) as refused:
        await world.bid(tender, 0, price)
    assert _code(refused) == code
    assert refused.value.problems[0].field == ("input", "unitPrice")
    assert await session.scalar(select(func.count()).select_from(m.Bid)) == 0


async def test_a_ceiling_at_the_top_of_the_package_range_takes_bids_up_to_it(session):
    world = await w.build(session)
    tender = await world.published(max_unit_price=Decimal("120.00"))  # the package's range is 60-120
    with pytest.raises(DomainError) as refused:
        await world.bid(tender, 0, "120.01")
    assert _code(refused) == ErrorCode.PRICE_ABOVE_CEILING
    assert (await world.bid(tender, 0, "120.00")).bid.unit_price == Decimal("120.00")


async def test_a_suspended_provider_cannot_bid(session):
    world = await w.build(session)
    tender = await world.published()
    await providers.suspend_provider(
        session=session, actor=factories.ADMIN, provider_id=world.providers[0].id, reason="unpaid wages"
    )
    with pytest.raises(DomainError) as refused:
        await world.bid(tender, 0, "99.00")
    assert _code(refused) == ErrorCode.PERMISSION_DENIED
    assert "SUSPENDED" in str(refused.value)


async def test_only_published_tenders_take_bids(session):
    world = await w.build(session)
    draft = await world.draft()
    with pytest.raises(DomainError) as refused:
        await world.bid(draft, 0, "99.00")
    assert _code(refused) == ErrorCode.NOT_FOUND  # a draft is invisible to providers
    cancelled = await world.published()
    await tenders.cancel_tender(session=session, actor=world.officer, tender_id=cancelled.id, reason="budget")
    with pytest.raises(DomainError) as refused:
        await world.bid(cancelled, 0, "99.00")
    assert _code(refused) == ErrorCode.INVALID_STATE


async def test_a_bid_after_the_deadline_is_refused(session):
    world = await w.build(session)
    tender = await world.published()
    await world.past_deadline(tender)
    with pytest.raises(DomainError) as refused:
        await world.bid(tender, 0, "99.00")
    assert _code(refused) == ErrorCode.DEADLINE_PASSED
    assert await session.scalar(select(func.count()).select_from(m.Bid)) == 0


async def test_a_bid_whose_transaction_commits_after_the_deadline_is_refused(session, monkeypatch):
    world = await w.build(session)
    tender = await world.published()
    await world.advance((tender.bid_deadline - await world.now()).total_seconds() - 5)
    # The transaction begins and does all its work 5 s before the deadline...
    await bids.submit_bid(
        session=session,
        actor=world.bidders[0],
        tender_id=tender.id,
        unit_price=Decimal("99.00"),
        proposal="p",
    )
    await session.flush()
    # ...but reaches COMMIT 1 ms after it.
    late = tender.bid_deadline + dt.timedelta(milliseconds=1)
    offset = dt.timedelta(seconds=await clock.offset_seconds(session))
    monkeypatch.setattr(clock, "real_now", lambda: late - offset)
    with pytest.raises(DomainError) as refused:
        await session.commit()
    assert _code(refused) == ErrorCode.DEADLINE_PASSED
    await session.rollback()
    assert await session.scalar(select(func.count()).select_from(m.Bid)) == 0


async def test_bids_cannot_be_opened_before_the_deadline(session):
    world = await w.build(session)
    tender = await world.published()
    await world.bid(tender, 0, "99.00")
    with pytest.raises(DomainError) as refused:
        await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    assert _code(refused) == ErrorCode.TOO_EARLY
    assert tender.status == m.TenderStatus.PUBLISHED


async def test_a_missing_or_expired_qualification_makes_the_bid_invalid_at_opening(session):
    world = await w.build(session, bidders=3)
    unqualified = await factories.provider(session, regions=[world.region])
    expired = await factories.provider(session, regions=[world.region])
    await factories.qualification(session, expired, type=w.QUALIFICATION, valid_to=dt.date(2026, 1, 1))
    actors = []
    for provider in (unqualified, expired):
        user = await factories.user(session, factories.Role.PROVIDER, provider_id=provider.id)
        actors.append(accounts.actor_of(user))
    tender = await world.published(min_valid_bids=1)
    await world.bid(tender, 0, "99.00")
    for actor in actors:
        await bids.submit_bid(
            session=session, actor=actor, tender_id=tender.id, unit_price=Decimal("98.00"), proposal="p"
        )
        await session.commit()
    await world.past_deadline(tender)
    await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    status = {b.provider_id: (b.status, b.invalid_reason) for b in await world.bids(tender)}
    assert status[world.providers[0].id] == (m.BidStatus.VALID, None)
    for provider in (unqualified, expired):
        assert status[provider.id] == (
            m.BidStatus.INVALID,
            f"missing or expired qualification: {w.QUALIFICATION}",
        )
