"""Mutations of the scoring domain (SPEC §6): payloads and thin resolvers."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from core.api import UserError, decode_id, mutate, mutation
from core.auth import Role
from market.types import Provider
from scoring import certification, scorecards
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


def _finalized(done: scorecards.Finalized) -> dict:
    return {
        "scorecard": Scorecard.from_row(done.scorecard),
        "payment": Payment.from_row(done.payment) if done.payment else None,
    }


@strawberry.type
class Mutation:
    @mutation(
        "OFFICER of the contract's department: finalise a period's scorecard and its payment (payout less "
        "holdback, CALCULATED). TOO_EARLY until the period's last day has passed, AUDIT_MISSING until its "
        "audit is submitted, APPEAL_OPEN while an appeal of it is undecided, INVALID for an index outside "
        "the contract's periods. Again: the same scorecard, nothing new.",
        roles=[Role.OFFICER],
    )
    async def finalize_period(
        self, info: Info, contract_id: strawberry.ID, period_index: int
    ) -> ScorecardPayload:
        return await mutate(info, ScorecardPayload, lambda s, a: scorecards.finalize_period(
            session=s, actor=a, contract_id=decode_id(contract_id, "Contract", field=["contractId"]),
            period_index=period_index,
        ), _finalized)  # fmt: skip


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
