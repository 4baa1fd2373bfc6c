"""Award, challenge period, contract and cancellation (SPEC §4.1, §4.4, §5.1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from contracts import lifecycle
from contracts.models import Contract, ContractKpi, ContractStatus
from core import clock
from core.api import encode_id
from core.errors import DomainError, ErrorCode
from core.settings import get_settings
from market import awards, challenges, tenders
from market import models as m
from market.catalogue import KpiSpec
from tests import factories
from tests.market import world as w

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
DISMISSED, UPHELD = m.ChallengeDecision.DISMISSED, m.ChallengeDecision.UPHELD


def code_of(raised: pytest.ExceptionInfo[DomainError]) -> ErrorCode:
    return raised.value.problems[0].code


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


# ---------------------------------------------------------------- the challenge calendar


def test_the_deployment_zone_is_shanghai():
    assert get_settings().zone == SHANGHAI


def test_challenge_period_skips_national_day_and_counts_the_make_up_saturday():
    """Recommended Tue 2026-09-29 15:00 +08:00. holidays.China(years=2026) lists Oct 1-3, 5, 6, 7
    as days off (Sun Oct 4 is a weekend) and Sat Oct 10 as a make-up working day (调休).
    The day of recommendation does not count:
      Wed 09-30 1 | Thu 10-01 … Wed 10-07 off | Thu 10-08 2 | Fri 10-09 3 | Sat 10-10 4 (make-up)
      Sun 10-11 off | Mon 10-12 5 | Tue 10-13 6 | Wed 10-14 7
    The period ends at the end of Wed 2026-10-14 = 2026-10-15 00:00 +08:00 = 2026-10-14 16:00 UTC.
    """
    calendar = holidays.China(years=2026)
    assert [d.day for d in sorted(calendar) if d.month == 10] == [1, 2, 3, 5, 6, 7]
    assert calendar.is_working_day(dt.date(2026, 10, 10))  # the make-up Saturday
    end = challenges.challenge_deadline(local(2026, 9, 29, 15, 0), SHANGHAI)
    assert end == dt.datetime(2026, 10, 14, 16, 0, tzinfo=UTC)
    assert end.utcoffset() == dt.timedelta(0)


def test_challenge_period_in_a_plain_week():
    """Mon 2026-03-09 10:00 +08:00: Tue 1, Wed 2, Thu 3, Fri 4, (weekend), Mon 16 5, Tue 17 6,
    Wed 18 7 -> ends 2026-03-19 00:00 +08:00 = 2026-03-18 16:00 UTC."""
    end = challenges.challenge_deadline(local(2026, 3, 9, 10, 0), SHANGHAI)
    assert end == dt.datetime(2026, 3, 18, 16, 0, tzinfo=UTC)


def test_a_late_friday_recommendation_does_not_count_the_friday():
    """Fri 2026-03-13 23:30 +08:00 (15:30 UTC): Mon 16 1 … Fri 20 5, Mon 23 6, Tue 24 7
    -> ends 2026-03-25 00:00 +08:00 = 2026-03-24 16:00 UTC."""
    end = challenges.challenge_deadline(local(2026, 3, 13, 23, 30), SHANGHAI)
    assert end == dt.datetime(2026, 3, 24, 16, 0, tzinfo=UTC)


def test_the_day_of_recommendation_is_the_local_day_not_the_utc_day():
    """Tue 2026-03-10 00:30 +08:00 is still Monday 16:30 in UTC. Counting from the local Tuesday:
    Wed 11 1, Thu 12 2, Fri 13 3, Mon 16 4, Tue 17 5, Wed 18 6, Thu 19 7
    -> ends 2026-03-20 00:00 +08:00 = 2026-03-19 16:00 UTC (from the UTC Monday it would be a day earlier)."""
    recommended = dt.datetime(2026, 3, 9, 16, 30, tzinfo=UTC)
    assert challenges.challenge_deadline(recommended, SHANGHAI) == dt.datetime(2026, 3, 19, 16, 0, tzinfo=UTC)


@given(
    st.datetimes(
        min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2026, 12, 20), timezones=st.just(UTC)
    )
)
def test_the_period_is_seven_working_days_ending_at_local_midnight(recommended):
    calendar = holidays.China(years=[2025, 2026, 2027])
    end = challenges.challenge_deadline(recommended, SHANGHAI)
    local_end = end.astimezone(SHANGHAI)
    assert local_end.time() == dt.time(0, 0)
    first, last = recommended.astimezone(SHANGHAI).date(), local_end.date() - dt.timedelta(days=1)
    days = [first + dt.timedelta(days=n) for n in range(1, (last - first).days + 1)]
    assert sum(calendar.is_working_day(d) for d in days) == 7
    assert calendar.is_working_day(last)


# ---------------------------------------------------------------- a world up to the recommendation


async def scored(world: w.World, **overrides) -> m.Tender:
    """Three bids, scored. Totals (0.3/0.6/0.1, unrated 80):
    b0 100.00: 0.3 × 90.00 + 0.6 × 80 + 8 = 83.00
    b1  95.00: 0.3 × 94.74 + 0.6 × 85 + 8 = 87.422 -> 87.42  (winner)
    b2  90.00: 0.3 × 100   + 0.6 × 70 + 8 = 80.00
    """
    tender = await world.opened(["100.00", "95.00", "90.00"], **overrides)
    await world.declare_all(tender)
    await world.score_all(tender, {0: [80, 80, 80], 1: [85, 85, 85], 2: [70, 70, 70]})
    return tender


async def recommended(world: w.World, **overrides) -> m.Tender:
    tender = await scored(world, **overrides)
    await awards.recommend_award(session=world.session, actor=world.officer, tender_id=tender.id)
    await world.session.commit()
    return tender


async def bid_of(world: w.World, tender: m.Tender, bidder: int) -> m.Bid:
    return next(b for b in await world.bids(tender) if b.provider_id == world.providers[bidder].id)


async def reloaded(world: w.World, tender: m.Tender) -> m.Tender:
    await world.session.flush()
    return await world.session.scalar(
        select(m.Tender).where(m.Tender.id == tender.id).execution_options(populate_existing=True)
    )


async def challenge(world: w.World, tender: m.Tender, bidder: int = 0) -> m.Challenge:
    filed = await challenges.file_challenge(
        session=world.session, actor=world.bidders[bidder], tender_id=tender.id, reason="Scoring was unfair"
    )
    await world.session.commit()
    return filed


async def decide(world: w.World, filed: m.Challenge, decision: m.ChallengeDecision) -> m.Challenge:
    return await challenges.decide_challenge(
        session=world.session, actor=world.officer, challenge_id=filed.id, decision=decision, note="Reviewed"
    )


async def finalize(world: w.World, tender: m.Tender) -> Contract:
    return await lifecycle.finalize_award(session=world.session, actor=world.officer, tender_id=tender.id)


async def contract_count(world: w.World, tender: m.Tender) -> int:
    return await world.session.scalar(select(func.count()).where(Contract.tender_id == tender.id))


# ---------------------------------------------------------------- recommendation


async def test_recommend_award_starts_the_period_by_the_shanghai_calendar(session):
    """The clock is moved to Tue 2029-03-13 00:30 +08:00 (still Monday 16:30 UTC); March 2029 has no
    holiday. Wed 14 1, Thu 15 2, Fri 16 3, Mon 19 4, Tue 20 5, Wed 21 6, Thu 22 7
    -> ends 2029-03-23 00:00 +08:00 = 2029-03-22 16:00 UTC."""
    world = await w.build(session)
    tender = await scored(world)
    target = local(2029, 3, 13, 0, 30)
    await world.advance((target - await world.now()).total_seconds())
    await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()
    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.AWARD_PENDING
    assert abs(tender.recommended_at - target) < dt.timedelta(minutes=1)
    assert tender.recommended_bid_id == (await bid_of(world, tender, 1)).id
    assert tender.challenge_deadline == dt.datetime(2029, 3, 22, 16, 0, tzinfo=UTC)
    assert tender.challenge_deadline == challenges.challenge_deadline(tender.recommended_at, SHANGHAI)


# ---------------------------------------------------------------- the challenge period


async def test_finalizing_during_the_period_is_too_early(session):
    world = await w.build(session)
    tender = await recommended(world)
    with pytest.raises(DomainError) as raised:
        await finalize(world, tender)
    assert code_of(raised) == ErrorCode.TOO_EARLY

    clock.pin(session, tender.challenge_deadline - dt.timedelta(microseconds=1))
    with pytest.raises(DomainError) as raised:
        await finalize(world, tender)
    assert code_of(raised) == ErrorCode.TOO_EARLY
    assert (await reloaded(world, tender)).status == m.TenderStatus.AWARD_PENDING
    assert await contract_count(world, tender) == 0

    clock.pin(session, tender.challenge_deadline)  # the period has passed at its end
    contract = await finalize(world, tender)
    assert contract.tender_id == tender.id


async def test_a_challenge_is_accepted_until_the_end_of_the_period(session):
    world = await w.build(session)
    tender = await recommended(world)
    clock.pin(session, tender.challenge_deadline - dt.timedelta(microseconds=1))
    filed = await challenge(world, tender, 2)
    assert filed.decision is None
    clock.pin(session, tender.challenge_deadline)
    with pytest.raises(DomainError) as raised:
        await challenge(world, tender, 0)
    assert code_of(raised) == ErrorCode.DEADLINE_PASSED


async def test_a_challenge_after_the_period_is_refused(session):
    world = await w.build(session)
    tender = await recommended(world)
    await world.past_challenge(tender)
    with pytest.raises(DomainError) as raised:
        await challenge(world, tender)
    assert code_of(raised) == ErrorCode.DEADLINE_PASSED


async def test_only_bidders_challenge_with_reasons(session):
    world = await w.build(session)  # bidder 3 did not bid
    tender = await recommended(world)
    with pytest.raises(DomainError) as raised:
        await challenge(world, tender, 3)
    assert code_of(raised) == ErrorCode.PERMISSION_DENIED
    with pytest.raises(DomainError) as raised:
        await challenges.file_challenge(
            session=session, actor=world.bidders[0], tender_id=tender.id, reason=" "
        )
    assert code_of(raised) == ErrorCode.INVALID


async def test_an_open_challenge_blocks_finalization_until_dismissed(session):
    world = await w.build(session)
    tender = await recommended(world)
    winner = tender.recommended_bid_id
    filed = await challenge(world, tender, 0)
    await world.past_challenge(tender)
    with pytest.raises(DomainError) as raised:
        await finalize(world, tender)
    assert code_of(raised) == ErrorCode.CHALLENGE_OPEN
    assert await contract_count(world, tender) == 0

    decided = await decide(world, filed, DISMISSED)
    assert (decided.decision, decided.decision_note) == (DISMISSED, "Reviewed")
    assert decided.decided_at is not None
    tender = await reloaded(world, tender)
    assert (tender.status, tender.recommended_bid_id) == (m.TenderStatus.AWARD_PENDING, winner)

    contract = await finalize(world, tender)
    assert contract.bid_id == winner
    assert (await reloaded(world, tender)).status == m.TenderStatus.AWARDED


async def test_a_challenge_is_decided_once(session):
    world = await w.build(session)
    tender = await recommended(world)
    filed = await challenge(world, tender)
    await decide(world, filed, DISMISSED)
    with pytest.raises(DomainError) as raised:
        await decide(world, filed, UPHELD)
    assert code_of(raised) == ErrorCode.INVALID_STATE
    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.AWARD_PENDING  # the second decision changed nothing
    assert filed.decision == DISMISSED


async def test_an_upheld_challenge_reopens_evaluation_and_a_new_recommendation_restarts_the_period(session):
    world = await w.build(session)
    tender = await recommended(world)
    first_deadline = tender.challenge_deadline
    assert tender.recommended_bid_id == (await bid_of(world, tender, 1)).id
    filed = await challenge(world, tender, 2)
    await decide(world, filed, UPHELD)
    await session.commit()
    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.EVALUATING
    assert (tender.recommended_bid_id, tender.recommended_at, tender.challenge_deadline) == (None, None, None)
    assert tender.ranked_at is None
    with pytest.raises(DomainError) as raised:
        await finalize(world, tender)
    assert code_of(raised) == ErrorCode.INVALID_STATE

    # Re-scoring: bidder 2 now gets 95 from everyone -> 0.3 × 100 + 0.6 × 95 + 8 = 95.00, the new winner.
    await world.advance(10 * w.DAY)
    await world.score_all(tender, {2: [95, 95, 95]})
    await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()
    tender = await reloaded(world, tender)
    bids = {b.provider_id: b for b in await world.bids(tender)}
    winner = bids[world.providers[2].id]
    assert (winner.total_score, winner.rank) == (95.0, 1)
    assert tender.status == m.TenderStatus.AWARD_PENDING
    assert tender.recommended_bid_id == winner.id
    assert tender.challenge_deadline == challenges.challenge_deadline(tender.recommended_at, SHANGHAI)
    assert tender.challenge_deadline > first_deadline

    # Past the first period but not the second: still too early.
    now = await world.now()
    await world.advance((first_deadline - now).total_seconds() + 1)
    with pytest.raises(DomainError) as raised:
        await finalize(world, tender)
    assert code_of(raised) == ErrorCode.TOO_EARLY
    await world.past_challenge(tender)
    contract = await finalize(world, tender)
    assert (contract.bid_id, contract.provider_id) == (winner.id, world.providers[2].id)


CHALLENGE = "query($id: ID!) { node(id: $id) { id ... on Challenge { reason decision } } }"


async def test_a_challenge_is_a_node_for_its_bidder_and_the_tenders_officers(session, api):
    # Given a challenge of the recommendation by bidder 0
    world = await w.build(session)
    tender = await recommended(world)
    filed = await challenge(world, tender, 0)
    global_id = encode_id("Challenge", filed.id)

    async def node(key):
        token = await api.login(world.users[key].email, factories.PASSWORD) if key else None
        return (await api(CHALLENGE, {"id": global_id}, token=token))["node"]

    # When each caller asks for it by its ID, then its bidder and the tender's officers read it
    for key in ("bidder0", "officer"):
        assert await node(key) == {"id": global_id, "reason": "Scoring was unfair", "decision": None}
    # And nobody else learns of it: not the other bidders, other officers, the panel or the public
    for key in (None, "bidder1", "other_officer", "evaluator0"):
        assert await node(key) is None, key


async def test_finalizing_twice_is_refused(session):
    world = await w.build(session)
    tender = await recommended(world)
    await world.past_challenge(tender)
    await finalize(world, tender)
    await session.commit()
    with pytest.raises(DomainError) as raised:
        await finalize(world, tender)
    assert code_of(raised) == ErrorCode.INVALID_STATE
    assert await contract_count(world, tender) == 1


# ---------------------------------------------------------------- the contract


TIERS = [
    {"tier": "A", "min_score": 92, "payout_rate": 1.1},
    {"tier": "B", "min_score": 82, "payout_rate": 1.0},
    {"tier": "C", "min_score": 72, "payout_rate": 0.85},
    {"tier": "D", "min_score": 62, "payout_rate": 0.7},
    {"tier": "E", "min_score": 0, "payout_rate": 0.4},
]
KPIS = [
    KpiSpec("按时上门率", "%", 97, m.KpiDirection.HIGHER_IS_BETTER, 0.6, m.KpiSource.AUDIT),
    KpiSpec("有效投诉率", "per 100", 0.5, m.KpiDirection.LOWER_IS_BETTER, 0.4, m.KpiSource.COMPLAINT_RATE),
]


async def test_the_contract_copies_the_terms_of_the_tender_and_the_winning_bid(session):
    """Winner b1 at 95.55: price score 9000 / 95.55 = 94.19, total 0.3 × 94.19 + 0.6 × 90 + 8 = 90.257
    -> 90.26 (b0 100.00: 27 + 42 + 8 = 77.00; b2 90.00: 30 + 42 + 8 = 80.00).
    Total value 95.55 × 1234 = 95 550.00 + 22 358.70 = 117 908.70."""
    world = await w.build(session)
    tender = await world.opened(
        ["100.00", "95.55", "90.00"],
        quantity=1234,
        periods=4,
        period_months=3,
        start_date=dt.date(2030, 1, 31),
        holdback_rate=0.15,
        satisfaction_weight=0.5,
        kpi_weight=0.3,
        audit_weight=0.2,
        payment_tiers=TIERS,
        kpis=KPIS,
    )
    await world.declare_all(tender)
    await world.score_all(tender, {0: [70, 70, 70], 1: [90, 90, 90], 2: [70, 70, 70]})
    await awards.recommend_award(session=session, actor=world.officer, tender_id=tender.id)
    await world.past_challenge(tender)
    contract = await finalize(world, tender)
    await session.commit()

    contract = await session.scalar(
        select(Contract).where(Contract.tender_id == tender.id).execution_options(populate_existing=True)
    )
    winner = await bid_of(world, tender, 1)
    assert winner.total_score == 90.26 and winner.rank == 1
    assert (contract.bid_id, contract.provider_id) == (winner.id, world.providers[1].id)
    assert (contract.department_id, contract.package_id, contract.region_id) == (
        tender.department_id,
        world.package.id,
        world.region.id,
    )
    assert contract.unit_price == Decimal("95.55")
    assert contract.quantity == 1234
    assert contract.total_value == Decimal("117908.70")
    assert (contract.start_date, contract.periods, contract.period_months) == (dt.date(2030, 1, 31), 4, 3)
    assert (contract.satisfaction_weight, contract.kpi_weight, contract.audit_weight) == (0.5, 0.3, 0.2)
    assert contract.holdback_rate == 0.15
    assert contract.payment_tiers == TIERS
    assert contract.status == ContractStatus.ACTIVE
    assert abs(contract.signed_at - (await reloaded(world, tender)).awarded_at) < dt.timedelta(minutes=1)

    kpis = (
        await session.scalars(
            select(ContractKpi).where(ContractKpi.contract_id == contract.id).order_by(ContractKpi.position)
        )
    ).all()
    assert [(k.name, k.unit, k.target, k.direction, k.weight, k.source) for k in kpis] == [
        (k.name, k.unit, k.target, k.direction, k.weight, k.source) for k in KPIS
    ]
    assert [k.position for k in kpis] == [0, 1]

    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.AWARDED and tender.awarded_at is not None


def test_quarterly_periods_from_the_end_of_january():
    """Period boundaries are the start plus 3, 6, 9, 12 months, each counted from the start (so a
    clamped April 30 does not drag later boundaries to the 30th), and a period ends the day before
    the next begins:
      start + 3 months = Apr 31 -> clamped to Apr 30: period 1 is Jan 31 - Apr 29
      start + 6 months = Jul 31:                     period 2 is Apr 30 - Jul 30
      start + 9 months = Oct 31:                     period 3 is Jul 31 - Oct 30
      start + 12 months = 2031-01-31:                period 4 is Oct 31 - 2031-01-30
    Together exactly one year (365 days)."""
    periods = lifecycle.periods(start_date=dt.date(2030, 1, 31), count=4, months=3)
    assert [(p.index, p.starts_on, p.ends_on) for p in periods] == [
        (1, dt.date(2030, 1, 31), dt.date(2030, 4, 29)),
        (2, dt.date(2030, 4, 30), dt.date(2030, 7, 30)),
        (3, dt.date(2030, 7, 31), dt.date(2030, 10, 30)),
        (4, dt.date(2030, 10, 31), dt.date(2031, 1, 30)),
    ]
    assert (periods[-1].ends_on - periods[0].starts_on).days + 1 == 365


def test_monthly_periods_across_a_leap_february():
    """2028 is a leap year: Jan 31 + 1 month = Feb 29 (clamped), + 2 = Mar 31, + 3 = Apr 30."""
    periods = lifecycle.periods(start_date=dt.date(2028, 1, 31), count=3, months=1)
    assert [(p.starts_on, p.ends_on) for p in periods] == [
        (dt.date(2028, 1, 31), dt.date(2028, 2, 28)),
        (dt.date(2028, 2, 29), dt.date(2028, 3, 30)),
        (dt.date(2028, 3, 31), dt.date(2028, 4, 29)),
    ]


def test_quarterly_periods_from_the_first_of_the_month():
    periods = lifecycle.periods(start_date=dt.date(2030, 1, 1), count=4, months=3)
    assert [(p.starts_on, p.ends_on) for p in periods] == [
        (dt.date(2030, 1, 1), dt.date(2030, 3, 31)),
        (dt.date(2030, 4, 1), dt.date(2030, 6, 30)),
        (dt.date(2030, 7, 1), dt.date(2030, 9, 30)),
        (dt.date(2030, 10, 1), dt.date(2030, 12, 31)),
    ]


# ---------------------------------------------------------------- cancellation


async def _draft(world):
    return await world.draft()


async def _published(world):
    return await world.published()


async def _evaluating(world):
    return await scored(world)


async def _award_pending(world):
    return await recommended(world)


async def _awarded(world):
    tender = await recommended(world)
    await world.past_challenge(tender)
    await finalize(world, tender)
    return tender


async def _unsuccessful(world):
    return await world.opened(["100.00"])  # 1 valid bid, minimum 3


async def _cancelled(world):
    tender = await world.draft()
    return await tenders.cancel_tender(
        session=world.session, actor=world.officer, tender_id=tender.id, reason="first"
    )


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (_draft, m.TenderStatus.DRAFT),
        (_published, m.TenderStatus.PUBLISHED),
        (_evaluating, m.TenderStatus.EVALUATING),
        (_award_pending, m.TenderStatus.AWARD_PENDING),
    ],
)
async def test_cancel_before_award(session, make, status):
    world = await w.build(session)
    tender = await make(world)
    assert tender.status == status
    await tenders.cancel_tender(
        session=session, actor=world.officer, tender_id=tender.id, reason="  Budget withdrawn  "
    )
    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.CANCELLED
    assert tender.closed_reason == "Budget withdrawn"
    assert tender.closed_at is not None


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (_awarded, m.TenderStatus.AWARDED),
        (_unsuccessful, m.TenderStatus.UNSUCCESSFUL),
        (_cancelled, m.TenderStatus.CANCELLED),
    ],
)
async def test_no_cancelling_once_closed(session, make, status):
    world = await w.build(session)
    tender = await make(world)
    assert (await reloaded(world, tender)).status == status
    with pytest.raises(DomainError) as raised:
        await tenders.cancel_tender(session=session, actor=world.officer, tender_id=tender.id, reason="Late")
    assert code_of(raised) == ErrorCode.INVALID_STATE
    assert (await reloaded(world, tender)).status == status


async def test_cancelling_needs_a_reason(session):
    world = await w.build(session)
    tender = await world.published()
    with pytest.raises(DomainError) as raised:
        await tenders.cancel_tender(session=session, actor=world.officer, tender_id=tender.id, reason="  ")
    assert code_of(raised) == ErrorCode.INVALID
    assert raised.value.problems[0].field == ("reason",)
    tender = await reloaded(world, tender)
    assert tender.status == m.TenderStatus.PUBLISHED and tender.closed_reason is None
