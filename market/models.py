"""Tables of the market domain (SPEC §2, §3)."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.auth import Role
from core.db import Money, UTCDateTime, enum_type


class RegionKind(enum.Enum):
    URBAN = "URBAN"
    RURAL = "RURAL"


class ProviderKind(enum.Enum):
    ENTERPRISE = "ENTERPRISE"
    SOCIAL_ORGANISATION = "SOCIAL_ORGANISATION"
    PUBLIC_INSTITUTION = "PUBLIC_INSTITUTION"


class ProviderStatus(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    DEBARRED = "DEBARRED"


class PackageTier(enum.Enum):
    BASIC = "BASIC"
    OPTIONAL = "OPTIONAL"


class KpiDirection(enum.Enum):
    HIGHER_IS_BETTER = "HIGHER_IS_BETTER"
    LOWER_IS_BETTER = "LOWER_IS_BETTER"


class KpiSource(enum.Enum):
    AUDIT = "AUDIT"
    DELIVERY_RATE = "DELIVERY_RATE"
    COMPLAINT_RATE = "COMPLAINT_RATE"


class Region(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    name: str = Field(max_length=100)
    kind: RegionKind = Field(sa_type=enum_type(RegionKind))
    population: int
    parent_id: int | None = Field(default=None, foreign_key="region.id", index=True)


class Department(SQLModel, table=True):
    """A purchasing department (采购人) of a local government."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    region_id: int = Field(foreign_key="region.id", index=True)


class AuditFirm(SQLModel, table=True):
    """A third-party evaluation firm (第三方评估机构)."""

    __tablename__ = "audit_firm"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18, unique=True)


class Provider(SQLModel, table=True):
    """A company or social organisation that delivers services (供应商 / 社会组织)."""

    id: int | None = Field(default=None, primary_key=True)
    legal_name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18, unique=True)
    kind: ProviderKind = Field(sa_type=enum_type(ProviderKind))
    status: ProviderStatus = Field(
        default=ProviderStatus.PENDING, sa_type=enum_type(ProviderStatus), index=True
    )
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    registered_at: dt.datetime = Field(sa_type=UTCDateTime)
    approved_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    payout_account: str | None = Field(default=None, max_length=100)
    """Where the `stripe` payout backend transfers its payments: a Stripe connected account (acct_…)."""


class ProviderRegion(SQLModel, table=True):
    """A region a provider serves."""

    __tablename__ = "provider_region"

    provider_id: int = Field(foreign_key="provider.id", primary_key=True)
    region_id: int = Field(foreign_key="region.id", primary_key=True, index=True)


class Qualification(SQLModel, table=True):
    """A licence or certificate a provider holds (资质), with its validity."""

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    type: str = Field(max_length=100)
    number: str = Field(max_length=100)
    valid_from: dt.date
    valid_to: dt.date
    document: str | None = Field(default=None, max_length=500)


class User(SQLModel, table=True):
    """An account. OFFICERs belong to a department, PROVIDERs to a provider, AUDITORs to a firm."""

    __tablename__ = "user_account"
    __journal_redact__ = ("password_hash",)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    role: Role = Field(sa_type=enum_type(Role))
    password_hash: str = Field(max_length=200)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    audit_firm_id: int | None = Field(default=None, foreign_key="audit_firm.id", index=True)
    active: bool = Field(default=True)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """Failed logins per email, so that every worker refuses the same brute force."""

    __tablename__ = "login_throttle"

    email: str = Field(max_length=254, primary_key=True)
    failures: int = Field(default=0)
    window_started_at: dt.datetime = Field(sa_type=UTCDateTime)
    locked_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class ServiceCategory(SQLModel, table=True):
    """Education, health, elderly care...; extendable by ADMIN."""

    __tablename__ = "service_category"

    code: str = Field(max_length=40, primary_key=True)
    name: str = Field(max_length=100)
    name_en: str = Field(max_length=100)


