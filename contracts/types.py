"""GraphQL types of the contracts domain (SPEC §5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from contracts import models as m
from market.types import Kpi, Provider, Tender

if TYPE_CHECKING:
    from scoring.types import Payment, Scorecard

ContractStatusType = strawberry.enum(
    m.ContractStatus, name="ContractStatus", description="ACTIVE ⇄ SUSPENDED → COMPLETED | TERMINATED."
)
ComplaintStatusType = strawberry.enum(m.ComplaintStatus, name="ComplaintStatus")
LightType = strawberry.enum(
    m.Light,
    name="Light",
    description="GREEN under 75% of the current deadline passed, YELLOW from 75%, RED when overdue.",
)
SeverityType = strawberry.enum(m.Severity, name="Severity")
AuditStatusType = strawberry.enum(m.AuditStatus, name="AuditStatus")


def _none(node_ids):
    return [None for _ in node_ids]


@strawberry.type(description="A service contract made from an award.")
class Contract(relay.Node):
    id: relay.NodeID[int]
    status: ContractStatusType
    provider: Provider
    tender: Tender
    unit_price: Decimal
    quantity: int
    total_value: Decimal
    start_date: dt.date
    kpis: list[Kpi]
    periods: list[ContractPeriod]

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return _none(node_ids)


@strawberry.type(description="One payment period of a contract.")
class ContractPeriod:
    index: int = strawberry.field(description="1-based.")
    starts_on: dt.date
    ends_on: dt.date = strawberry.field(description="Last day of the period.")
    scorecard: Annotated[Scorecard, strawberry.lazy("scoring.types")] | None
    payment: Annotated[Payment, strawberry.lazy("scoring.types")] | None


@strawberry.type(description="A resident's rating of a delivery (SPEC §5.4).")
class Rating:
    stars: int
    timeliness: int | None
    attitude: int | None
    professionalism: int | None
    comment: str | None
    flagged: bool = strawberry.field(description="Kept but excluded from scoring until an officer clears it.")
    created_at: dt.datetime


@strawberry.type(description="A service delivered to a resident.")
class Delivery(relay.Node):
    id: relay.NodeID[int]
    contract: Contract
    delivered_on: dt.date
    units: int
    disputed: bool
    verified: bool
    rating: Rating | None

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return _none(node_ids)


@strawberry.type(description="What a resident sees through the link sent to them.")
class ResidentDelivery:
    service_name: str
    provider_name: str
    delivered_on: dt.date
    units: int
    disputed: bool
    rating: Rating | None
    rating_editable_until: dt.datetime | None


@strawberry.type(description="A complaint (投诉) about a contract's service.")
class Complaint(relay.Node):
    id: relay.NodeID[int]
    contract: Contract
    category: str
    text: str
    status: ComplaintStatusType
    substantiated: bool | None
    light: LightType | None
    created_at: dt.datetime

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return _none(node_ids)


@strawberry.type(description="A checklist item of an audit.")
class AuditCheck:
    id: strawberry.ID
    item: str
    passed: bool
    weight: float
    severity: SeverityType
    note: str | None
    overturned: bool


@strawberry.type(description="The measured value of an AUDIT KPI.")
class KpiValue:
    kpi: Kpi
    value: float


@strawberry.type(description="A third-party audit (第三方评估) of one contract period.")
class Audit(relay.Node):
    id: relay.NodeID[int]
    contract: Contract
    period_index: int
    status: AuditStatusType
    kpi_values: list[KpiValue]
    checks: list[AuditCheck]

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return _none(node_ids)


@strawberry.type(description="A provider's appeal of audit items.")
class Appeal(relay.Node):
    id: relay.NodeID[int]
    audit: Audit
    reason: str
    decided: bool

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return _none(node_ids)


@strawberry.type(description="A message the platform sent or queued.")
class Notification:
    channel: str
    recipient: str
    body: str
    created_at: dt.datetime
