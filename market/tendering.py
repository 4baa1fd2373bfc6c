"""Rules of purchasing (SPEC §4): tenders, clarifications, sealed bids, evaluation, award, challenges.

Who may do what:
- the OFFICERs of the tender's department own it: draft, publish, amend, cancel,
  answer questions, open bids, decide justifications and challenges, recommend;
- the panel's EVALUATORs declare conflicts and score valid bids;
- PROVIDERs ask questions, bid, justify abnormally low bids, challenge awards.

Sealed bids: nothing about a bid is readable by anyone but its provider before
the bids are opened. Bids and the opening serialise on the tender row (SELECT …
FOR UPDATE), and the deadline is checked again as the last step before COMMIT
with the application clock, so a bid whose transaction commits late never gets
in (PostgreSQL's now() would give the transaction's start time instead).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, journal
from core.auth import Actor, Role, require
from core.db import CENT, check_at_commit
from core.errors import (
    DomainError,
    ErrorCode,
    InvalidState,
    NotFound,
    PermissionDenied,
    Validator,
)
from core.settings import get_settings
from market import evaluation
from market.models import (
    Bid,
    BidStatus,
    BidVersion,
    Challenge,
    ChallengeDecision,
    Clarification,
    PanelMember,
    Provider,
    ProviderStatus,
    Qualification,
    QualityScore,
    Region,
    ServicePackage,
    Tender,
    TenderAmendment,
    TenderKpi,
    TenderStatus,
    User,
)
from market.service import (
    WEIGHT_TOLERANCE,
    KpiSpec,
    check_kpis,
    package_kpis,
)

DEFAULT_MIN_VALID_BIDS = 3
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

StarsLookup = Callable[[AsyncSession, Sequence[int], dt.datetime], Awaitable[dict[int, int]]]


async def _no_certificates(_session, _provider_ids, _moment) -> dict[int, int]:
    return {}


# Stars of providers at a moment, for the track-record score. The scoring domain
# owns certificates and installs its lookup here (see app.py); until a
# certification run has happened every provider is unrated.
track_record_stars: StarsLookup = _no_certificates


class DeadlinePassed(DomainError):
    code = ErrorCode.DEADLINE_PASSED


class TooEarly(DomainError):
    code = ErrorCode.TOO_EARLY


# ---------------------------------------------------------------- who may see what


def is_owner(actor: Actor | None, tender: Tender) -> bool:
    return (
        actor is not None
        and actor.role == Role.OFFICER
        and actor.department_id is not None
        and actor.department_id == tender.department_id
    )


def can_see_tender(actor: Actor | None, tender: Tender) -> bool:
    """Drafts belong to their department; published tenders are public notices."""
    return tender.status != TenderStatus.DRAFT or is_owner(actor, tender)


def tender_visible_clause(actor: Actor | None):
    if actor is not None and actor.role == Role.OFFICER and actor.department_id is not None:
        return or_(Tender.status != TenderStatus.DRAFT, Tender.department_id == actor.department_id)
    return Tender.status != TenderStatus.DRAFT


@dataclass(frozen=True)
class BidAccess:
    """What a caller may read of the bids of one tender."""

    own_provider_id: int | None
    all_opened: (
        bool  # the opening record and scores: officers, panel, bidders after opening; public after award
    )
    proposals: bool  # proposal texts of others: officers and the panel, after opening


async def bid_access(session: AsyncSession, actor: Actor | None, tender: Tender) -> BidAccess:
    return (await bid_access_many(session, actor, [tender]))[tender.id]


async def bid_access_many(
    session: AsyncSession, actor: Actor | None, tenders: Sequence[Tender]
) -> dict[int, BidAccess]:
    """Bid access for several tenders in at most two queries (panel seats, own bids)."""
    own = actor.provider_id if actor is not None and actor.role == Role.PROVIDER else None
    opened = [t.id for t in tenders if t.opened_at is not None]
    seats: set[int] = set()
    bidding: set[int] = set()
    if (
        opened
        and actor is not None
        and actor.user_id is not None
        and actor.role in (Role.EVALUATOR, Role.OFFICER)
    ):
        seats = set(
            (
                await session.scalars(
                    select(PanelMember.tender_id).where(
                        PanelMember.tender_id.in_(opened), PanelMember.user_id == actor.user_id
                    )
                )
            ).all()
        )
    if opened and own is not None:
        bidding = set(
            (
                await session.scalars(
                    select(Bid.tender_id).where(
                        Bid.tender_id.in_(opened), Bid.provider_id == own, Bid.status != BidStatus.WITHDRAWN
                    )
                )
            ).all()
        )
    access = {}
    for tender in tenders:
        if tender.opened_at is None:
            access[tender.id] = BidAccess(own, False, False)
        elif is_owner(actor, tender) or tender.id in seats:
            access[tender.id] = BidAccess(own, True, True)
        elif tender.id in bidding:
            access[tender.id] = BidAccess(own, True, False)
        else:
            access[tender.id] = BidAccess(own, tender.status == TenderStatus.AWARDED, False)
    return access


def can_see_bid(access: BidAccess, bid: Bid) -> bool:
    if access.own_provider_id is not None and bid.provider_id == access.own_provider_id:
        return True
    return access.all_opened and bid.status != BidStatus.WITHDRAWN


def tenders_statement(
    *,
    actor: Actor | None,
    status: TenderStatus | None = None,
    region_id: int | None = None,
    package_id: int | None = None,
) -> Select:
    """Tenders the caller may see, newest first."""
    statement = select(Tender).where(tender_visible_clause(actor))
    if status is not None:
        statement = statement.where(Tender.status == status)
    if region_id is not None:
        statement = statement.where(Tender.region_id == region_id)
    if package_id is not None:
        statement = statement.where(Tender.package_id == package_id)
    return statement.order_by(Tender.id.desc())


def visible_bids_statement(access: BidAccess, tender_ids: Sequence[int]) -> Select:
    clauses = []
    if access.own_provider_id is not None:
        clauses.append(Bid.provider_id == access.own_provider_id)
    if access.all_opened:
        clauses.append(Bid.status != BidStatus.WITHDRAWN)
    return (
        select(Bid)
        .where(Bid.tender_id.in_(tender_ids), or_(*clauses) if clauses else false())
        .order_by(Bid.tender_id, Bid.rank.is_(None), Bid.rank, Bid.id)
    )


# ---------------------------------------------------------------- loading with checks


async def _tender(
    session: AsyncSession, actor: Actor | None, tender_id: int, *, field: Sequence[str], lock: bool = False
) -> Tender:
    """The tender, locked when asked; NOT_FOUND when it does not exist or the caller may not see it."""
    tender = await session.get(Tender, tender_id, with_for_update=lock, populate_existing=lock)
    if tender is None or not can_see_tender(actor, tender):
        raise NotFound("no tender with this ID", field=field)
    return tender


async def _owned_tender(
    session: AsyncSession, actor: Actor | None, tender_id: int, *, field: Sequence[str] = ("id",), lock=True
) -> tuple[Actor, Tender]:
    actor = require(actor, Role.OFFICER)
    tender = await _tender(session, actor, tender_id, field=field, lock=lock)
    if not is_owner(actor, tender):
        raise PermissionDenied("only officers of the purchasing department may do this")
    return actor, tender


def _require_status(tender: Tender, *statuses: TenderStatus, doing: str) -> None:
    if tender.status not in statuses:
        raise InvalidState(f"the tender is {tender.status.value}; cannot {doing}")


async def _provider_actor(session: AsyncSession, actor: Actor | None) -> tuple[Actor, Provider]:
    actor = require(actor, Role.PROVIDER)
    provider = await session.get(Provider, actor.provider_id)
    if provider is None:
        raise PermissionDenied("this account belongs to no provider")
    return actor, provider


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
        evaluation.MIN_PRICE_WEIGHT - WEIGHT_TOLERANCE
        <= terms.price_weight
        <= evaluation.MAX_PRICE_WEIGHT + WEIGHT_TOLERANCE,
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
        raise NotFound("no service package with this ID", field=["input", "packageId"])
    newer = await session.scalar(
        select(exists().where(ServicePackage.code == package.code, ServicePackage.version > package.version))
    )
    if newer:
        raise InvalidState(
            f"version {package.version} of {package.code} has been superseded; tender the latest version",
            field=["input", "packageId"],
        )
    if await session.get(Region, terms.region_id) is None:
        raise NotFound("no region with this ID", field=["input", "regionId"])
    users = (await session.scalars(select(User).where(User.id.in_(list(terms.evaluator_ids))))).all()
    found = {u.id: u for u in users}
    for index, user_id in enumerate(terms.evaluator_ids):
        user = found.get(user_id)
        if user is None or not user.active or user.role not in (Role.EVALUATOR, Role.OFFICER):
            raise NotFound(
                "no active evaluator or officer with this ID", field=["input", "evaluatorIds", str(index)]
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
        kpis = [
            KpiSpec(k.name, k.unit, k.target, k.direction, k.weight, k.source)
            for k in await package_kpis(session=session, package_ids=[package.id])
        ]
    for old in (await session.scalars(select(TenderKpi).where(TenderKpi.tender_id == tender.id))).all():
        await session.delete(old)
    session.add_all(
        TenderKpi(
            tender_id=tender.id,
            position=i,
            name=k.name.strip(),
            unit=k.unit.strip(),
            target=k.target,
            direction=k.direction,
            weight=k.weight,
            source=k.source,
        )
        for i, k in enumerate(kpis)
    )
    for old in (await session.scalars(select(PanelMember).where(PanelMember.tender_id == tender.id))).all():
        await session.delete(old)
    await session.flush()
    session.add_all(PanelMember(tender_id=tender.id, user_id=u) for u in terms.evaluator_ids)


async def create_tender(*, session: AsyncSession, actor: Actor | None, terms: TenderTerms) -> Tender:
    """An OFFICER drafts a tender for their department; KPIs and scoring terms come from the package."""
    actor = require(actor, Role.OFFICER)
    if actor.department_id is None:
        raise PermissionDenied("this officer belongs to no department")
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
        kpis=[KpiSpec(k.name, k.unit, k.target, k.direction, k.weight, k.source) for k in kpis],
        satisfaction_weight=tender.satisfaction_weight,
        kpi_weight=tender.kpi_weight,
        audit_weight=tender.audit_weight,
        holdback_rate=tender.holdback_rate,
        payment_tiers=list(tender.payment_tiers),
    )


async def update_tender(
    *, session: AsyncSession, actor: Actor | None, tender_id: int, changes: dict[str, Any]
) -> Tender:
    """Edit a DRAFT: any term, the KPI set, scoring weights, payment tiers, the panel."""
    actor, tender = await _owned_tender(session, actor, tender_id)
    _require_status(tender, TenderStatus.DRAFT, doing="edit it (amend a published tender instead)")
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


async def publish_tender(*, session: AsyncSession, actor: Actor | None, tender_id: int) -> Tender:
    """The notice goes public and bids are accepted until the deadline."""
    actor, tender = await _owned_tender(session, actor, tender_id)
    _require_status(tender, TenderStatus.DRAFT, doing="publish it")
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
    *, session: AsyncSession, actor: Actor | None, tender_id: int, reason: str, changes: dict[str, Any]
) -> Tender:
    """A correction notice (更正公告) while PUBLISHED: a new version with its public change list.

    At least 15 days must remain after it, so the deadline moves when needed;
    bids made before it must be re-confirmed by their providers.
    """
    actor, tender = await _owned_tender(session, actor, tender_id)
    _require_status(tender, TenderStatus.PUBLISHED, doing="amend it")
    now = await clock.now(session)
    if now >= tender.bid_deadline:
        raise DeadlinePassed("the bid deadline has passed; open the bids instead")
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
        raise DomainError("the amendment changes nothing", field=["input"])
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


async def cancel_tender(*, session: AsyncSession, actor: Actor | None, tender_id: int, reason: str) -> Tender:
    actor, tender = await _owned_tender(session, actor, tender_id)
    _require_status(tender, *OPEN_FOR_CANCELLATION, doing="cancel it")
    if not reason.strip():
        raise DomainError("a reason is required", field=["reason"])
    before = journal.snapshot(tender)
    tender.status, tender.closed_reason = TenderStatus.CANCELLED, reason.strip()
    tender.closed_at = await clock.now(session)
    await journal.record(session, actor=actor, action="tender.cancelled", entity=tender, before=before)
    return tender


# ---------------------------------------------------------------- clarifications


async def ask_clarification(
    *, session: AsyncSession, actor: Actor | None, tender_id: int, question: str
) -> Clarification:
    """A provider asks; the question is shown without its asker once answered."""
    actor, provider = await _provider_actor(session, actor)
    tender = await _tender(session, actor, tender_id, field=["tenderId"])
    _require_status(tender, TenderStatus.PUBLISHED, doing="ask about it")
    now = await clock.now(session)
    if now >= tender.bid_deadline:
        raise DeadlinePassed("the bid deadline has passed")
    if not question.strip():
        raise DomainError("the question is empty", field=["question"])
    clarification = Clarification(
        tender_id=tender.id, provider_id=provider.id, question=question.strip(), asked_at=now
    )
    session.add(clarification)
    await journal.record(session, actor=actor, action="clarification.asked", entity=clarification)
    return clarification


async def answer_clarification(
    *, session: AsyncSession, actor: Actor | None, clarification_id: int, answer: str
) -> Clarification:
    actor = require(actor, Role.OFFICER)
    clarification = await session.get(Clarification, clarification_id, with_for_update=True)
    if clarification is None:
        raise NotFound("no clarification with this ID", field=["id"])
    actor, tender = await _owned_tender(session, actor, clarification.tender_id, lock=False)
    _require_status(tender, TenderStatus.PUBLISHED, doing="answer questions")
    if clarification.answer is not None:
        raise InvalidState("this question is answered already")
    if not answer.strip():
        raise DomainError("the answer is empty", field=["answer"])
    before = journal.snapshot(clarification)
    clarification.answer, clarification.answered_at = answer.strip(), await clock.now(session)
    await journal.record(
        session, actor=actor, action="clarification.answered", entity=clarification, before=before
    )
    return clarification


def clarifications_visible_clause(actor: Actor | None):
    """What others than the tender's officers see: answered questions, and their own."""
    clause = Clarification.answer.is_not(None)
    if actor is not None and actor.provider_id is not None:
        clause = or_(clause, Clarification.provider_id == actor.provider_id)
    return clause


