"""Payloads of the scoring domain (SPEC §6); their mutations come with the scoring issue."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from core.api import UserError, mutate, mutation
from core.auth import Role
from market.types import Provider
from scoring import certification
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


@strawberry.type(description="What a certification run did, or errors (then nothing was written).")
class CertificationRunPayload:
    providers: list[Provider] = strawberry.field(
        default_factory=list,
        description="Providers whose certificate was issued or changed (revoked) by this run, in ID order.",
    )
    issued: int | None = strawberry.field(default=None, description="Certificates issued; null on errors.")
    revoked: int | None = strawberry.field(
        default=None, description="Certificates revoked (provider suspended or debarred); null on errors."
    )
    unchanged: int | None = strawberry.field(
        default=None,
        description="Providers whose certificate as of this date already said the same; null on errors.",
    )
    errors: list[UserError]


CONTRACT_TYPES = [ScorecardPayload, PaymentPayload, CertificationRunPayload]


@strawberry.type
class CertificationMutation:
    @mutation(
        "ADMIN: certify every provider as of a date (not in the future, not before the latest run's): ACTIVE "
        "providers get a certificate (UNRATED without 2 periods and 30 ratings), SUSPENDED and DEBARRED ones "
        "lose theirs. Running again for the same date issues nothing new unless a result changed.",
        roles=[Role.ADMIN],
    )
    async def run_certification(self, info: Info, as_of: dt.date) -> CertificationRunPayload:
        return await mutate(info, CertificationRunPayload, lambda s, a: certification.run_certification(
            session=s, actor=a, as_of=as_of,
        ), lambda result: {
            "providers": [Provider.from_row(p) for p in result.providers],
            "issued": len(result.issued), "revoked": len(result.revoked), "unchanged": result.unchanged,
        })  # fmt: skip
