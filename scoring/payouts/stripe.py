"""The `stripe` payout backend: a Stripe Connect transfer per payment version, through the official SDK.

A payment is a Transfer of its amount in fen (currency cny) to the provider's connected account
(`Provider.payout_account`, `acct_…`), with the payment's idempotency key in the request options
and the payment's ID and version in its metadata. Transfers to connected accounts are final when
created, so a created transfer is a PAID payment; a later reversal arrives by webhook.

A negative CORRECTION is never a transfer: it reverses that much of the same period's own transfer
(`POST /v1/transfers/{id}/reversals`, same idempotency rule); the payments service refuses one
whose period has no Stripe transfer before anything is sent.

Retries: `max_network_retries=0`. Our send is already a durable retry loop: the key is committed
before the call, every attempt is counted and journaled, and an unanswered send stays SENT until
`sendPayment` or `market payments send` repeats it with the same key. Retries inside the SDK would
sleep (0.5-5 s each) while the sender holds the payment's row lock, which on SQLite is the
database's only write lock, and would hide attempts from the payment's record.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, ErrorCode
from scoring.payouts import PayoutInterrupted, PayoutRefused, Transfer, TransferRequest

MAX_NETWORK_RETRIES = 0
CURRENCY = "cny"


def fen(amount) -> int:
    """CNY to integer fen, for the wire (amounts are exact to the fen already)."""
    return int(abs(amount) * 100)


class StripeBackend:
    name = "stripe"
    recovers_by_reversal = True

    def __init__(self, client: stripe.StripeClient):
        self.client = client

    async def transfer(self, session: AsyncSession, request: TransferRequest) -> Transfer:
        options = {"idempotency_key": request.idempotency_key}
        metadata = {"payment_id": str(request.payment_id), "payment_version": str(request.version)}
        try:
            if request.amount > 0:
                if not request.destination:
                    raise PayoutRefused(
                        "the provider has no payout account: its staff or an officer sets one (acct_…) "
                        "with setPayoutAccount"
                    )
                made = await self.client.v1.transfers.create_async(
                    {
                        "amount": fen(request.amount),
                        "currency": CURRENCY,
                        "destination": request.destination,
                        "metadata": metadata,
                    },
                    options,
                )
            else:
                if not request.original_transfer:
                    raise PayoutRefused("no transfer of this period to reverse")
                made = await self.client.v1.transfers.reversals.create_async(
                    request.original_transfer, {"amount": fen(request.amount), "metadata": metadata}, options
                )
        except stripe.IdempotencyError as error:
            # The key is ours alone and its parameters never change; a conflict means another send of
            # the same key is in flight or Stripe still holds it: not a refusal of the payment.
            raise PayoutInterrupted(f"Stripe idempotency conflict: {error.user_message or error}") from error
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise PayoutInterrupted(f"Stripe did not answer: {type(error).__name__}") from error
        except stripe.StripeError as error:
            status = error.http_status or 0
            if 400 <= status < 500:
                raise PayoutRefused(
                    f"Stripe refused the transfer ({status}): {error.user_message or error}"
                ) from error
            raise PayoutInterrupted(
                f"Stripe failed ({status or 'no status'}): {error.user_message or error}"
            ) from error
        response = made.last_response
        replayed = bool(response and response.headers.get("Idempotent-Replayed") == "true")
        return Transfer(reference=made.id, replayed=replayed)


def stripe_backend(*, api_key: str, api_base: str, timeout: float) -> StripeBackend:
    """The backend for this configuration, one per event loop (its HTTP connections belong to one)."""
    if not api_key.strip():
        raise DomainError(ErrorCode.PAYMENT_FAILED, "PAYOUT_BACKEND=stripe needs STRIPE_API_KEY to be set")
    return _stripe_backend(api_key, api_base, timeout, id(asyncio.get_running_loop()))


@lru_cache(maxsize=8)
def _stripe_backend(api_key: str, api_base: str, timeout: float, _loop: int) -> StripeBackend:
    client = stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=MAX_NETWORK_RETRIES,
        http_client=stripe.HTTPXClient(timeout=timeout),
    )
    return StripeBackend(client)
