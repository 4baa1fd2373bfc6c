"""Payments through the API: who sees a payment (node, payments), approve, cancel, send on either
backend, payout accounts; and the Stripe webhook: signatures, reversals, replays."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from strawberry import relay

import app as application
from core.auth import Role
from core.models import JournalEvent
from core.settings import get_settings
from market.models import Provider
from scoring import access, payments
from scoring.models import Payment, PaymentKind, PaymentStatus, WebhookEvent
from tests import factories
from tests.conftest import ADMIN, Api
from tests.scoring.conftest import CLIENT_TIMEOUT, make_payment, stripe_backend_for
from tests.scoring.fake_stripe import API_KEY, WEBHOOK_SECRET

NODE = """query($id: ID!) { node(id: $id) { ... on Payment { id amount status kind reference version attempts
  contract { id } } } }"""
LIST = (
    "query($status: PaymentStatus) { payments(status: $status) { totalCount edges { node { id amount } } } }"
)
ACT = """mutation($id: ID!) { %s(id: $id) { payment { id status reference attempts lastError }
  errors { code message field } } }"""
SET_ACCOUNT = """mutation($p: ID!, $a: String!) { setPayoutAccount(providerId: $p, account: $a) {
  provider { id } payoutAccount errors { code message field } } }"""


def gid(payment) -> str:
    return relay.to_base64("Payment", payment.id)


async def token_of(api, world, who: str) -> str:
    return await api.login(world.users[who].email, factories.PASSWORD)


@pytest.fixture
async def stripe_api(sessionmaker, fake_stripe):
    """The app with PAYOUT_BACKEND=stripe against the fake, and its webhook secret."""
    settings = get_settings().model_copy(
        update={
            "payout_backend": "stripe",
            "stripe_api_key": API_KEY,
            "stripe_api_base": fake_stripe.url,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_timeout_seconds": CLIENT_TIMEOUT,
        }
    )
    asgi = application.create_app(settings=settings, sessionmaker=sessionmaker)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test") as client:
        yield Api(client)


# ---------------------------------------------------------------- who sees a payment


@pytest.mark.parametrize(
    ("who", "sees"),
    [("officer", True), ("provider", True), ("other_officer", False), ("other_provider", False),
     ("auditor", False), (None, False)],
)  # fmt: skip
async def test_node_shows_a_payment_to_its_parties_only(session, api, world, who, sees):
    payment = await make_payment(session, world.contract, "321.00")
    token = await token_of(api, world, who) if who else None
    node = (await api(NODE, {"id": gid(payment)}, token=token))["node"]
    listed = (await api(LIST, {}, token=token))["payments"]
    if sees:
        assert node["amount"] == "321.00" and node["status"] == "APPROVED" and node["kind"] == "PERIOD"
        assert node["contract"]["id"] == relay.to_base64("Contract", world.contract.id)
        assert [e["node"]["id"] for e in listed["edges"]] == [gid(payment)]
    else:
        assert node is None and listed["totalCount"] == 0


async def test_admin_sees_every_payment(session, api, world, login_as):
    payment = await make_payment(session, world.contract, "1.00")
    token, _ = await login_as(Role.ADMIN)
    assert (await api(NODE, {"id": gid(payment)}, token=token))["node"]["id"] == gid(payment)


async def test_access_predicate_and_clause_agree(session, world):
    payment = await make_payment(session, world.contract, "1.00")
    actors = [world.officer, world.market.other_officer, world.provider, world.other_provider, world.auditor]
    for actor in [*actors, ADMIN, None]:
        by_clause = await session.scalar(access.visible_payments(actor).where(Payment.id == payment.id))
        assert (by_clause is not None) == access.can_see_payment(actor, world.contract), actor


# ---------------------------------------------------------------- acting through the API


async def test_officer_approves_and_sends_through_the_ledger(session, api, world):
    payment = await make_payment(session, world.contract, "88.80", status=PaymentStatus.CALCULATED)
    officer = await token_of(api, world, "officer")
    provider = await token_of(api, world, "provider")

    refused = (await api(ACT % "approvePayment", {"id": gid(payment)}, token=provider))["approvePayment"]
    assert refused["errors"][0]["code"] == "PERMISSION_DENIED"
    approved = (await api(ACT % "approvePayment", {"id": gid(payment)}, token=officer))["approvePayment"]
    assert approved["errors"] == [] and approved["payment"]["status"] == "APPROVED"
    sent = (await api(ACT % "sendPayment", {"id": gid(payment)}, token=officer))["sendPayment"]
    assert sent["errors"] == [] and sent["payment"]["status"] == "PAID"
    assert sent["payment"]["reference"] == f"ledger-{payment.id}-v1"
    again = (await api(ACT % "sendPayment", {"id": gid(payment)}, token=officer))["sendPayment"]
    assert again["errors"][0]["code"] == "INVALID_STATE"


async def test_cancel_through_the_api(session, api, world):
    payment = await make_payment(session, world.contract, "10.00")
    officer = await token_of(api, world, "officer")
    cancelled = (await api(ACT % "cancelPayment", {"id": gid(payment)}, token=officer))["cancelPayment"]
    assert cancelled["errors"] == [] and cancelled["payment"]["status"] == "CANCELLED"
    other = await token_of(api, world, "other_officer")
    hidden = (await api(ACT % "cancelPayment", {"id": gid(payment)}, token=other))["cancelPayment"]
    assert hidden["errors"][0]["code"] == "NOT_FOUND"


async def test_send_through_stripe_and_unanswered_send(session, stripe_api, world, fake_stripe):
    await stripe_backend_for(session, world, fake_stripe)
    payment = await make_payment(session, world.contract, "1500.25")
    officer = await token_of(stripe_api, world, "officer")

    fake_stripe.fail_next(1, "timeout")
    unanswered = (await stripe_api(ACT % "sendPayment", {"id": gid(payment)}, token=officer))["sendPayment"]
    assert unanswered["errors"][0]["code"] == "PAYMENT_FAILED"
    assert "stays SENT" in unanswered["errors"][0]["message"]
    await session.refresh(payment)
    assert payment.status == PaymentStatus.SENT and "did not answer" in payment.last_error

    sent = (await stripe_api(ACT % "sendPayment", {"id": gid(payment)}, token=officer))["sendPayment"]
    assert sent["errors"] == [] and sent["payment"]["status"] == "PAID"
    (transfer,) = fake_stripe.transfers.values()
    assert sent["payment"]["reference"] == transfer["id"] and transfer["amount"] == 150025
    assert transfer["currency"] == "cny" and transfer["metadata"] == {
        "payment_id": str(payment.id),
        "payment_version": "1",
    }


# ---------------------------------------------------------------- negative corrections on Stripe


async def test_stripe_correction_reverses_the_period_transfer(session, sessionmaker, world, fake_stripe):
    backend = await stripe_backend_for(session, world, fake_stripe)
    period = await make_payment(session, world.contract, "1000.00", period_index=2)
    correction = await make_payment(
        session, world.contract, "-120.00", kind=PaymentKind.CORRECTION, period_index=2
    )
    nothing_to_reverse = await make_payment(
        session, world.contract, "-5.00", kind=PaymentKind.CORRECTION, period_index=3
    )
    await payments.send_payment(session=session, actor=world.officer, payment_id=period.id, backend=backend)
    sent = await payments.send_payment(
        session=session, actor=world.officer, payment_id=correction.id, backend=backend
    )
    assert sent.status == PaymentStatus.PAID and sent.reference.startswith("trr_")
    transfer = fake_stripe.transfers[period.reference]
    assert transfer["amount_reversed"] == 12000 and len(fake_stripe.transfers) == 1

    with pytest.raises(payments.DomainError) as held:
        await payments.send_payment(
            session=session, actor=world.officer, payment_id=nothing_to_reverse.id, backend=backend
        )
    assert held.value.code.value == "PAYMENT_FAILED" and "stays APPROVED" in str(held.value)
    await session.refresh(nothing_to_reverse)
    assert nothing_to_reverse.status == PaymentStatus.APPROVED and nothing_to_reverse.attempts == 0


# ---------------------------------------------------------------- payout accounts


async def test_payout_account_is_set_by_the_provider_or_an_officer(session, api, world):
    provider_id = relay.to_base64("Provider", world.contract.provider_id)
    other_id = relay.to_base64("Provider", world.other_provider.provider_id)
    own = await token_of(api, world, "provider")

    done = (await api(SET_ACCOUNT, {"p": provider_id, "a": " acct_1Nv0FGQ9RKHgCVdK "}, token=own))[
        "setPayoutAccount"
    ]
    assert done["errors"] == [] and done["payoutAccount"] == "acct_1Nv0FGQ9RKHgCVdK"
    bad = (await api(SET_ACCOUNT, {"p": provider_id, "a": "DE89370400440532013000"}, token=own))[
        "setPayoutAccount"
    ]
    assert bad["errors"][0]["code"] == "INVALID" and bad["errors"][0]["field"] == ["account"]
    foreign = (await api(SET_ACCOUNT, {"p": other_id, "a": "acct_1Nv0FGQ9RKHgCVdK"}, token=own))[
        "setPayoutAccount"
    ]
    assert foreign["errors"][0]["code"] == "PERMISSION_DENIED"
    auditor = await token_of(api, world, "auditor")
    assert (await api(SET_ACCOUNT, {"p": provider_id, "a": "acct_1Nv0FGQ9RKHgCVdK"}, token=auditor))[
        "setPayoutAccount"
    ]["errors"][0]["code"] == "PERMISSION_DENIED"
    officer = await token_of(api, world, "officer")
    assert (await api(SET_ACCOUNT, {"p": other_id, "a": "acct_2Nv0FGQ9RKHgCVdK"}, token=officer))[
        "setPayoutAccount"
    ]["errors"] == []
    assert (
        await session.get(Provider, world.contract.provider_id, populate_existing=True)
    ).payout_account == ("acct_1Nv0FGQ9RKHgCVdK")


async def test_payout_account_is_kept_while_a_payment_is_in_flight(session, world):
    payment = await make_payment(session, world.contract, "10.00")
    payment.status, payment.idempotency_key = PaymentStatus.SENT, f"payment-{payment.id}-v1"
    await session.commit()
    with pytest.raises(payments.DomainError) as refused:
        await payments.set_payout_account(
            session=session,
            actor=world.provider,
            provider_id=world.contract.provider_id,
            account="acct_1Nv0FGQ9RK",
        )
    assert refused.value.code.value == "INVALID_STATE"


# ---------------------------------------------------------------- the webhook


async def post_event(api, payload: bytes, header: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"} | ({"Stripe-Signature": header} if header else {})
    return await api.client.post("/webhooks/stripe", content=payload, headers=headers)


async def paid_through_stripe(session, world, fake_stripe, amount="400.00"):
    backend = await stripe_backend_for(session, world, fake_stripe)
    payment = await make_payment(session, world.contract, amount)
    await payments.send_payment(session=session, actor=world.officer, payment_id=payment.id, backend=backend)
    await session.commit()
    return payment, backend


async def journal_count(session) -> int:
    return await session.scalar(select(func.count()).select_from(JournalEvent))


async def test_full_reversal_fails_the_payment_once(session, stripe_api, world, fake_stripe):
    payment, backend = await paid_through_stripe(session, world, fake_stripe)
    fake_stripe.reverse_externally(payment.reference)
    payload, header = fake_stripe.event("transfer.reversed", fake_stripe.transfers[payment.reference])

    assert (await post_event(stripe_api, payload, header)).status_code == 200
    await session.refresh(payment)
    assert payment.status == PaymentStatus.FAILED and "reversed in full" in payment.last_error
    events = await journal_count(session)

    assert (await post_event(stripe_api, payload, header)).status_code == 200  # replayed
    assert await journal_count(session) == events
    assert await session.scalar(select(func.count()).select_from(WebhookEvent)) == 1

    resent = await payments.send_payment(
        session=session, actor=world.officer, payment_id=payment.id, backend=backend
    )
    assert resent.status == PaymentStatus.PAID and resent.version == 2 and len(fake_stripe.transfers) == 2


async def test_bad_signatures_are_refused(session, stripe_api, world, fake_stripe):
    payment, _ = await paid_through_stripe(session, world, fake_stripe)
    fake_stripe.reverse_externally(payment.reference)
    transfer = fake_stripe.transfers[payment.reference]
    payload, header = fake_stripe.event("transfer.reversed", transfer, secret="whsec_someone_else")
    assert (await post_event(stripe_api, payload, header)).status_code == 400
    assert (await post_event(stripe_api, payload, None)).status_code == 400
    good_payload, good_header = fake_stripe.event("transfer.reversed", transfer)
    tampered = good_payload.replace(b'"amount_reversed": 40000', b'"amount_reversed": 1')
    assert tampered != good_payload
    assert (await post_event(stripe_api, tampered, good_header)).status_code == 400
    stale_payload, stale_header = fake_stripe.event("transfer.reversed", transfer, timestamp=1_700_000_000)
    assert (await post_event(stripe_api, stale_payload, stale_header)).status_code == 400
    await session.refresh(payment)
    assert payment.status == PaymentStatus.PAID


async def test_unknown_events_and_our_own_reversals_change_nothing(session, stripe_api, world, fake_stripe):
    payment, backend = await paid_through_stripe(session, world, fake_stripe)
    correction = await make_payment(session, world.contract, "-100.00", kind=PaymentKind.CORRECTION)
    await payments.send_payment(
        session=session, actor=world.officer, payment_id=correction.id, backend=backend
    )
    await session.commit()
    events = await journal_count(session)

    unknown = fake_stripe.event("payout.paid", {"id": "po_1"})
    assert (await post_event(stripe_api, *unknown)).status_code == 200
    ours = fake_stripe.event("transfer.reversed", fake_stripe.transfers[payment.reference])
    assert (await post_event(stripe_api, *ours)).status_code == 200
    await session.refresh(payment)
    assert payment.status == PaymentStatus.PAID and payment.last_error is None
    assert await journal_count(session) == events


async def test_partial_outside_reversal_is_noted_and_the_payment_stays_paid(
    session, stripe_api, world, fake_stripe
):
    payment, _ = await paid_through_stripe(session, world, fake_stripe)
    fake_stripe.reverse_externally(payment.reference, amount=2500)
    event = fake_stripe.event("transfer.reversed", fake_stripe.transfers[payment.reference])
    assert (await post_event(stripe_api, *event)).status_code == 200
    await session.refresh(payment)
    assert payment.status == PaymentStatus.PAID and "25.00 CNY reversed outside" in payment.last_error
    actions = (
        await session.scalars(select(JournalEvent.action).order_by(JournalEvent.seq.desc()).limit(1))
    ).all()
    assert actions == ["payment.reversed"]


async def test_webhooks_are_off_without_a_secret(api):
    response = await api.client.post(
        "/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert response.status_code == 503
