"""Period scorecards and the money they earn (SPEC §6.1, §6.2): finalising a period, rescoring it after
an appeal, suspension after two periods in tier E, the holdback at completion, `market scoring run`.

The evidence of a period is read from its rollup (`scoring.rollups`) and, for the prior mean of the
satisfaction score, from one aggregate over the package's counted ratings in the period's dates; the
numbers are worked out by `scoring.formulas` (its docstring gives the order of rounding).

- Finalising (an officer, or the run) is allowed once the period's last day has passed in the
  deployment's time zone, its audit is submitted and no appeal of it is undecided. It writes
  scorecard version 1 and the period's payment (CALCULATED, payout less holdback), journaled. Again:
  the same scorecard, nothing written. Evidence that changes afterwards (a late rating) does not
  move a finalised period.
- An appeal decided after its period was finalised, overturning items, rescores the period: a new
  version with the new audit score (the other evidence as finalised) and, when the period's payment
  changes, a CORRECTION payment of the difference (negative: money to recover). Payments made are
  never edited.
- A period finalised (or rescored) in tier E next to a period whose current scorecard is E suspends
  an ACTIVE contract; only an officer reinstates it. A suspended contract's payments are not approved
  or sent (`require_payable`).
- The holdback is settled once per contract, when it is COMPLETED, every period is finalised and no
  appeal can change a scorecard any more (each audit's appeal decided, or its 10 days passed): the sum
  of the current scorecards' holdbacks is released as a HOLDBACK_RELEASE payment if the mean composite
  of all periods is at least 60, else forfeited; either is journaled on the contract
  (`contract.holdback_released`, `contract.holdback_forfeited`), which is what makes it happen once.
  It is tried at completion and by every `market scoring run` until it happens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import audits as contract_audits
from contracts import lifecycle
from contracts.models import (
    Appeal,
    Audit,
    AuditCheck,
    AuditKpiValue,
    AuditStatus,
    Contract,
    ContractKpi,
    ContractStatus,
    Delivery,
    Rating,
)
from core import bulk, clock, journal
from core.auth import Actor
from core.db import to_money
from core.errors import DomainError, ErrorCode
from core.models import JournalEvent
from market.models import KpiSource
from scoring import formulas
from scoring.models import Payment, PaymentKind, PaymentStatus, PeriodRollup, Scorecard, Tier
from scoring.rollups import counted_rating_clause

PASSING_MEAN = Decimal(60)
"""The mean composite of all periods at which the holdback is released."""
RELEASED, FORFEITED = "contract.holdback_released", "contract.holdback_forfeited"
"""Journal actions that settle a contract's holdback, once."""


# ---------------------------------------------------------------- evidence, set-based


@dataclass(frozen=True)
class Evidence:
    """A period's rollup and the package's counted ratings in its dates (the prior)."""

    contract_id: int
    period_index: int
    starts_on: dt.date
    ends_on: dt.date
    deliveries_recorded: int
    verified_units: int
    substantiated_complaints: int
    ratings_count: int
    ratings_sum: int
    prior_count: int
    prior_sum: int

    @property
    def key(self) -> tuple[int, int]:
        return self.contract_id, self.period_index


EVIDENCE_FIELDS = (
    "contract_id", "period_index", "starts_on", "ends_on", "deliveries_recorded", "verified_units",
    "substantiated_complaints", "ratings_count", "ratings_sum",
)  # fmt: skip
"""What `Evidence` takes from the period's rollup row."""


