"""Finalising periods (SPEC §6.1, §6.2) through the services: a period worked by hand, the errors,
idempotency, the cap on the base, rescoring after an appeal, two E periods, the holdback."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from contracts import audits, lifecycle, ratings
from contracts.models import ContractStatus
from core.auth import Actor, Role
from core.errors import DomainError, ErrorCode
from core.models import JournalEvent
from scoring import scorecards
from scoring.models import Payment, PaymentKind, PaymentStatus, Scorecard, Tier
from tests.scoring import world as sw

D = Decimal


async def finalize(world, index: int, actor=None):
    done = await scorecards.finalize_period(
        session=world.session, actor=actor or world.officer, contract_id=world.contract.id, period_index=index
    )
    await world.session.commit()
    return done


async def payments(world, kind=None) -> list[Payment]:
    statement = select(Payment).where(Payment.contract_id == world.contract.id).order_by(Payment.id)
    if kind is not None:
        statement = statement.where(Payment.kind == kind)
    return list((await world.session.scalars(statement)).all())


@pytest.fixture
async def golden(session):
    """Period 1 of the contract, with evidence of every kind; the clock on 2030-03-22."""
    world = await sw.build(session, on=dt.date(2030, 3, 22))
    # The provider's own staff phone: the rating from it is flagged.
    staff = sw.phone()
    await ratings.register_staff_phones(
        session=session, actor=world.provider, provider_id=world.contract.provider_id, phones=[staff]
    )
    _, t1 = await sw.deliver(world, dt.date(2030, 3, 1), 100)
    _, t2 = await sw.deliver(world, dt.date(2030, 3, 10), 100)
    _, t3 = await sw.deliver(world, dt.date(2030, 3, 15), 60, to=staff)
    _, t4 = await sw.deliver(world, dt.date(2030, 3, 20), 40)
    await sw.rate(world, t1, 5)
    await sw.rate(world, t2, 4)
    await sw.rate(world, t3, 1)  # flagged: left out
    await sw.rate(world, t4, 3)
    from contracts import deliveries

    await deliveries.dispute_delivery(session=session, token=t4, reason="没有上门")  # not verified
    await session.commit()
    await sw.complaint(world, t2, substantiated=True)
    await sw.complaint(world, t1, substantiated=False)
    await sw.complaint(world, t1, substantiated=None)  # open: does not count
    # Items: passed weight 2, failed weight 3 (to be appealed).
    made, items = await sw.audit(world, 1, value=93.1, checks=[(2.0, True), (3.0, False)])
    await sw.move_to(world, dt.date(2030, 4, 1), hour=1)  # the audit is appealable until 04-01 10:00
    return world, made, items


async def test_a_period_worked_by_hand(golden):
    world, _audit, _items = golden

    done = await finalize(world, 1)

    card = done.scorecard
    # Evidence: 4 deliveries recorded; verified: 100 + 100 + 60 = 260 units (the disputed 40 left out);
    # ratings counted: 5 and 4 (the staff phone's 1 is flagged, the disputed delivery's 3 unverified).
    assert (card.deliveries_recorded, card.verified_units, card.substantiated_complaints) == (4, 260, 1)
    assert (card.ratings_counted, card.ratings_sum) == (2, 9)
    # S: the package has 2 counted ratings in Jan-Mar 2030 (< C = 10), so m = 3.0:
    #    ((10 × 3 + 9) / (10 + 2) − 1) / 4 × 100 = (39/12 − 1) / 4 × 100 = 2.25 / 4 × 100 = 56.25
    assert card.prior_mean == 3.0
    assert card.satisfaction == 56.25
    # K: 按时上门率 (AUDIT) 93.1 / 95 = 0.98, weight 0.5
    #    服务完成率 (DELIVERY_RATE) 260 / (1200 / 4) × 100 = 86.67% of target 100 → 13/15, weight 0.3
    #    有效投诉率 (COMPLAINT_RATE) 1 per 4 deliveries = 25 per 100, lower is better: 1 / 25 = 0.04, w 0.2
    #    K = 100 × (0.5 × 0.98 + 0.3 × 13/15 + 0.2 × 0.04) / 1.0 = 100 × (0.49 + 0.26 + 0.008) = 75.80
    assert [k["attainment"] for k in card.details["kpis"]] == ["0.980000", "0.866667", "0.040000"]
    assert card.kpi_score == 75.8
    # A: passed weight 2 of 5 = 40.00
    assert card.audit_score == 40.0
    # composite = 0.4 × 56.25 + 0.4 × 75.80 + 0.2 × 40.00 = 22.50 + 30.32 + 8.00 = 60.82 → D (75%)
    assert card.composite == 60.82
    assert card.tier == Tier.D
    # base = 260 × 100.00 = 26 000.00; payout = 75% = 19 500.00; holdback 10% = 1 950.00;
    # the payment = 19 500.00 − 1 950.00 = 17 550.00
    assert (card.base, card.payout, card.holdback) == (D("26000.00"), D("19500.00"), D("1950.00"))
    assert card.payout_rate == D("0.75")
    assert done.payment.kind == PaymentKind.PERIOD
    assert done.payment.status == PaymentStatus.CALCULATED
    assert done.payment.amount == D("17550.00")
    assert (card.version, done.payment.scorecard_id) == (1, card.id)
    journal = (
        await world.session.scalars(select(JournalEvent.action).order_by(JournalEvent.seq.desc()).limit(2))
    ).all()
    assert set(journal) == {"scorecard.finalized", "payment.calculated"}


async def test_a_correction_after_an_appeal_decided_late(golden):
    world, made, items = golden
    first = (await finalize(world, 1)).scorecard  # D, payment 17 550.00 (above)

    # Within its 10 days, the provider appeals the failed item (weight 3); the officer overturns it.
    await sw.appeal_and_decide(world, made, {items[1].id: False})

    cards = (
        await world.session.scalars(select(Scorecard).where(Scorecard.contract_id == world.contract.id)
                                    .order_by(Scorecard.version))
    ).all()  # fmt: skip
    assert [c.version for c in cards] == [1, 2]
    second = cards[1]
    # A: the overturned item drops out: passed 2 of 2 = 100.00; S and K as finalised.
    # composite = 22.50 + 30.32 + 0.2 × 100 = 72.82 → C (90%)
    assert (second.satisfaction, second.kpi_score, second.audit_score) == (56.25, 75.8, 100.0)
    assert (second.composite, second.tier) == (72.82, Tier.C)
    # base unchanged 26 000.00; payout 90% = 23 400.00; holdback 2 340.00; payment 21 060.00
    assert (second.base, second.payout, second.holdback) == (D("26000.00"), D("23400.00"), D("2340.00"))
    # correction = 21 060.00 − 17 550.00 = 3 510.00; the first payment is left as it was
    period, correction = await payments(world)
    assert (period.kind, period.amount, period.scorecard_id) == (PaymentKind.PERIOD, D("17550.00"), first.id)
    assert (correction.kind, correction.amount, correction.scorecard_id) == (
        PaymentKind.CORRECTION, D("3510.00"), second.id,
    )  # fmt: skip
    assert correction.period_index == 1 and "overturned" in second.reason

    # Finalising again returns the current version and makes nothing.
    again = await finalize(world, 1)
    assert (again.scorecard.id, again.created, again.payment.id) == (second.id, False, period.id)
    assert len(await payments(world)) == 2


async def test_a_correction_can_be_negative(golden):
    world, made, items = golden
    await finalize(world, 1)  # A 40.00, composite 60.82, D

    # The passed item is appealed (it was not the provider's to appeal, but it may) and overturned:
    # A = 0 of 3 = 0.00; composite = 22.50 + 30.32 + 0 = 52.82 → E (50%): payout 13 000.00, holdback
    # 1 300.00, payment 11 700.00; correction 11 700.00 − 17 550.00 = −5 850.00 (to recover).
    await sw.appeal_and_decide(world, made, {items[0].id: False})

    _period, correction = await payments(world)
    assert correction.amount == D("-5850.00")


async def test_an_appeal_upheld_changes_nothing(golden):
    world, made, items = golden
    await finalize(world, 1)
    await sw.appeal_and_decide(world, made, {items[1].id: True})
    assert await world.session.scalar(select(func.max(Scorecard.version))) == 1
    assert len(await payments(world)) == 1


async def test_an_appeal_decided_before_finalising_is_simply_scored(golden):
    world, made, items = golden
    await sw.appeal_and_decide(world, made, {items[1].id: False})
    done = await finalize(world, 1)
    assert (done.scorecard.version, done.scorecard.audit_score, done.scorecard.tier) == (1, 100.0, Tier.C)
    assert [p.kind for p in await payments(world)] == [PaymentKind.PERIOD]


# ---------------------------------------------------------------- refusals


async def refused(world, index: int, actor=None) -> tuple[ErrorCode, tuple | None]:
    with pytest.raises(DomainError) as caught:
        await finalize(world, index, actor)
    return caught.value.code, caught.value.problems[0].field


async def test_too_early_until_the_last_day_has_passed_in_the_time_zone(session):
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    await sw.audit(world, 1, value=95)
    await sw.move_to(world, dt.date(2030, 3, 31), hour=23)  # 23:00 on the last day, Shanghai time
    assert await refused(world, 1) == (ErrorCode.TOO_EARLY, ("periodIndex",))
    await sw.move_to(world, dt.date(2030, 4, 1), hour=0)  # midnight: it has passed
    assert (await finalize(world, 1)).created


async def test_audit_missing_and_appeal_open(session):
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    assert await refused(world, 2) == (ErrorCode.TOO_EARLY, ("periodIndex",))
    await sw.move_to(world, dt.date(2030, 4, 2))
    assert (await refused(world, 1))[0] == ErrorCode.AUDIT_MISSING  # no audit
    made, items = await sw.audit(world, 1, value=95, checks=[(1.0, False)], submit=False)
    assert (await refused(world, 1))[0] == ErrorCode.AUDIT_MISSING  # a draft
    await audits.submit_audit(session=session, actor=world.auditor, audit_id=made.id)
    await audits.appeal_audit(session=session, actor=world.provider, audit_id=made.id, check_ids=[items[0].id],
                              reason="理由")  # fmt: skip
    await session.commit()
    assert (await refused(world, 1))[0] == ErrorCode.APPEAL_OPEN
    assert await session.scalar(select(func.count()).select_from(Scorecard)) == 0


@pytest.mark.parametrize("index", [0, 5, -1])
async def test_a_period_outside_the_contract_is_invalid(session, index):
    world = await sw.build(session)
    assert await refused(world, index) == (ErrorCode.INVALID, ("periodIndex",))


async def test_only_officers_of_the_department_finalise(session):
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    await sw.audit(world, 1, value=95)
    await sw.move_to(world, dt.date(2030, 4, 2))
    assert (await refused(world, 1, world.market.other_officer))[0] == ErrorCode.PERMISSION_DENIED
    assert (await refused(world, 1, world.provider))[0] == ErrorCode.PERMISSION_DENIED
    assert (await refused(world, 1, world.other_auditor))[0] == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as caught:
        await scorecards.finalize_period(
            session=session, actor=world.officer, contract_id=10**6, period_index=1
        )
    assert caught.value.code == ErrorCode.NOT_FOUND
    assert (await finalize(world, 1)).created


# ---------------------------------------------------------------- the base's cap, two E periods, holdback


async def test_the_bases_never_exceed_the_contract_value(session):
    world = await sw.build(session, on=dt.date(2030, 4, 20))
    await sw.deliver(world, dt.date(2030, 2, 1), 1000)
    await sw.deliver(world, dt.date(2030, 4, 10), 300)
    await sw.audit(world, 1, value=95)
    await sw.audit(world, 2, value=95)
    await sw.move_to(world, dt.date(2030, 7, 2))

    # Period 2 first: 300 × 100.00 = 30 000.00, nothing finalised before it.
    second = (await finalize(world, 2)).scorecard
    assert second.base == D("30000.00")
    # Period 1: 1 000 × 100.00 = 100 000.00, but 120 000.00 − 30 000.00 = 90 000.00 are left.
    first = (await finalize(world, 1)).scorecard
    assert first.base == D("90000.00")
    assert first.details["money"]["capped"] is True
    assert first.details["money"]["uncapped_base"] == "100000.00"


async def e_period(world, index: int) -> None:
    """No deliveries, nothing measured, a failed item: S 50, K 20 (only the complaint rate met), A 0:
    composite 0.4 × 50 + 0.4 × 20 + 0 = 28.00 → E."""
    await sw.audit(world, index, value=0, checks=[(1.0, False)])


async def test_two_periods_in_tier_e_suspend_the_contract(session):
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    await e_period(world, 1)
    await sw.move_to(world, dt.date(2030, 6, 20))
    await e_period(world, 2)
    await sw.move_to(world, dt.date(2030, 7, 2))

    first = (await finalize(world, 1)).scorecard
    assert (first.composite, first.tier) == (28.0, Tier.E)
    assert world.contract.status == ContractStatus.ACTIVE
    await finalize(world, 2)

    contract = await session.get(type(world.contract), world.contract.id)
    assert contract.status == ContractStatus.SUSPENDED
    assert "tier E" in contract.status_reason
    assert await session.scalar(select(func.count()).where(JournalEvent.action == "contract.suspended")) == 1
    with pytest.raises(DomainError) as caught:
        scorecards.require_payable(contract)
    assert caught.value.code == ErrorCode.CONTRACT_SUSPENDED
    # An officer reinstates it: payable again.
    await lifecycle.change_contract_status(session=session, actor=world.officer, contract_id=contract.id,
                                           change="reinstated")  # fmt: skip
    scorecards.require_payable(contract)


async def test_e_periods_apart_do_not_suspend(session):
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    await e_period(world, 1)
    await sw.move_to(world, dt.date(2030, 6, 20))
    await sw.audit(world, 2, value=95)  # S 50, K 80 (no deliveries: rate 0), A 100: 72.00, C
    await sw.move_to(world, dt.date(2030, 9, 20))
    await e_period(world, 3)
    await sw.move_to(world, dt.date(2030, 10, 2))
    for index in (1, 2, 3):
        await finalize(world, index)
    assert (await session.get(type(world.contract), world.contract.id)).status == ContractStatus.ACTIVE


async def a_year(world, tiers: str, *, then: dt.date = dt.date(2031, 1, 20)) -> None:
    """Each period: 300 visits (its plan) and an audit that makes it B (80.00) or E (40.00) or C (70.00).

    S 50 (no ratings); K: AUDIT 95 → 1 or 0 → 0; DELIVERY_RATE 1; COMPLAINT_RATE 0 → 1.
    B: K 100, A 100 → 20 + 40 + 20 = 80.00;  C: K 100, A 50 → 20 + 40 + 10 = 70.00;
    E: K 50, A 0 → 20 + 20 + 0 = 40.00.
    """
    setups = {"B": (95, [(1.0, True)]), "C": (95, [(1.0, True), (1.0, False)]), "E": (0, [(1.0, False)])}
    for index, tier in enumerate(tiers, start=1):
        end = sw.PERIOD_ENDS[index]
        await sw.move_to(world, end - dt.timedelta(days=5))
        await sw.deliver(world, end - dt.timedelta(days=6), 300)
        value, checks = setups[tier]
        await sw.audit(world, index, value=value, checks=checks)
    await sw.move_to(world, then)


async def complete(world):
    contract = await lifecycle.change_contract_status(
        session=world.session, actor=world.officer, contract_id=world.contract.id, change="completed"
    )
    await world.session.commit()
    return contract


async def test_the_holdback_is_released_at_completion_when_the_mean_reaches_60(session):
    world = await sw.build(session)
    await a_year(world, "BEBE")  # mean (80 + 40 + 80 + 40) / 4 = 60.00: released
    for index in (1, 2, 3, 4):
        await finalize(world, index)
    # B: base 30 000.00, payout 30 000.00, holdback 3 000.00; E: payout 15 000.00, holdback 1 500.00
    await complete(world)

    (release,) = await payments(world, PaymentKind.HOLDBACK_RELEASE)
    assert release.amount == D("9000.00")  # 3 000 + 1 500 + 3 000 + 1 500
    assert release.period_index is None and release.status == PaymentStatus.CALCULATED
    # Once: the run finds it settled.
    report = await scorecards.run(session, await scorecards.plan_run(session, as_of=dt.date(2031, 1, 20)))
    assert report.settlements == []
    assert len(await payments(world, PaymentKind.HOLDBACK_RELEASE)) == 1


async def test_the_holdback_is_forfeited_below_60(session):
    world = await sw.build(session)
    await a_year(world, "ECEC")  # mean (40 + 70 + 40 + 70) / 4 = 55.00
    for index in (1, 2, 3, 4):
        await finalize(world, index)
    await complete(world)

    assert await payments(world, PaymentKind.HOLDBACK_RELEASE) == []
    assert await session.scalar(
        select(func.count()).where(JournalEvent.action == "contract.holdback_forfeited")
    ) == 1  # fmt: skip


async def test_the_holdback_waits_for_unfinalised_periods_and_the_run_settles_it(session):
    world = await sw.build(session)
    await a_year(world, "BBBB")
    await finalize(world, 1)
    await complete(world)  # periods 2-4 not finalised: nothing yet
    assert await payments(world, PaymentKind.HOLDBACK_RELEASE) == []

    report = await scorecards.run(session, await scorecards.plan_run(session, as_of=dt.date(2031, 1, 20)))
    await session.commit()

    assert sorted(c.period_index for c in report.finalized) == [2, 3, 4]
    (settlement,) = report.settlements
    assert (settlement.outcome, settlement.amount, settlement.mean_composite) == (
        "RELEASED",
        D("12000.00"),
        D("80.00"),
    )


async def test_the_holdback_waits_while_an_audit_may_still_be_appealed(session):
    world = await sw.build(session)
    # Period 4's audit is submitted on 2030-12-26: appealable until 2031-01-05.
    await a_year(world, "BBBB", then=dt.date(2031, 1, 2))
    for index in (1, 2, 3, 4):
        await finalize(world, index)
    await complete(world)
    assert await payments(world, PaymentKind.HOLDBACK_RELEASE) == []
    await sw.move_to(world, dt.date(2031, 1, 6))
    settlement = await scorecards.settle_holdback(session, actor=None, contract_id=world.contract.id)
    assert settlement.outcome == "RELEASED"


async def test_payments_of_an_active_contract_are_payable(session):
    world = await sw.build(session)
    scorecards.require_payable(world.contract)
    assert Actor(user_id=None, role=Role.ADMIN)  # the run acts as the system
