"""Payments (SPEC §6.2): approval, cancellation, and sending exactly once through a payout backend.

    CALCULATED → APPROVED → SENT → PAID
                     │        ├──→ FAILED (a definite refusal; sent again as a new version)
                     │        └──→ stays SENT (no answer; sent again with the same key)
                     └──→ CANCELLED (from CALCULATED or APPROVED only)

Sending is three steps, so that a crash or a lost answer at any point is recovered by sending again:

1. the claim, committed: the payment locked, SENT, its backend and its idempotency key
   `payment-<id>-v<version>` written, `attempts` counted;
2. the backend's transfer with that key, in a new transaction that holds the payment's row lock
   (SQLite: the database's write lock), so that two senders never call the backend for one version
   at the same time, and the second finds the first's result;
3. the result, committed in that same transaction: PAID with the transfer's reference; FAILED on a
   definite refusal; still SENT, the error noted, when the backend did not answer.

A SENT payment without a reference is "in flight": sending it again repeats step 2 with the same key,
and the backend answers with the transfer it made, if it made one. Retrying a FAILED payment raises
its version, hence a new key: the refused transfer does not exist, so a new one is made.

A zero amount is PAID without a transfer. A negative CORRECTION (money to recover) is never a
transfer: the ledger books it as a receivable from the provider; Stripe reverses that much of the
period's own transfer, and a period without one leaves the payment APPROVED with a clear error.
A payment of a SUSPENDED contract is neither approved nor sent (CONTRACT_SUSPENDED).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.models import Contract
from core import clock, journal
from core.auth import Actor
from core.db import unit_of_work
from core.errors import DomainError, ErrorCode
from market.models import Provider
from scoring import access, scorecards
from scoring.models import Payment, PaymentKind, PaymentStatus, WebhookEvent
from scoring.payouts import PayoutBackend, PayoutInterrupted, PayoutRefused, TransferRequest

BATCH_MAX_ATTEMPTS = 5
"""`market payments send` sends a FAILED payment again while it has had fewer attempts than this;
after that only an officer's (or admin's) `sendPayment` does."""


def idempotency_key(payment: Payment) -> str:
    """The key of the payment's current version: every send of that version uses it."""
    return f"payment-{payment.id}-v{payment.version}"


def in_flight(payment: Payment) -> bool:
    """Claimed for sending, with no answer recorded: it is sent again with the same key."""
    return payment.status == PaymentStatus.SENT and payment.reference is None


# ---------------------------------------------------------------- finding a payment


async def _payment(
    session: AsyncSession, actor: Actor | None, payment_id: int, *, allowed: Callable[..., bool]
) -> tuple[Payment, Contract]:
    """The payment and its contract, both locked (contract first, as every writer of a contract),
    for a caller that `allowed`; NOT_FOUND for callers who may not see it, as for no payment."""
    found = await session.get(Payment, payment_id)
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no payment with this ID", field=["id"])
    contract = await session.get(Contract, found.contract_id, with_for_update=True, populate_existing=True)
    payment = await session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    if not access.can_see_payment(actor, contract):
        raise DomainError(ErrorCode.NOT_FOUND, "no payment with this ID", field=["id"])
    if not allowed(actor, contract):
        raise access.refusal(actor, "only officers of the purchasing department may do this")
    return payment, contract


def _wrong_state(payment: Payment, action: str, expected: str) -> DomainError:
    return DomainError(
        ErrorCode.INVALID_STATE,
        f"the payment is {payment.status.value}; only {expected} payments can be {action}",
    )


def payments_statement(*, actor: Actor | None, status: PaymentStatus | None = None) -> Select:
    """The payments the caller may see, oldest first."""
    statement = access.visible_payments(actor)
    if status is not None:
        statement = statement.where(Payment.status == status)
    return statement.order_by(Payment.id)


# ---------------------------------------------------------------- approving and cancelling


