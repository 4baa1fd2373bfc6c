"""Payout backends: where an approved payment's money goes (SPEC §6.2), chosen by PAYOUT_BACKEND.

A backend makes one transfer per idempotency key: called again with the same key it answers with
the transfer it already made, so that a send retried after a crash or a lost response never pays
twice. It answers with a `Transfer`, or raises one of two errors:

- `PayoutRefused`: a definite no (bad account, insufficient balance...); nothing was transferred
  under this key, so the payment is FAILED and a retry sends a new version with a new key;
- `PayoutInterrupted`: no answer (timeout, connection lost, 5xx, 429): the transfer may or may not
  exist, so the payment stays SENT and is sent again with the same key.

Backends: `ledger` (embedded, the default: a double-entry transaction in `ledger_entry`, written in
the sender's own database transaction) and `stripe` (a Stripe Connect transfer in fen, currency cny).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings


@dataclass(frozen=True)
class TransferRequest:
    """What one send of one payment version asks of a backend."""

    payment_id: int
    version: int
    idempotency_key: str
    amount: Decimal
    """CNY; negative for money recovered from the provider (a CORRECTION)."""
    department_id: int
    provider_id: int
    destination: str | None
    """The provider's payout account (Stripe `acct_…`), when it has one."""
    original_transfer: str | None = None
    """For a negative amount: the transfer of the same period that this one partly takes back."""


@dataclass(frozen=True)
class Transfer:
    reference: str
    """The backend's own name of the transfer (ledger transaction, Stripe `tr_…` or `trr_…`)."""
    replayed: bool = False
    """The backend answered with a transfer it had already made for this key."""


class PayoutError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PayoutRefused(PayoutError):
    """A definite refusal: nothing was transferred under this key."""


class PayoutInterrupted(PayoutError):
    """No definite answer: retry with the same key."""


class PayoutBackend(Protocol):
    name: str
    recovers_by_reversal: bool
    """True when a negative amount can only be recovered by reversing the period's own transfer."""

    async def transfer(self, session: AsyncSession, request: TransferRequest) -> Transfer:
        """Make the transfer of `request` once per idempotency key (see the module's docstring).

        `session` is the sender's transaction, holding the payment's row lock; an embedded
        backend books in it, an external one ignores it.
        """
        ...


def backend_from_settings(settings: Settings) -> PayoutBackend:
    """The backend PAYOUT_BACKEND names, one per configuration (a Stripe client keeps its connections)."""
    if settings.payout_backend == "stripe":
        from scoring.payouts.stripe import stripe_backend

        return stripe_backend(
            api_key=settings.stripe_api_key,
            api_base=settings.stripe_api_base,
            timeout=settings.stripe_timeout_seconds,
        )
    from scoring.payouts.ledger import LedgerBackend

    return LedgerBackend()
