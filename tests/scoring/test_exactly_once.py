"""Exactly-once sending (SPEC §6.2) under faults, the same tests against both backends.

Faults: the backend answers 500 or 429 (nothing done); the transfer is made and its answer is lost
(connection dropped, or held back past the client's timeout); the process dies after the claim is
committed and before the call, or after the call and before its result is committed. Whatever
happens, sending again until nothing is left to send pays each payment exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.auth import Actor
from core.db import create_sessionmaker
from core.errors import DomainError, ErrorCode
from scoring import payments
from scoring.models import LedgerEntry, Payment, PaymentStatus
from scoring.payouts import PayoutInterrupted, PayoutRefused, Transfer, TransferRequest
from scoring.payouts.ledger import LedgerBackend
from tests.contracts import world as contract_world
from tests.scoring.conftest import make_payment, stripe_backend_for
from tests.scoring.fake_stripe import FakeStripe

WIRE_FAULTS = ("500", "429", "drop", "timeout")
CRASHES = ("crash_before_call", "crash_after_call")


class Crash(Exception):
    """The sending process dies here: its open transaction is lost, nothing else."""


class FaultyBackend:
    """A backend with faults injected: the Stripe ones by the fake server, the same kinds simulated
    for the embedded ledger (whose booking shares the sender's transaction, so a lost answer loses
    the booking with it), and crashes of our own process on either side of the call."""

    def __init__(self, inner, fake: FakeStripe, plan):
        self.inner, self.fake, self.plan = inner, fake, plan
        self.name, self.recovers_by_reversal = inner.name, inner.recovers_by_reversal
        self.injected: Counter[str] = Counter()
        self.calls = 0

    async def transfer(self, session, request: TransferRequest) -> Transfer:
        self.calls += 1
        kind = self.plan()
        if kind:
            self.injected[kind] += 1
        if kind == "crash_before_call":
            raise Crash(kind)
        if kind in WIRE_FAULTS:
            if self.inner.name == "stripe":
                self.fake.fail_next(1, kind)
            elif kind in ("500", "429"):
                raise PayoutInterrupted(f"injected {kind}")
            else:
                await self.inner.transfer(session, request)
                raise PayoutInterrupted(f"injected {kind}: the answer was lost")
        transfer = await self.inner.transfer(session, request)
        if kind == "crash_after_call":
            raise Crash(kind)
        return transfer


def once(kind: str | None):
    """A plan that injects `kind` on the first call only."""
    given = [kind]
    return lambda: given.pop() if given else None


def seeded(rng: random.Random, *, faults: int, rate: float):
    """A plan that injects a random fault on a `rate` share of calls, `faults` in all."""
    left = [faults]

    def plan():
        if left[0] and rng.random() < rate:
            left[0] -= 1
            return rng.choice(WIRE_FAULTS + CRASHES)
        return None

    return plan


async def send_until_done(sessionmaker, actor: Actor, backend, *, rounds: int = 40) -> int:
    """What the operator does: `market payments send` again until nothing is left; returns the rounds."""
    for round_number in range(1, rounds + 1):
        async with sessionmaker() as session:
            ids = (await session.scalars(payments.sendable_statement())).all()
        if not ids:
            return round_number
        for payment_id in ids:
            with contextlib.suppress(Crash):
                await payments.send_batch(
                    sessionmaker=sessionmaker, actor=actor, backend=backend, ids=[payment_id]
                )
    raise AssertionError(f"payments still unsent after {rounds} rounds")


async def check_paid_exactly_once(
    session, backend_name: str, fake: FakeStripe, expected: dict[int, Decimal]
) -> None:
    rows = {
        p.id: p
        for p in (await session.scalars(select(Payment).execution_options(populate_existing=True))).all()
    }
    assert {i: rows[i].status for i in expected} == dict.fromkeys(expected, PaymentStatus.PAID), (
        "lost payments"
    )
    if backend_name == "stripe":
        transfers = fake.transfers_of_payment()
        assert {int(k): len(v) for k, v in transfers.items()} == {i: 1 for i, a in expected.items() if a}, (
            "duplicates"
        )
        assert {int(k): v[0]["id"] for k, v in transfers.items()} == {
            i: rows[i].reference for i, a in expected.items() if a
        }
        assert sum(t["amount"] for v in transfers.values() for t in v) == sum(
            int(a * 100) for a in expected.values()
        )
    else:
        legs = (await session.scalars(select(LedgerEntry))).all()
        by_payment = Counter(leg.payment_id for leg in legs)
        assert by_payment == {i: 2 for i, a in expected.items() if a}, "duplicate or half bookings"
        assert {leg.transaction for leg in legs} == {rows[i].reference for i, a in expected.items() if a}
        assert sum(leg.debit for leg in legs) == sum(leg.credit for leg in legs)
        credited = sum(leg.credit for leg in legs if leg.account.endswith(":payout"))
        assert credited == sum(expected.values())


@pytest.mark.parametrize("kind", [*WIRE_FAULTS, *CRASHES])
async def test_each_fault_is_recovered_with_the_same_key(
    session, sessionmaker, world, backend, fake_stripe, kind
):
    payment = await make_payment(session, world.contract, "2345.67")
    faulty = FaultyBackend(backend, fake_stripe, once(kind))
    with pytest.raises((DomainError, Crash)) as fault:
        await payments.send_batch(
            sessionmaker=sessionmaker, actor=world.officer, backend=faulty, ids=[payment.id]
        )
        raise DomainError(ErrorCode.PAYMENT_FAILED, "the batch reports the fault in its result")  # no crash
    await session.refresh(payment)
    assert payment.status == PaymentStatus.SENT and payment.reference is None, fault.value
    assert payment.idempotency_key == f"payment-{payment.id}-v1" and payment.attempts == 1

    result = await payments.send_batch(sessionmaker=sessionmaker, actor=world.officer, backend=faulty)
    assert result.paid == 1, result.problems
    await session.refresh(payment)
    assert (
        payment.idempotency_key == f"payment-{payment.id}-v1"
        and payment.version == 1
        and payment.attempts == 2
    )
    await check_paid_exactly_once(session, backend.name, fake_stripe, {payment.id: payment.amount})
    if backend.name == "stripe" and kind in ("drop", "timeout", "crash_after_call"):
        assert fake_stripe.replays == 1  # the retry was answered with the transfer already made


async def test_a_hundred_faults_pay_every_payment_once(session, sessionmaker, world, backend, fake_stripe):
    rng = random.Random(20261126)
    expected = {}
    for i in range(70):
        amount = Decimal("0.00") if i % 23 == 0 else Decimal(rng.randint(1, 9_999_999)) / 100
        expected[(await make_payment(session, world.contract, amount, period_index=i % 4 + 1)).id] = amount
    faulty = FaultyBackend(backend, fake_stripe, seeded(rng, faults=100, rate=0.7))

    rounds = await send_until_done(sessionmaker, world.officer, faulty)

    assert sum(faulty.injected.values()) == 100, faulty.injected
    assert set(faulty.injected) == {*WIRE_FAULTS, *CRASHES}
    await check_paid_exactly_once(session, backend.name, fake_stripe, expected)
    versions = (await session.scalars(select(Payment.version).distinct())).all()
    assert versions == [1]  # no fault was a refusal: every retry used the payment's first key
    assert rounds > 2


async def test_a_refusal_fails_the_payment_and_a_retry_is_a_new_version(
    session, sessionmaker, world, fake_stripe
):
    backend = await stripe_backend_for(session, world, fake_stripe)
    payment = await make_payment(session, world.contract, "99.00")
    provider_account = fake_stripe.accounts.copy()
    fake_stripe.accounts.clear()  # the connected account is gone: Stripe refuses the destination

    with pytest.raises(DomainError) as refused:
        await payments.send_payment(
            session=session, actor=world.officer, payment_id=payment.id, backend=backend
        )
    assert refused.value.code == ErrorCode.PAYMENT_FAILED and "No such destination" in str(refused.value)
    await session.refresh(payment)
    assert payment.status == PaymentStatus.FAILED and "No such destination" in payment.last_error

    fake_stripe.accounts.update(provider_account)
    result = await payments.send_batch(sessionmaker=sessionmaker, actor=world.officer, backend=backend)
    assert result.paid == 1
    await session.refresh(payment)
    assert (payment.status, payment.version, payment.idempotency_key, payment.attempts) == (
        PaymentStatus.PAID, 2, f"payment-{payment.id}-v2", 2,
    )  # fmt: skip
    assert len(fake_stripe.transfers) == 1


async def test_the_batch_gives_up_on_failed_payments_after_its_attempts(session, sessionmaker, world):
    class Refusing:
        name, recovers_by_reversal = "ledger", False

        async def transfer(self, session, request):
            raise PayoutRefused("no")

    payment = await make_payment(session, world.contract, "5.00")
    for _ in range(payments.BATCH_MAX_ATTEMPTS + 2):
        await payments.send_batch(sessionmaker=sessionmaker, actor=world.officer, backend=Refusing())
    await session.refresh(payment)
    assert payment.status == PaymentStatus.FAILED and payment.attempts == payments.BATCH_MAX_ATTEMPTS
    assert payment.version == payments.BATCH_MAX_ATTEMPTS


async def test_two_senders_never_both_call_the_backend(scratch_engine):
    """Real commits on a database of its own: two senders of one payment at the same moment."""
    sessionmaker = create_sessionmaker(scratch_engine)
    async with sessionmaker() as session:
        world = await contract_world.build(session, start_in_days=100)
        payment = await make_payment(session, world.contract, "700.00")
        officer = world.officer

    class Slow:
        name, recovers_by_reversal = "ledger", False
        calls = 0

        async def transfer(self, session, request):
            Slow.calls += 1
            await asyncio.sleep(0.3)  # the payment's row lock is held meanwhile
            return await LedgerBackend().transfer(session, request)

    async def sender():
        async with sessionmaker() as session:
            try:
                return (
                    await payments.send_payment(
                        session=session, actor=officer, payment_id=payment.id, backend=Slow()
                    )
                ).status
            except DomainError as error:
                return error.code
            finally:
                await session.commit()

    outcomes = await asyncio.gather(sender(), sender())
    assert Slow.calls == 1
    assert PaymentStatus.PAID in outcomes and set(outcomes) <= {PaymentStatus.PAID, ErrorCode.INVALID_STATE}
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 2


async def test_an_idempotency_conflict_is_not_a_refusal(session, world, fake_stripe):
    backend = await stripe_backend_for(session, world, fake_stripe)
    payment = await make_payment(session, world.contract, "60.00")
    other = {"amount": 1, "currency": "cny", "destination": next(iter(fake_stripe.accounts))}
    await backend.client.v1.transfers.create_async(other, {"idempotency_key": f"payment-{payment.id}-v1"})

    with pytest.raises(DomainError) as conflict:
        await payments.send_payment(
            session=session, actor=world.officer, payment_id=payment.id, backend=backend
        )
    assert conflict.value.code == ErrorCode.PAYMENT_FAILED and "stays SENT" in str(conflict.value)
    await session.refresh(payment)
    assert payment.status == PaymentStatus.SENT and "idempotency" in payment.last_error
