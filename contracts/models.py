"""Tables of the contracts domain (SPEC §5)."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import Money, UTCDateTime, enum_type
from market.models import KpiFields


class ContractStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


class ComplaintStatus(enum.Enum):
    OPEN = "OPEN"
    RESPONDED = "RESPONDED"
    RESOLVED = "RESOLVED"
    REJECTED = "REJECTED"


class Light(enum.Enum):
    """红黄绿灯督办: how much of a complaint's current deadline has passed."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


class Severity(enum.Enum):
    MINOR = "MINOR"
    MAJOR = "MAJOR"
    CRITICAL = "CRITICAL"


class AuditStatus(enum.Enum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"


class Contract(SQLModel, table=True):
    """A service contract made from an award; its terms are copied from the tender and the winning bid."""

    id: int | None = Field(default=None, primary_key=True)
    tender_id: int = Field(foreign_key="tender.id", unique=True)
    bid_id: int = Field(foreign_key="bid.id", unique=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    package_id: int = Field(foreign_key="service_package.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    status: ContractStatus = Field(
        default=ContractStatus.ACTIVE, sa_type=enum_type(ContractStatus), index=True
    )
    unit_price: Decimal = Field(sa_type=Money)
    quantity: int
    total_value: Decimal = Field(sa_type=Money)
    start_date: dt.date
    periods: int
    period_months: int
    satisfaction_weight: float
    kpi_weight: float
    audit_weight: float
    holdback_rate: float
    payment_tiers: list[dict] = Field(default_factory=list, sa_type=JSON)
    signed_at: dt.datetime = Field(sa_type=UTCDateTime)
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    audit_firm_id: int | None = Field(default=None, foreign_key="audit_firm.id", index=True)


class ContractKpi(KpiFields, table=True):
    """A KPI of a contract, copied from the tender."""

    __tablename__ = "contract_kpi"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)


class Delivery(SQLModel, table=True):
    """A service delivered to a resident, recorded by the provider (SPEC §5.3).

    The resident's phone is kept only as a keyed hash; the clear number is sealed in
    the outbox message until it is sent. The link token is stored hashed.
    """

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    delivered_on: dt.date = Field(index=True)
    units: int
    note: str | None = Field(default=None, sa_column=Column(Text))
    phone_hash: str = Field(max_length=64, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    token_expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    recorded_at: dt.datetime = Field(sa_type=UTCDateTime)
    recorded_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    disputed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    dispute_reason: str | None = Field(default=None, sa_column=Column(Text))
    marked_false_by_audit_id: int | None = Field(default=None)
    """Set when an auditor found that the delivery did not happen (spot check)."""


class Rating(SQLModel, table=True):
    """A resident's rating of a delivery; one per delivery by construction (SPEC §5.4)."""

    __table_args__ = (Index("ix_rating_client_address_created_at", "client_address", "created_at"),)

    delivery_id: int = Field(foreign_key="delivery.id", primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    stars: int
    timeliness: int | None = None
    attitude: int | None = None
    professionalism: int | None = None
    comment: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    client_address: str | None = Field(default=None, max_length=64)
    """Keyed hash of the client's address; indexed with created_at for the per-hour count."""
    flag_reason: str | None = Field(default=None, max_length=200)
    """Why the rating is excluded from scoring until an officer clears it; null when it counts."""
    flag_cleared_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class StaffPhone(SQLModel, table=True):
    """A phone number of a provider's own staff, as a keyed hash (self-rating detection)."""

    __tablename__ = "staff_phone"

    provider_id: int = Field(foreign_key="provider.id", primary_key=True)
    phone_hash: str = Field(max_length=64, primary_key=True, index=True)
    registered_at: dt.datetime = Field(sa_type=UTCDateTime)


class NotificationStatus(enum.Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class Notification(SQLModel, table=True):
    """The outbox: messages the platform sends (SMS to residents).

    The clear message (the resident's number, the link with its token) is kept only sealed
    (`core.sealing`) while the message is PENDING; the readable columns hold masks from the
    start, and the sealed value is dropped once the message is sent or given up.
    """

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    recipient: str = Field(max_length=64)
    """A mask of the phone number (138****1234), never the number."""
    body: str = Field(sa_column=Column(Text, nullable=False))
    """The message with the link's token masked."""
    sealed: str | None = Field(default=None, sa_column=Column(Text))
    """The clear recipient and body, sealed; null once sent or given up."""
    status: NotificationStatus = Field(
        default=NotificationStatus.PENDING, sa_type=enum_type(NotificationStatus), index=True
    )
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    """The gateway's last error, with phone numbers and link tokens masked."""
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", index=True)


class Complaint(SQLModel, table=True):
    """A complaint (投诉) about a delivery, with its service levels (SPEC §5.5)."""

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=14, unique=True)
    """The number the resident quotes on the hotline: 12 digits as 4-4-4 (3720-5481-9634), random,
    the last one a Verhoeff check digit (a mistyped digit or two swapped neighbours are caught)."""
    contract_id: int = Field(foreign_key="contract.id", index=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    channel: str = Field(max_length=20)
    """LINK (by the resident) or HOTLINE (filed by an officer for the resident)."""
    category: str = Field(max_length=100)
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: ComplaintStatus = Field(
        default=ComplaintStatus.OPEN, sa_type=enum_type(ComplaintStatus), index=True
    )
    substantiated: bool | None = None
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    filed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    response: str | None = Field(default=None, sa_column=Column(Text))
    responded_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution_note: str | None = Field(default=None, sa_column=Column(Text))
    closed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class Audit(SQLModel, table=True):
    """A third-party audit (第三方评估) of one contract period; one per period."""

    __table_args__ = (
        UniqueConstraint("contract_id", "period_index", name="uq_audit_contract_id_period_index"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    period_index: int
    audit_firm_id: int = Field(foreign_key="audit_firm.id", index=True)
    auditor_id: int | None = Field(default=None, foreign_key="user_account.id")
    status: AuditStatus = Field(default=AuditStatus.DRAFT, sa_type=enum_type(AuditStatus))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    submitted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditKpiValue(SQLModel, table=True):
    """The measured value of one AUDIT KPI in an audit."""

    __tablename__ = "audit_kpi_value"

    audit_id: int = Field(foreign_key="audit.id", primary_key=True)
    kpi_id: int = Field(foreign_key="contract_kpi.id", primary_key=True)
    value: float


class AuditCheck(SQLModel, table=True):
    """A checklist item of an audit; overturned on appeal, it drops out of the audit score."""

    __tablename__ = "audit_check"

    id: int | None = Field(default=None, primary_key=True)
    audit_id: int = Field(foreign_key="audit.id", index=True)
    item: str = Field(max_length=300)
    passed: bool
    weight: float
    severity: Severity = Field(sa_type=enum_type(Severity))
    note: str | None = Field(default=None, sa_column=Column(Text))
    evidence: str | None = Field(default=None, max_length=500)
    overturned: bool = Field(default=False)


class Appeal(SQLModel, table=True):
    """A provider's appeal of audit items, decided item by item by an officer."""

    id: int | None = Field(default=None, primary_key=True)
    audit_id: int = Field(foreign_key="audit.id", index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    check_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    filed_at: dt.datetime = Field(sa_type=UTCDateTime)
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    decisions: list[dict] | None = Field(default=None, sa_type=JSON)
    """[{"check_id": 3, "upheld": false, "note": "..."}]: upheld false overturns the item."""
