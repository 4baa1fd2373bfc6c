"""What the public portal reads (SPEC §7), each page in a fixed number of SQL statements.

Only what SPEC §7 discloses leaves this module, read as an anonymous caller through the domains'
own rules (`market.access`, `contracts.access`):

- tenders once published (`tender_visible_clause(None)`): the notice, its correction notices
  (更正公告) and the answered clarifications, without who asked;
- after the opening, the opening record (开标记录: bidders, unit prices, receipts), never before:
  before the deadline nothing about a bid exists for the public, not even how many there are;
- after the award is final, every opened bid with every score (price, each evaluator's quality
  score without the evaluator's name, record, total, rank) as `market.access` lets anyone read
  them (no proposal texts, no justifications), and the outcome of the challenges (how many, each
  decision and its day; their reasons and notes stay with the parties);
- contract summaries (terms, KPIs) with each period's scorecard: the scores and the tier, not the
  money paid (payments are seen by the parties only);
- providers other than PENDING ones, with their current star certificate and their awards.

Never read here: deliveries, ratings, complaints, audits, residents' anything, accounts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from contracts import access as contract_access
from contracts import lifecycle
from contracts.models import Contract, ContractKpi, ContractStatus
from core import clock
from market import access
from market.models import (
    AuditFirm,
    Bid,
    Challenge,
    Clarification,
    Department,
    Provider,
    ProviderRegion,
    ProviderStatus,
    QualityScore,
    Region,
    ServiceCategory,
    ServicePackage,
    Tender,
    TenderAmendment,
    TenderKpi,
    TenderStatus,
)
from scoring.models import Certificate, Scorecard

PAGE_SIZE = 10
"""Open tenders per page of the home page."""
CLOSING_SOON = dt.timedelta(days=7)
""""Closing soon": the bid deadline falls within this time from now."""
RECENT_AWARDS = 5
CERTIFIED_SHOWN = 12
MAX_KEYWORD = 100
MAX_ID = 2**31 - 1
MAX_PAGE = 10_000


class BadSearch(ValueError):
    """A search parameter that is not one the form can send: answered with a 400 page."""


# ---------------------------------------------------------------- the home page


@dataclass(frozen=True)
class Search:
    """The home page's GET form: every filter optional."""

    keyword: str = ""
    region_id: int | None = None
    category: str = ""
    department_id: int | None = None
    closing_soon: bool = False
    page: int = 1

    @property
    def active(self) -> bool:
        return bool(
            self.keyword or self.region_id or self.category or self.department_id or self.closing_soon
        )


