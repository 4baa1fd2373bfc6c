"""The payment state machine (SPEC §6.2): who approves, cancels and sends, and from which states."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from contracts import lifecycle
from core.errors import DomainError, ErrorCode
from core.models import JournalEvent
from scoring import payments
from scoring.models import LedgerEntry, PaymentKind, PaymentStatus
from tests.scoring.conftest import make_payment


async def test_officer_approves_then_sends_once(session, world, backend):
    payment = await make_payment(session, world.contract, "1234.56", status=PaymentStatus.CALCULATED)
    await payments.approve_payment(session=session, actor=world.officer, payment_id=payment.id)
    await session.commit()
    assert payment.status == PaymentStatus.APPROVED and payment.approved_by_id == world.officer.user_id

    sent = await payments.send_payment(
        session=session, actor=world.officer, payment_id=payment.id, backend=backend
    )
    await session.commit()
    assert sent.status == PaymentStatus.PAID
    assert sent.idempotency_key == f"payment-{payment.id}-v1" and sent.attempts == 1
    assert sent.backend == backend.name and sent.reference

    with pytest.raises(DomainError) as again:
        await payments.send_payment(
            session=session, actor=world.officer, payment_id=payment.id, backend=backend
        )
    assert again.value.code == ErrorCode.INVALID_STATE and "PAID" in str(again.value)
    actions = (
        await session.scalars(
            select(JournalEvent.action).where(
                JournalEvent.entity_type == "Payment", JournalEvent.entity_id == str(payment.id)
            )
        )
    ).all()
    assert actions == ["payment.approved", "payment.sending", "payment.paid"]


async def test_calculated_payment_is_not_sent(session, world, backend):
    payment = await make_payment(session, world.contract, "10.00", status=PaymentStatus.CALCULATED)
    with pytest.raises(DomainError) as refused:
        await payments.send_payment(
            session=session, actor=world.officer, payment_id=payment.id, backend=backend
        )
    assert refused.value.code == ErrorCode.INVALID_STATE
    assert "CALCULATED" in str(refused.value)


async def test_approve_only_calculated(session, world):
    payment = await make_payment(session, world.contract, "10.00")
    with pytest.raises(DomainError) as refused:
        await payments.approve_payment(session=session, actor=world.officer, payment_id=payment.id)
    assert refused.value.code == ErrorCode.INVALID_STATE


async def test_cancel_before_sent_only(session, world, backend):
    calculated = await make_payment(session, world.contract, "10.00", status=PaymentStatus.CALCULATED)
    approved = await make_payment(session, world.contract, "11.00")
    for payment in (calculated, approved):
        await payments.cancel_payment(session=session, actor=world.officer, payment_id=payment.id)
        assert payment.status == PaymentStatus.CANCELLED
    await session.commit()
    with pytest.raises(DomainError) as cancelled:
        await payments.send_payment(
            session=session, actor=world.officer, payment_id=approved.id, backend=backend
        )
    assert cancelled.value.code == ErrorCode.INVALID_STATE

    paid = await make_payment(session, world.contract, "12.00")
    await payments.send_payment(session=session, actor=world.officer, payment_id=paid.id, backend=backend)
    with pytest.raises(DomainError) as too_late:
        await payments.cancel_payment(session=session, actor=world.officer, payment_id=paid.id)
    assert too_late.value.code == ErrorCode.INVALID_STATE


async def test_other_department_and_provider_cannot_act(session, world, backend):
    payment = await make_payment(session, world.contract, "10.00", status=PaymentStatus.CALCULATED)
    with pytest.raises(DomainError) as hidden:
        await payments.approve_payment(
            session=session, actor=world.market.other_officer, payment_id=payment.id
        )
    assert hidden.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as denied:
        await payments.approve_payment(session=session, actor=world.provider, payment_id=payment.id)
    assert denied.value.code == ErrorCode.PERMISSION_DENIED
    with pytest.raises(DomainError) as not_sender:
        await payments.send_payment(
            session=session, actor=world.provider, payment_id=payment.id, backend=backend
        )
    assert not_sender.value.code == ErrorCode.PERMISSION_DENIED


async def test_suspended_contract_holds_its_payments(session, sessionmaker, world, backend):
    calculated = await make_payment(session, world.contract, "10.00", status=PaymentStatus.CALCULATED)
    approved = await make_payment(session, world.contract, "20.00")
    await lifecycle.change_contract_status(
        session=session,
        actor=world.officer,
        contract_id=world.contract.id,
        change="suspended",
        reason="two E periods",
    )
    await session.commit()
    for action in (payments.approve_payment, payments.send_payment):
        target = calculated if action is payments.approve_payment else approved
        extra = {"backend": backend} if action is payments.send_payment else {}
        with pytest.raises(DomainError) as held:
            await action(session=session, actor=world.officer, payment_id=target.id, **extra)
        assert held.value.code == ErrorCode.CONTRACT_SUSPENDED
    assert approved.status == PaymentStatus.APPROVED and approved.attempts == 0

    result = await payments.send_batch(sessionmaker=sessionmaker, actor=world.officer, backend=backend)
    assert result.held == 1 and result.paid == 0

    await lifecycle.change_contract_status(
        session=session, actor=world.officer, contract_id=world.contract.id, change="reinstated"
    )
    await session.commit()
    sent = await payments.send_payment(
        session=session, actor=world.officer, payment_id=approved.id, backend=backend
    )
    assert sent.status == PaymentStatus.PAID


async def test_zero_amount_is_paid_without_a_transfer(session, world, backend, fake_stripe):
    payment = await make_payment(session, world.contract, "0.00")
    sent = await payments.send_payment(
        session=session, actor=world.officer, payment_id=payment.id, backend=backend
    )
    assert sent.status == PaymentStatus.PAID and sent.reference is None and sent.attempts == 0
    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    assert fake_stripe.transfers == {}


async def test_ledger_books_a_negative_correction_as_a_receivable(session, world):
    from scoring.payouts.ledger import LedgerBackend

    payment = await make_payment(session, world.contract, "-150.00", kind=PaymentKind.CORRECTION)
    sent = await payments.send_payment(
        session=session, actor=world.officer, payment_id=payment.id, backend=LedgerBackend()
    )
    assert sent.status == PaymentStatus.PAID
    legs = {
        leg.account: (leg.debit, leg.credit)
        for leg in (
            await session.scalars(select(LedgerEntry).where(LedgerEntry.payment_id == payment.id))
        ).all()
    }
    c = world.contract
    assert legs == {
        f"provider:{c.provider_id}:receivable": (payment.amount.copy_abs(), 0),
        f"department:{c.department_id}:payable": (0, payment.amount.copy_abs()),
    }