# ---------------------------------------------------------------- sealed bids


def canonical_bid(bid: Bid | BidVersion, *, tender_id: int, provider_id: int) -> str:
    """The exact text a receipt's SHA-256 covers; anyone entitled to the bid can recompute it."""
    return journal.canonical_json(
        {
            "tender": tender_id,
            "provider": provider_id,
            "version": bid.version,
            "unitPrice": str(bid.unit_price),
            "proposal": bid.proposal,
            "capacity": bid.capacity,
            "attachments": list(bid.attachments),
            "submittedAt": bid.submitted_at,
        }
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _refuse_after_deadline(session: AsyncSession, deadline: dt.datetime) -> None:
    """Check again at COMMIT, not just when the work began: a late commit is a late bid.

    Registered last, once everything else passed, so a refused bid leaves no check behind.
    """

    def check() -> None:
        if clock.now_at_commit(session) >= deadline:
            raise DeadlinePassed("the bid deadline passed before the bid was committed")

    check_at_commit(session, check)


async def _open_for_bids(
    session: AsyncSession, actor: Actor, tender_id: int, *, field
) -> tuple[Tender, dt.datetime]:
    """The tender, locked against the opening, while it still takes bids."""
    tender = await _tender(session, actor, tender_id, field=field, lock=True)
    now = await clock.now(session)
    if tender.status == TenderStatus.PUBLISHED and now >= tender.bid_deadline:
        raise DeadlinePassed("the bid deadline has passed")
    _require_status(tender, TenderStatus.PUBLISHED, doing="take bids")
    return tender, now


def _check_price(tender: Tender, package: ServicePackage, unit_price: Decimal) -> None:
    field = ["input", "unitPrice"]
    if unit_price <= 0 or unit_price != unit_price.quantize(CENT):
        raise DomainError("the unit price is positive, with at most 2 decimals", field=field)
    if unit_price > tender.max_unit_price:
        raise DomainError(
            f"the unit price is above the ceiling of {tender.max_unit_price}",
            field=field,
            code=ErrorCode.PRICE_ABOVE_CEILING,
        )
    if not package.min_unit_price <= unit_price <= package.max_unit_price:
        raise DomainError(
            f"the unit price is outside the package's reference range "
            f"{package.min_unit_price}-{package.max_unit_price}",
            field=field,
            code=ErrorCode.PRICE_OUT_OF_RANGE,
        )


@dataclass(frozen=True)
class Submission:
    bid: Bid
    receipt: BidVersion


async def _new_version(
    session: AsyncSession, bid: Bid, tender: Tender, *, now: dt.datetime, content: dict[str, Any]
) -> BidVersion:
    bid.unit_price = content["unit_price"]
    bid.proposal = content["proposal"]
    bid.capacity = content["capacity"]
    bid.attachments = list(content["attachments"])
    bid.submitted_at = now
    bid.status = BidStatus.SUBMITTED
    bid.confirmed_tender_version = tender.version
    bid.receipt_sha256 = _sha256(canonical_bid(bid, tender_id=tender.id, provider_id=bid.provider_id))
    session.add(bid)
    await session.flush()
    receipt = BidVersion(
        bid_id=bid.id,
        version=bid.version,
        unit_price=bid.unit_price,
        proposal=bid.proposal,
        capacity=bid.capacity,
        attachments=list(bid.attachments),
        submitted_at=now,
        receipt_sha256=bid.receipt_sha256,
    )
    session.add(receipt)
    return receipt


async def submit_bid(
    *,
    session: AsyncSession,
    actor: Actor | None,
    tender_id: int,
    unit_price: Decimal,
    proposal: str,
    capacity: str | None = None,
    attachments: Sequence[str] = (),
) -> Submission:
    """A sealed bid, or a new version of the provider's live bid; both get a receipt."""
    actor, provider = await _provider_actor(session, actor)
    if provider.status != ProviderStatus.ACTIVE:
        raise PermissionDenied(f"your provider is {provider.status.value} and cannot bid")
    tender, now = await _open_for_bids(session, actor, tender_id, field=["input", "tenderId"])
    package = await session.get(ServicePackage, tender.package_id)
    _check_price(tender, package, unit_price)
    if not proposal.strip():
        raise DomainError("the technical proposal is empty", field=["input", "proposal"])
    bid = await session.scalar(
        select(Bid).where(Bid.tender_id == tender.id, Bid.provider_id == provider.id).with_for_update()
    )
    before = journal.snapshot(bid) if bid else None
    if bid is None:
        bid = Bid(tender_id=tender.id, provider_id=provider.id, version=1, unit_price=unit_price, proposal="",
                  submitted_at=now, receipt_sha256="")  # fmt: skip
    else:
        bid.version += 1
    content = {
        "unit_price": unit_price,
        "proposal": proposal.strip(),
        "capacity": capacity.strip() if capacity else None,
        "attachments": [a.strip() for a in attachments if a.strip()],
    }
    receipt = await _new_version(session, bid, tender, now=now, content=content)
    action = "bid.submitted" if before is None else "bid.amended"
    await journal.record(session, actor=actor, action=action, entity=bid, before=before)
    _refuse_after_deadline(session, tender.bid_deadline)
    return Submission(bid=bid, receipt=receipt)


async def _visible_bid(session: AsyncSession, actor: Actor, bid_id: int, *, field: Sequence[str]) -> Bid:
    """A bid the caller may read; any other reads as not found, so that bid IDs cannot be probed."""
    bid = await session.get(Bid, bid_id, with_for_update=True)
    tender = await session.get(Tender, bid.tender_id) if bid else None
    if bid is None or not can_see_bid(await bid_access(session, actor, tender), bid):
        raise NotFound("no bid with this ID", field=field)
    return bid


async def _own_bid(session: AsyncSession, actor: Actor | None, bid_id: int) -> tuple[Actor, Provider, Bid]:
    """The caller's own bid. Anyone else's reads as not found: a bid's existence is sealed too."""
    actor, provider = await _provider_actor(session, actor)
    bid = await session.get(Bid, bid_id)
    if bid is None or bid.provider_id != provider.id:
        raise NotFound("no bid of yours with this ID", field=["id"])
    return actor, provider, bid


async def confirm_bid(*, session: AsyncSession, actor: Actor | None, bid_id: int) -> Submission:
    """Re-confirm a bid unchanged after an amendment of the tender: a new version and receipt."""
    actor, _provider, bid = await _own_bid(session, actor, bid_id)
    tender, now = await _open_for_bids(session, actor, bid.tender_id, field=["id"])
    if bid.status == BidStatus.WITHDRAWN:
        raise InvalidState("the bid was withdrawn; submit a new one")
    package = await session.get(ServicePackage, tender.package_id)
    _check_price(tender, package, bid.unit_price)
    before = journal.snapshot(bid)
    bid.version += 1
    content = {"unit_price": bid.unit_price, "proposal": bid.proposal, "capacity": bid.capacity,
               "attachments": bid.attachments}  # fmt: skip
    receipt = await _new_version(session, bid, tender, now=now, content=content)
    await journal.record(session, actor=actor, action="bid.confirmed", entity=bid, before=before)
    _refuse_after_deadline(session, tender.bid_deadline)
    return Submission(bid=bid, receipt=receipt)


async def withdraw_bid(*, session: AsyncSession, actor: Actor | None, bid_id: int) -> Bid:
    actor, _provider, bid = await _own_bid(session, actor, bid_id)
    tender, _now = await _open_for_bids(session, actor, bid.tender_id, field=["id"])
    if bid.status == BidStatus.WITHDRAWN:
        raise InvalidState("the bid is withdrawn already")
    before = journal.snapshot(bid)
    bid.status = BidStatus.WITHDRAWN
    await journal.record(session, actor=actor, action="bid.withdrawn", entity=bid, before=before)
    _refuse_after_deadline(session, tender.bid_deadline)
    return bid


# ---------------------------------------------------------------- opening and validity


async def _qualified(session: AsyncSession, provider_ids: Sequence[int], on: dt.date) -> dict[int, set[str]]:
    """Qualification types each provider holds, valid on a date."""
    rows = (
        await session.execute(
            select(Qualification.provider_id, Qualification.type).where(
                Qualification.provider_id.in_(provider_ids),
                Qualification.valid_from <= on,
                Qualification.valid_to >= on,
            )
        )
    ).all()
    held: dict[int, set[str]] = {p: set() for p in provider_ids}
    for provider_id, qualification_type in rows:
        held[provider_id].add(qualification_type)
    return held


def _invalid_reason(
    bid: Bid, tender: Tender, package: ServicePackage, provider: Provider, held: set[str]
) -> str | None:
    if bid.confirmed_tender_version < tender.version:
        return f"not re-confirmed after amendment {tender.version}"
    if bid.unit_price > tender.max_unit_price:
        return f"unit price above the ceiling of {tender.max_unit_price}"
    if not package.min_unit_price <= bid.unit_price <= package.max_unit_price:
        return "unit price outside the package's reference range"
    if provider.status != ProviderStatus.ACTIVE:
        return f"provider is {provider.status.value}"
    missing = [q for q in tender.required_qualifications if q not in held]
    if missing:
        return "missing or expired qualification: " + ", ".join(missing)
    return None


async def open_bids(*, session: AsyncSession, actor: Actor | None, tender_id: int) -> Tender:
    """开标: after the deadline, decide each bid's validity, flag abnormally low prices."""
    actor, tender = await _owned_tender(session, actor, tender_id, field=["tenderId"])
    _require_status(tender, TenderStatus.PUBLISHED, doing="open bids")
    now = await clock.now(session)
    if now < tender.bid_deadline:
        raise TooEarly("bids can be opened only after the bid deadline")
    before = journal.snapshot(tender)
    package = await session.get(ServicePackage, tender.package_id)
    bids = (
        await session.scalars(
            select(Bid)
            .where(Bid.tender_id == tender.id, Bid.status != BidStatus.WITHDRAWN)
            .order_by(Bid.submitted_at, Bid.id)
            .with_for_update()
        )
    ).all()
    providers = {
        p.id: p
        for p in (
            await session.scalars(select(Provider).where(Provider.id.in_([b.provider_id for b in bids])))
        ).all()
    }
    held = await _qualified(session, list(providers), clock.today(tender.bid_deadline))
    for bid in bids:
        reason = _invalid_reason(bid, tender, package, providers[bid.provider_id], held[bid.provider_id])
        bid.status = BidStatus.INVALID if reason else BidStatus.VALID
        bid.invalid_reason = reason
    valid = [b for b in bids if b.status == BidStatus.VALID]
    for bid, low in zip(valid, evaluation.abnormally_low([b.unit_price for b in valid]), strict=True):
        bid.abnormally_low = low
    tender.opening_record = [
        {
            "bid_id": b.id,
            "provider": providers[b.provider_id].legal_name,
            "unit_price": str(b.unit_price),
            "submitted_at": journal.plain(b.submitted_at),
            "receipt_sha256": b.receipt_sha256,
        }
        for b in bids
    ]
    tender.opened_at = now
    tender.status = TenderStatus.EVALUATING
    _close_if_too_few(tender, len(valid), now)
    await journal.record(session, actor=actor, action="tender.opened", entity=tender, before=before)
    return tender


def _close_if_too_few(tender: Tender, valid: int, now: dt.datetime) -> bool:
    """流标: fewer valid bids than the tender's minimum."""
    if valid >= tender.min_valid_bids:
        return False
    tender.status = TenderStatus.UNSUCCESSFUL
    tender.closed_reason = f"{valid} valid bid(s), fewer than the minimum of {tender.min_valid_bids}"
    tender.closed_at = now
    return True


# ---------------------------------------------------------------- evaluation


async def _panel_member(
    session: AsyncSession, actor: Actor | None, tender_id: int
) -> tuple[Actor, PanelMember]:
    actor = require(actor, Role.EVALUATOR, Role.OFFICER)
    member = await session.get(PanelMember, (tender_id, actor.user_id), with_for_update=True)
    if member is None:
        raise PermissionDenied("you are not on this tender's evaluation panel")
    return actor, member


async def declare_conflicts(
    *, session: AsyncSession, actor: Actor | None, tender_id: int, provider_ids: Sequence[int]
) -> Tender:
    """Each panel member declares once; a conflict with any bidder removes them from the panel."""
    tender = await _tender(session, actor, tender_id, field=["tenderId"])
    actor, member = await _panel_member(session, actor, tender_id)
    _require_status(tender, TenderStatus.EVALUATING, doing="declare conflicts")
    if member.declared_at is not None:
        raise InvalidState("you have declared already")
    bidders = set(
        (
            await session.scalars(
                select(Bid.provider_id).where(Bid.tender_id == tender.id, Bid.status != BidStatus.WITHDRAWN)
            )
        ).all()
    )
    for index, provider_id in enumerate(provider_ids):
        if provider_id not in bidders:
            raise NotFound("not a bidder of this tender", field=["providerIds", str(index)])
    before = journal.snapshot(member)
    member.declared_at = await clock.now(session)
    member.conflicted_provider_ids = sorted(set(provider_ids))
    await journal.record(session, actor=actor, action="panel.declared", entity=member, before=before)
    return tender


async def score_bid(*, session: AsyncSession, actor: Actor | None, bid_id: int, score: float) -> Bid:
    """A remaining panel member's quality score (0-100) of a valid bid; may be revised until ranking."""
    actor = require(actor, Role.EVALUATOR, Role.OFFICER)
    bid = await _visible_bid(session, actor, bid_id, field=["bidId"])
    actor, member = await _panel_member(session, actor, bid.tender_id)
    tender = await session.get(Tender, bid.tender_id)
    _require_status(tender, TenderStatus.EVALUATING, doing="score bids")
    if member.declared_at is None:
        raise InvalidState("declare your conflicts of interest first")
    if member.removed:
        raise PermissionDenied("you declared a conflict and were removed from this panel")
    if bid.status != BidStatus.VALID:
        raise InvalidState("only valid bids are scored")
    if not 0 <= score <= 100:
        raise DomainError("a quality score is from 0 to 100", field=["score"])
    existing = await session.get(QualityScore, (bid.id, actor.user_id))
    before = journal.snapshot(existing) if existing else None
    entry = existing or QualityScore(
        bid_id=bid.id, evaluator_id=actor.user_id, score=score, scored_at=await clock.now(session)
    )
    entry.score, entry.scored_at = score, await clock.now(session)
    session.add(entry)
    tender.ranked_at = None
    await journal.record(session, actor=actor, action="bid.scored", entity=entry, before=before)
    return bid


async def justify_bid(*, session: AsyncSession, actor: Actor | None, bid_id: int, text: str) -> Bid:
    """The provider explains an abnormally low price in writing."""
    actor, _provider, bid = await _own_bid(session, actor, bid_id)
    tender = await session.get(Tender, bid.tender_id)
    _require_status(tender, TenderStatus.EVALUATING, doing="justify prices")
    if not bid.abnormally_low or bid.status != BidStatus.VALID:
        raise InvalidState("only a valid, abnormally low bid needs a justification")
    if bid.justification_accepted is not None:
        raise InvalidState("the justification has been decided")
    if not text.strip():
        raise DomainError("the justification is empty", field=["text"])
    before = journal.snapshot(bid)
    bid.justification = text.strip()
    await journal.record(session, actor=actor, action="bid.justified", entity=bid, before=before)
    return bid


async def decide_justification(
    *, session: AsyncSession, actor: Actor | None, bid_id: int, accept: bool
) -> Bid:
    """The officer accepts (the bid stays valid) or rejects (it becomes invalid) before ranking."""
    actor = require(actor, Role.OFFICER)
    bid = await _visible_bid(session, actor, bid_id, field=["bidId"])
    actor, tender = await _owned_tender(session, actor, bid.tender_id, field=["bidId"])
    _require_status(tender, TenderStatus.EVALUATING, doing="decide justifications")
    if not bid.abnormally_low or bid.status != BidStatus.VALID or bid.justification_accepted is not None:
        raise InvalidState("this bid awaits no decision")
    if accept and bid.justification is None:
        raise InvalidState("the provider has not justified its price yet")
    before = journal.snapshot(bid)
    bid.justification_accepted = accept
    if not accept:
        bid.status, bid.invalid_reason = BidStatus.INVALID, "abnormally low price, justification rejected"
    tender.ranked_at = None
    await journal.record(session, actor=actor, action="bid.justification_decided", entity=bid, before=before)
    return bid


async def rank_bids(*, session: AsyncSession, actor: Actor | None, tender_id: int) -> Tender:
    """Score and rank the valid bids, keeping every intermediate number."""
    actor, tender = await _owned_tender(session, actor, tender_id, field=["tenderId"])
    await _rank(session, actor, tender)
    return tender


async def _rank(session: AsyncSession, actor: Actor, tender: Tender) -> list[Bid]:
    _require_status(tender, TenderStatus.EVALUATING, doing="rank bids")
    now = await clock.now(session)
    bids = (
        await session.scalars(
            select(Bid).where(Bid.tender_id == tender.id).order_by(Bid.id).with_for_update()
        )
    ).all()
    valid = [b for b in bids if b.status == BidStatus.VALID]
    pending = [b for b in valid if b.abnormally_low and b.justification_accepted is None]
    if pending:
        raise InvalidState("decide the justification of every abnormally low bid first")
    before = journal.snapshot(tender)
    if _close_if_too_few(tender, len(valid), now):
        await journal.record(session, actor=actor, action="tender.unsuccessful", entity=tender, before=before)
        return []
    panel = (await session.scalars(select(PanelMember).where(PanelMember.tender_id == tender.id))).all()
    evaluators = [m.user_id for m in panel if not m.removed]
    if not evaluators:
        raise DomainError("no evaluator is left on the panel", code=ErrorCode.SCORES_MISSING)
    scores = (
        await session.scalars(
            select(QualityScore).where(
                QualityScore.bid_id.in_([b.id for b in valid]), QualityScore.evaluator_id.in_(evaluators)
            )
        )
    ).all()
    by_bid: dict[int, dict[int, float]] = {b.id: {} for b in valid}
    for entry in scores:
        by_bid[entry.bid_id][entry.evaluator_id] = entry.score
    missing = sum(len(set(evaluators) - set(given)) for given in by_bid.values())
    if missing:
        raise DomainError(
            f"{missing} quality score(s) missing: every remaining evaluator scores every valid bid",
            code=ErrorCode.SCORES_MISSING,
        )
    stars = await track_record_stars(session, [b.provider_id for b in valid], tender.bid_deadline)
    lowest = min(b.unit_price for b in valid)
    weights = (tender.price_weight, tender.quality_weight, tender.record_weight)
    ranked = []
    for bid in valid:
        price = evaluation.price_score(lowest, bid.unit_price)
        quality = evaluation.quality_score(list(by_bid[bid.id].values()))
        bid.record_stars = stars.get(bid.provider_id)
        record = evaluation.record_score(bid.record_stars)
        total = evaluation.total_score(price=price, quality=quality, record=record, weights=weights)
        bid.price_score, bid.quality_score = float(price), float(quality)
        bid.record_score, bid.total_score = float(record), float(total)
        ranked.append(evaluation.Ranked(bid.id, bid.unit_price, bid.submitted_at, total))
    order = {bid_id: i + 1 for i, bid_id in enumerate(evaluation.rank(ranked))}
    for bid in bids:
        bid.rank = order.get(bid.id)
    tender.ranked_at = now
    await journal.record(session, actor=actor, action="tender.ranked", entity=tender, before=before)
    return sorted(valid, key=lambda b: b.rank)


async def recommend_award(*, session: AsyncSession, actor: Actor | None, tender_id: int) -> Tender:
    """Rank, put the top bid forward (AWARD_PENDING) and start the 7-working-day challenge period."""
    actor, tender = await _owned_tender(session, actor, tender_id, field=["tenderId"])
    ranked = await _rank(session, actor, tender)
    if not ranked:
        return tender
    now = await clock.now(session)
    before = journal.snapshot(tender)
    tender.status = TenderStatus.AWARD_PENDING
    tender.recommended_bid_id = ranked[0].id
    tender.recommended_at = now
    tender.challenge_deadline = evaluation.challenge_deadline(now, get_settings().zone)
    await journal.record(
        session, actor=actor, action="tender.award_recommended", entity=tender, before=before
    )
    return tender


# ---------------------------------------------------------------- challenges and award


async def file_challenge(
    *, session: AsyncSession, actor: Actor | None, tender_id: int, reason: str
) -> Challenge:
    """A bidder of the tender challenges the recommendation during the challenge period."""
    actor, provider = await _provider_actor(session, actor)
    tender = await _tender(session, actor, tender_id, field=["tenderId"])
    if not await session.scalar(
        select(
            exists().where(
                Bid.tender_id == tender.id, Bid.provider_id == provider.id, Bid.status != BidStatus.WITHDRAWN
            )
        )
    ):
        raise PermissionDenied("only bidders of this tender may challenge its award")
    _require_status(tender, TenderStatus.AWARD_PENDING, doing="challenge the award")
    now = await clock.now(session)
    if now >= tender.challenge_deadline:
        raise DeadlinePassed("the challenge period is over")
    if not reason.strip():
        raise DomainError("give the reasons of the challenge", field=["reason"])
    challenge = Challenge(tender_id=tender.id, provider_id=provider.id, reason=reason.strip(), filed_at=now)
    session.add(challenge)
    await journal.record(session, actor=actor, action="challenge.filed", entity=challenge)
    return challenge


async def decide_challenge(
    *, session: AsyncSession, actor: Actor | None, challenge_id: int, decision: ChallengeDecision, note: str
) -> Challenge:
    """DISMISSED leaves the recommendation; UPHELD sends the tender back to EVALUATING."""
    actor = require(actor, Role.OFFICER)
    challenge = await session.get(Challenge, challenge_id, with_for_update=True)
    if challenge is None:
        raise NotFound("no challenge with this ID", field=["id"])
    actor, tender = await _owned_tender(session, actor, challenge.tender_id)
    if challenge.decision is not None:
        raise InvalidState("this challenge has been decided")
    if not note.strip():
        raise DomainError("explain the decision", field=["note"])
    before = journal.snapshot(challenge)
    challenge.decision, challenge.decision_note = decision, note.strip()
    challenge.decided_at = await clock.now(session)
    await journal.record(session, actor=actor, action="challenge.decided", entity=challenge, before=before)
    if decision == ChallengeDecision.UPHELD and tender.status == TenderStatus.AWARD_PENDING:
        tender_before = journal.snapshot(tender)
        tender.status = TenderStatus.EVALUATING
        tender.recommended_bid_id = tender.recommended_at = tender.challenge_deadline = None
        tender.ranked_at = None
        await journal.record(session, actor=actor, action="tender.reopened_for_evaluation", entity=tender,
                             before=tender_before)  # fmt: skip
    return challenge


def challenges_visible_clause(actor: Actor | None):
    """What others than the tender's officers (who see all) see: a bidder its own challenges."""
    if actor is not None and actor.provider_id is not None:
        return Challenge.provider_id == actor.provider_id
    return false()


@dataclass(frozen=True)
class AwardDecision:
    tender: Tender
    bid: Bid
    actor: Actor


async def close_award(*, session: AsyncSession, actor: Actor | None, tender_id: int) -> AwardDecision:
    """Check that the award can be finalised and mark the tender AWARDED; the caller makes the contract."""
    actor, tender = await _owned_tender(session, actor, tender_id, field=["tenderId"])
    _require_status(tender, TenderStatus.AWARD_PENDING, doing="finalise the award")
    now = await clock.now(session)
    if now < tender.challenge_deadline:
        raise TooEarly("the challenge period is still running")
    if await session.scalar(
        select(exists().where(Challenge.tender_id == tender.id, Challenge.decision.is_(None)))
    ):
        raise DomainError("a challenge is still open; decide it first", code=ErrorCode.CHALLENGE_OPEN)
    bid = await session.get(Bid, tender.recommended_bid_id)
    before = journal.snapshot(tender)
    tender.status, tender.awarded_at = TenderStatus.AWARDED, now
    await journal.record(session, actor=actor, action="tender.awarded", entity=tender, before=before)
    return AwardDecision(tender=tender, bid=bid, actor=actor)


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
