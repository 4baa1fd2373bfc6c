"""GraphQL types of the market domain. Scalars are plain attributes; relations go through loaders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from core.api import Connection, SealedNode, context_of, encode_id, parse_pk
from core.auth import Role
from market import loaders, service, tendering
from market import models as m

if TYPE_CHECKING:
    from contracts.types import Contract
    from scoring.types import Certification

RoleType = strawberry.enum(Role, name="Role", description="What an account may do (SPEC §2).")
RegionKindType = strawberry.enum(
    m.RegionKind, name="RegionKind", description="Urban or rural, for urban–rural equality figures."
)
ProviderKindType = strawberry.enum(
    m.ProviderKind,
    name="ProviderKind",
    description="Company, social organisation (社会组织) or public institution.",
)
ProviderStatusType = strawberry.enum(
    m.ProviderStatus,
    name="ProviderStatus",
    description="PENDING until approved; only ACTIVE providers may bid.",
)
PackageTierType = strawberry.enum(
    m.PackageTier, name="PackageTier", description="BASIC packages are guaranteed; OPTIONAL ones extra."
)
KpiDirectionType = strawberry.enum(
    m.KpiDirection, name="KpiDirection", description="Whether a value above the target is good or bad."
)
KpiSourceType = strawberry.enum(
    m.KpiSource,
    name="KpiSource",
    description="AUDIT: measured by the auditor; DELIVERY_RATE and COMPLAINT_RATE: computed.",
)


async def resolve_rows(info: Info, node_ids: Iterable[str], loader_class, present, visible) -> list[Any]:
    """`node(id:)` for a table-backed type: load by primary key, hide what the caller may not see."""
    ctx = context_of(info)
    keys = [parse_pk(i) or 0 for i in node_ids]
    rows = await ctx.loader(loader_class).load_many(keys)
    return [present(row) if row is not None and visible(ctx.actor, row) else None for row in rows]


def _public(_actor, _row) -> bool:
    return True


@strawberry.type(description="An administrative area (区/县/街道), urban or rural.")
class Region(relay.Node):
    id: relay.NodeID[int]
    code: str = strawberry.field(description="Administrative division code, e.g. 310101.")
    name: str = strawberry.field(description="Official name, e.g. 上海市黄浦区.")
    kind: RegionKindType
    population: int = strawberry.field(description="Residents, for coverage per 1,000 residents.")
    parent_id: strawberry.Private[int | None]

    @strawberry.field(description="The enclosing region, if any.")
    async def parent(self, info: Info) -> Region | None:
        if self.parent_id is None:
            return None
        row = await context_of(info).loader(loaders.RegionByIdLoader).load(self.parent_id)
        return Region.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: m.Region) -> Region:
        return cls(
            id=row.id,
            code=row.code,
            name=row.name,
            kind=row.kind,
            population=row.population,
            parent_id=row.parent_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.RegionByIdLoader, cls.from_row, _public)


@strawberry.type(description="A purchasing department (采购人) of a local government.")
class Department(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="e.g. 黄浦区民政局.")
    region_id: strawberry.Private[int]

    @strawberry.field(description="The region whose government the department belongs to.")
    async def region(self, info: Info) -> Region:
        return Region.from_row(await context_of(info).loader(loaders.RegionByIdLoader).load(self.region_id))

    @classmethod
    def from_row(cls, row: m.Department) -> Department:
        return cls(id=row.id, name=row.name, region_id=row.region_id)

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.DepartmentByIdLoader, cls.from_row, _public)


@strawberry.type(description="A third-party evaluation firm (第三方评估机构).")
class AuditFirm(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Registered name of the firm.")
    credit_code: str = strawberry.field(description="Unified Social Credit Code (统一社会信用代码).")

    @classmethod
    def from_row(cls, row: m.AuditFirm) -> AuditFirm:
        return cls(id=row.id, name=row.name, credit_code=row.credit_code)

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.AuditFirmByIdLoader, cls.from_row, _public)


@strawberry.type(description="An account. Visible to itself and to ADMINs.")
class User(relay.Node):
    id: relay.NodeID[int]
    email: str = strawberry.field(description="Login name, stored lower-case.")
    name: str = strawberry.field(description="Display name.")
    role: RoleType
    department_id: strawberry.Private[int | None]
    provider_id: strawberry.Private[int | None]
    audit_firm_id: strawberry.Private[int | None]

    @strawberry.field(description="The department of an OFFICER (or EVALUATOR, when set).")
    async def department(self, info: Info) -> Department | None:
        if self.department_id is None:
            return None
        row = await context_of(info).loader(loaders.DepartmentByIdLoader).load(self.department_id)
        return Department.from_row(row)

    @strawberry.field(description="The provider a PROVIDER account works for.")
    async def provider(self, info: Info) -> Provider | None:
        if self.provider_id is None:
            return None
        row = await context_of(info).loader(loaders.ProviderByIdLoader).load(self.provider_id)
        return Provider.from_row(row)

    @strawberry.field(description="The audit firm of an AUDITOR account.")
    async def audit_firm(self, info: Info) -> AuditFirm | None:
        if self.audit_firm_id is None:
            return None
        row = await context_of(info).loader(loaders.AuditFirmByIdLoader).load(self.audit_firm_id)
        return AuditFirm.from_row(row)

    @classmethod
    def from_row(cls, row: m.User) -> User:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=row.role,
            department_id=row.department_id,
            provider_id=row.provider_id,
            audit_firm_id=row.audit_firm_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.UserByIdLoader, cls.from_row, service.can_see_user)


@strawberry.type(description="A kind of public service: education, health, elderly care...")
class ServiceCategory:
    code: str = strawberry.field(description="Stable code, e.g. ELDERLY_CARE; used as `category`.")
    name: str = strawberry.field(description="Chinese name.")
    name_en: str

    @classmethod
    def from_row(cls, row: m.ServiceCategory) -> ServiceCategory:
        return cls(code=row.code, name=row.name, name_en=row.name_en)


@strawberry.type(description="A performance indicator (SPEC §5.2).")
class Kpi:
    id: strawberry.ID = strawberry.field(description="Opaque ID of this KPI.")
    name: str = strawberry.field(description="e.g. 按时上门率 (on-time visits).")
    unit: str = strawberry.field(description="Unit of the measured value, e.g. %, minutes.")
    target: float = strawberry.field(description="The value that earns full attainment.")
    direction: KpiDirectionType
    weight: float = strawberry.field(description="Share of the KPI score; a set of KPIs sums to 1.")
    source: KpiSourceType = strawberry.field(description="Who or what measures the value.")

    @classmethod
    def from_row(cls, row: m.PackageKpi) -> Kpi:
        return cls(
            id=strawberry.ID(encode_id("Kpi", row.id)),
            name=row.name,
            unit=row.unit,
            target=row.target,
            direction=row.direction,
            weight=row.weight,
            source=row.source,
        )


@strawberry.type(
    description="One version of a standardised service package (标准化服务包). "
    "Editing a package makes a new version; earlier versions stay readable."
)
class ServicePackage(relay.Node):
    id: relay.NodeID[int]
    code: str = strawberry.field(description="Stable across versions, e.g. ELDER-HOME-VISIT.")
    version: int = strawberry.field(description="1 for the first version, +1 per edit.")
    name: str = strawberry.field(description="Chinese name.")
    name_en: str | None = strawberry.field(description="English name.")
    category: str = strawberry.field(description="Code of the service category.")
    tier: PackageTierType = strawberry.field(description="BASIC (guaranteed) or OPTIONAL.")
    unit: str = strawberry.field(description='The unit priced and delivered, e.g. "visit".')
    standard: str = strawberry.field(description="The service standard (服务标准) providers must meet.")
    min_unit_price: Decimal = strawberry.field(description="Reference unit price range, CNY: lower end.")
    max_unit_price: Decimal = strawberry.field(description="Reference unit price range, CNY: upper end.")
    satisfaction_weight: float = strawberry.field(description="Default w_S of contract scoring (≥ 0.30).")
    kpi_weight: float = strawberry.field(description="Default w_K of contract scoring.")
    audit_weight: float = strawberry.field(description="Default w_A of contract scoring.")
    created_at: dt.datetime = strawberry.field(description="When this version was made.")

    @strawberry.field(description="Default KPI templates, in order.")
    async def kpis(self, info: Info) -> list[Kpi]:
        rows = await context_of(info).loader(loaders.KpisByPackageLoader).load(self.id)
        return [Kpi.from_row(row) for row in rows]

    @strawberry.field(name="categoryDetails", description="The service category, with its names.")
    async def category_details(self, info: Info) -> ServiceCategory:
        row = await context_of(info).loader(loaders.CategoryByCodeLoader).load(self.category)
        return ServiceCategory.from_row(row)

    @classmethod
    def from_row(cls, row: m.ServicePackage) -> ServicePackage:
        return cls(
            id=row.id,
            code=row.code,
            version=row.version,
            name=row.name,
            name_en=row.name_en,
            category=row.category_code,
            tier=row.tier,
            unit=row.unit,
            standard=row.standard,
            min_unit_price=row.min_unit_price,
            max_unit_price=row.max_unit_price,
            satisfaction_weight=row.satisfaction_weight,
            kpi_weight=row.kpi_weight,
            audit_weight=row.audit_weight,
            created_at=row.created_at,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(info, node_ids, loaders.ServicePackageByIdLoader, cls.from_row, _public)


@strawberry.type(description="A licence or certificate a provider holds (资质).")
class Qualification:
    id: strawberry.ID = strawberry.field(description="Opaque ID of this qualification.")
    type: str = strawberry.field(description="What it certifies, as named in tenders' requirements.")
    number: str = strawberry.field(description="Certificate or licence number.")
    valid_from: dt.date = strawberry.field(description="First day of validity.")
    valid_to: dt.date = strawberry.field(description="Last day of validity.")
    document: str | None = strawberry.field(description="Reference to the scanned document.")

    @classmethod
    def from_row(cls, row: m.Qualification) -> Qualification:
        return cls(
            id=strawberry.ID(encode_id("Qualification", row.id)),
            type=row.type,
            number=row.number,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            document=row.document,
        )


@strawberry.type(
    description="A company or social organisation that delivers services. Public once approved; "
    "PENDING providers are seen only by officers, admins and their own staff."
)
class Provider(relay.Node):
    id: relay.NodeID[int]
    legal_name: str = strawberry.field(description="Registered legal name.")
    credit_code: str = strawberry.field(description="Unified Social Credit Code (统一社会信用代码).")
    kind: ProviderKindType
    status: ProviderStatusType = strawberry.field(description="Only ACTIVE providers may bid.")
    status_reason: str | None = strawberry.field(description="Why it was suspended or debarred.")
    registered_at: dt.datetime = strawberry.field(description="When it registered itself.")

    @strawberry.field(description="Licences and certificates, latest expiry first.")
    async def qualifications(self, info: Info) -> list[Qualification]:
        rows = await context_of(info).loader(loaders.QualificationsByProviderLoader).load(self.id)
        return [Qualification.from_row(row) for row in rows]

    @strawberry.field(description="Regions the provider serves.")
    async def regions(self, info: Info) -> list[Region]:
        rows = await context_of(info).loader(loaders.RegionsByProviderLoader).load(self.id)
        return [Region.from_row(row) for row in rows]

    @strawberry.field(description="The current certificate, null before the first certification run.")
    async def certification(
        self, info: Info
    ) -> Annotated[Certification, strawberry.lazy("scoring.types")] | None:
        from scoring.types import current_certification

        return await current_certification(info, provider_id=self.id)

    @classmethod
    def from_row(cls, row: m.Provider) -> Provider:
        return cls(
            id=row.id,
            legal_name=row.legal_name,
            credit_code=row.credit_code,
            kind=row.kind,
            status=row.status,
            status_reason=row.status_reason,
            registered_at=row.registered_at,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(
            info, node_ids, loaders.ProviderByIdLoader, cls.from_row, service.can_see_provider
        )


ServicePackageConnection = Connection[ServicePackage]
ProviderConnection = Connection[Provider]


__all__ = [
    "AuditFirm",
    "Department",
    "Kpi",
    "Provider",
    "ProviderConnection",
    "Qualification",
    "Region",
    "ServiceCategory",
    "ServicePackage",
    "ServicePackageConnection",
    "User",
]


# ---------------------------------------------------------------- tenders (SPEC §4)

TenderStatusType = strawberry.enum(
    m.TenderStatus,
    name="TenderStatus",
    description="DRAFT → PUBLISHED → EVALUATING → AWARD_PENDING → AWARDED, or UNSUCCESSFUL or CANCELLED.",
)
BidStatusType = strawberry.enum(
    m.BidStatus,
    name="BidStatus",
    description="SUBMITTED until the opening decides VALID or INVALID; WITHDRAWN by its provider.",
)
ChallengeDecisionType = strawberry.enum(m.ChallengeDecision, name="ChallengeDecision")


@strawberry.type(description="One row of a payment tier table (阶梯化支付).")
class PaymentTier:
    tier: str = strawberry.field(description="A to E.")
    min_score: float = strawberry.field(description="Lowest composite score of the tier.")
    payout_rate: float = strawberry.field(description="Share of the base paid, e.g. 1.05.")


@strawberry.type(description="One change of a correction notice.")
class TenderChange:
    field: str = strawberry.field(description="The input field changed, e.g. maxUnitPrice.")
    before: JSON
    after: JSON


@strawberry.type(description="A correction notice (更正公告), public.")
class TenderAmendment:
    version: int = strawberry.field(description="The tender version this notice made.")
    reason: str
    changes: list[TenderChange]
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: m.TenderAmendment) -> TenderAmendment:
        return cls(
            version=row.version,
            reason=row.reason,
            changes=[
                TenderChange(field=c["field"], before=c["before"], after=c["after"]) for c in row.changes
            ],
            created_at=row.created_at,
        )


@strawberry.type(description="A bidder's question and the officer's answer; the asker is not shown.")
class Clarification(SealedNode, relay.Node):
    id: relay.NodeID[int]
    question: str
    asked_at: dt.datetime
    answer: str | None = strawberry.field(description="Null until answered.")
    answered_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: m.Clarification) -> Clarification:
        return cls(
            id=row.id,
            question=row.question,
            asked_at=row.asked_at,
            answer=row.answer,
            answered_at=row.answered_at,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return [None for _ in node_ids]  # read through Tender.clarifications


@strawberry.type(description="One line of the opening record (开标记录).")
class OpeningRecordEntry:
    provider_name: str
    unit_price: Decimal
    submitted_at: dt.datetime
    receipt_sha256: str


@strawberry.type(description="A seat on the evaluation panel; seen by the tender's officers.")
class PanelSeat:
    evaluator: User
    declared: bool = strawberry.field(description="Has declared conflicts of interest.")
    removed: bool = strawberry.field(description="Declared a conflict and left the panel for this tender.")


@strawberry.type(description="A call for bids for a quantity of one package version in one region.")
class Tender(relay.Node):
    id: relay.NodeID[int]
    title: str
    status: TenderStatusType
    version: int = strawberry.field(description="1 when published, +1 per correction notice.")
    quantity: int = strawberry.field(description="Units bought over the whole contract.")
    periods: int = strawberry.field(description="Number of payment periods.")
    period_months: int = strawberry.field(description="Length of a payment period in months.")
    start_date: dt.date = strawberry.field(description="First day of the contract.")
    max_unit_price: Decimal = strawberry.field(description="Ceiling unit price (最高限价), CNY.")
    bid_deadline: dt.datetime = strawberry.field(description="Bids must be committed before this instant.")
    min_valid_bids: int = strawberry.field(description="Fewer valid bids make the tender UNSUCCESSFUL.")
    price_weight: float = strawberry.field(description="0.10-0.30; the three weights sum to 1.")
    quality_weight: float
    record_weight: float
    required_qualifications: list[str] = strawberry.field(
        description="Qualification types every bidder must hold, valid on the deadline."
    )
    satisfaction_weight: float = strawberry.field(description="w_S of the future contract (≥ 0.30).")
    kpi_weight: float = strawberry.field(description="w_K of the future contract.")
    audit_weight: float = strawberry.field(description="w_A of the future contract.")
    holdback_rate: float = strawberry.field(description="Share of each payout retained until completion.")
    payment_tiers: list[PaymentTier]
    published_at: dt.datetime | None
    opened_at: dt.datetime | None = strawberry.field(description="When the bids were opened.")
    challenge_deadline: dt.datetime | None = strawberry.field(
        description="End of the 7-working-day challenge period (质疑期) after the recommendation."
    )
    closed_reason: str | None = strawberry.field(description="Why it was cancelled or unsuccessful.")
    row: strawberry.Private[m.Tender]

    @strawberry.field(description="The package version the tender was made from.")
    async def package(self, info: Info) -> ServicePackage:
        row = await context_of(info).loader(loaders.ServicePackageByIdLoader).load(self.row.package_id)
        return ServicePackage.from_row(row)

    @strawberry.field
    async def region(self, info: Info) -> Region:
        return Region.from_row(
            await context_of(info).loader(loaders.RegionByIdLoader).load(self.row.region_id)
        )

    @strawberry.field(description="The purchasing department.")
    async def department(self, info: Info) -> Department:
        row = await context_of(info).loader(loaders.DepartmentByIdLoader).load(self.row.department_id)
        return Department.from_row(row)

    @strawberry.field(description="KPIs of the future contract.")
    async def kpis(self, info: Info) -> list[Kpi]:
        rows = await context_of(info).loader(loaders.KpisByTenderLoader).load(self.id)
        return [Kpi.from_row(row) for row in rows]

    @strawberry.field(
        description="Empty until the bids are opened, and for callers not entitled to see them: the "
        "tender's officers, its panel and its bidders after opening; everyone after the award."
    )
    async def bids(self, info: Info) -> list[Bid]:
        rows = await context_of(info).loader(loaders.VisibleBidsByTenderLoader).load(self.id)
        return [
            Bid.from_row(bid, access)
            for bid, access in rows
            if access.all_opened and bid.status != m.BidStatus.WITHDRAWN
        ]

    @strawberry.field(description="The caller's own bid (PROVIDER), at any stage; null for others.")
    async def my_bid(self, info: Info) -> Bid | None:
        rows = await context_of(info).loader(loaders.VisibleBidsByTenderLoader).load(self.id)
        return next((Bid.from_row(b, a) for b, a in rows if b.provider_id == a.own_provider_id), None)

    @strawberry.field(description="Bidders and unit prices as opened; for those who may see the bids.")
    async def opening_record(self, info: Info) -> list[OpeningRecordEntry] | None:
        if self.row.opening_record is None:
            return None
        access = await context_of(info).loader(loaders.BidAccessByTenderLoader).load(self.id)
        if not access.all_opened:
            return None
        return [
            OpeningRecordEntry(
                provider_name=e["provider"],
                unit_price=Decimal(e["unit_price"]),
                submitted_at=dt.datetime.fromisoformat(e["submitted_at"]),
                receipt_sha256=e["receipt_sha256"],
            )
            for e in self.row.opening_record
        ]

    @strawberry.field(description="Correction notices, oldest first.")
    async def amendments(self, info: Info) -> list[TenderAmendment]:
        rows = await context_of(info).loader(loaders.AmendmentsByTenderLoader).load(self.id)
        return [TenderAmendment.from_row(row) for row in rows]

    @strawberry.field(
        description="Answered questions (public); unanswered ones only to the asker and the officers."
    )
    async def clarifications(self, info: Info) -> list[Clarification]:
        rows = await context_of(info).loader(loaders.ClarificationsByTenderLoader).load(self.id)
        return [Clarification.from_row(row) for row in rows]

    @strawberry.field(description="Challenges: all for the tender's officers, its own for a bidder.")
    async def challenges(self, info: Info) -> list[Challenge]:
        rows = await context_of(info).loader(loaders.ChallengesByTenderLoader).load(self.id)
        return [Challenge.from_row(row) for row in rows]

    @strawberry.field(description="The evaluation panel; only the tender's officers see it.")
    async def panel(self, info: Info) -> list[PanelSeat]:
        if not tendering.is_owner(context_of(info).actor, self.row):
            return []
        rows = await context_of(info).loader(loaders.PanelByTenderLoader).load(self.id)
        return [
            PanelSeat(
                evaluator=User.from_row(user), declared=seat.declared_at is not None, removed=seat.removed
            )
            for seat, user in rows
        ]

    @strawberry.field(
        description="The recommended bid (中标候选人) and, once final, the contract; null while the caller "
        "may not see the bid."
    )
    async def award(self, info: Info) -> Award | None:
        if self.row.recommended_bid_id is None:
            return None
        rows = await context_of(info).loader(loaders.VisibleBidsByTenderLoader).load(self.id)
        bid = next(((b, a) for b, a in rows if b.id == self.row.recommended_bid_id), None)
        if bid is None:
            return None
        return Award(bid=Bid.from_row(*bid), finalized_at=self.row.awarded_at, tender_id=self.id)

    @classmethod
    def from_row(cls, row: m.Tender) -> Tender:
        return cls(
            id=row.id,
            title=row.title,
            status=row.status,
            version=row.version,
            quantity=row.quantity,
            periods=row.periods,
            period_months=row.period_months,
            start_date=row.start_date,
            max_unit_price=row.max_unit_price,
            bid_deadline=row.bid_deadline,
            min_valid_bids=row.min_valid_bids,
            price_weight=row.price_weight,
            quality_weight=row.quality_weight,
            record_weight=row.record_weight,
            required_qualifications=list(row.required_qualifications),
            satisfaction_weight=row.satisfaction_weight,
            kpi_weight=row.kpi_weight,
            audit_weight=row.audit_weight,
            holdback_rate=row.holdback_rate,
            payment_tiers=[PaymentTier(**t) for t in row.payment_tiers],
            published_at=row.published_at,
            opened_at=row.opened_at,
            challenge_deadline=row.challenge_deadline,
            closed_reason=row.closed_reason,
            row=row,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(
            info, node_ids, loaders.TenderByIdLoader, cls.from_row, tendering.can_see_tender
        )


@strawberry.type(description="Proof of a sealed bid (投标回执): SHA-256 of its canonical content.")
class BidReceipt:
    sha256: str = strawberry.field(description="Hex SHA-256 of `Bid.canonicalContent` at this version.")
    submitted_at: dt.datetime = strawberry.field(description="Server time of the submission.")


@strawberry.type(
    description="A provider's sealed offer. Before the opening nobody but its provider can read anything "
    "of it, not even that it exists: its ID is keyed and tells nothing of how many bids there are."
)
class Bid(SealedNode, relay.Node):
    id: relay.NodeID[int]
    status: BidStatusType
    version: int = strawberry.field(
        description="1 for the first submission, +1 per amendment or confirmation."
    )
    unit_price: Decimal
    proposal: str = strawberry.field(
        description="Technical proposal; empty for callers not entitled to read proposals (the public, "
        "other bidders)."
    )
    receipt: BidReceipt
    abnormally_low: bool = strawberry.field(description="Below 80% of the mean valid unit price.")
    justification: str | None = strawberry.field(
        description="The provider's written justification of the price."
    )
    justification_accepted: bool | None
    invalid_reason: str | None
    price_score: float | None = strawberry.field(description="100 × lowest valid price / this price.")
    quality_score: float | None = strawberry.field(description="Mean of the evaluators' scores.")
    record_score: float | None = strawberry.field(description="From the provider's stars at the deadline.")
    total_score: float | None
    rank: int | None = strawberry.field(description="1 is best; null for bids not ranked.")
    row: strawberry.Private[m.Bid]
    proposals_visible: strawberry.Private[bool]

    @strawberry.field(description="The exact text the receipt's SHA-256 covers, to check it.")
    def canonical_content(self) -> str:
        if not self.proposals_visible:
            return ""
        return tendering.canonical_bid(
            self.row, tender_id=self.row.tender_id, provider_id=self.row.provider_id
        )

    @strawberry.field
    async def tender(self, info: Info) -> Tender:
        return Tender.from_row(
            await context_of(info).loader(loaders.TenderByIdLoader).load(self.row.tender_id)
        )

    @strawberry.field
    async def provider(self, info: Info) -> Provider:
        return Provider.from_row(
            await context_of(info).loader(loaders.ProviderByIdLoader).load(self.row.provider_id)
        )

    @classmethod
    def from_row(cls, row: m.Bid, access: tendering.BidAccess) -> Bid:
        own = row.provider_id == access.own_provider_id
        visible = own or access.proposals
        return cls(
            id=row.id,
            status=row.status,
            version=row.version,
            unit_price=row.unit_price,
            proposal=row.proposal if visible else "",
            receipt=BidReceipt(sha256=row.receipt_sha256, submitted_at=row.submitted_at),
            abnormally_low=row.abnormally_low,
            justification=row.justification if visible else None,
            justification_accepted=row.justification_accepted,
            invalid_reason=row.invalid_reason,
            price_score=row.price_score,
            quality_score=row.quality_score,
            record_score=row.record_score,
            total_score=row.total_score,
            rank=row.rank,
            row=row,
            proposals_visible=visible,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        ctx = context_of(info)
        keys = [parse_pk(i) or 0 for i in node_ids]
        bids = await ctx.loader(loaders.BidByIdLoader).load_many(keys)
        tender_ids = [b.tender_id if b else 0 for b in bids]
        visible = await ctx.loader(loaders.VisibleBidsByTenderLoader).load_many(tender_ids)
        result = []
        for bid, rows in zip(bids, visible, strict=True):
            match = next(((b, a) for b, a in rows if bid is not None and b.id == bid.id), None)
            result.append(Bid.from_row(*match) if match else None)
        return result


@strawberry.type(description="The recommended or final award of a tender.")
class Award:
    bid: Bid
    finalized_at: dt.datetime | None = strawberry.field(
        description="When the award became final; null while pending."
    )
    tender_id: strawberry.Private[int]

    @strawberry.field(description="The contract made when the award became final.")
    async def contract(self, info: Info) -> Annotated[Contract, strawberry.lazy("contracts.types")] | None:
        from contracts.types import contract_of_tender

        return await contract_of_tender(info, self.tender_id)


@strawberry.type(description="A bidder's challenge (质疑) of a recommended award.")
class Challenge(relay.Node):
    id: relay.NodeID[int]
    reason: str
    filed_at: dt.datetime
    decision: ChallengeDecisionType | None = strawberry.field(description="Null while open.")
    decision_note: str | None
    decided_at: dt.datetime | None
    row: strawberry.Private[m.Challenge]

    @strawberry.field
    async def tender(self, info: Info) -> Tender:
        return Tender.from_row(
            await context_of(info).loader(loaders.TenderByIdLoader).load(self.row.tender_id)
        )

    @classmethod
    def from_row(cls, row: m.Challenge) -> Challenge:
        return cls(
            id=row.id,
            reason=row.reason,
            filed_at=row.filed_at,
            decision=row.decision,
            decision_note=row.decision_note,
            decided_at=row.decided_at,
            row=row,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        ctx = context_of(info)
        result = []
        for node_id in node_ids:
            challenge = None
            if pk := parse_pk(node_id):
                async with ctx.db() as session:
                    row = await session.get(m.Challenge, pk)
                    tender = await session.get(m.Tender, row.tender_id) if row else None
                if row and (
                    tendering.is_owner(ctx.actor, tender)
                    or row.provider_id == (ctx.actor and ctx.actor.provider_id)
                ):
                    challenge = Challenge.from_row(row)
            result.append(challenge)
        return result


TenderConnection = Connection[Tender]
