"""PAYOUT_BACKEND and the Stripe settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.errors import DomainError, ErrorCode
from core.settings import Settings
from scoring.payouts import backend_from_settings
from scoring.payouts.ledger import LedgerBackend
from scoring.payouts.stripe import MAX_NETWORK_RETRIES, StripeBackend

PRODUCTION = {"environment": "production", "secret_key": "k" * 40, "market_test_clock": False}


def test_production_refuses_stripe_without_key_or_secret():
    for missing in ({"stripe_api_key": "sk_live_x"}, {"stripe_webhook_secret": "whsec_x"}, {}):
        with pytest.raises(ValidationError, match="STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET"):
            Settings(**PRODUCTION, payout_backend="stripe", **missing)
    Settings(
        **PRODUCTION, payout_backend="stripe", stripe_api_key="sk_live_x", stripe_webhook_secret="whsec_x"
    )
    Settings(**PRODUCTION)  # the ledger needs neither


async def test_backend_follows_the_setting():
    assert isinstance(backend_from_settings(Settings()), LedgerBackend)
    stripe = backend_from_settings(
        Settings(payout_backend="stripe", stripe_api_key="sk_test_x", stripe_api_base="http://127.0.0.1:9")
    )
    assert isinstance(stripe, StripeBackend) and MAX_NETWORK_RETRIES == 0
    assert stripe.client._requestor._options.max_network_retries == 0
    with pytest.raises(DomainError) as unset:
        backend_from_settings(Settings(payout_backend="stripe"))
    assert unset.value.code == ErrorCode.PAYMENT_FAILED and "STRIPE_API_KEY" in str(unset.value)
