"""Payloads of the scoring domain (SPEC §6); their mutations come with the scoring issue."""

from __future__ import annotations

import strawberry

from core.api import UserError
from market.types import Provider
from scoring.types import Payment, Scorecard


@strawberry.type
class ScorecardPayload:
    scorecard: Scorecard | None = None
    payment: Payment | None = None
    errors: list[UserError]


@strawberry.type
class PaymentPayload:
    payment: Payment | None = None
    errors: list[UserError]


@strawberry.type
class CertificationRunPayload:
    providers: list[Provider] = strawberry.field(
        description="Providers whose certificate was issued or changed by this run."
    )
    errors: list[UserError]


CONTRACT_TYPES = [ScorecardPayload, PaymentPayload, CertificationRunPayload]
