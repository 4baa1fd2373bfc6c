"""GraphQL types of the contracts domain (SPEC §5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from contracts import loaders
from contracts import models as m
from contracts.audits import audit_score
from contracts.complaints import current_deadline
from contracts.complaints import light as complaint_light
from contracts.deliveries import ResidentView, dispute_deadline, is_verified
from contracts.lifecycle import periods_of
from contracts.ratings import is_flagged
from core.api import (
    Connection,
    connection,
    context_of,
    encode_id,
    page_size,
    page_start,
    parse_pk,
    query_errors,
)
from core.cache import volatile_field
from market import loaders as market_loaders
from market.tender_types import PaymentTier, Tender
from market.types import AuditFirm, Kpi, Provider

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


async def _nodes(info: Info, node_ids, loader_class, present) -> list:
    """`node(id:)`: rows by ID through a loader that keeps only those the caller may see."""
    rows = await context_of(info).loader(loader_class).load_many([parse_pk(i) or 0 for i in node_ids])
    return [None if row is None else present(row) for row in rows]


async def _listed(info: Info, loader_class, key, present) -> list:
    """A list field: the rows a loader finds for the key (only those the caller may see), mapped."""
    return [present(row) for row in await context_of(info).loader(loader_class).load(key)]


@strawberry.type(
    description="A service contract made from an award. Its summary is public; deliveries, ratings, "
    "complaints and audits only for the department's officers, the provider and the assigned audit firm."
)
class Contract(relay.Node):
    id: relay.NodeID[int]
    status: ContractStatusType
    status_reason: str | None = strawberry.field(description="Why it was suspended or terminated.")
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

    @strawberry.field(description="The third-party audit firm assigned to it.")
    async def audit_firm(self, info: Info) -> AuditFirm | None:
        if self.row.audit_firm_id is None:
            return None
        row = await context_of(info).loader(market_loaders.AuditFirmByIdLoader).load(self.row.audit_firm_id)
        return AuditFirm.from_row(row)

    @strawberry.field(description="KPIs copied from the tender.")
    async def kpis(self, info: Info) -> list[Kpi]:
        return await _listed(info, loaders.KpisByContractLoader, self.id, Kpi.from_row)

    @strawberry.field(description="Payment periods, computed from the start date and period length.")
    def periods(self) -> list[ContractPeriod]:
        return [
            ContractPeriod(index=p.index, starts_on=p.starts_on, ends_on=p.ends_on, contract_id=self.id)
            for p in periods_of(self.row)
        ]

    @strawberry.field(
        description="Ratings given by residents, flagged ones and those of deliveries later disputed or "
        "found false included (for those who see the details; else null). Kept in the period rollups; "
        "the scorecards count fewer (`Scorecard.ratingsCounted`)."
    )
    async def ratings_count(self, info: Info) -> int | None:
        return await context_of(info).loader(loaders.RatingsCountByContractLoader).load(self.id)

    @strawberry.field(description="Deliveries, newest first; empty for callers who may not see them.")
    async def deliveries(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> DeliveryConnection:
        with query_errors():
            key = (self.id, page_size(first), page_start(after))
        page = await context_of(info).loader(loaders.DeliveryPagesByContractLoader).load(key)
        return connection(page, Delivery.from_row)

    @strawberry.field(description="Complaints about it; empty for callers who may not see them.")
    async def complaints(self, info: Info) -> list[Complaint]:
        return await _listed(info, loaders.ComplaintsByContractLoader, self.id, Complaint.from_row)

    @strawberry.field(description="Audits of its periods; empty for callers who may not see them.")
    async def audits(self, info: Info) -> list[Audit]:
        return await _listed(info, loaders.AuditsByContractLoader, self.id, Audit.from_row)

    @classmethod
    def from_row(cls, row: m.Contract) -> Contract:
        return cls(
            id=row.id,
            status=row.status,
            status_reason=row.status_reason,
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
        return await _nodes(info, node_ids, loaders.VisibleContractByIdLoader, cls.from_row)


async def contract_of_tender(info: Info, tender_id: int) -> Contract | None:
    """`Tender.contract`: the tender's contract, when the caller may see it."""
    row = await context_of(info).loader(loaders.ContractByTenderLoader).load(tender_id)
    return None if row is None else Contract.from_row(row)


