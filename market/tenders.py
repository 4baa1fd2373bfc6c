"""Tenders (SPEC §4.1): drafting, publishing, correction notices, cancellation, and clarifications.

The OFFICERs of the tender's department own it: they draft, publish, amend and cancel it and
answer the questions PROVIDERs ask while it is PUBLISHED. The other stages have their own modules:
`bids` (sealed bids and the opening), `evaluation`, `awards` and `challenges`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, journal
from core.auth import Actor, Role
from core.db import CENT
from core.errors import DomainError, ErrorCode, Validator
from market import access
from market.catalogue import WEIGHT_TOLERANCE, KpiSpec, check_kpis, kpi_rows, package_kpis
from market.models import (
    Clarification,
    PanelMember,
    Region,
    ServicePackage,
    Tender,
    TenderAmendment,
    TenderKpi,
    TenderStatus,
    User,
)
from market.providers import acting_provider

DEFAULT_MIN_VALID_BIDS = 3
MIN_PRICE_WEIGHT, MAX_PRICE_WEIGHT = 0.10, 0.30  # services: price weighs 10%-30%
AMENDMENT_MIN_DAYS = dt.timedelta(days=15)  # days that must remain after a correction notice
DEFAULT_HOLDBACK_RATE = 0.10
DEFAULT_PAYMENT_TIERS = [
    {"tier": "A", "min_score": 90, "payout_rate": 1.05},
    {"tier": "B", "min_score": 80, "payout_rate": 1.00},
    {"tier": "C", "min_score": 70, "payout_rate": 0.90},
    {"tier": "D", "min_score": 60, "payout_rate": 0.75},
    {"tier": "E", "min_score": 0, "payout_rate": 0.50},
]
OPEN_FOR_CANCELLATION = (
    TenderStatus.DRAFT,
    TenderStatus.PUBLISHED,
    TenderStatus.EVALUATING,
    TenderStatus.AWARD_PENDING,
)


def tenders_statement(
    *,
    actor: Actor | None,
    status: TenderStatus | None = None,
    region_id: int | None = None,
    package_id: int | None = None,
) -> Select:
    """Tenders the caller may see, newest first."""
    statement = select(Tender).where(access.tender_visible_clause(actor))
    if status is not None:
        statement = statement.where(Tender.status == status)
    if region_id is not None:
        statement = statement.where(Tender.region_id == region_id)
    if package_id is not None:
        statement = statement.where(Tender.package_id == package_id)
    return statement.order_by(Tender.id.desc())


# ---------------------------------------------------------------- loading with checks (the later stages too)


async def load_tender(
    session: AsyncSession, actor: Actor | None, tender_id: int, *, field: Sequence[str], lock: bool = False
) -> Tender:
    """The tender, locked when asked; NOT_FOUND when it does not exist or the caller may not see it."""
    tender = await session.get(Tender, tender_id, with_for_update=lock, populate_existing=lock)
    if tender is None or not access.can_see_tender(actor, tender):
        raise DomainError(ErrorCode.NOT_FOUND, "no tender with this ID", field=field)
    return tender


async def owned_tender(
    session: AsyncSession, actor: Actor, tender_id: int, *, field: Sequence[str] = ("id",), lock=True
) -> Tender:
    """The tender, locked unless told otherwise, for one of its officers; refused to anyone else."""
    tender = await load_tender(session, actor, tender_id, field=field, lock=lock)
    if not access.is_tender_officer(actor, tender):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, "only officers of the purchasing department may do this"
        )
    return tender


def require_status(tender: Tender, *statuses: TenderStatus, doing: str) -> None:
    if tender.status not in statuses:
        raise DomainError(ErrorCode.INVALID_STATE, f"the tender is {tender.status.value}; cannot {doing}")


# ---------------------------------------------------------------- drafting


@dataclass(frozen=True)
class TenderTerms:
    """Everything an officer sets on a tender while it is a DRAFT."""

    package_id: int
    region_id: int
    title: str
    quantity: int
    periods: int
    period_months: int
    start_date: dt.date
    max_unit_price: Decimal
    bid_deadline: dt.datetime
    price_weight: float
    quality_weight: float
    record_weight: float
    evaluator_ids: Sequence[int]
    min_valid_bids: int = DEFAULT_MIN_VALID_BIDS
    required_qualifications: Sequence[str] = ()
    kpis: Sequence[KpiSpec] | None = None  # None: the package's defaults
    satisfaction_weight: float | None = None
    kpi_weight: float | None = None
    audit_weight: float | None = None
    holdback_rate: float = DEFAULT_HOLDBACK_RATE
    payment_tiers: Sequence[dict] | None = None


def _check_weights(check: Validator, terms: TenderTerms) -> None:
    check.check(
        MIN_PRICE_WEIGHT - WEIGHT_TOLERANCE <= terms.price_weight <= MAX_PRICE_WEIGHT + WEIGHT_TOLERANCE,
        "the price weight of a services tender is between 0.10 and 0.30",
        field=["input", "priceWeight"],
    )
    check.check(
        min(terms.quality_weight, terms.record_weight) >= 0,
        "weights cannot be negative",
        field=["input", "qualityWeight"],
    )
    check.check(
        abs(terms.price_weight + terms.quality_weight + terms.record_weight - 1) <= WEIGHT_TOLERANCE,
        "price, quality and record weights must sum to 1",
        field=["input", "priceWeight"],
    )


def _check_payment_tiers(check: Validator, tiers: Sequence[dict]) -> None:
    names = [t["tier"] for t in tiers]
    minimums = [t["min_score"] for t in tiers]
    ok = (
        names == ["A", "B", "C", "D", "E"]
        and all(a > b for a, b in itertools.pairwise(minimums))
        and minimums[-1] == 0
        and all(0 <= t["payout_rate"] <= 2 for t in tiers)
    )
    check.check(
        ok,
        "tiers A-E with falling minimum scores, E from 0, payout rates between 0 and 2",
        field=["input", "paymentTiers"],
    )


def _check_terms(check: Validator, terms: TenderTerms, *, now: dt.datetime, package: ServicePackage) -> None:
    check.check(bool(terms.title.strip()), "a title is required", field=["input", "title"])
    check.check(terms.quantity >= 1, "the quantity is at least 1 unit", field=["input", "quantity"])
    check.check(terms.periods >= 1, "at least one payment period", field=["input", "periods"])
    check.check(1 <= terms.period_months <= 12, "a period is 1 to 12 months", field=["input", "periodMonths"])
    check.check(terms.min_valid_bids >= 1, "at least 1 valid bid", field=["input", "minValidBids"])
    check.check(
        terms.max_unit_price == terms.max_unit_price.quantize(CENT) and terms.max_unit_price > 0,
        "the ceiling is a positive price with at most 2 decimals",
        field=["input", "maxUnitPrice"],
    )
    check.check(
        package.min_unit_price <= terms.max_unit_price <= package.max_unit_price,
        "the ceiling lies within the package's reference price range "
        f"({package.min_unit_price}-{package.max_unit_price})",
        field=["input", "maxUnitPrice"],
    )
    check.check(
        terms.bid_deadline > now, "the bid deadline must be in the future", field=["input", "bidDeadline"]
    )
    check.check(
        terms.start_date > clock.today(terms.bid_deadline),
        "the contract starts after the bid deadline",
        field=["input", "startDate"],
    )
    check.check(bool(terms.evaluator_ids), "name at least one evaluator", field=["input", "evaluatorIds"])
    check.check(
        len(set(terms.evaluator_ids)) == len(terms.evaluator_ids),
        "an evaluator is named twice",
        field=["input", "evaluatorIds"],
    )
    check.check(
        0 <= terms.holdback_rate < 1,
        "the holdback is a share from 0 to below 1",
        field=["input", "holdbackRate"],
    )
    _check_weights(check, terms)
    if terms.kpis is not None:
        check_kpis(check, terms.kpis, field=["input", "kpis"])
    weights = [terms.satisfaction_weight, terms.kpi_weight, terms.audit_weight]
    if any(w is not None for w in weights):
        check.check(
            all(w is not None and w >= 0 for w in weights)
            and abs(sum(weights) - 1) <= WEIGHT_TOLERANCE
            and terms.satisfaction_weight >= 0.30 - WEIGHT_TOLERANCE,
            "satisfaction (≥ 0.30), KPI and audit weights are all given and sum to 1",
            field=["input", "satisfactionWeight"],
        )
    if terms.payment_tiers is not None:
        _check_payment_tiers(check, terms.payment_tiers)


async def _check_references(session: AsyncSession, terms: TenderTerms) -> ServicePackage:
    package = await session.get(ServicePackage, terms.package_id)
    if package is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "no service package with this ID", field=["input", "packageId"]
        )
    newer = await session.scalar(
        select(exists().where(ServicePackage.code == package.code, ServicePackage.version > package.version))
    )
    if newer:
        raise DomainError(
            ErrorCode.INVALID_STATE,
            f"version {package.version} of {package.code} has been superseded; tender the latest version",
            field=["input", "packageId"],
        )
    if await session.get(Region, terms.region_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no region with this ID", field=["input", "regionId"])
    users = (await session.scalars(select(User).where(User.id.in_(list(terms.evaluator_ids))))).all()
    found = {u.id: u for u in users}
    for index, user_id in enumerate(terms.evaluator_ids):
        user = found.get(user_id)
        if user is None or not user.active or user.role not in (Role.EVALUATOR, Role.OFFICER):
            raise DomainError(
                ErrorCode.NOT_FOUND,
                "no active evaluator or officer with this ID",
                field=["input", "evaluatorIds", str(index)],
            )
    return package


async def _store_terms(
    session: AsyncSession, tender: Tender, terms: TenderTerms, package: ServicePackage
) -> None:
    tender.package_id = package.id
    tender.region_id = terms.region_id
    tender.title = terms.title.strip()
    tender.quantity = terms.quantity
    tender.periods = terms.periods
    tender.period_months = terms.period_months
    tender.start_date = terms.start_date
    tender.max_unit_price = terms.max_unit_price
    tender.bid_deadline = terms.bid_deadline
    tender.min_valid_bids = terms.min_valid_bids
    tender.price_weight = terms.price_weight
    tender.quality_weight = terms.quality_weight
    tender.record_weight = terms.record_weight
    tender.required_qualifications = list(
        dict.fromkeys(q.strip() for q in terms.required_qualifications if q.strip())
    )
    tender.satisfaction_weight = (
        terms.satisfaction_weight if terms.satisfaction_weight is not None else package.satisfaction_weight
    )
    tender.kpi_weight = terms.kpi_weight if terms.kpi_weight is not None else package.kpi_weight
    tender.audit_weight = terms.audit_weight if terms.audit_weight is not None else package.audit_weight
    tender.holdback_rate = terms.holdback_rate
    tender.payment_tiers = [dict(t) for t in (terms.payment_tiers or DEFAULT_PAYMENT_TIERS)]
    session.add(tender)
    await session.flush()

    kpis = terms.kpis
    if kpis is None:
        kpis = [KpiSpec.of(k) for k in await package_kpis(session=session, package_ids=[package.id])]
    for old in (await session.scalars(select(TenderKpi).where(TenderKpi.tender_id == tender.id))).all():
        await session.delete(old)
    session.add_all(kpi_rows(TenderKpi, kpis, tender_id=tender.id))
    for old in (await session.scalars(select(PanelMember).where(PanelMember.tender_id == tender.id))).all():
        await session.delete(old)
    await session.flush()
    session.add_all(PanelMember(tender_id=tender.id, user_id=u) for u in terms.evaluator_ids)


async def create_tender(*, session: AsyncSession, actor: Actor, terms: TenderTerms) -> Tender:
    """An OFFICER drafts a tender for their department; KPIs and scoring terms come from the package."""
    if actor.department_id is None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "this officer belongs to no department")
    now = await clock.now(session)
    package = await _check_references(session, terms)
    check = Validator()
    _check_terms(check, terms, now=now, package=package)
    check.raise_if_any()
    tender = Tender(
        department_id=actor.department_id,
        created_by_id=actor.user_id,
        created_at=now,
        package_id=package.id,
        region_id=terms.region_id,
        title=terms.title,
        quantity=terms.quantity,
        periods=terms.periods,
        period_months=terms.period_months,
        start_date=terms.start_date,
        max_unit_price=terms.max_unit_price,
        bid_deadline=terms.bid_deadline,
        price_weight=terms.price_weight,
        quality_weight=terms.quality_weight,
        record_weight=terms.record_weight,
    )
    await _store_terms(session, tender, terms, package)
    await journal.record(session, actor=actor, action="tender.drafted", entity=tender)
    return tender


async def terms_of(session: AsyncSession, tender: Tender) -> TenderTerms:
    kpis = (
        await session.scalars(
            select(TenderKpi).where(TenderKpi.tender_id == tender.id).order_by(TenderKpi.position)
        )
    ).all()
    panel = (
        await session.scalars(select(PanelMember.user_id).where(PanelMember.tender_id == tender.id))
    ).all()
    return TenderTerms(
        package_id=tender.package_id,
        region_id=tender.region_id,
        title=tender.title,
        quantity=tender.quantity,
        periods=tender.periods,
        period_months=tender.period_months,
        start_date=tender.start_date,
        max_unit_price=tender.max_unit_price,
        bid_deadline=tender.bid_deadline,
        price_weight=tender.price_weight,
        quality_weight=tender.quality_weight,
        record_weight=tender.record_weight,
        evaluator_ids=list(panel),
        min_valid_bids=tender.min_valid_bids,
        required_qualifications=list(tender.required_qualifications),
        kpis=[KpiSpec.of(k) for k in kpis],
        satisfaction_weight=tender.satisfaction_weight,
        kpi_weight=tender.kpi_weight,
        audit_weight=tender.audit_weight,
        holdback_rate=tender.holdback_rate,
        payment_tiers=list(tender.payment_tiers),
    )


async def update_tender(
    *, session: AsyncSession, actor: Actor, tender_id: int, changes: dict[str, Any]
) -> Tender:
    """Edit a DRAFT: any term, the KPI set, scoring weights, payment tiers, the panel."""
    tender = await owned_tender(session, actor, tender_id)
    require_status(tender, TenderStatus.DRAFT, doing="edit it (amend a published tender instead)")
    before = journal.snapshot(tender)
    current = await terms_of(session, tender)
    if "package_id" in changes and changes["package_id"] != tender.package_id and "kpis" not in changes:
        changes["kpis"] = None  # a new package brings its own default KPIs
    terms = dataclasses.replace(current, **changes)
    package = await _check_references(session, terms)
    check = Validator()
    _check_terms(check, terms, now=await clock.now(session), package=package)
    check.raise_if_any()
    await _store_terms(session, tender, terms, package)
    await journal.record(session, actor=actor, action="tender.edited", entity=tender, before=before)
    return tender


async def publish_tender(*, session: AsyncSession, actor: Actor, tender_id: int) -> Tender:
    """The notice goes public and bids are accepted until the deadline."""
    tender = await owned_tender(session, actor, tender_id)
    require_status(tender, TenderStatus.DRAFT, doing="publish it")
    now = await clock.now(session)
    terms = await terms_of(session, tender)
    package = await _check_references(session, terms)
    check = Validator()
    _check_terms(check, terms, now=now, package=package)
    check.raise_if_any()
    before = journal.snapshot(tender)
    tender.status, tender.published_at, tender.version = TenderStatus.PUBLISHED, now, 1
    await journal.record(session, actor=actor, action="tender.published", entity=tender, before=before)
    return tender


AMENDABLE = {
    "title": "title",
    "quantity": "quantity",
    "max_unit_price": "maxUnitPrice",
    "bid_deadline": "bidDeadline",
    "min_valid_bids": "minValidBids",
    "required_qualifications": "requiredQualifications",
    "start_date": "startDate",
}


async def amend_tender(
    *, session: AsyncSession, actor: Actor, tender_id: int, reason: str, changes: dict[str, Any]
) -> Tender:
    """A correction notice (更正公告) while PUBLISHED: a new version with its public change list.

    At least 15 days must remain after it, so the deadline moves when needed;
    bids made before it must be re-confirmed by their providers.
    """
    tender = await owned_tender(session, actor, tender_id)
    require_status(tender, TenderStatus.PUBLISHED, doing="amend it")
    now = await clock.now(session)
    if now >= tender.bid_deadline:
        raise DomainError(ErrorCode.DEADLINE_PASSED, "the bid deadline has passed; open the bids instead")
    check = Validator()
    check.check(bool(reason.strip()), "say why the tender is amended", field=["reason"])
    unknown = set(changes) - set(AMENDABLE)
    check.check(not unknown, f"cannot amend {sorted(unknown)}", field=["input"])
    check.raise_if_any()
    current = await terms_of(session, tender)
    requested = dataclasses.replace(current, **changes)
    deadline = max(requested.bid_deadline, now + AMENDMENT_MIN_DAYS)
    terms = dataclasses.replace(requested, bid_deadline=deadline)
    if terms.start_date <= clock.today(deadline):
        terms = dataclasses.replace(terms, start_date=clock.today(deadline) + dt.timedelta(days=1))
    package = await session.get(ServicePackage, tender.package_id)
    _check_terms(check, terms, now=now, package=package)
    check.raise_if_any()
    diff = [
        {
            "field": api_name,
            "before": journal.plain(getattr(current, name)),
            "after": journal.plain(getattr(terms, name)),
        }
        for name, api_name in AMENDABLE.items()
        if getattr(current, name) != getattr(terms, name)
    ]
    if not diff:
        raise DomainError(ErrorCode.INVALID, "the amendment changes nothing", field=["input"])
    before = journal.snapshot(tender)
    tender.title, tender.quantity = terms.title.strip(), terms.quantity
    tender.max_unit_price, tender.bid_deadline = terms.max_unit_price, terms.bid_deadline
    tender.min_valid_bids, tender.start_date = terms.min_valid_bids, terms.start_date
    tender.required_qualifications = list(terms.required_qualifications)
    tender.version += 1
    amendment = TenderAmendment(
        tender_id=tender.id, version=tender.version, reason=reason.strip(), changes=diff, created_at=now
    )
    session.add(amendment)
    await journal.record(session, actor=actor, action="tender.amended", entity=tender, before=before)
    return tender


async def cancel_tender(*, session: AsyncSession, actor: Actor, tender_id: int, reason: str) -> Tender:
    tender = await owned_tender(session, actor, tender_id)
    require_status(tender, *OPEN_FOR_CANCELLATION, doing="cancel it")
    if not reason.strip():
        raise DomainError(ErrorCode.INVALID, "a reason is required", field=["reason"])
    before = journal.snapshot(tender)
    tender.status, tender.closed_reason = TenderStatus.CANCELLED, reason.strip()
    tender.closed_at = await clock.now(session)
    await journal.record(session, actor=actor, action="tender.cancelled", entity=tender, before=before)
    return tender


# ---------------------------------------------------------------- clarifications


async def ask_clarification(
    *, session: AsyncSession, actor: Actor, tender_id: int, question: str
) -> Clarification:
    """A provider asks; the question is shown without its asker once answered."""
    provider = await acting_provider(session, actor)
    tender = await load_tender(session, actor, tender_id, field=["tenderId"])
    require_status(tender, TenderStatus.PUBLISHED, doing="ask about it")
    now = await clock.now(session)
    if now >= tender.bid_deadline:
        raise DomainError(ErrorCode.DEADLINE_PASSED, "the bid deadline has passed")
    if not question.strip():
        raise DomainError(ErrorCode.INVALID, "the question is empty", field=["question"])
    clarification = Clarification(
        tender_id=tender.id, provider_id=provider.id, question=question.strip(), asked_at=now
    )
    session.add(clarification)
    await journal.record(session, actor=actor, action="clarification.asked", entity=clarification)
    return clarification


async def answer_clarification(
    *, session: AsyncSession, actor: Actor, clarification_id: int, answer: str
) -> Clarification:
    clarification = await session.get(Clarification, clarification_id, with_for_update=True)
    if clarification is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no clarification with this ID", field=["id"])
    tender = await owned_tender(session, actor, clarification.tender_id, lock=False)
    require_status(tender, TenderStatus.PUBLISHED, doing="answer questions")
    if clarification.answer is not None:
        raise DomainError(ErrorCode.INVALID_STATE, "this question is answered already")
    if not answer.strip():
        raise DomainError(ErrorCode.INVALID, "the answer is empty", field=["answer"])
    before = journal.snapshot(clarification)
    clarification.answer, clarification.answered_at = answer.strip(), await clock.now(session)
    await journal.record(
        session, actor=actor, action="clarification.answered", entity=clarification, before=before
    )
    return clarification


# ---------------------------------------------------------------- used by the later stages


def close_if_too_few(tender: Tender, valid: int, now: dt.datetime) -> bool:
    """流标: fewer valid bids than the tender's minimum."""
    if valid >= tender.min_valid_bids:
        return False
    tender.status = TenderStatus.UNSUCCESSFUL
    tender.closed_reason = f"{valid} valid bid(s), fewer than the minimum of {tender.min_valid_bids}"
    tender.closed_at = now
    return True


async def kpis_of(session: AsyncSession, tender_ids: Sequence[int]) -> list[TenderKpi]:
    return list(
        (
            await session.scalars(
                select(TenderKpi)
                .where(TenderKpi.tender_id.in_(tender_ids))
                .order_by(TenderKpi.tender_id, TenderKpi.position)
            )
        ).all()
    )
