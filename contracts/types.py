"""GraphQL types of the contracts domain (SPEC §5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from contracts import loaders, service
from contracts import models as m
from core.api import context_of
from market import loaders as market_loaders
from market.types import Kpi, PaymentTier, Provider, Tender, resolve_rows

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


@strawberry.type(description="A service contract made from an award; its summary is public.")
class Contract(relay.Node):
    id: relay.NodeID[int]
    status: ContractStatusType
    unit_price: Decimal = strawberry.field(description="The winning bid's unit price, CNY.")
    quantity: int
    total_value: Decimal = strawberry.field(description="unit price × quantity, CNY.")
    start_date: dt.date
    satisfaction_weight: float
    kpi_weight: float
    audit_weight: float
    holdback_rate: float
    payment_tiers: list[PaymentTier]
    signed_at: dt.datetime
    row: strawberry.Private[m.Contract]

    @strawberry.field(description="The contracted provider.")
    async def provider(self, info: Info) -> Provider:
        row = await context_of(info).loader(market_loaders.ProviderByIdLoader).load(self.row.provider_id)
        return Provider.from_row(row)

    @strawberry.field(description="The tender it was awarded from.")
    async def tender(self, info: Info) -> Tender:
        row = await context_of(info).loader(market_loaders.TenderByIdLoader).load(self.row.tender_id)
        return Tender.from_row(row)

    @strawberry.field(description="KPIs copied from the tender.")
    async def kpis(self, info: Info) -> list[Kpi]:
        rows = await context_of(info).loader(loaders.KpisByContractLoader).load(self.id)
        return [Kpi.from_row(row) for row in rows]

    @strawberry.field(description="Payment periods, computed from the start date and period length.")
    def periods(self) -> list[ContractPeriod]:
        return [
            ContractPeriod(
                index=p.index, starts_on=p.starts_on, ends_on=p.ends_on, scorecard=None, payment=None
            )
            for p in service.periods(
                start_date=self.row.start_date, count=self.row.periods, months=self.row.period_months
            )
        ]

    @classmethod
    def from_row(cls, row: m.Contract) -> Contract:
        return cls(
            id=row.id,
            status=row.status,
            unit_price=row.unit_price,
            quantity=row.quantity,
            total_value=row.total_value,
            start_date=row.start_date,
            satisfaction_weight=row.satisfaction_weight,
            kpi_weight=row.kpi_weight,
            audit_weight=row.audit_weight,
            holdback_rate=row.holdback_rate,
            payment_tiers=[PaymentTier(**t) for t in row.payment_tiers],
            signed_at=row.signed_at,
            row=row,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await resolve_rows(
            info, node_ids, loaders.ContractByIdLoader, cls.from_row, lambda _a, _r: True
        )


async def contract_of_tender(info: Info, tender_id: int) -> Contract | None:
    row = await context_of(info).loader(loaders.ContractByTenderLoader).load(tender_id)
    return Contract.from_row(row) if row else None


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