async def approve_payment(*, session: AsyncSession, actor: Actor, payment_id: int) -> Payment:
    """CALCULATED → APPROVED, by an officer of the purchasing department."""
    payment, contract = await _payment(session, actor, payment_id, allowed=access.may_approve_payment)
    scorecards.require_payable(contract)
    if payment.status != PaymentStatus.CALCULATED:
        raise _wrong_state(payment, "approved", "CALCULATED")
    before = journal.snapshot(payment)
    payment.status = PaymentStatus.APPROVED
    payment.approved_at = await clock.now(session)
    payment.approved_by_id = actor.user_id
    await journal.record(session, actor=actor, action="payment.approved", entity=payment, before=before)
    return payment


async def cancel_payment(*, session: AsyncSession, actor: Actor, payment_id: int) -> Payment:
    """CALCULATED or APPROVED → CANCELLED, by an officer of the purchasing department: never once sent."""
    payment, _contract = await _payment(session, actor, payment_id, allowed=access.may_approve_payment)
    if payment.status not in (PaymentStatus.CALCULATED, PaymentStatus.APPROVED):
        raise _wrong_state(payment, "cancelled", "CALCULATED or APPROVED")
    before = journal.snapshot(payment)
    payment.status = PaymentStatus.CANCELLED
    await journal.record(session, actor=actor, action="payment.cancelled", entity=payment, before=before)
    return payment


# ---------------------------------------------------------------- sending


@dataclass(frozen=True)
class _Claim:
    key: str
    request: TransferRequest


async def _period_transfer(session: AsyncSession, payment: Payment, backend: str) -> str | None:
    """The transfer that paid the same period (what a negative correction reverses), if any."""
    return await session.scalar(
        select(Payment.reference)
        .where(
            Payment.contract_id == payment.contract_id,
            Payment.period_index == payment.period_index,
            Payment.kind == PaymentKind.PERIOD,
            Payment.status == PaymentStatus.PAID,
            Payment.backend == backend,
            Payment.reference.is_not(None),
        )
        .order_by(Payment.id.desc())
        .limit(1)
    )


async def _claim(
    session: AsyncSession, actor: Actor, payment_id: int, backend: PayoutBackend
) -> tuple[Payment, _Claim | None]:
    """Step 1: lock, check, and mark the payment SENT with its key (None: nothing to transfer)."""
    payment, contract = await _payment(session, actor, payment_id, allowed=access.may_send_payment)
    scorecards.require_payable(contract)
    before = journal.snapshot(payment)
    if payment.status == PaymentStatus.FAILED:
        payment.version += 1  # the refused transfer does not exist: a new one, under a new key
        payment.reference = None
    elif in_flight(payment):
        if payment.backend != backend.name:
            raise DomainError(
                ErrorCode.INVALID_STATE,
                f"the payment is being sent through {payment.backend}; finish it there "
                f"(PAYOUT_BACKEND={payment.backend})",
            )
    elif payment.status != PaymentStatus.APPROVED:
        raise _wrong_state(payment, "sent", "APPROVED, FAILED or unanswered SENT")
    now = await clock.now(session)
    if payment.amount == 0:
        payment.status, payment.sent_at, payment.paid_at, payment.last_error = (
            PaymentStatus.PAID, now, now, None,
        )  # fmt: skip
        await journal.record(session, actor=actor, action="payment.paid", entity=payment, before=before)
        return payment, None
    original = None
    if payment.amount < 0 and backend.recovers_by_reversal:
        original = await _period_transfer(session, payment, backend.name)
        if original is None:
            raise DomainError(
                ErrorCode.PAYMENT_FAILED,
                f"this correction recovers {-payment.amount} CNY by reversing the {backend.name} transfer "
                f"of period {payment.period_index}, and that period has none; it stays APPROVED: recover "
                "the money outside the platform, then cancel it",
            )
    provider = await session.get(Provider, contract.provider_id)
    payment.status = PaymentStatus.SENT
    payment.backend = backend.name
    payment.idempotency_key = idempotency_key(payment)
    payment.attempts += 1
    payment.sent_at = now
    await journal.record(session, actor=actor, action="payment.sending", entity=payment, before=before)
    request = TransferRequest(
        payment_id=payment.id,
        version=payment.version,
        idempotency_key=payment.idempotency_key,
        amount=payment.amount,
        department_id=contract.department_id,
        provider_id=contract.provider_id,
        destination=provider.payout_account,
        original_transfer=original,
    )
    return payment, _Claim(key=payment.idempotency_key, request=request)


