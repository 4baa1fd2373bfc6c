"""Fixtures of the payouts tests: a contract in delivery, its payments, the fake Stripe and both backends."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core import clock
from market.models import Provider
from scoring.models import Payment, PaymentKind, PaymentStatus
from scoring.payouts.ledger import LedgerBackend
from scoring.payouts.stripe import stripe_backend
from tests.contracts import world as contract_world
from tests.scoring.fake_stripe import API_KEY, FakeStripe

CLIENT_TIMEOUT = 1.0
"""The Stripe client's timeout in tests; the fake holds a `timeout` answer back twice as long."""


@pytest.fixture(scope="session")
def fake_stripe_server():
    server = FakeStripe(hang_seconds=CLIENT_TIMEOUT * 2).start()
    yield server
    server.stop()


@pytest.fixture
def fake_stripe(fake_stripe_server) -> FakeStripe:
    fake_stripe_server.reset()
    return fake_stripe_server


@pytest.fixture
async def world(session) -> contract_world.ContractWorld:
    return await contract_world.build(session, start_in_days=100)


async def make_payment(
    session,
    contract,
    amount: str | Decimal,
    *,
    status: PaymentStatus = PaymentStatus.APPROVED,
    kind: PaymentKind = PaymentKind.PERIOD,
    period_index: int | None = 1,
) -> Payment:
    """A payment as the period's finalisation makes it (the scoring engineer's part), committed."""
    payment = Payment(
        contract_id=contract.id,
        period_index=period_index,
        kind=kind,
        amount=Decimal(amount),
        status=status,
        created_at=await clock.now(session),
    )
    session.add(payment)
    await session.commit()
    return payment


async def stripe_backend_for(session, world, fake: FakeStripe):
    """The real Stripe backend against the fake, the contracted provider with a connected account."""
    provider = await session.get(Provider, world.contract.provider_id)
    provider.payout_account = fake.create_account()
    await session.commit()
    return stripe_backend(api_key=API_KEY, api_base=fake.url, timeout=CLIENT_TIMEOUT)


@pytest.fixture(params=["ledger", "stripe"])
async def backend(request, session, world, fake_stripe):
    """Each test that takes it runs once per backend."""
    if request.param == "ledger":
        return LedgerBackend()
    return await stripe_backend_for(session, world, fake_stripe)
