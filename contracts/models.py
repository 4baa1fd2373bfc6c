"""Tables of the contracts domain (SPEC §5)."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import JSON, Column, Text
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


class ContractKpi(KpiFields, table=True):
    """A KPI of a contract, copied from the tender."""

    __tablename__ = "contract_kpi"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