async def _contract_of(info: Info, contract_id: int) -> Contract:
    """The contract a row shown belongs to: whoever may see the row may see the contract."""
    return Contract.from_row(await context_of(info).loader(loaders.ContractByIdLoader).load(contract_id))


@strawberry.type(description="One payment period of a contract.")
class ContractPeriod:
    index: int = strawberry.field(description="1-based.")
    starts_on: dt.date
    ends_on: dt.date = strawberry.field(description="Last day of the period.")
    contract_id: strawberry.Private[int]

    # Downstream (scoring): lazy types, and the resolvers import scoring where they run, never here.
    @strawberry.field(
        description="The period's current scorecard, once finalised (null before); public with the contract."
    )
    async def scorecard(self, info: Info) -> Annotated["Scorecard", strawberry.lazy("scoring.types")] | None:  # noqa: F821, UP037
        from scoring.types import scorecard_of_period

        return await scorecard_of_period(info, self.contract_id, self.index)

    @strawberry.field(
        description="The period's payment (payout less holdback), once finalised; only for the contract's "
        "provider, the officers of its department and admins (null for others)."
    )
    async def payment(self, info: Info) -> Annotated["Payment", strawberry.lazy("scoring.types")] | None:  # noqa: F821, UP037
        from scoring.types import payment_of_period

        return await payment_of_period(info, self.contract_id, self.index)


@strawberry.type(description="A resident's rating of a delivery (SPEC §5.4).")
class Rating:
    stars: int = strawberry.field(description="1-5 overall.")
    timeliness: int | None = strawberry.field(description="1-5, optional.")
    attitude: int | None = strawberry.field(description="1-5, optional.")
    professionalism: int | None = strawberry.field(description="1-5, optional.")
    comment: str | None
    flagged: bool = strawberry.field(description="Kept but excluded from scoring until an officer clears it.")
    flag_reason: str | None = strawberry.field(description="Why it was flagged (kept after clearing).")
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: m.Rating) -> Rating:
        return cls(
            stars=row.stars,
            timeliness=row.timeliness,
            attitude=row.attitude,
            professionalism=row.professionalism,
            comment=row.comment,
            flagged=is_flagged(row),
            flag_reason=row.flag_reason,
            created_at=row.created_at,
        )