async def send_payment(
    *, session: AsyncSession, actor: Actor, payment_id: int, backend: PayoutBackend
) -> Payment:
    """Send an APPROVED payment, send a FAILED one again (new version), or finish an unanswered one.

    Commits twice (the claim, then the result); raises PAYMENT_FAILED, after committing what it
    learnt, when the backend refused (FAILED) or did not answer (still SENT).
    """
    payment, claim = await _claim(session, actor, payment_id, backend)
    await session.commit()
    if claim is None:
        return payment
    payment = await session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    if not (in_flight(payment) and payment.idempotency_key == claim.key):
        return payment  # another sender got this version's answer first
    before = journal.snapshot(payment)
    try:
        async with session.begin_nested():  # an embedded backend's booking goes with a failed call
            transfer = await backend.transfer(session, claim.request)
    except PayoutRefused as error:
        payment.status = PaymentStatus.FAILED
        payment.last_error = error.message
        await journal.record(session, actor=actor, action="payment.failed", entity=payment, before=before)
        await session.commit()
        raise DomainError(
            ErrorCode.PAYMENT_FAILED, f"{error.message}; the payment is FAILED (send it again to retry)"
        ) from error
    except PayoutInterrupted as error:
        payment.last_error = error.message
        await journal.record(session, actor=actor, action="payment.unanswered", entity=payment, before=before)
        await session.commit()
        raise DomainError(
            ErrorCode.PAYMENT_FAILED,
            f"{error.message}; the payment stays SENT and is sent again with the same idempotency key",
        ) from error
    payment.reference = transfer.reference
    payment.status = PaymentStatus.PAID
    payment.paid_at = await clock.now(session)
    payment.last_error = None
    await journal.record(session, actor=actor, action="payment.paid", entity=payment, before=before)
    return payment


def sendable_statement() -> Select:
    """IDs of the payments the batch sends: APPROVED, unanswered SENT, and FAILED ones with attempts left."""
    return (
        select(Payment.id)
        .where(
            or_(
                Payment.status == PaymentStatus.APPROVED,
                and_(Payment.status == PaymentStatus.SENT, Payment.reference.is_(None)),
                and_(Payment.status == PaymentStatus.FAILED, Payment.attempts < BATCH_MAX_ATTEMPTS),
            )
        )
        .order_by(Payment.id)
    )


@dataclass
class BatchResult:
    paid: int = 0
    failed: int = 0
    """Refused by the backend: FAILED."""
    unanswered: int = 0
    """No answer: still SENT, sent again next time with the same key."""
    held: int = 0
    """Not sent: suspended contract, a correction with nothing to reverse, or changed meanwhile."""
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.paid} paid, {self.failed} failed, {self.unanswered} unanswered, {self.held} held"


async def send_batch(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    actor: Actor,
    backend: PayoutBackend,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
    ids: Sequence[int] | None = None,
) -> BatchResult:
    """Send every sendable payment (or those of `ids`), each in its own transactions, in ID order."""
    if ids is None:
        async with sessionmaker() as session:
            statement = sendable_statement()
            ids = (await session.scalars(statement.limit(limit) if limit else statement)).all()
    result = BatchResult()
    for payment_id in ids:
        async with sessionmaker() as session:
            try:
                async with unit_of_work(session):
                    payment = await send_payment(
                        session=session, actor=actor, payment_id=payment_id, backend=backend
                    )
            except DomainError as error:
                if error.code != ErrorCode.PAYMENT_FAILED:
                    result.held += 1
                elif (await session.get(Payment, payment_id)).status == PaymentStatus.FAILED:
                    result.failed += 1
                else:
                    result.unanswered += 1
                result.problems.append(f"payment {payment_id}: {error.code.value}: {error}")
            else:
                if payment.status == PaymentStatus.PAID:
                    result.paid += 1
                else:
                    result.held += 1
        if progress is not None:
            progress(1)
    return result