async def evidence(session: AsyncSession, where) -> dict[tuple[int, int], Evidence]:
    """The evidence of the periods `where` selects (a clause on `PeriodRollup`), in one statement.

    The period's own numbers come from its rollup. The prior is worked out once per distinct
    (package, first day, last day) among the selected periods, from the package's counted ratings
    per delivery day: contracts of a package share their periods' dates, so a run over thousands of
    contracts sums a few day-totals instead of joining every period with every delivery of its package.
    """
    ranges = (
        select(PeriodRollup.package_id, PeriodRollup.starts_on, PeriodRollup.ends_on)
        .where(where)
        .distinct()
        .cte("prior_ranges")
    )
    daily = (
        select(
            Contract.package_id,
            Delivery.delivered_on,
            func.count(Rating.delivery_id).label("ratings"),
            func.sum(Rating.stars).label("stars"),
        )
        .select_from(Rating)
        .join(Delivery, Delivery.id == Rating.delivery_id)
        .join(Contract, Contract.id == Delivery.contract_id)
        .where(
            counted_rating_clause(),
            Contract.package_id.in_(select(ranges.c.package_id)),
            Delivery.delivered_on >= select(func.min(ranges.c.starts_on)).scalar_subquery(),
            Delivery.delivered_on <= select(func.max(ranges.c.ends_on)).scalar_subquery(),
        )
        .group_by(Contract.package_id, Delivery.delivered_on)
        .cte("prior_days")
    )
    prior = (
        select(
            ranges.c.package_id,
            ranges.c.starts_on,
            ranges.c.ends_on,
            func.sum(daily.c.ratings).label("prior_count"),
            func.sum(daily.c.stars).label("prior_sum"),
        )
        .join(
            daily,
            and_(
                daily.c.package_id == ranges.c.package_id,
                daily.c.delivered_on >= ranges.c.starts_on,
                daily.c.delivered_on <= ranges.c.ends_on,
            ),
        )
        .group_by(ranges.c.package_id, ranges.c.starts_on, ranges.c.ends_on)
        .subquery()
    )
    rows = await session.execute(
        select(
            *PeriodRollup.__table__.c,
            func.coalesce(prior.c.prior_count, 0),
            func.coalesce(prior.c.prior_sum, 0),
        )
        .outerjoin(
            prior,
            and_(
                prior.c.package_id == PeriodRollup.package_id,
                prior.c.starts_on == PeriodRollup.starts_on,
                prior.c.ends_on == PeriodRollup.ends_on,
            ),
        )
        .where(where)
        .order_by(PeriodRollup.contract_id, PeriodRollup.period_index)
    )
    found = {}
    for *rollup, prior_count, prior_sum in rows:
        values = dict(zip(PeriodRollup.__table__.c.keys(), rollup, strict=True))
        item = Evidence(
            **{name: values[name] for name in EVIDENCE_FIELDS},
            prior_count=int(prior_count),
            prior_sum=int(prior_sum),
        )
        found[item.key] = item
    return found


@dataclass
class AuditState:
    audit: Any  # the audit's row (`Audit` columns), or None
    open_appeal: bool

    def refusal(self) -> DomainError | None:
        """Why the period cannot be finalised yet because of its audit, or None."""
        if self.audit is None or self.audit.status != AuditStatus.SUBMITTED:
            return DomainError(ErrorCode.AUDIT_MISSING, "the period's audit is not submitted yet")
        if self.open_appeal:
            return DomainError(ErrorCode.APPEAL_OPEN, "an appeal of the period's audit is undecided")
        return None


async def audit_states(session: AsyncSession, where) -> dict[tuple[int, int], AuditState]:
    """The audits of the periods `where` selects (on `PeriodRollup`), with whether an appeal is open."""
    open_appeal = exists().where(Appeal.audit_id == Audit.id, Appeal.decided_at.is_(None))
    rows = await session.execute(
        select(*Audit.__table__.c, open_appeal.label("open_appeal"))
        .join(
            PeriodRollup,
            and_(
                PeriodRollup.contract_id == Audit.contract_id, PeriodRollup.period_index == Audit.period_index
            ),
        )
        .where(where)
    )
    return {(a.contract_id, a.period_index): AuditState(a, bool(a.open_appeal)) for a in rows}


@dataclass
class Inputs:
    """What scoring reads besides the evidence: contracts, their KPIs, the audits' values and items."""

    contracts: dict[int, Contract]
    kpis: dict[int, list[ContractKpi]]
    kpi_values: dict[int, dict[int, float]]
    checks: dict[int, list[AuditCheck]]


