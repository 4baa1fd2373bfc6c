"""GraphQL types of the scoring domain (SPEC §6)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from contracts.loaders import ContractByIdLoader
from core.api import context_of, parse_pk
from scoring import models as m
from scoring.loaders import VisiblePaymentByIdLoader

if TYPE_CHECKING:
    from contracts.types import Contract

TierType = strawberry.enum(m.Tier, name="Tier", description="A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, E < 60.")
PaymentStatusType = strawberry.enum(m.PaymentStatus, name="PaymentStatus")


@strawberry.type(description="The score of one contract period and the payment it earns.")
class Scorecard:
    version: int
    ratings_counted: int
    satisfaction: float
    kpi_score: float
    audit_score: float
    composite: float
    tier: TierType
    verified_units: int
    base: Decimal
    payout: Decimal
    holdback: Decimal


PaymentKindType = strawberry.enum(m.PaymentKind, name="PaymentKind")


@strawberry.type(
    description="A payment to a provider for one contract period. Seen by admins, the purchasing "
    "department's officers and the contracted provider."
)
class Payment(relay.Node):
    id: relay.NodeID[int]
    period_index: int = strawberry.field(
        description="The period paid or corrected; 0 for the holdback release."
    )
    amount: Decimal = strawberry.field(description="CNY; negative for money recovered from the provider.")
    status: PaymentStatusType
    reference: str | None = strawberry.field(
        description="The payout backend's transfer: a ledger transaction, Stripe tr_… or trr_… (a reversal)."
    )
    kind: PaymentKindType
    version: int = strawberry.field(description="Raised each time a FAILED payment is sent again.")
    attempts: int = strawberry.field(description="Calls made to the payout backend, retries included.")
    last_error: str | None = strawberry.field(
        description="Why the last send failed or went unanswered, or a reversal reported afterwards."
    )
    sent_at: dt.datetime | None
    paid_at: dt.datetime | None
    contract_id: strawberry.Private[int]

    @strawberry.field(description="Whoever sees the payment sees its contract.")
    async def contract(self, info: Info) -> Annotated[Contract, strawberry.lazy("contracts.types")]:
        from contracts.types import Contract as ContractType

        row = await context_of(info).loader(ContractByIdLoader).load(self.contract_id)
        return ContractType.from_row(row)

    @classmethod
    def from_row(cls, row: m.Payment) -> Payment:
        return cls(
            id=row.id,
            period_index=row.period_index or 0,
            amount=row.amount,
            status=row.status,
            reference=row.reference,
            kind=row.kind,
            version=row.version,
            attempts=row.attempts,
            last_error=row.last_error,
            sent_at=row.sent_at,
            paid_at=row.paid_at,
            contract_id=row.contract_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        loader = context_of(info).loader(VisiblePaymentByIdLoader)
        rows = await loader.load_many([parse_pk(i) or 0 for i in node_ids])
        return [None if row is None else cls.from_row(row) for row in rows]


@strawberry.type(description="A service-quality star certificate (服务质量星级认证).")
class Certification:
    stars: int | None = strawberry.field(description="1-5, or null when UNRATED.")
    rated: bool
    score: float | None
    code: str = strawberry.field(description="Public verification code.")
    issued_on: dt.date
    valid_until: dt.date
    periods_counted: int
    ratings_counted: int


async def current_certification(info: Info, *, provider_id: int) -> Certification | None:
    """No certification run exists before the scoring issue, so no provider holds a certificate."""
    return None