class ServicePackage(SQLModel, table=True):
    """One version of a standardised service package (标准化服务包).

    Editing makes a new row with the next version and leaves earlier rows as they
    were; the latest version of a code is the one with the highest number.
    Tenders pin the version they were made from.
    """

    __tablename__ = "service_package"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_service_package_code_version"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, index=True)
    version: int = Field(default=1)
    name: str = Field(max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    category_code: str = Field(foreign_key="service_category.code", max_length=40, index=True)
    tier: PackageTier = Field(sa_type=enum_type(PackageTier))
    unit: str = Field(max_length=40)
    standard: str = Field(sa_column=Column(Text, nullable=False))
    min_unit_price: Decimal = Field(sa_type=Money)
    max_unit_price: Decimal = Field(sa_type=Money)
    satisfaction_weight: float = Field(default=0.4)
    kpi_weight: float = Field(default=0.4)
    audit_weight: float = Field(default=0.2)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")


class KpiFields(SQLModel):
    """The columns every KPI has, whether a package's template, a tender's or a contract's."""

    position: int
    name: str = Field(max_length=200)
    unit: str = Field(max_length=40)
    target: float
    direction: KpiDirection = Field(sa_type=enum_type(KpiDirection))
    weight: float
    source: KpiSource = Field(sa_type=enum_type(KpiSource))


class PackageKpi(KpiFields, table=True):
    """A default performance indicator of a package version (SPEC §5.2)."""

    __tablename__ = "package_kpi"

    id: int | None = Field(default=None, primary_key=True)
    package_id: int = Field(foreign_key="service_package.id", index=True)


class TenderStatus(enum.Enum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    EVALUATING = "EVALUATING"
    AWARD_PENDING = "AWARD_PENDING"
    AWARDED = "AWARDED"
    UNSUCCESSFUL = "UNSUCCESSFUL"
    CANCELLED = "CANCELLED"


class BidStatus(enum.Enum):
    SUBMITTED = "SUBMITTED"
    WITHDRAWN = "WITHDRAWN"
    VALID = "VALID"
    INVALID = "INVALID"


class ChallengeDecision(enum.Enum):
    UPHELD = "UPHELD"
    DISMISSED = "DISMISSED"


class Tender(SQLModel, table=True):
    """A call for bids (招标/采购公告) for a quantity of one package version in one region (SPEC §4)."""

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    title: str = Field(max_length=300)
    status: TenderStatus = Field(default=TenderStatus.DRAFT, sa_type=enum_type(TenderStatus), index=True)
    version: int = Field(default=1)
    """1 when published, +1 per amendment (更正公告); bids confirmed against older versions are invalid."""
    package_id: int = Field(foreign_key="service_package.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    quantity: int
    periods: int
    period_months: int
    start_date: dt.date
    max_unit_price: Decimal = Field(sa_type=Money)
    bid_deadline: dt.datetime = Field(sa_type=UTCDateTime)
    min_valid_bids: int = Field(default=3)
    price_weight: float
    quality_weight: float
    record_weight: float
    required_qualifications: list[str] = Field(default_factory=list, sa_type=JSON)
    satisfaction_weight: float = Field(default=0.4)
    kpi_weight: float = Field(default=0.4)
    audit_weight: float = Field(default=0.2)
    holdback_rate: float = Field(default=0.10)
    payment_tiers: list[dict] = Field(default_factory=list, sa_type=JSON)
    """[{"tier": "A", "min_score": 90, "payout_rate": 1.05}, ...], highest first."""
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    published_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    opened_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    opening_record: list[dict] | None = Field(default=None, sa_type=JSON)
    """The opening record (开标记录): bidder, unit price, receipt of every bid opened."""
    ranked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    recommended_bid_id: int | None = Field(default=None)
    """The top-ranked bid put forward for award (no foreign key: bids already point at tenders)."""
    recommended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    challenge_deadline: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    awarded_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_reason: str | None = Field(default=None, sa_column=Column(Text))
    """Why it was cancelled or declared unsuccessful (流标)."""
    closed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class TenderKpi(KpiFields, table=True):
    """A KPI of the future contract, copied from the package and editable while DRAFT."""

    __tablename__ = "tender_kpi"

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)


class PanelMember(SQLModel, table=True):
    """An evaluator of a tender's panel (评标委员会). Removed when a conflict is declared."""

    __tablename__ = "panel_member"

    tender_id: int = Field(foreign_key="tender.id", primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, index=True)
    declared_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    conflicted_provider_ids: list[int] = Field(default_factory=list, sa_type=JSON)

    @property
    def removed(self) -> bool:
        return bool(self.conflicted_provider_ids)


class TenderAmendment(SQLModel, table=True):
    """A public correction notice (更正公告): what changed, and the new version."""

    __tablename__ = "tender_amendment"

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    version: int
    reason: str = Field(sa_column=Column(Text, nullable=False))
    changes: list[dict] = Field(default_factory=list, sa_type=JSON)
    """[{"field": "maxUnitPrice", "before": "120.00", "after": "110.00"}, ...]"""
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class Clarification(SQLModel, table=True):
    """A provider's question about a tender and the officer's answer, public to all bidders."""

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    asked_at: dt.datetime = Field(sa_type=UTCDateTime)
    answer: str | None = Field(default=None, sa_column=Column(Text))
    answered_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class Bid(SQLModel, table=True):
    """A provider's sealed bid; one row per provider and tender, amended in versions."""

    __table_args__ = (UniqueConstraint("tender_id", "provider_id", name="uq_bid_tender_id_provider_id"),)

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    status: BidStatus = Field(default=BidStatus.SUBMITTED, sa_type=enum_type(BidStatus))
    version: int = Field(default=1)
    unit_price: Decimal = Field(sa_type=Money)
    proposal: str = Field(sa_column=Column(Text, nullable=False))
    capacity: str | None = Field(default=None, sa_column=Column(Text))
    attachments: list[str] = Field(default_factory=list, sa_type=JSON)
    submitted_at: dt.datetime = Field(sa_type=UTCDateTime)
    receipt_sha256: str = Field(max_length=64)
    confirmed_tender_version: int = Field(default=1)
    invalid_reason: str | None = Field(default=None, sa_column=Column(Text))
    abnormally_low: bool = Field(default=False)
    justification: str | None = Field(default=None, sa_column=Column(Text))
    justification_accepted: bool | None = Field(default=None)
    record_stars: int | None = Field(default=None)
    price_score: float | None = Field(default=None)
    quality_score: float | None = Field(default=None)
    record_score: float | None = Field(default=None)
    total_score: float | None = Field(default=None)
    rank: int | None = Field(default=None)


class BidVersion(SQLModel, table=True):
    """Every submitted version of a bid, with its receipt (投标回执)."""

    __tablename__ = "bid_version"
    __table_args__ = (UniqueConstraint("bid_id", "version", name="uq_bid_version_bid_id_version"),)

    id: int | None = Field(default=None, primary_key=True)
    bid_id: int = Field(foreign_key="bid.id", index=True)
    version: int
    unit_price: Decimal = Field(sa_type=Money)
    proposal: str = Field(sa_column=Column(Text, nullable=False))
    capacity: str | None = Field(default=None, sa_column=Column(Text))
    attachments: list[str] = Field(default_factory=list, sa_type=JSON)
    submitted_at: dt.datetime = Field(sa_type=UTCDateTime)
    receipt_sha256: str = Field(max_length=64)


class QualityScore(SQLModel, table=True):
    """One evaluator's quality score (0-100) of one valid bid."""

    __tablename__ = "quality_score"

    bid_id: int = Field(foreign_key="bid.id", primary_key=True)
    evaluator_id: int = Field(foreign_key="user_account.id", primary_key=True)
    score: float
    scored_at: dt.datetime = Field(sa_type=UTCDateTime)


class Challenge(SQLModel, table=True):
    """A bidder's challenge (质疑) of a recommended award, and the officer's decision."""

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    filed_at: dt.datetime = Field(sa_type=UTCDateTime)
    decision: ChallengeDecision | None = Field(default=None, sa_type=enum_type(ChallengeDecision))
    decision_note: str | None = Field(default=None, sa_column=Column(Text))
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