async def inputs(
    session: AsyncSession,
    contract_ids: Sequence[int],
    audit_ids: Sequence[int],
    contracts: dict[int, Contract] | None = None,
) -> Inputs:
    """Read-only rows (not ORM objects: a run reads tens of thousands), with the columns' types applied;
    `contracts`: the contracts when the caller has them already."""
    if contracts is None:
        contracts = {
            c.id: c
            for c in (await session.scalars(select(Contract).where(Contract.id.in_(contract_ids)))).all()
        }
    kpis: dict[int, list[ContractKpi]] = {i: [] for i in contract_ids}
    kpi_columns = ("id", "contract_id", "name", "source", "direction", "target", "weight")
    for kpi in await session.execute(
        select(*(ContractKpi.__table__.c[name] for name in kpi_columns))
        .where(ContractKpi.contract_id.in_(contract_ids))
        .order_by(ContractKpi.contract_id, ContractKpi.position)
    ):
        kpis[kpi.contract_id].append(kpi)
    values: dict[int, dict[int, float]] = {i: {} for i in audit_ids}
    checks: dict[int, list[AuditCheck]] = {i: [] for i in audit_ids}
    if audit_ids:
        for audit_id, kpi_id, value in await session.execute(
            select(AuditKpiValue.audit_id, AuditKpiValue.kpi_id, AuditKpiValue.value).where(
                AuditKpiValue.audit_id.in_(audit_ids)
            )
        ):
            values[audit_id][kpi_id] = value
        for check in await session.execute(
            select(
                AuditCheck.id,
                AuditCheck.audit_id,
                AuditCheck.weight,
                AuditCheck.passed,
                AuditCheck.overturned,
            )
            .where(AuditCheck.audit_id.in_(audit_ids))
            .order_by(AuditCheck.id)
        ):
            checks[check.audit_id].append(check)
    return Inputs(contracts, kpis, values, checks)


# ---------------------------------------------------------------- the numbers


def _text(value: Fraction, places: int = 4) -> str:
    return str(round(Decimal(value.numerator) / Decimal(value.denominator), places))


def _audit_part(audit: Audit, checks: Sequence[AuditCheck]) -> tuple[Decimal, dict]:
    items = [formulas.Item(c.weight, c.passed, c.overturned) for c in checks]
    score = formulas.rounded(formulas.audit_score(items))
    return score, {
        "audit_id": audit.id,
        "items": [
            {"check_id": c.id, "weight": c.weight, "passed": c.passed, "overturned": c.overturned}
            for c in checks
        ],
        "score": str(score),
    }


def _money_part(
    contract: Contract, tier: formulas.TierRate, money: formulas.Money, base_left: Decimal
) -> dict:
    return {
        "uncapped_base": str(money.uncapped),
        "base_left_in_contract_value": str(base_left),
        "capped": money.base < money.uncapped,
        "payout_rate": str(tier.rate),
        "holdback_rate": repr(contract.holdback_rate),
        "payment": str(money.net),
    }


@dataclass
class Scored:
    """A scorecard's numbers before it is written."""

    values: dict[str, Any]
    money: formulas.Money


def score_period(
    *,
    contract: Contract,
    kpis: Sequence[ContractKpi],
    found: Evidence,
    audit: Audit,
    kpi_values: dict[int, float],
    checks: Sequence[AuditCheck],
    base_left: Decimal,
) -> Scored:
    """Every number of a period's scorecard (SPEC §6.1, §6.2), with how each was reached in `details`."""
    prior = formulas.prior_mean(found.prior_count, found.prior_sum)
    satisfaction = formulas.rounded(formulas.satisfaction(found.ratings_count, found.ratings_sum, prior))
    measured = []
    for kpi in kpis:
        if kpi.source == KpiSource.AUDIT:
            value = formulas.exact(kpi_values.get(kpi.id, 0.0))
        elif kpi.source == KpiSource.DELIVERY_RATE:
            value = formulas.delivery_rate(found.verified_units, contract.quantity, contract.periods)
        else:
            value = formulas.complaint_rate(found.substantiated_complaints, found.deliveries_recorded)
        measured.append((kpi, value, formulas.attainment(value, kpi.target, kpi.direction)))
    kpi_score = formulas.rounded(formulas.kpi_score([(k.weight, a) for k, _, a in measured]))
    audit_score, audit_details = _audit_part(audit, checks)
    weights = (contract.satisfaction_weight, contract.kpi_weight, contract.audit_weight)
    composite = formulas.composite(weights, satisfaction, kpi_score, audit_score)
    tier = formulas.tier_of(composite, contract.payment_tiers)
    money = formulas.period_money(
        verified_units=found.verified_units,
        unit_price=contract.unit_price,
        base_left=base_left,
        rate=tier.rate,
        holdback_rate=contract.holdback_rate,
    )
    details = {
        "satisfaction": {
            "ratings_counted": found.ratings_count,
            "ratings_sum": found.ratings_sum,
            "package_ratings_in_dates": found.prior_count,
            "package_ratings_sum": found.prior_sum,
            "prior_mean": _text(prior),
            "default_prior": found.prior_count < formulas.C,
            "c": formulas.C,
        },
        "kpis": [
            {
                "kpi_id": kpi.id,
                "name": kpi.name,
                "source": kpi.source.value,
                "direction": kpi.direction.value,
                "target": kpi.target,
                "weight": kpi.weight,
                "value": _text(value),
                "attainment": _text(att, 6),
            }
            for kpi, value, att in measured
        ],
        "audit": audit_details,
        "weights": {"satisfaction": weights[0], "kpi": weights[1], "audit": weights[2]},
        "money": _money_part(contract, tier, money, base_left),
    }
    values = {
        "contract_id": contract.id,
        "period_index": found.period_index,
        "starts_on": found.starts_on,
        "ends_on": found.ends_on,
        "verified_units": found.verified_units,
        "deliveries_recorded": found.deliveries_recorded,
        "substantiated_complaints": found.substantiated_complaints,
        "ratings_counted": found.ratings_count,
        "ratings_sum": found.ratings_sum,
        "prior_mean": float(prior),
        "satisfaction": float(satisfaction),
        "kpi_score": float(kpi_score),
        "audit_score": float(audit_score),
        "composite": float(composite),
        "tier": tier.tier,
        "payout_rate": to_money(tier.rate),  # as its column keeps it (2 places)
        "base": money.base,
        "payout": money.payout,
        "holdback": money.holdback,
        "details": details,
    }
    return Scored(values, money)


