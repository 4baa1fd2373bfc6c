"""Mutations of payments and payout accounts (SPEC §6.2): thin resolvers over `scoring.payments`."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from core.api import UserError, context_of, mutate, mutation
from core.auth import Actor, Role
from market.mutations import Id, call
from market.types import Provider
from scoring import payments
from scoring.mutations import PaymentPayload
from scoring.payouts import backend_from_settings
from scoring.types import Payment


@strawberry.type(
    description="The provider with its new payout account, or errors (then nothing was written)."
)
class PayoutAccountPayload:
    provider: Provider | None = None
    payout_account: str | None = strawberry.field(default=None, description="The account now set.")
    errors: list[UserError] = strawberry.field(description="User mistakes; empty on success.")


def _payment(row) -> dict[str, Any]:
    return {"payment": Payment.from_row(row)}


@strawberry.type
class PaymentMutation:
    @mutation(
        "OFFICER of the purchasing department: approve a CALCULATED payment for sending. Refused "
        "(CONTRACT_SUSPENDED) while the contract is suspended.",
        roles=[Role.OFFICER],
    )
    async def approve_payment(self, info: Info, id: strawberry.ID) -> PaymentPayload:
        return await mutate(
            info, PaymentPayload, call(payments.approve_payment, payment_id=Id(id, "Payment")), _payment
        )

    @mutation(
        "OFFICER of the purchasing department: cancel a payment never sent (CALCULATED or APPROVED).",
        roles=[Role.OFFICER],
    )
    async def cancel_payment(self, info: Info, id: strawberry.ID) -> PaymentPayload:
        return await mutate(
            info, PaymentPayload, call(payments.cancel_payment, payment_id=Id(id, "Payment")), _payment
        )

    @mutation(
        "OFFICER of the purchasing department, or ADMIN: send an APPROVED payment through PAYOUT_BACKEND, "
        "exactly once. A FAILED payment is sent again as a new version; an unanswered SENT one is sent "
        "again with the same idempotency key, so it is never paid twice. PAYMENT_FAILED: the backend "
        "refused (now FAILED) or did not answer (still SENT); CONTRACT_SUSPENDED: held.",
        roles=[Role.OFFICER, Role.ADMIN],
    )
    async def send_payment(self, info: Info, id: strawberry.ID) -> PaymentPayload:
        settings = context_of(info).settings

        async def action(session: AsyncSession, actor: Actor | None):
            return await payments.send_payment(
                session=session,
                actor=actor,
                payment_id=Id(id, "Payment").value(),
                backend=backend_from_settings(settings),
            )

        return await mutate(info, PaymentPayload, action, _payment)

    @mutation(
        "The provider's own staff, an OFFICER or an ADMIN: the Stripe connected account (acct_…) that "
        "the provider's payments are transferred to. Refused while one of its payments is being sent.",
        roles=[Role.PROVIDER, Role.OFFICER, Role.ADMIN],
    )
    async def set_payout_account(
        self, info: Info, provider_id: strawberry.ID, account: str
    ) -> PayoutAccountPayload:
        action = call(
            payments.set_payout_account,
            provider_id=Id(provider_id, "Provider", "providerId"),
            account=account,
        )
        return await mutate(
            info,
            PayoutAccountPayload,
            action,
            lambda row: {"provider": Provider.from_row(row), "payout_account": row.payout_account},
        )