@strawberry.type(
    description="A service delivered to a resident; seen by whoever sees the contract's details."
)
class Delivery(relay.Node):
    id: relay.NodeID[int]
    delivered_on: dt.date
    units: int
    note: str | None
    recorded_at: dt.datetime
    disputed: bool = strawberry.field(description="The resident said it did not happen.")
    marked_false: bool = strawberry.field(description="An auditor's spot check found it did not happen.")
    verified: bool = strawberry.field(description="Counts for payment: neither disputed nor marked false.")
    row: strawberry.Private[m.Delivery]

    @strawberry.field
    async def contract(self, info: Info) -> Contract:
        return await _contract_of(info, self.row.contract_id)

    @strawberry.field(description="The resident's rating, if any.")
    async def rating(self, info: Info) -> Rating | None:
        row = await context_of(info).loader(loaders.RatingByDeliveryLoader).load(self.id)
        return Rating.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: m.Delivery) -> Delivery:
        return cls(
            id=row.id,
            delivered_on=row.delivered_on,
            units=row.units,
            note=row.note,
            recorded_at=row.recorded_at,
            disputed=row.disputed_at is not None,
            marked_false=row.marked_false_by_audit_id is not None,
            verified=is_verified(row),
            row=row,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await _nodes(info, node_ids, loaders.VisibleDeliveryByIdLoader, cls.from_row)


REFERENCE_DESCRIPTION = (
    "The number the resident quotes on the hotline, as shown on their page: 12 digits as 4-4-4 "
    "(3720-5481-9634), the last a check digit."
)


def _complaint_fields(row: m.Complaint) -> dict:
    """What the resident's and the officers' views of a complaint both show."""
    return {
        "reference": row.reference,
        "channel": row.channel,
        "category": row.category,
        "text": row.text,
        "status": row.status,
        "substantiated": row.substantiated,
        "response": row.response,
        "responded_at": row.responded_at,
        "resolution_note": row.resolution_note,
        "closed_at": row.closed_at,
        "created_at": row.created_at,
    }


@strawberry.type(description="A complaint about the delivery, as the resident sees it through the link.")
class ResidentComplaint:
    reference: str = strawberry.field(description=REFERENCE_DESCRIPTION)
    channel: str = strawberry.field(description="LINK (the resident) or HOTLINE (filed by an officer).")
    category: str = strawberry.field(
        description="Code of the complaint category (see `complaintCategories`)."
    )
    text: str
    status: ComplaintStatusType
    substantiated: bool | None = strawberry.field(description="Once RESOLVED: whether it was upheld.")
    response: str | None = strawberry.field(description="The provider's or the officer's first response.")
    responded_at: dt.datetime | None
    resolution_note: str | None = strawberry.field(description="The officer's decision, once closed.")
    closed_at: dt.datetime | None
    created_at: dt.datetime
    deadline: dt.datetime | None = strawberry.field(
        description="24 hours from filing to respond; 7 days to resolve once responded; null when closed."
    )

    @classmethod
    def from_row(cls, row: m.Complaint) -> ResidentComplaint:
        return cls(**_complaint_fields(row), deadline=current_deadline(row))


@strawberry.type(description="What a resident sees through the link sent to them.")
class ResidentDelivery:
    service_name: str
    provider_name: str
    delivered_on: dt.date
    units: int
    disputed: bool
    rating: Rating | None
    rating_editable_until: dt.datetime | None = strawberry.field(
        description="Until when the rating may be changed (48 hours after it was given); null when final."
    )
    dispute_until: dt.datetime = strawberry.field(description="Until when the delivery may be disputed.")
    link_valid_until: dt.datetime
    complaints: list[ResidentComplaint] = strawberry.field(
        description="Complaints about the delivery, by the link or the hotline, newest first."
    )

    @classmethod
    def from_view(cls, view: ResidentView) -> ResidentDelivery:
        return cls(
            service_name=view.service_name,
            provider_name=view.provider_name,
            delivered_on=view.delivery.delivered_on,
            units=view.delivery.units,
            disputed=view.delivery.disputed_at is not None,
            rating=Rating.from_row(view.rating) if view.rating else None,
            rating_editable_until=view.rating_editable_until,
            dispute_until=dispute_deadline(view.delivery),
            link_valid_until=view.delivery.token_expires_at,
            complaints=[ResidentComplaint.from_row(c) for c in view.complaints],
        )


@strawberry.type(description="A complaint (投诉) about a delivery, with its service-level light.")
class Complaint(relay.Node):
    id: relay.NodeID[int]
    reference: str = strawberry.field(description=REFERENCE_DESCRIPTION)
    channel: str = strawberry.field(description="LINK (the resident) or HOTLINE (filed by an officer).")
    category: str = strawberry.field(
        description="Code of the complaint category (see `complaintCategories`)."
    )
    text: str
    status: ComplaintStatusType
    substantiated: bool | None
    response: str | None
    responded_at: dt.datetime | None
    resolution_note: str | None
    closed_at: dt.datetime | None
    created_at: dt.datetime
    row: strawberry.Private[m.Complaint]

    @volatile_field(
        description="GREEN, YELLOW or RED by the share of the current deadline passed; null when closed."
    )
    async def light(self, info: Info) -> LightType | None:
        now = await context_of(info).loader(loaders.NowLoader).load(0)
        return complaint_light(self.row, now)

    @strawberry.field(description="24 hours from filing to respond; 7 days to resolve once responded.")
    def deadline(self) -> dt.datetime | None:
        return current_deadline(self.row)

    @strawberry.field
    async def contract(self, info: Info) -> Contract:
        return await _contract_of(info, self.row.contract_id)

    @strawberry.field
    async def delivery(self, info: Info) -> Delivery:
        return Delivery.from_row(
            await context_of(info).loader(loaders.DeliveryByIdLoader).load(self.row.delivery_id)
        )

    @classmethod
    def from_row(cls, row: m.Complaint) -> Complaint:
        return cls(id=row.id, **_complaint_fields(row), row=row)

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await _nodes(info, node_ids, loaders.VisibleComplaintByIdLoader, cls.from_row)


@strawberry.type(description="A checklist item of an audit.")
class AuditCheck:
    id: strawberry.ID
    item: str
    passed: bool
    weight: float
    severity: SeverityType
    note: str | None
    evidence: str | None
    overturned: bool = strawberry.field(description="Overturned on appeal: left out of the audit score.")

    @classmethod
    def from_row(cls, row: m.AuditCheck) -> AuditCheck:
        return cls(
            id=strawberry.ID(encode_id("AuditCheck", row.id)),
            item=row.item,
            passed=row.passed,
            weight=row.weight,
            severity=row.severity,
            note=row.note,
            evidence=row.evidence,
            overturned=row.overturned,
        )


@strawberry.type(description="The measured value of an AUDIT KPI.")
class KpiValue:
    kpi: Kpi
    value: float


@strawberry.type(description="A third-party audit (第三方评估) of one contract period.")
class Audit(relay.Node):
    id: relay.NodeID[int]
    period_index: int
    status: AuditStatusType
    submitted_at: dt.datetime | None
    row: strawberry.Private[m.Audit]

    @strawberry.field
    async def contract(self, info: Info) -> Contract:
        return await _contract_of(info, self.row.contract_id)

    @strawberry.field(description="Measured values of the contract's AUDIT KPIs.")
    async def kpi_values(self, info: Info) -> list[KpiValue]:
        rows = await context_of(info).loader(loaders.KpiValuesByAuditLoader).load(self.id)
        return [KpiValue(kpi=Kpi.from_row(kpi), value=value.value) for value, kpi in rows]

    @strawberry.field(description="Checklist items, in the order recorded.")
    async def checks(self, info: Info) -> list[AuditCheck]:
        return await _listed(info, loaders.ChecksByAuditLoader, self.id, AuditCheck.from_row)

    @strawberry.field(description="Appeals of the provider.")
    async def appeals(self, info: Info) -> list[Appeal]:
        return await _listed(info, loaders.AppealsByAuditLoader, self.id, Appeal.from_row)

    @strawberry.field(description="100 × weight of passed items / weight of all items, overturned left out.")
    async def score(self, info: Info) -> float:
        rows = await context_of(info).loader(loaders.ChecksByAuditLoader).load(self.id)
        return audit_score(rows)

    @classmethod
    def from_row(cls, row: m.Audit) -> Audit:
        return cls(
            id=row.id,
            period_index=row.period_index,
            status=row.status,
            submitted_at=row.submitted_at,
            row=row,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await _nodes(info, node_ids, loaders.VisibleAuditByIdLoader, cls.from_row)


@strawberry.type(description="An officer's decision on one appealed item.")
class AppealItemDecision:
    check_id: strawberry.ID
    upheld: bool = strawberry.field(description="False: the item was overturned and drops out.")
    note: str | None


@strawberry.type(description="A provider's appeal of audit items, within 10 days of the audit's submission.")
class Appeal(relay.Node):
    id: relay.NodeID[int]
    reason: str
    filed_at: dt.datetime
    decided: bool
    decisions: list[AppealItemDecision]
    row: strawberry.Private[m.Appeal]

    @strawberry.field
    async def audit(self, info: Info) -> Audit:
        return Audit.from_row(await context_of(info).loader(loaders.AuditByIdLoader).load(self.row.audit_id))

    @strawberry.field(description="The items appealed.")
    def check_ids(self) -> list[strawberry.ID]:
        return [strawberry.ID(encode_id("AuditCheck", i)) for i in self.row.check_ids]

    @classmethod
    def from_row(cls, row: m.Appeal) -> Appeal:
        return cls(
            id=row.id,
            reason=row.reason,
            filed_at=row.filed_at,
            decided=row.decided_at is not None,
            decisions=[
                AppealItemDecision(
                    check_id=strawberry.ID(encode_id("AuditCheck", d["check_id"])),
                    upheld=d["upheld"],
                    note=d["note"],
                )
                for d in row.decisions or []
            ],
            row=row,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return await _nodes(info, node_ids, loaders.VisibleAppealByIdLoader, cls.from_row)


@strawberry.type(
    description="A message the platform sent or queued. Only masks are shown, queued or sent: the clear "
    "number and link exist only sealed until the message is sent, and nowhere after."
)
class Notification:
    channel: str
    recipient: str = strawberry.field(description="The masked phone number (138****1234).")
    body: str = strawberry.field(description="The text, its link's token masked (/r/••••••).")
    status: str
    created_at: dt.datetime
    sent_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: m.Notification) -> Notification:
        return cls(
            channel=row.channel,
            recipient=row.recipient,
            body=row.body,
            status=row.status.value,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )


DeliveryConnection = Connection[Delivery]
ContractConnection = Connection[Contract]
ComplaintConnection = Connection[Complaint]
