"""The embedded `ledger` payout backend: each send is a double-entry transaction in `ledger_entry`.

One transaction per (payment, version), named `ledger-<payment>-v<version>`:

- a payment: debit `department:<id>:payable`, credit `provider:<id>:payout`;
- a negative CORRECTION (money to recover): debit `provider:<id>:receivable`, credit
  `department:<id>:payable`: a receivable from the provider, never a transfer.

Its legs are written in the sender's own database transaction, so the booking and the payment's
PAID status commit together or not at all; the unique constraint on (payment, version, account)
makes a second booking of one version impossible, and a retry answers with the existing one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from scoring.models import LedgerEntry
from scoring.payouts import Transfer, TransferRequest


def department_payable(department_id: int) -> str:
    return f"department:{department_id}:payable"


def provider_payout(provider_id: int) -> str:
    return f"provider:{provider_id}:payout"


def provider_receivable(provider_id: int) -> str:
    return f"provider:{provider_id}:receivable"


def transaction_name(payment_id: int, version: int) -> str:
    return f"ledger-{payment_id}-v{version}"


class LedgerBackend:
    name = "ledger"
    recovers_by_reversal = False

    async def transfer(self, session: AsyncSession, request: TransferRequest) -> Transfer:
        existing = await _booked(session, request)
        if existing is not None:
            return Transfer(reference=existing, replayed=True)
        name = transaction_name(request.payment_id, request.version)
        amount = abs(request.amount)
        if request.amount >= 0:
            debit, credit = department_payable(request.department_id), provider_payout(request.provider_id)
        else:
            debit, credit = (
                provider_receivable(request.provider_id),
                department_payable(request.department_id),
            )
        now = await clock.now(session)
        legs = [
            LedgerEntry(transaction=name, payment_id=request.payment_id, payment_version=request.version,
                        account=debit, debit=amount, created_at=now),
            LedgerEntry(transaction=name, payment_id=request.payment_id, payment_version=request.version,
                        account=credit, credit=amount, created_at=now),
        ]  # fmt: skip
        try:
            async with session.begin_nested():
                session.add_all(legs)
        except IntegrityError:
            # Booked by someone else meanwhile: the constraint let one booking in, answer with it.
            existing = await _booked(session, request)
            if existing is None:
                raise
            return Transfer(reference=existing, replayed=True)
        return Transfer(reference=name)


async def _booked(session: AsyncSession, request: TransferRequest) -> str | None:
    return await session.scalar(
        select(LedgerEntry.transaction)
        .where(LedgerEntry.payment_id == request.payment_id, LedgerEntry.payment_version == request.version)
        .limit(1)
    )