def is_number(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also takes "²", which `int` refuses."""
    return text.isascii() and text.isdigit()


def _id(value: str, name: str) -> int | None:
    if value == "":
        return None
    if not is_number(value) or not 1 <= int(value) <= MAX_ID:
        raise BadSearch(name)
    return int(value)


def parse_search(params) -> Search:
    """The form's values from query parameters; BadSearch names the first that no form sends."""
    keyword = params.get("q", "").strip()
    if len(keyword) > MAX_KEYWORD:
        raise BadSearch("q")
    category = params.get("category", "").strip()
    if len(category) > 40:
        raise BadSearch("category")
    soon = params.get("soon", "")
    if soon not in ("", "1"):
        raise BadSearch("soon")
    page = params.get("page", "1") or "1"
    if not is_number(page) or not 1 <= int(page) <= MAX_PAGE:
        raise BadSearch("page")
    return Search(
        keyword=keyword,
        region_id=_id(params.get("region", ""), "region"),
        category=category,
        department_id=_id(params.get("department", ""), "department"),
        closing_soon=soon == "1",
        page=int(page),
    )


@dataclass(frozen=True)
class TenderLine:
    """A tender in a list, with the names it is shown with."""

    tender: Tender
    region: str
    department: str
    package: str
    package_en: str | None


@dataclass(frozen=True)
class AwardLine:
    tender: Tender
    region: str
    contract_id: int
    unit_price: Decimal
    provider_id: int
    provider: str


@dataclass(frozen=True)
class CertifiedProvider:
    provider_id: int
    name: str
    stars: int | None
    code: str


@dataclass(frozen=True)
class Home:
    now: dt.datetime
    search: Search
    tenders: list[TenderLine]
    total: int
    awards: list[AwardLine]
    certified: list[CertifiedProvider]
    regions: list[Region]
    departments: list[Department]
    categories: list[ServiceCategory]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _tender_lines() -> Select:
    return (
        select(Tender, Region.name, Department.name, ServicePackage.name, ServicePackage.name_en)
        .join(Region, Region.id == Tender.region_id)
        .join(Department, Department.id == Tender.department_id)
        .join(ServicePackage, ServicePackage.id == Tender.package_id)
    )


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (its % and _ escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def home(session: AsyncSession, search: Search) -> Home:
    """Open tenders (PUBLISHED, deadline ahead) matching the search, soonest deadline first, a page at a
    time; the latest final awards; providers with a valid star certificate. Seven statements."""
    now = await clock.now(session)
    statement = _tender_lines().where(
        access.tender_visible_clause(None),
        Tender.status == TenderStatus.PUBLISHED,
        Tender.bid_deadline > now,
    )
    if search.keyword:
        statement = statement.where(Tender.title.ilike(_like(search.keyword), escape="\\"))
    if search.region_id is not None:
        statement = statement.where(Tender.region_id == search.region_id)
    if search.department_id is not None:
        statement = statement.where(Tender.department_id == search.department_id)
    if search.category:
        statement = statement.where(ServicePackage.category_code == search.category)
    if search.closing_soon:
        statement = statement.where(Tender.bid_deadline <= now + CLOSING_SOON)
    rows = (
        await session.execute(
            statement.add_columns(func.count().over().label("total"))
            .order_by(Tender.bid_deadline, Tender.id)
            .limit(PAGE_SIZE)
            .offset((search.page - 1) * PAGE_SIZE)
        )
    ).all()
    total = rows[0].total if rows else 0
    if not rows and search.page > 1:
        # Past the last page: count what there is, so that the page can say where the results end.
        total = await session.scalar(select(func.count()).select_from(statement.subquery()))

    awards = (
        await session.execute(
            select(Tender, Region.name, Contract.id, Contract.unit_price, Provider.id, Provider.legal_name)
            .join(Region, Region.id == Tender.region_id)
            .join(Contract, Contract.tender_id == Tender.id)
            .join(Provider, Provider.id == Contract.provider_id)
            .where(Tender.status == TenderStatus.AWARDED)
            .order_by(Tender.awarded_at.desc(), Tender.id.desc())
            .limit(RECENT_AWARDS)
        )
    ).all()
    certified = await _certified(session, clock.today(now))
    regions = (await session.scalars(select(Region).order_by(Region.code))).all()
    departments = (await session.scalars(select(Department).order_by(Department.id))).all()
    categories = (await session.scalars(select(ServiceCategory).order_by(ServiceCategory.code))).all()
    return Home(
        now=now,
        search=search,
        tenders=[TenderLine(*row[:5]) for row in rows],
        total=total or 0,
        awards=[AwardLine(*row) for row in awards],
        certified=certified,
        regions=list(regions),
        departments=list(departments),
        categories=list(categories),
    )


def _newest_certificates() -> Select:
    return select(func.max(Certificate.id)).group_by(Certificate.provider_id)


async def _certified(session: AsyncSession, today: dt.date) -> list[CertifiedProvider]:
    """Providers whose newest certificate is valid today, most stars first (unrated last)."""
    rows = (
        await session.execute(
            select(Certificate.provider_id, Provider.legal_name, Certificate.stars, Certificate.code)
            .join(Provider, Provider.id == Certificate.provider_id)
            .where(
                Certificate.id.in_(_newest_certificates()),
                Certificate.revoked_at.is_(None),
                Certificate.valid_until >= today,
                access.providers_visible_clause(None),
            )
            .order_by(Certificate.stars.desc().nulls_last(), Provider.legal_name)
            .limit(CERTIFIED_SHOWN)
        )
    ).all()
    return [CertifiedProvider(*row) for row in rows]


# ---------------------------------------------------------------- a tender's notice, opening, award


@dataclass(frozen=True)
class ScoredBid:
    """An opened bid as the award notice publishes it."""

    bid: Bid
    provider_name: str
    evaluator_scores: list[float]


@dataclass(frozen=True)
class ChallengeOutcome:
    filed_at: dt.datetime
    decision: str | None
    decided_at: dt.datetime | None


@dataclass(frozen=True)
class TenderPage:
    now: dt.datetime
    line: TenderLine
    category: str
    category_en: str
    amendments: list[TenderAmendment]
    clarifications: list[Clarification]
    kpis: list[TenderKpi]
    opening_record: list[dict] | None
    bidder_ids: dict[str, int] = field(default_factory=dict)
    """The opening record's bidders' provider IDs, by name, for links to their profiles."""
    bids: list[ScoredBid] = field(default_factory=list)
    challenges: list[ChallengeOutcome] = field(default_factory=list)
    contract_id: int | None = None
    winner: ScoredBid | None = None


def award_is_public(tender: Tender) -> bool:
    """SPEC §7: the award notice with all scores, once the award is final."""
    return tender.status == TenderStatus.AWARDED


async def tender_page(session: AsyncSession, tender_id: int) -> TenderPage | None:
    """A published tender as the public reads it; None when unknown or a draft. At most ten statements."""
    now = await clock.now(session)
    row = (
        await session.execute(
            _tender_lines()
            .add_columns(ServiceCategory.name, ServiceCategory.name_en)
            .join(ServiceCategory, ServiceCategory.code == ServicePackage.category_code)
            .where(Tender.id == tender_id, access.tender_visible_clause(None))
        )
    ).first()
    if row is None:
        return None
    tender = row[0]
    amendments = (
        await session.scalars(
            select(TenderAmendment)
            .where(TenderAmendment.tender_id == tender_id)
            .order_by(TenderAmendment.version)
        )
    ).all()
    clarifications = (
        await session.scalars(
            select(Clarification)
            .where(Clarification.tender_id == tender_id, access.clarifications_visible_clause(None))
            .order_by(Clarification.answered_at, Clarification.id)
        )
    ).all()
    kpis = (
        await session.scalars(
            select(TenderKpi).where(TenderKpi.tender_id == tender_id).order_by(TenderKpi.position)
        )
    ).all()
    opening_record = tender.opening_record if access.opening_record_is_public(tender) else None
    bidder_ids = {}
    if opening_record:
        names = {entry["provider"] for entry in opening_record}
        bidder_ids = dict(
            (
                await session.execute(
                    select(Provider.legal_name, Provider.id).where(
                        Provider.legal_name.in_(names), access.providers_visible_clause(None)
                    )
                )
            ).all()
        )
    page = TenderPage(
        now=now,
        line=TenderLine(*row[:5]),
        category=row[5],
        category_en=row[6],
        amendments=list(amendments),
        clarifications=list(clarifications),
        kpis=list(kpis),
        opening_record=opening_record,
        bidder_ids=bidder_ids,
    )
    if not award_is_public(tender):
        return page
    return await _with_award(session, page, tender)


async def _with_award(session: AsyncSession, page: TenderPage, tender: Tender) -> TenderPage:
    # The public's bid access (market.access): after the award, the opened bids without their texts.
    public = (await access.bid_access(session, None, [tender]))[tender.id]
    rows = (
        await session.execute(
            select(Bid, Provider.legal_name)
            .join(Provider, Provider.id == Bid.provider_id)
            .where(Bid.tender_id == tender.id, access.bids_visible_clause(public))
            .order_by(Bid.rank.is_(None), Bid.rank, Bid.unit_price, Bid.id)
        )
    ).all()
    readable = [(access.readable_bid(public, bid), name) for bid, name in rows]
    bid_ids = [view.row.id for view, _ in readable if view is not None]
    scores: dict[int, list[float]] = {bid_id: [] for bid_id in bid_ids}
    if bid_ids:
        for bid_id, score in await session.execute(
            select(QualityScore.bid_id, QualityScore.score)
            .where(QualityScore.bid_id.in_(bid_ids))
            .order_by(QualityScore.bid_id, QualityScore.evaluator_id)
        ):
            scores[bid_id].append(score)
    bids = [ScoredBid(view.row, name, scores[view.row.id]) for view, name in readable if view is not None]
    challenges = (
        await session.execute(
            select(Challenge.filed_at, Challenge.decision, Challenge.decided_at)
            .where(Challenge.tender_id == tender.id)
            .order_by(Challenge.filed_at, Challenge.id)
        )
    ).all()
    contract_id = await session.scalar(select(Contract.id).where(Contract.tender_id == tender.id))
    return dataclasses.replace(
        page,
        bids=bids,
        challenges=[
            ChallengeOutcome(filed_at, decision.value if decision else None, decided_at)
            for filed_at, decision, decided_at in challenges
        ],
        contract_id=contract_id,
        winner=next((b for b in bids if b.bid.id == tender.recommended_bid_id), None),
    )


# ---------------------------------------------------------------- a contract's summary and scorecards


@dataclass(frozen=True)
class PeriodLine:
    index: int
    starts_on: dt.date
    ends_on: dt.date
    scorecard: Scorecard | None


@dataclass(frozen=True)
class ContractPage:
    contract: Contract
    tender_title: str
    provider: str
    department: str
    region: str
    package: str
    package_en: str | None
    audit_firm: str | None
    kpis: list[ContractKpi]
    periods: list[PeriodLine]


async def contract_page(session: AsyncSession, contract_id: int) -> ContractPage | None:
    """A contract's public summary with its periods' current scorecards; None when unknown. Three
    statements."""
    row = (
        await session.execute(
            select(
                Contract,
                Tender.title,
                Provider.legal_name,
                Department.name,
                Region.name,
                ServicePackage.name,
                ServicePackage.name_en,
                AuditFirm.name,
            )
            .join(Tender, Tender.id == Contract.tender_id)
            .join(Provider, Provider.id == Contract.provider_id)
            .join(Department, Department.id == Contract.department_id)
            .join(Region, Region.id == Contract.region_id)
            .join(ServicePackage, ServicePackage.id == Contract.package_id)
            .outerjoin(AuditFirm, AuditFirm.id == Contract.audit_firm_id)
            .where(Contract.id == contract_id, contract_access.contract_visible_clause(None))
        )
    ).first()
    if row is None:
        return None
    contract = row[0]
    kpis = (
        await session.scalars(
            select(ContractKpi).where(ContractKpi.contract_id == contract_id).order_by(ContractKpi.position)
        )
    ).all()
    newer = aliased(Scorecard)
    cards = (
        await session.scalars(
            select(Scorecard).where(
                Scorecard.contract_id == contract_id,
                ~select(newer.id)
                .where(
                    newer.contract_id == Scorecard.contract_id,
                    newer.period_index == Scorecard.period_index,
                    newer.version > Scorecard.version,
                )
                .exists(),
            )
        )
    ).all()
    by_period = {card.period_index: card for card in cards}
    periods = [
        PeriodLine(index, period.starts_on, period.ends_on, by_period.get(index))
        for index, period in enumerate(lifecycle.periods_of(contract), start=1)
    ]
    return ContractPage(contract, *row[1:], kpis=list(kpis), periods=periods)


# ---------------------------------------------------------------- a provider's profile


@dataclass(frozen=True)
class ProviderAward:
    tender_id: int
    title: str
    awarded_at: dt.datetime | None
    contract_id: int
    unit_price: Decimal
    total_value: Decimal
    start_date: dt.date
    status: ContractStatus


@dataclass(frozen=True)
class ProviderPage:
    provider: Provider
    regions: list[str]
    certificate: Certificate | None
    awards: list[ProviderAward]


async def provider_page(session: AsyncSession, provider_id: int) -> ProviderPage | None:
    """A provider's public profile (not PENDING): regions, current certificate, awards and their
    contracts; None when unknown or pending. Five statements."""
    provider = await session.scalar(
        select(Provider).where(Provider.id == provider_id, access.providers_visible_clause(None))
    )
    if provider is None:
        return None
    regions = (
        await session.scalars(
            select(Region.name)
            .join(ProviderRegion, ProviderRegion.region_id == Region.id)
            .where(ProviderRegion.provider_id == provider_id)
            .order_by(Region.code)
        )
    ).all()
    today = clock.today(await clock.now(session))
    certificate = await session.scalar(
        select(Certificate).where(
            Certificate.id.in_(_newest_certificates().where(Certificate.provider_id == provider_id)),
            Certificate.revoked_at.is_(None),
            Certificate.valid_until >= today,
        )
    )
    if provider.status in (ProviderStatus.SUSPENDED, ProviderStatus.DEBARRED):
        certificate = None  # SPEC §6.3: they lose their certificate
    awards = (
        await session.execute(
            select(
                Tender.id,
                Tender.title,
                Tender.awarded_at,
                Contract.id,
                Contract.unit_price,
                Contract.total_value,
                Contract.start_date,
                Contract.status,
            )
            .join(Contract, and_(Contract.tender_id == Tender.id, Contract.provider_id == provider_id))
            .where(Tender.status == TenderStatus.AWARDED)
            .order_by(Tender.awarded_at.desc(), Tender.id.desc())
        )
    ).all()
    return ProviderPage(provider, list(regions), certificate, [ProviderAward(*row) for row in awards])