def net(card: Scorecard) -> Decimal:
    """What a scorecard's period is paid now: payout less holdback."""
    return card.payout - card.holdback


# ---------------------------------------------------------------- reading scorecards


async def current_scorecards(session: AsyncSession, contract_id: int) -> dict[int, Scorecard]:
    """The contract's current (highest) scorecard version of each finalised period."""
    cards = (
        await session.scalars(
            select(Scorecard)
            .where(Scorecard.contract_id == contract_id)
            .order_by(Scorecard.period_index, Scorecard.version)
        )
    ).all()
    return {card.period_index: card for card in cards}


async def period_payment(session: AsyncSession, contract_id: int, period_index: int) -> Payment | None:
    return await session.scalar(
        select(Payment).where(
            Payment.contract_id == contract_id,
            Payment.period_index == period_index,
            Payment.kind == PaymentKind.PERIOD,
        )
    )


async def _locked(session: AsyncSession, contract_id: int) -> Contract:
    """The contract row, locked until the transaction ends (PostgreSQL; SQLite writes one at a time)."""
    return (
        await session.execute(
            select(Contract)
            .where(Contract.id == contract_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


# ---------------------------------------------------------------- writing a scorecard


@dataclass
class Finalized:
    scorecard: Scorecard
    payment: Payment | None
    created: bool


async def _write(
    session: AsyncSession,
    *,
    actor: Actor | None,
    contract: Contract,
    scored: Scored,
    version: int,
    reason: str,
    now: dt.datetime,
    kind: PaymentKind,
    amount: Decimal,
) -> tuple[Scorecard, Payment | None]:
    card = Scorecard(
        **scored.values,
        version=version,
        finalized_at=now,
        finalized_by_id=actor.user_id if actor else None,
        reason=reason,
    )
    session.add(card)
    await session.flush()
    await journal.record(
        session,
        actor=actor,
        action="scorecard.finalized" if version == 1 else "scorecard.rescored",
        entity=card,
    )
    payment = None
    if kind == PaymentKind.PERIOD or amount != 0:
        payment = Payment(
            contract_id=contract.id,
            period_index=card.period_index,
            scorecard_id=card.id,
            kind=kind,
            amount=amount,
            status=PaymentStatus.CALCULATED,
            created_at=now,
        )
        session.add(payment)
        await journal.record(session, actor=actor, action="payment.calculated", entity=payment)
    return card, payment


async def _suspend_after_two_e(
    session: AsyncSession, actor: Actor | None, contract: Contract, cards: dict[int, Scorecard], index: int
) -> bool:
    """Two consecutive periods in tier E suspend an ACTIVE contract (SPEC §6.2); True when it did."""
    if cards[index].tier != Tier.E or contract.status != ContractStatus.ACTIVE:
        return False
    for neighbour in (index - 1, index + 1):
        if neighbour in cards and cards[neighbour].tier == Tier.E:
            first, second = sorted((index, neighbour))
            await lifecycle.set_contract_status(
                session,
                actor=actor,
                contract=contract,
                change="suspended",
                reason=f"periods {first} and {second} both scored in tier E: payments stop until an "
                "officer reinstates or terminates the contract",
            )
            return True
    return False


def _base_left(contract: Contract, cards: dict[int, Scorecard], index: int) -> Decimal:
    """What the contract value leaves for this period's base, after the other finalised periods'."""
    used = sum((card.base for i, card in cards.items() if i != index), Decimal("0.00"))
    return max(Decimal("0.00"), contract.total_value - used)


async def _finalize_locked(
    session: AsyncSession,
    *,
    actor: Actor | None,
    contract: Contract,
    found: Evidence,
    audit: Audit,
    data: Inputs,
    cards: dict[int, Scorecard],
    now: dt.datetime,
) -> Finalized:
    """Score and write one period of a locked contract whose current scorecards are `cards`."""
    scored = score_period(
        contract=contract,
        kpis=data.kpis.get(contract.id, []),
        found=found,
        audit=audit,
        kpi_values=data.kpi_values.get(audit.id, {}),
        checks=data.checks.get(audit.id, []),
        base_left=_base_left(contract, cards, found.period_index),
    )
    card, payment = await _write(
        session,
        actor=actor,
        contract=contract,
        scored=scored,
        version=1,
        reason="period finalised",
        now=now,
        kind=PaymentKind.PERIOD,
        amount=scored.money.net,
    )
    cards[found.period_index] = card
    await _suspend_after_two_e(session, actor, contract, cards, found.period_index)
    return Finalized(card, payment, created=True)


async def finalize_period(
    *, session: AsyncSession, actor: Actor, contract_id: int, period_index: int
) -> Finalized:
    """An officer of the contract's department finalises one period (idempotent)."""
    contract = await lifecycle.contract_for_officer(session, actor, contract_id)
    if not 1 <= period_index <= contract.periods:
        raise DomainError(
            ErrorCode.INVALID, f"the contract has periods 1 to {contract.periods}", field=["periodIndex"]
        )
    cards = await current_scorecards(session, contract.id)
    if period_index in cards:
        card = cards[period_index]
        return Finalized(card, await period_payment(session, contract.id, period_index), created=False)
    where = and_(PeriodRollup.contract_id == contract.id, PeriodRollup.period_index == period_index)
    found = (await evidence(session, where))[(contract.id, period_index)]
    now = await clock.now(session)
    if clock.today(now) <= found.ends_on:
        raise DomainError(
            ErrorCode.TOO_EARLY, f"the period runs until {found.ends_on}", field=["periodIndex"]
        )
    state = (await audit_states(session, where)).get((contract.id, period_index), AuditState(None, False))
    if refusal := state.refusal():
        raise refusal
    data = await inputs(session, [contract.id], [state.audit.id])
    return await _finalize_locked(
        session,
        actor=actor,
        contract=contract,
        found=found,
        audit=state.audit,
        data=data,
        cards=cards,
        now=now,
    )


# ---------------------------------------------------------------- rescoring after an appeal


async def rescore_after_appeal(
    session: AsyncSession, *, appeal: Appeal, audit: Audit, actor: Actor | None
) -> Finalized | None:
    """An appeal decided after its period was finalised: a new version and the payment's difference.

    Only the audit score changes (the items overturned drop out); the other evidence stays as it was
    finalised. None when nothing was overturned or the period is not finalised yet (finalising later
    leaves the overturned items out anyway).
    """
    if all(decision["upheld"] for decision in appeal.decisions or []):
        return None
    contract = await _locked(session, audit.contract_id)
    cards = await current_scorecards(session, contract.id)
    previous = cards.get(audit.period_index)
    if previous is None:
        return None
    checks = (
        await session.scalars(
            select(AuditCheck).where(AuditCheck.audit_id == audit.id).order_by(AuditCheck.id)
        )
    ).all()
    audit_score, audit_details = _audit_part(audit, checks)
    satisfaction, kpi_score = Decimal(repr(previous.satisfaction)), Decimal(repr(previous.kpi_score))
    weights = (contract.satisfaction_weight, contract.kpi_weight, contract.audit_weight)
    composite = formulas.composite(weights, satisfaction, kpi_score, audit_score)
    tier = formulas.tier_of(composite, contract.payment_tiers)
    payout = formulas.rounded(previous.base * tier.rate)
    holdback = formulas.rounded(payout * Decimal(repr(contract.holdback_rate)))
    money = formulas.Money(uncapped=previous.base, base=previous.base, payout=payout, holdback=holdback)
    base_left = Decimal(previous.details.get("money", {}).get("base_left_in_contract_value", previous.base))
    details = dict(previous.details)
    details.update(
        audit=audit_details,
        money=_money_part(contract, tier, money, base_left) | {"uncapped_base": str(previous.base)},
        rescored_from_version=previous.version,
        appeal_id=appeal.id,
    )
    values = {
        key: getattr(previous, key)
        for key in (
            "contract_id", "period_index", "starts_on", "ends_on", "verified_units", "deliveries_recorded",
            "substantiated_complaints", "ratings_counted", "ratings_sum", "prior_mean", "satisfaction",
            "kpi_score", "base",
        )
    }  # fmt: skip
    values.update(
        audit_score=float(audit_score),
        composite=float(composite),
        tier=tier.tier,
        payout_rate=to_money(tier.rate),
        payout=payout,
        holdback=holdback,
        details=details,
    )
    overturned = [str(d["check_id"]) for d in appeal.decisions if not d["upheld"]]
    card, payment = await _write(
        session,
        actor=actor,
        contract=contract,
        scored=Scored(values, money),
        version=previous.version + 1,
        reason=f"appeal {appeal.id} decided: item(s) {', '.join(overturned)} overturned"[:200],
        now=await clock.now(session),
        kind=PaymentKind.CORRECTION,
        amount=money.net - net(previous),
    )
    cards[audit.period_index] = card
    await _suspend_after_two_e(session, actor, contract, cards, audit.period_index)
    return Finalized(card, payment, created=True)


# ---------------------------------------------------------------- payable, holdback


def require_payable(contract: Contract) -> None:
    """Payments of a suspended contract are neither approved nor sent (SPEC §6.2)."""
    if contract.status == ContractStatus.SUSPENDED:
        raise DomainError(
            ErrorCode.CONTRACT_SUSPENDED,
            "the contract is suspended: no payment goes out until an officer reinstates or terminates it",
        )


@dataclass
class Settlement:
    contract_id: int
    outcome: str
    """RELEASED, FORFEITED, or why it waits."""
    amount: Decimal = Decimal("0.00")
    mean_composite: Decimal | None = None
    payment: Payment | None = None

    @property
    def settled(self) -> bool:
        return self.outcome in ("RELEASED", "FORFEITED")


async def holdback_settled(session: AsyncSession, contract_id: int) -> bool:
    """Whether the contract's holdback was released or forfeited (its journal event, committed)."""
    return bool(
        await session.scalar(
            select(
                exists().where(
                    JournalEvent.action.in_((RELEASED, FORFEITED)),
                    JournalEvent.entity_type == "Contract",
                    JournalEvent.entity_id == str(contract_id),
                )
            )
        )
    )


async def settle_holdback(session: AsyncSession, *, actor: Actor | None, contract_id: int) -> Settlement:
    """Release or forfeit a COMPLETED contract's holdback, once; otherwise say why it waits."""
    contract = await _locked(session, contract_id)
    if contract.status != ContractStatus.COMPLETED:
        return Settlement(contract.id, f"waits: the contract is {contract.status.value}")
    if await holdback_settled(session, contract.id):
        return Settlement(contract.id, "settled before")
    cards = await current_scorecards(session, contract.id)
    missing = [i for i in range(1, contract.periods + 1) if i not in cards]
    if missing:
        return Settlement(contract.id, f"waits: period(s) {', '.join(map(str, missing))} not finalised")
    now = await clock.now(session)
    audits = (
        await session.execute(
            select(Audit, exists().where(Appeal.audit_id == Audit.id), exists().where(
                Appeal.audit_id == Audit.id, Appeal.decided_at.is_(None)
            )).where(Audit.contract_id == contract.id)
        )
    ).all()  # fmt: skip
    for audit, appealed, undecided in audits:
        if undecided:
            return Settlement(
                contract.id, f"waits: the appeal of period {audit.period_index}'s audit is open"
            )
        if not appealed and audit.submitted_at and now < audit.submitted_at + contract_audits.APPEAL_DAYS:
            return Settlement(
                contract.id, f"waits: period {audit.period_index}'s audit may be appealed until "
                f"{(audit.submitted_at + contract_audits.APPEAL_DAYS).isoformat()}",
            )  # fmt: skip
    composites = [Decimal(repr(card.composite)) for card in cards.values()]
    mean = sum(composites, Decimal(0)) / len(composites)
    total = sum((card.holdback for card in cards.values()), Decimal("0.00"))
    if mean >= PASSING_MEAN:
        payment = None
        if total:
            payment = Payment(
                contract_id=contract.id,
                period_index=None,
                kind=PaymentKind.HOLDBACK_RELEASE,
                amount=total,
                status=PaymentStatus.CALCULATED,
                created_at=now,
            )
            session.add(payment)
            await journal.record(session, actor=actor, action="payment.calculated", entity=payment)
        await journal.record(session, actor=actor, action=RELEASED, entity=contract)
        return Settlement(contract.id, "RELEASED", total, formulas.rounded(mean), payment)
    await journal.record(session, actor=actor, action=FORFEITED, entity=contract)
    return Settlement(contract.id, "FORFEITED", total, formulas.rounded(mean))


# ---------------------------------------------------------------- `market scoring run`


@dataclass
class Skipped:
    contract_id: int
    period_index: int
    reason: str


@dataclass
class Plan:
    as_of: dt.date
    ready: list[tuple[Evidence, Audit]]
    skipped: list[Skipped]


@dataclass
class RunReport:
    finalized: list[FinalizedPeriod] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    suspended: list[int] = field(default_factory=list)
    settlements: list[Settlement] = field(default_factory=list)


def _due(as_of: dt.date):
    """Periods that ended before `as_of` and have no scorecard yet."""
    scored = exists().where(
        Scorecard.contract_id == PeriodRollup.contract_id, Scorecard.period_index == PeriodRollup.period_index
    )
    return and_(PeriodRollup.ends_on < as_of, ~scored)


async def plan_run(session: AsyncSession, *, as_of: dt.date) -> Plan:
    """The periods due by `as_of` (one aggregate for all of them), those ready and those skipped, why."""
    today = clock.today(await clock.now(session))
    if as_of > today:
        raise DomainError(ErrorCode.INVALID, f"--as-of cannot be after today ({today})", field=["asOf"])
    where = _due(as_of)
    found = await evidence(session, where)
    states = await audit_states(session, where)
    ready, skipped = [], []
    for key, item in found.items():
        state = states.get(key, AuditState(None, False))
        if refusal := state.refusal():
            skipped.append(Skipped(*key, f"{refusal.code.value}: {refusal.problems[0].message}"))
        else:
            ready.append((item, state.audit))
    return Plan(as_of, ready, skipped)


async def current_scorecards_of(
    session: AsyncSession, contract_ids: Sequence[int]
) -> dict[int, dict[int, Scorecard]]:
    """`current_scorecards` of many contracts, in one statement."""
    found: dict[int, dict[int, Scorecard]] = {i: {} for i in contract_ids}
    for card in (
        await session.scalars(
            select(Scorecard)
            .where(Scorecard.contract_id.in_(contract_ids))
            .order_by(Scorecard.contract_id, Scorecard.period_index, Scorecard.version)
        )
    ).all():
        found[card.contract_id][card.period_index] = card
    return found


RUN_CHUNK = 500
"""Contracts the run locks, reads and writes together (one set of statements per chunk)."""


async def run(
    session: AsyncSession,
    plan: Plan,
    *,
    actor: Actor | None = None,
    progress: Callable[[int], object] | None = None,
) -> RunReport:
    """Finalise the plan's ready periods, then settle the holdbacks of completed contracts.

    Contracts go in chunks of `RUN_CHUNK`, in ID order: a chunk's contracts are locked in one
    statement, their current scorecards and inputs read in a few more, the periods scored in Python
    and the scorecards, payments and journal events inserted in batches. A period another run or an
    officer finalised first (they lock the contract too, then read its scorecards) is skipped."""
    report = RunReport(skipped=list(plan.skipped))
    ready: dict[int, list[tuple[Evidence, Audit]]] = {}
    for item, audit in sorted(plan.ready, key=lambda pair: pair[0].key):
        ready.setdefault(item.contract_id, []).append((item, audit))
    contract_ids = sorted(ready)
    now = await clock.now(session)
    for start in range(0, len(contract_ids), RUN_CHUNK):
        chunk = contract_ids[start : start + RUN_CHUNK]
        # The lock makes the unique (contract, period, version) unreachable here; were it broken
        # anyway, the IntegrityError would roll the whole run back, and the next run would redo it.
        done = await _run_chunk(session, actor, chunk, ready, now)
        report.finalized += done.finalized
        report.skipped += done.skipped
        report.suspended += done.suspended
        if progress is not None:
            progress(sum(len(ready[i]) for i in chunk))
    completed = (
        await session.scalars(
            select(Contract.id).where(Contract.status == ContractStatus.COMPLETED).order_by(Contract.id)
        )
    ).all()
    for contract_id in completed:
        if not await holdback_settled(session, contract_id):
            report.settlements.append(await settle_holdback(session, actor=actor, contract_id=contract_id))
    return report


@dataclass(frozen=True)
class FinalizedPeriod:
    """A scorecard the run wrote (it writes rows, not ORM objects): what its report shows."""

    scorecard_id: int
    contract_id: int
    period_index: int
    tier: Tier
    composite: float
    base: Decimal
    payout: Decimal
    holdback: Decimal


async def _run_chunk(
    session: AsyncSession,
    actor: Actor | None,
    chunk: Sequence[int],
    ready: dict[int, list[tuple[Evidence, Audit]]],
    now: dt.datetime,
) -> RunReport:
    done = RunReport()
    contracts = {
        c.id: c
        for c in (
            await session.scalars(
                select(Contract)
                .where(Contract.id.in_(chunk))
                .order_by(Contract.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    cards_of = await current_scorecards_of(session, chunk)
    data = await inputs(session, chunk, [audit.id for i in chunk for _, audit in ready[i]], contracts)
    scored_rows: list[tuple[dict, Decimal]] = []
    for contract_id in chunk:
        contract, cards = contracts[contract_id], cards_of[contract_id]
        for item, audit in ready[contract_id]:
            if item.period_index in cards:
                done.skipped.append(Skipped(*item.key, "finalised already (by another run or an officer)"))
                continue
            scored = score_period(
                contract=contract,
                kpis=data.kpis.get(contract_id, []),
                found=item,
                audit=audit,
                kpi_values=data.kpi_values.get(audit.id, {}),
                checks=data.checks.get(audit.id, []),
                base_left=_base_left(contract, cards, item.period_index),
            )
            row = {
                **bulk.field_defaults(Scorecard),
                **scored.values,
                "version": 1,
                "finalized_at": now,
                "finalized_by_id": actor.user_id if actor else None,
                "reason": "period finalised",
            }
            scored_rows.append((row, scored.money.net))
            cards[item.period_index] = FinalizedPeriod(
                0, contract_id, item.period_index, row["tier"], row["composite"], row["base"],
                row["payout"], row["holdback"],
            )  # fmt: skip
    card_ids = await bulk.reserve_ids(session, Scorecard.__table__, len(scored_rows))
    payment_ids = await bulk.reserve_ids(session, Payment.__table__, len(scored_rows))
    payment_rows = []
    for (row, amount), card_id, payment_id in zip(scored_rows, card_ids, payment_ids, strict=True):
        row["id"] = card_id
        payment_rows.append(
            {
                **bulk.field_defaults(Payment),
                "id": payment_id,
                "contract_id": row["contract_id"],
                "period_index": row["period_index"],
                "scorecard_id": card_id,
                "kind": PaymentKind.PERIOD,
                "amount": amount,
                "status": PaymentStatus.CALCULATED,
                "created_at": now,
            }
        )
    await bulk.insert_rows(session, Scorecard.__table__, [row for row, _ in scored_rows])
    await bulk.insert_rows(session, Payment.__table__, payment_rows)
    for (card, _), payment in zip(scored_rows, payment_rows, strict=True):
        for action, entity, values in (
            ("scorecard.finalized", "Scorecard", card),
            ("payment.calculated", "Payment", payment),
        ):
            await journal.record_row(
                session, actor=actor, action=action, entity_type=entity, entity_id=str(values["id"]),
                after=values,
            )  # fmt: skip
        finalized = FinalizedPeriod(
            card["id"], card["contract_id"], card["period_index"], card["tier"], card["composite"],
            card["base"], card["payout"], card["holdback"],
        )  # fmt: skip
        cards_of[finalized.contract_id][finalized.period_index] = finalized
        done.finalized.append(finalized)
    for card in done.finalized:
        contract = contracts[card.contract_id]
        was_active = contract.status == ContractStatus.ACTIVE
        await _suspend_after_two_e(session, actor, contract, cards_of[contract.id], card.period_index)
        if was_active and contract.status == ContractStatus.SUSPENDED:
            done.suspended.append(contract.id)
    return done
