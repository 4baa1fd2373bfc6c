"""Mutations of the scoring domain (SPEC §6): payloads and thin resolvers."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from core.api import UserError, decode_id, mutate, mutation
from core.auth import Role
from market.types import Provider
from scoring import scorecards
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