# ---------------------------------------------------------------- payout accounts

STRIPE_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]{6,60}")


async def set_payout_account(
    *, session: AsyncSession, actor: Actor, provider_id: int, account: str
) -> Provider:
    """The provider's Stripe connected account (`acct_…`), where the stripe backend transfers its money.

    Refused while one of its payments is in flight: that send must be repeated to the same account.
    """
    if not access.may_set_payout_account(actor, provider_id):
        raise access.refusal(actor, "only the provider's own staff, an officer or an admin may do this")
    account = account.strip()
    if not STRIPE_ACCOUNT.fullmatch(account):
        raise DomainError(
            ErrorCode.INVALID,
            "a Stripe connected account ID, acct_ followed by letters and digits",
            field=["account"],
        )
    provider = await session.get(Provider, provider_id, with_for_update=True, populate_existing=True)
    if provider is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no provider with this ID", field=["providerId"])
    sending = await session.scalar(
        select(
            exists().where(
                Payment.contract_id == Contract.id,
                Contract.provider_id == provider_id,
                Payment.status == PaymentStatus.SENT,
                Payment.reference.is_(None),
            )
        )
    )
    if sending:
        raise DomainError(
            ErrorCode.INVALID_STATE,
            "a payment to the current account is being sent; change the account once it is PAID or FAILED",
        )
    before = journal.snapshot(provider)
    provider.payout_account = account
    await journal.record(
        session, actor=actor, action="provider.payout_account_set", entity=provider, before=before
    )
    return provider


# ---------------------------------------------------------------- reversals reported by the backend


def _fen(amount) -> int:
    return int(abs(amount) * 100)


async def record_transfer_reversed(
    *, session: AsyncSession, event_id: str, event_type: str, transfer: dict
) -> Payment | None:
    """A Stripe transfer was reversed (`transfer.reversed`): what it means for the payment it made.

    Reversals we made ourselves (negative corrections, which carry a payment ID in their metadata)
    change nothing. A transfer reversed in full outside the platform, with no reversal of ours on
    it, means the provider was not paid: the payment is FAILED, and sending it again makes a new
    transfer. A partial outside reversal leaves the payment PAID with the reversal noted in
    `lastError` for an officer to settle. Each event is handled once (a replay changes nothing).
    """
    if await session.get(WebhookEvent, event_id) is not None:
        return None
    payment = await session.scalar(
        select(Payment)
        .where(Payment.backend == "stripe", Payment.reference == str(transfer.get("id")))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    session.add(
        WebhookEvent(
            id=event_id,
            type=event_type,
            payment_id=payment.id if payment else None,
            received_at=await clock.now(session),
        )
    )
    if payment is None or payment.status != PaymentStatus.PAID:
        return None
    reversals = (transfer.get("reversals") or {}).get("data") or []
    ours = sum(int(r.get("amount") or 0) for r in reversals if (r.get("metadata") or {}).get("payment_id"))
    outside = int(transfer.get("amount_reversed") or 0) - ours
    if outside <= 0:
        return None
    before = journal.snapshot(payment)
    reversed_cny = f"{outside / 100:.2f} CNY"
    if ours == 0 and outside >= _fen(payment.amount):
        payment.status = PaymentStatus.FAILED
        payment.last_error = (
            f"transfer {payment.reference} was reversed in full by Stripe (event {event_id}); "
            "send the payment again to pay it with a new transfer"
        )
    else:
        payment.last_error = (
            f"transfer {payment.reference}: {reversed_cny} reversed outside the platform (event {event_id}); "
            "the payment stays PAID: settle the difference with the provider"
        )
    await journal.record(session, actor=None, action="payment.reversed", entity=payment, before=before)
    return payment
