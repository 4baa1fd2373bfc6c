"""Validity at opening, abnormally low prices, conflicts, scores and ranks (SPEC §4.3).

Each test pins one rule so that breaking the rule breaks the test: boundaries are
hit exactly (80% of the mean, the minimum number of valid bids, price weights of
0.10/0.30) and the golden numbers are worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from core import clock
from core.auth import Role
from core.errors import DomainError, ErrorCode
from market import accounts, awards, evaluation, providers, tenders
from market import bids as bidding
from market import models as m
from tests import factories
from tests.market import world as w

# ---------------------------------------------------------------- helpers


def code_of(raised: pytest.ExceptionInfo[DomainError]) -> ErrorCode:
    return raised.value.problems[0].code


async def newcomer(world: w.World, *, qualifications: list[tuple[str, dt.date, dt.date]] = ()) -> int:
    """Another ACTIVE bidder, holding only the given (type, valid_from, valid_to); returns its index."""
    session = world.session
    provider = await factories.provider(session, regions=[world.region])
    for number, (kind, valid_from, valid_to) in enumerate(qualifications):
        await providers.add_qualification(
            session=session,
            actor=factories.ADMIN,
            provider_id=provider.id,
            type=kind,
            number=f"N-{provider.id}-{number}",
            valid_from=valid_from,
            valid_to=valid_to,
        )
    user = await factories.user(session, Role.PROVIDER, provider_id=provider.id)
    world.providers.append(provider)
    world.bidders.append(accounts.actor_of(user))
    return len(world.bidders) - 1


async def open_with(world: w.World, prices: dict[int, str], **overrides) -> m.Tender:
    """Publish, bid {bidder index: price} in that order, pass the deadline, open."""
    tender = await world.published(**overrides)
    for bidder, price in prices.items():
        await world.bid(tender, bidder, price)
    await world.past_deadline(tender)
    return await bidding.open_bids(session=world.session, actor=world.officer, tender_id=tender.id)


async def stored(world: w.World, tender: m.Tender) -> dict[int, m.Bid]:
    """The bids as stored in the database (re-read, not the objects in memory), by bidder index."""
    await world.session.flush()
    rows = (
        await world.session.scalars(
            select(m.Bid).where(m.Bid.tender_id == tender.id).execution_options(populate_existing=True)
        )
    ).all()
    index = {p.id: i for i, p in enumerate(world.providers)}
    return {index[b.provider_id]: b for b in rows}


async def reloaded(world: w.World, tender: m.Tender) -> m.Tender:
    await world.session.flush()
    return await world.session.scalar(
        select(m.Tender).where(m.Tender.id == tender.id).execution_options(populate_existing=True)
    )


async def rank(world: w.World, tender: m.Tender) -> m.Tender:
    return await evaluation.rank_bids(session=world.session, actor=world.officer, tender_id=tender.id)


async def score(world: w.World, tender: m.Tender, evaluator: int, bidder: int, value: float) -> m.Bid:
    bid = (await stored(world, tender))[bidder]
    return await evaluation.score_bid(
        session=world.session, actor=world.evaluators[evaluator], bid_id=bid.id, score=value
    )


def results(bids: dict[int, m.Bid]) -> dict[int, tuple]:
    """bidder -> (price score, quality score, record score, total, rank), as stored."""
    return {
        i: (b.price_score, b.quality_score, b.record_score, b.total_score, b.rank) for i, b in bids.items()
    }


# ---------------------------------------------------------------- abnormally low prices


async def test_exactly_80_percent_of_the_valid_mean_is_not_abnormally_low(session):
    world = await w.build(session, bidders=3)
    outsider = await newcomer(world)  # holds no qualification: its bid is invalid
    # Valid: 80.00, 110.00, 110.00 -> mean 100.00 -> threshold 80.00; 80.00 is not below it.
    # Were the invalid 110.00 counted, the mean would be 102.50, the threshold 82.00, and 80.00 flagged.
    tender = await open_with(world, {0: "80.00", 1: "110.00", 2: "110.00", outsider: "110.00"})
    bids = await stored(world, tender)
    assert bids[outsider].status == m.BidStatus.INVALID
    assert [bids[i].status for i in range(3)] == [m.BidStatus.VALID] * 3
    assert [bids[i].abnormally_low for i in range(4)] == [False, False, False, False]
    assert tender.status == m.TenderStatus.EVALUATING


async def test_a_cent_below_80_percent_of_the_valid_mean_is_abnormally_low(session):
    world = await w.build(session, bidders=3)
    outsider = await newcomer(world)
    # Valid: 79.99, 110.00, 110.01 -> mean 100.00 -> threshold 80.00; 79.99 is below it.
    # Were the invalid 60.00 counted, the mean would be 90.00, the threshold 72.00: 79.99 not flagged.
    tender = await open_with(
        world,
        {0: "79.99", 1: "110.00", 2: "110.01", outsider: "60.00"},
        max_unit_price=Decimal("120.00"),
    )
    bids = await stored(world, tender)
    assert bids[outsider].status == m.BidStatus.INVALID
    assert [bids[i].abnormally_low for i in range(3)] == [True, False, False]
    assert bids[outsider].abnormally_low is False  # only valid bids are flagged


@pytest.mark.parametrize(
    ("prices", "flags"),
    [
        (["80.00", "110.00", "110.00"], [False, False, False]),
        (["79.99", "110.00", "110.01"], [True, False, False]),
        (["100.00"], [False]),
        ([], []),
    ],
)
def test_abnormally_low_formula(prices, flags):
    assert evaluation.abnormally_low([Decimal(p) for p in prices]) == flags


@given(st.lists(st.integers(min_value=1, max_value=10_000_000), min_size=1, max_size=12))
def test_abnormally_low_is_below_80_percent_of_the_exact_mean(cents):
    prices = [Decimal(c).scaleb(-2) for c in cents]
    threshold = Fraction(4, 5) * Fraction(sum(cents), 100 * len(cents))
    assert evaluation.abnormally_low(prices) == [Fraction(c, 100) < threshold for c in cents]


# ---------------------------------------------------------------- justifications


async def _flagged(world: w.World, **overrides) -> tuple[m.Tender, m.Bid]:
    # 60.00, 100.00, 110.00, 105.00 -> mean 93.75 -> threshold 75.00: bidder 0 is abnormally low.
    tender = await world.opened(["60.00", "100.00", "110.00", "105.00"], **overrides)
    bids = await stored(world, tender)
    assert [bids[i].abnormally_low for i in range(4)] == [True, False, False, False]
    await world.declare_all(tender)
    await world.score_all(tender, {i: [80, 80, 80] for i in range(4)})
    return tender, bids[0]


async def test_ranking_waits_for_the_decision_on_an_abnormally_low_bid(session):
    world = await w.build(session)
    tender, low = await _flagged(world)
    with pytest.raises(DomainError) as raised:
        await rank(world, tender)
    assert code_of(raised) == ErrorCode.INVALID_STATE
    with pytest.raises(DomainError) as raised:
        await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    assert code_of(raised) == ErrorCode.INVALID_STATE
    assert (await reloaded(world, tender)).status == m.TenderStatus.EVALUATING
    assert all(b.rank is None for b in (await stored(world, tender)).values())

    # Justified, still undecided: still waiting.
    await evaluation.justify_bid(session=session, actor=world.bidders[0], bid_id=low.id, text="Volunteers")
    with pytest.raises(DomainError) as raised:
        await rank(world, tender)
    assert code_of(raised) == ErrorCode.INVALID_STATE


async def test_accepting_needs_a_written_justification(session):
    world = await w.build(session)
    tender, low = await _flagged(world)
    with pytest.raises(DomainError) as raised:
        await evaluation.decide_justification(
            session=session, actor=world.officer, bid_id=low.id, accept=True
        )
    assert code_of(raised) == ErrorCode.INVALID_STATE
    low = (await stored(world, tender))[0]
    assert (low.status, low.justification_accepted) == (m.BidStatus.VALID, None)


async def test_an_accepted_justification_keeps_the_bid_valid(session):
    world = await w.build(session)
    tender, low = await _flagged(world)
    await evaluation.justify_bid(
        session=session, actor=world.bidders[0], bid_id=low.id, text="  Our carers are volunteers.  "
    )
    await evaluation.decide_justification(session=session, actor=world.officer, bid_id=low.id, accept=True)
    low = (await stored(world, tender))[0]
    assert (low.status, low.justification, low.justification_accepted, low.invalid_reason) == (
        m.BidStatus.VALID,
        "Our carers are volunteers.",
        True,
        None,
    )
    await rank(world, tender)
    bids = await stored(world, tender)
    # The accepted low bid takes part: lowest price 60.00, its price score is 100.00.
    assert bids[0].price_score == 100.0
    assert bids[1].price_score == 60.0  # 100 × 60 / 100
    assert sorted(b.rank for b in bids.values()) == [1, 2, 3, 4]


async def test_a_rejected_justification_makes_the_bid_invalid(session):
    world = await w.build(session)
    tender, low = await _flagged(world)
    await evaluation.justify_bid(session=session, actor=world.bidders[0], bid_id=low.id, text="Cheap")
    await evaluation.decide_justification(session=session, actor=world.officer, bid_id=low.id, accept=False)
    low = (await stored(world, tender))[0]
    assert low.status == m.BidStatus.INVALID
    assert low.justification_accepted is False
    assert "justification rejected" in low.invalid_reason

    # Deciding again is refused.
    with pytest.raises(DomainError) as raised:
        await evaluation.decide_justification(
            session=session, actor=world.officer, bid_id=low.id, accept=True
        )
    assert code_of(raised) == ErrorCode.INVALID_STATE

    # 3 valid bids remain (the minimum): ranked without the rejected one, whose price no longer counts.
    await rank(world, tender)
    bids = await stored(world, tender)
    assert bids[0].rank is None and bids[0].total_score is None
    # lowest valid 100.00: 100.00 -> 100.00; 105.00 -> 95.238… -> 95.24; 110.00 -> 90.909… -> 90.91
    assert [bids[i].price_score for i in (1, 3, 2)] == [100.0, 95.24, 90.91]
    assert [bids[i].rank for i in (1, 3, 2)] == [1, 2, 3]


async def test_a_rejection_below_the_minimum_makes_the_tender_unsuccessful_at_ranking(session):
    world = await w.build(session)
    # 60.00, 100.00, 110.00 -> mean 90.00 -> threshold 72.00: bidder 0 flagged; 3 valid = minimum 3.
    tender = await world.opened(["60.00", "100.00", "110.00"])
    assert tender.status == m.TenderStatus.EVALUATING
    low = (await stored(world, tender))[0]
    assert low.abnormally_low
    await evaluation.decide_justification(session=session, actor=world.officer, bid_id=low.id, accept=False)
    await rank(world, tender)
    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.UNSUCCESSFUL
    assert tender.closed_reason == "2 valid bid(s), fewer than the minimum of 3"
    assert tender.closed_at is not None


async def test_a_rejection_leaving_exactly_the_minimum_does_not_close_the_tender(session):
    world = await w.build(session)
    tender = await world.opened(["60.00", "100.00", "110.00"], min_valid_bids=2)
    low = (await stored(world, tender))[0]
    await evaluation.decide_justification(session=session, actor=world.officer, bid_id=low.id, accept=False)
    await world.declare_all(tender)
    await world.score_all(tender, {1: [80, 80, 80], 2: [80, 80, 80]})
    await rank(world, tender)
    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.EVALUATING and tender.closed_reason is None
    bids = await stored(world, tender)
    assert [bids[1].rank, bids[2].rank] == [1, 2]


# ---------------------------------------------------------------- validity at opening


async def test_bids_not_reconfirmed_after_an_amendment_are_invalid(session):
    world = await w.build(session)
    tender = await world.published(min_valid_bids=1)
    submissions = [await world.bid(tender, i, "100.00") for i in range(3)]
    await world.advance(60)
    await tenders.amend_tender(
        session=session,
        actor=world.officer,
        tender_id=tender.id,
        reason="Visits now include Sundays",
        changes={"title": "黄浦区居家养老上门服务采购（更正）"},
    )
    await session.commit()
    assert tender.version == 2
    await bidding.confirm_bid(session=session, actor=world.bidders[1], bid_id=submissions[1].bid.id)
    await world.bid(tender, 2, "99.00")  # a new version after the amendment confirms it too
    await world.past_deadline(tender)
    await bidding.open_bids(session=session, actor=world.officer, tender_id=tender.id)

    bids = await stored(world, tender)
    assert bids[0].status == m.BidStatus.INVALID
    assert "not re-confirmed" in bids[0].invalid_reason
    assert [bids[1].status, bids[2].status] == [m.BidStatus.VALID, m.BidStatus.VALID]
    assert bids[1].invalid_reason is None and bids[2].invalid_reason is None


async def test_a_required_qualification_missing_or_expired_at_the_deadline_invalidates(session):
    world = await w.build(session, bidders=0)
    extra = "医疗机构执业许可证"
    start = dt.date(2025, 1, 1)
    deadline_day = clock.today(world.terms().bid_deadline)  # local date of the bid deadline
    later = dt.date(2030, 12, 31)
    holds_both = await newcomer(
        world, qualifications=[(w.QUALIFICATION, start, later), (extra, start, later)]
    )
    lacks_extra = await newcomer(world, qualifications=[(w.QUALIFICATION, start, later)])
    expired = await newcomer(
        world,
        qualifications=[(w.QUALIFICATION, start, deadline_day - dt.timedelta(days=1)), (extra, start, later)],
    )
    last_day = await newcomer(
        world, qualifications=[(w.QUALIFICATION, start, deadline_day), (extra, start, later)]
    )
    not_yet = await newcomer(
        world,
        qualifications=[(w.QUALIFICATION, deadline_day + dt.timedelta(days=1), later), (extra, start, later)],
    )
    tender = await open_with(
        world,
        {i: "100.00" for i in (holds_both, lacks_extra, expired, last_day, not_yet)},
        required_qualifications=[w.QUALIFICATION, extra],
        min_valid_bids=1,
    )
    bids = await stored(world, tender)
    assert bids[holds_both].status == m.BidStatus.VALID
    assert bids[last_day].status == m.BidStatus.VALID  # valid through the day of the deadline
    assert bids[lacks_extra].status == m.BidStatus.INVALID
    assert bids[lacks_extra].invalid_reason == f"missing or expired qualification: {extra}"
    for index in (expired, not_yet):
        assert bids[index].status == m.BidStatus.INVALID
        assert bids[index].invalid_reason == f"missing or expired qualification: {w.QUALIFICATION}"


async def test_a_provider_suspended_after_bidding_is_invalid(session):
    world = await w.build(session, bidders=3)
    tender = await world.published(min_valid_bids=1)
    for i in range(3):
        await world.bid(tender, i, "100.00")
    await providers.suspend_provider(
        session=session, actor=factories.ADMIN, provider_id=world.providers[1].id, reason="unpaid wages"
    )
    await world.past_deadline(tender)
    await bidding.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    bids = await stored(world, tender)
    assert bids[1].status == m.BidStatus.INVALID
    assert "SUSPENDED" in bids[1].invalid_reason
    assert [bids[0].status, bids[2].status] == [m.BidStatus.VALID, m.BidStatus.VALID]


async def test_fewer_valid_bids_than_the_minimum_is_unsuccessful_at_opening(session):
    world = await w.build(session, bidders=2)
    outsider = await newcomer(world)
    tender = await open_with(world, {0: "100.00", 1: "95.00", outsider: "90.00"})  # 2 valid, minimum 3
    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.UNSUCCESSFUL
    assert tender.closed_reason == "2 valid bid(s), fewer than the minimum of 3"
    assert tender.closed_at is not None and tender.opened_at is not None
    assert len(tender.opening_record) == 3


async def test_exactly_the_minimum_of_valid_bids_goes_to_evaluation(session):
    world = await w.build(session, bidders=2)
    outsider = await newcomer(world)
    tender = await open_with(world, {0: "100.00", 1: "95.00", outsider: "90.00"}, min_valid_bids=2)
    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.EVALUATING
    assert tender.closed_reason is None and tender.closed_at is None


# ---------------------------------------------------------------- golden numbers


async def test_golden_scores_unrated_bidders(session):
    """SPEC §4.3 by hand; weights price 0.3, quality 0.6, record 0.1; all unrated (record 80).

    Prices 80.00, 102.40, 96.00, 90.00: mean 92.10, threshold 73.68, none abnormally low.
    Price score = 100 × 80.00 / price:
      b0 80.00  -> 100.00
      b1 102.40 -> 78.125 exactly -> half-even 78.12 (half-up would say 78.13)
      b2 96.00  -> 83.333… -> 83.33
      b3 90.00  -> 88.888… -> 88.89
    Quality = mean of 3 evaluators:
      b0 70, 75, 80     -> 75.00
      b1 90, 91, 95     -> 92.00
      b2 85, 85.5, 86.03 -> 256.53 / 3 = 85.51
      b3 80, 81, 81     -> 80.666… -> 80.67
    Total = 0.3 p + 0.6 q + 0.1 × 80, from the published (rounded) components:
      b0 30.000 + 45.000 + 8 = 83.000 -> 83.00
      b1 23.436 + 55.200 + 8 = 86.636 -> 86.64
      b2 24.999 + 51.306 + 8 = 84.305 -> half-even 84.30 (half-up 84.31; from the unrounded
         price score 83.333… it would be 84.306 -> 84.31)
      b3 26.667 + 48.402 + 8 = 83.069 -> 83.07
    Ranks: b1 86.64, b2 84.30, b3 83.07, b0 83.00 — the cheapest bid comes last.
    """
    world = await w.build(session)
    tender = await world.opened(["80.00", "102.40", "96.00", "90.00"])
    await world.declare_all(tender)
    await world.score_all(tender, {0: [70, 75, 80], 1: [90, 91, 95], 2: [85, 85.5, 86.03], 3: [80, 81, 81]})
    await rank(world, tender)
    bids = await stored(world, tender)
    assert not any(b.abnormally_low for b in bids.values())
    assert results(bids) == {
        0: (100.00, 75.00, 80.0, 83.00, 4),
        1: (78.12, 92.00, 80.0, 86.64, 1),
        2: (83.33, 85.51, 80.0, 84.30, 2),
        3: (88.89, 80.67, 80.0, 83.07, 3),
    }
    assert all(b.record_stars is None for b in bids.values())
    assert (await reloaded(world, tender)).ranked_at is not None


async def test_golden_scores_by_star_certification(session, monkeypatch):
    """Track record by stars at the deadline; weights price 0.1, quality 0.6, record 0.3.

    Prices 100.00, 104.00, 98.00, 95.00, 110.00, 102.00 (mean 101.50, threshold 81.20).
    Price score = 100 × 95.00 / price: 95.00, 91.346…->91.35, 96.938…->96.94, 100.00,
    86.363…->86.36, 93.137…->93.14. Quality 80, 84, 88 -> 84.00 for all (0.6 × 84 = 50.40).
    Stars and record: b0 2★ 60, b1 5★ 100, b2 unrated 80, b3 1★ 40, b4 4★ 90, b5 3★ 80.
    Total = 0.1 p + 50.40 + 0.3 r:
      b0  9.500 + 50.40 + 18 = 77.900 -> 77.90
      b1  9.135 + 50.40 + 30 = 89.535 -> 89.54 (half-even: 3 is odd, rounds up)
      b2  9.694 + 50.40 + 24 = 84.094 -> 84.09
      b3 10.000 + 50.40 + 12 = 72.400 -> 72.40
      b4  8.636 + 50.40 + 27 = 86.036 -> 86.04
      b5  9.314 + 50.40 + 24 = 83.714 -> 83.71
    Ranks: b1, b4, b2, b5, b0, b3.
    """
    world = await w.build(session, bidders=6)
    stars = {0: 2, 1: 5, 3: 1, 4: 4, 5: 3}  # bidder 2 is unrated
    calls = []

    async def certified(_session, provider_ids, moment):
        calls.append((sorted(provider_ids), moment))
        return {world.providers[i].id: n for i, n in stars.items()}

    monkeypatch.setattr(evaluation, "track_record_stars", certified)
    tender = await world.opened(
        ["100.00", "104.00", "98.00", "95.00", "110.00", "102.00"],
        price_weight=0.1,
        quality_weight=0.6,
        record_weight=0.3,
    )
    await world.declare_all(tender)
    await world.score_all(tender, {i: [80, 84, 88] for i in range(6)})
    await rank(world, tender)
    bids = await stored(world, tender)
    assert results(bids) == {
        0: (95.00, 84.00, 60.0, 77.90, 5),
        1: (91.35, 84.00, 100.0, 89.54, 1),
        2: (96.94, 84.00, 80.0, 84.09, 3),
        3: (100.00, 84.00, 40.0, 72.40, 6),
        4: (86.36, 84.00, 90.0, 86.04, 2),
        5: (93.14, 84.00, 80.0, 83.71, 4),
    }
    assert {i: b.record_stars for i, b in bids.items()} == {0: 2, 1: 5, 2: None, 3: 1, 4: 4, 5: 3}
    # Stars are looked up at the bid deadline, for the valid bidders.
    assert calls == [(sorted(p.id for p in world.providers), tender.bid_deadline)]


@pytest.mark.parametrize(("stars", "expected"), [(5, 100), (4, 90), (3, 80), (2, 60), (1, 40), (None, 80)])
def test_record_score_table(stars, expected):
    assert evaluation.record_score(stars) == Decimal(expected)


def test_formulas_round_half_even():
    assert evaluation.price_score(Decimal("80.00"), Decimal("102.40")) == Decimal("78.12")  # 78.125
    assert evaluation.price_score(Decimal("80.04"), Decimal("96.00")) == Decimal("83.38")  # 83.375
    assert evaluation.quality_score([80.01, 80.00]) == Decimal("80.00")  # 80.005
    assert evaluation.quality_score([80.03, 80.00]) == Decimal("80.02")  # 80.015
    total = evaluation.total_score(
        price=Decimal("83.33"), quality=Decimal("85.51"), record=Decimal(80), weights=(0.3, 0.6, 0.1)
    )
    assert total == Decimal("84.30")  # 84.305


# ---------------------------------------------------------------- ties


async def test_equal_totals_rank_the_lower_price_first(session):
    """b0 90.00: 0.3 × 100 + 0.6 × 80 + 8 = 86.00; b1 100.00: 0.3 × 90 + 0.6 × 85 + 8 = 86.00;
    b2 110.00: 0.3 × 81.82 + 0.6 × 70 + 8 = 74.546 -> 74.55. b0 bid last and has the higher bid ID,
    so only the price can put it first."""
    world = await w.build(session)
    tender = await world.published()
    await world.bid(tender, 1, "100.00")
    await world.advance(60)
    await world.bid(tender, 0, "90.00")
    await world.bid(tender, 2, "110.00")
    await world.past_deadline(tender)
    await bidding.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    await world.declare_all(tender)
    await world.score_all(tender, {0: [80, 80, 80], 1: [85, 85, 85], 2: [70, 70, 70]})
    await rank(world, tender)
    bids = await stored(world, tender)
    assert bids[0].total_score == bids[1].total_score == 86.0
    assert bids[2].total_score == 74.55
    assert [bids[0].rank, bids[1].rank, bids[2].rank] == [1, 2, 3]


async def test_equal_totals_and_prices_rank_the_earlier_final_submission_first(session):
    """b0 bids first but amends (same price) after b1 bid: b1's final submission is earlier.
    b0 and b1: 0.3 × 100 + 0.6 × 80 + 8 = 86.00; b2 110.00: 0.3 × 90.91 + 48 + 8 = 83.273 -> 83.27."""
    world = await w.build(session)
    tender = await world.published()
    await world.bid(tender, 0, "100.00")
    await world.advance(60)
    await world.bid(tender, 1, "100.00")
    await world.advance(60)
    await world.bid(tender, 0, "100.00", proposal="Revised proposal of bidder 0")
    await world.bid(tender, 2, "110.00")
    await world.past_deadline(tender)
    await bidding.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    await world.declare_all(tender)
    await world.score_all(tender, {i: [80, 80, 80] for i in range(3)})
    await rank(world, tender)
    bids = await stored(world, tender)
    assert bids[0].version == 2 and bids[0].submitted_at > bids[1].submitted_at
    assert bids[0].total_score == bids[1].total_score == 86.0
    assert bids[2].total_score == 83.27
    assert [bids[1].rank, bids[0].rank, bids[2].rank] == [1, 2, 3]


# ---------------------------------------------------------------- weights


@pytest.mark.parametrize(
    ("weights", "fields"),
    [
        ((0.09, 0.81, 0.10), [("input", "priceWeight")]),  # price weight below 10%
        ((0.31, 0.59, 0.10), [("input", "priceWeight")]),  # price weight above 30%
        ((0.20, 0.60, 0.10), [("input", "priceWeight")]),  # sums to 0.90
        ((0.30, 0.60, 0.20), [("input", "priceWeight")]),  # sums to 1.10
    ],
)
async def test_weights_out_of_bounds_are_refused(session, weights, fields):
    world = await w.build(session, bidders=0)
    price, quality, record = weights
    with pytest.raises(DomainError) as raised:
        await tenders.create_tender(
            session=session,
            actor=world.officer,
            terms=world.terms(price_weight=price, quality_weight=quality, record_weight=record),
        )
    assert [p.code for p in raised.value.problems] == [ErrorCode.INVALID] * len(fields)
    assert [p.field for p in raised.value.problems] == fields


@pytest.mark.parametrize("weights", [(0.10, 0.80, 0.10), (0.30, 0.60, 0.10), (0.10, 0.60, 0.30)])
async def test_price_weights_of_10_and_30_percent_are_accepted(session, weights):
    world = await w.build(session, bidders=0)
    price, quality, record = weights
    tender = await tenders.create_tender(
        session=session,
        actor=world.officer,
        terms=world.terms(price_weight=price, quality_weight=quality, record_weight=record),
    )
    assert (tender.price_weight, tender.quality_weight, tender.record_weight) == weights
    published = await tenders.publish_tender(session=session, actor=world.officer, tender_id=tender.id)
    assert published.status == m.TenderStatus.PUBLISHED


# ---------------------------------------------------------------- panel and conflicts


async def _three_bids(world: w.World) -> m.Tender:
    return await world.opened(["100.00", "95.00", "90.00"])


async def test_scoring_before_declaring_is_refused(session):
    world = await w.build(session)
    tender = await _three_bids(world)
    with pytest.raises(DomainError) as raised:
        await score(world, tender, 0, 0, 80)
    assert code_of(raised) == ErrorCode.INVALID_STATE


async def test_declaring_a_non_bidder_is_not_found(session):
    world = await w.build(session)  # 4 providers, only 3 bid
    tender = await _three_bids(world)
    with pytest.raises(DomainError) as raised:
        await evaluation.declare_conflicts(
            session=session,
            actor=world.evaluators[0],
            tender_id=tender.id,
            provider_ids=[world.providers[0].id, world.providers[3].id],
        )
    assert code_of(raised) == ErrorCode.NOT_FOUND
    assert raised.value.problems[0].field == ("providerIds", "1")
    # Nothing was declared: the evaluator may still declare, and then score.
    await evaluation.declare_conflicts(
        session=session, actor=world.evaluators[0], tender_id=tender.id, provider_ids=[]
    )
    await score(world, tender, 0, 0, 80)


async def test_quality_scores_are_from_0_to_100_and_only_for_valid_bids(session):
    world = await w.build(session, bidders=3)
    outsider = await newcomer(world)
    tender = await open_with(world, {0: "100.00", 1: "95.00", 2: "90.00", outsider: "99.00"})
    await world.declare_all(tender)
    for value in (-0.01, 100.01):
        with pytest.raises(DomainError) as raised:
            await score(world, tender, 0, 0, value)
        assert code_of(raised) == ErrorCode.INVALID
    for value in (0, 100):
        await score(world, tender, 0, 0, value)
    with pytest.raises(DomainError) as raised:
        await score(world, tender, 0, outsider, 80)
    assert code_of(raised) == ErrorCode.INVALID_STATE


async def test_declaring_twice_is_refused(session):
    world = await w.build(session)
    tender = await _three_bids(world)
    await world.declare_all(tender)
    with pytest.raises(DomainError) as raised:
        await evaluation.declare_conflicts(
            session=session,
            actor=world.evaluators[0],
            tender_id=tender.id,
            provider_ids=[world.providers[1].id],
        )
    assert code_of(raised) == ErrorCode.INVALID_STATE
    await score(world, tender, 0, 1, 80)  # still on the panel


async def test_a_conflicted_evaluator_is_removed_and_the_rest_decide_quality(session):
    world = await w.build(session)
    tender = await _three_bids(world)
    await evaluation.declare_conflicts(
        session=session, actor=world.evaluators[0], tender_id=tender.id, provider_ids=[world.providers[1].id]
    )
    for evaluator in world.evaluators[1:]:
        await evaluation.declare_conflicts(
            session=session, actor=evaluator, tender_id=tender.id, provider_ids=[]
        )
    # Removed from the whole panel of this tender: not only for the conflicted bidder.
    for bidder in (1, 0):
        with pytest.raises(DomainError) as raised:
            await score(world, tender, 0, bidder, 80)
        assert code_of(raised) == ErrorCode.PERMISSION_DENIED

    # Quality = mean of the two remaining evaluators:
    #   b0 80.01, 80.00 -> 80.005 -> half-even 80.00;  b1 90, 91 -> 90.50;  b2 70, 75 -> 72.50
    for bidder, values in {0: [80.01, 80.00], 1: [90, 91], 2: [70, 75]}.items():
        for evaluator, value in zip((1, 2), values, strict=True):
            await score(world, tender, evaluator, bidder, value)
    await rank(world, tender)
    bids = await stored(world, tender)
    assert [bids[i].quality_score for i in range(3)] == [80.00, 90.50, 72.50]
    assert sorted(b.rank for b in bids.values()) == [1, 2, 3]


async def test_ranking_needs_every_remaining_evaluator_to_score_every_valid_bid(session):
    world = await w.build(session)
    tender = await _three_bids(world)
    await world.declare_all(tender)
    await world.score_all(tender, {0: [80, 80, 80], 1: [80, 80, 80]})
    for evaluator in (0, 1):
        await score(world, tender, evaluator, 2, 80)  # evaluator 2 has not scored bidder 2
    with pytest.raises(DomainError) as raised:
        await rank(world, tender)
    assert code_of(raised) == ErrorCode.SCORES_MISSING
    assert all(b.rank is None for b in (await stored(world, tender)).values())
    await score(world, tender, 2, 2, 80)
    await rank(world, tender)
    assert sorted(b.rank for b in (await stored(world, tender)).values()) == [1, 2, 3]


async def test_an_evaluator_who_never_declared_still_counts_as_missing(session):
    world = await w.build(session)
    tender = await _three_bids(world)
    for evaluator in (0, 1):  # evaluator 2 never declares, so cannot score
        await evaluation.declare_conflicts(
            session=session, actor=world.evaluators[evaluator], tender_id=tender.id, provider_ids=[]
        )
        for bidder in range(3):
            await score(world, tender, evaluator, bidder, 80)
    with pytest.raises(DomainError) as raised:
        await rank(world, tender)
    assert code_of(raised) == ErrorCode.SCORES_MISSING


async def test_no_evaluator_left_means_scores_are_missing(session):
    world = await w.build(session)
    tender = await _three_bids(world)
    for i, evaluator in enumerate(world.evaluators):
        await evaluation.declare_conflicts(
            session=session, actor=evaluator, tender_id=tender.id, provider_ids=[world.providers[i].id]
        )
    with pytest.raises(DomainError) as raised:
        await rank(world, tender)
    assert code_of(raised) == ErrorCode.SCORES_MISSING
    assert (await reloaded(world, tender)).status == m.TenderStatus.EVALUATING


# ---------------------------------------------------------------- properties of the formulas

cents = st.integers(min_value=1, max_value=10_000_000).map(lambda c: Decimal(c).scaleb(-2))
scores = st.integers(min_value=0, max_value=10_000).map(lambda c: Decimal(c).scaleb(-2))


def _half_even(value: Fraction) -> Decimal:
    """Exact reference rounding of a fraction to 0.01, half to even."""
    hundredths = value * 100
    floor = hundredths.numerator // hundredths.denominator
    rest = hundredths - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        floor += 1
    return Decimal(floor).scaleb(-2)


@given(lowest=cents, factor=st.fractions(min_value=1, max_value=1000))
def test_price_score_is_in_range_and_exact(lowest, factor):
    price = max(
        lowest, (lowest * Decimal(factor.numerator) / Decimal(factor.denominator)).quantize(Decimal("0.01"))
    )
    result = evaluation.price_score(lowest, price)
    assert Decimal(0) < result <= Decimal(100)
    assert result == _half_even(100 * Fraction(lowest) / Fraction(price))


@given(price=cents)
def test_the_lowest_price_scores_100(price):
    assert evaluation.price_score(price, price) == Decimal(100)


@given(lowest=cents, a=cents, b=cents)
def test_price_score_decreases_with_price(lowest, a, b):
    low, high = sorted((max(a, lowest), max(b, lowest)))
    assert evaluation.price_score(lowest, low) >= evaluation.price_score(lowest, high)
    exact_low, exact_high = (100 * Fraction(lowest) / Fraction(p) for p in (low, high))
    if exact_low - exact_high > Fraction(1, 100):  # far enough apart that rounding cannot hide it
        assert evaluation.price_score(lowest, low) > evaluation.price_score(lowest, high)


@given(st.lists(scores, min_size=1, max_size=9))
def test_quality_is_the_half_even_mean(values):
    result = evaluation.quality_score([float(v) for v in values])
    assert result == _half_even(sum(Fraction(v) for v in values) / len(values))
    assert min(values) <= result <= max(values)


weight_triples = st.integers(min_value=10, max_value=30).flatmap(
    lambda p: st.integers(min_value=0, max_value=100 - p).map(lambda q: (p, q, 100 - p - q))
)


@given(weights=weight_triples, price=scores, quality=scores, record=st.sampled_from([100, 90, 80, 60, 40]))
def test_total_is_between_0_and_100(weights, price, quality, record):
    as_floats = tuple(x / 100 for x in weights)
    total = evaluation.total_score(price=price, quality=quality, record=Decimal(record), weights=as_floats)
    assert Decimal(0) <= total <= Decimal(100)
    exact = sum(
        Fraction(x, 100) * Fraction(v) for x, v in zip(weights, (price, quality, record), strict=True)
    )
    assert total == _half_even(exact)


MOMENTS = [dt.datetime(2030, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=s) for s in (0, 1, 3600)]
ranked_bids = st.lists(
    st.tuples(
        st.sampled_from([Decimal("80.00"), Decimal("86.00"), Decimal("86.01")]),
        st.sampled_from([Decimal("90.00"), Decimal("95.00"), Decimal("100.00")]),
        st.sampled_from(MOMENTS),
    ),
    max_size=10,
)


@given(ranked_bids, st.randoms(use_true_random=False))
def test_rank_is_a_sorted_permutation(rows, random):
    bids = [evaluation.Ranked(i + 1, price, at, total) for i, (total, price, at) in enumerate(rows)]
    order = evaluation.rank(bids)
    assert sorted(order) == [b.bid_id for b in bids]
    by_id = {b.bid_id: b for b in bids}
    keys = [(-by_id[i].total, by_id[i].unit_price, by_id[i].submitted_at) for i in order]
    assert all(a <= b for a, b in itertools.pairwise(keys))
    shuffled = list(bids)
    random.shuffle(shuffled)
    assert evaluation.rank(shuffled) == order  # independent of the order the bids come in
