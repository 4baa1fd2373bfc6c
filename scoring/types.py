"""GraphQL types of the scoring domain (SPEC §6)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from scoring import models as m

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


@strawberry.type(description="A payment to a provider for one contract period.")
class Payment(relay.Node):
    id: relay.NodeID[int]
    contract: Annotated[Contract, strawberry.lazy("contracts.types")]
    period_index: int
    amount: Decimal
    status: PaymentStatusType
    reference: str | None

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        return [None for _ in node_ids]


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
