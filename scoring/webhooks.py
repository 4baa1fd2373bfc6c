"""`POST /webhooks/stripe`: events Stripe sends about our transfers, verified by their signature.

The body is checked with the SDK (`stripe.Webhook.construct_event`) against STRIPE_WEBHOOK_SECRET:
a missing or wrong signature, or one older than the SDK's tolerance (5 minutes), is answered 400
and read no further. `transfer.reversed` is handled (`payments.record_transfer_reversed`), once per
event ID; every other event is acknowledged with 200 and ignored.
"""

from __future__ import annotations

import json
import logging

import stripe
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.db import unit_of_work
from core.settings import Settings
from scoring import payments

log = logging.getLogger("market.webhooks")

HANDLED = {"transfer.reversed"}


def routes(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> list[Route]:
    async def stripe_webhook(request: Request) -> JSONResponse:
        secret = settings.stripe_webhook_secret.strip()
        if not secret:
            return JSONResponse(
                {"error": "STRIPE_WEBHOOK_SECRET is not set: webhooks are off"}, status_code=503
            )
        payload = await request.body()
        try:
            stripe.Webhook.construct_event(payload, request.headers.get("stripe-signature", ""), secret)
            event = json.loads(payload)
        except (ValueError, stripe.SignatureVerificationError):
            return JSONResponse({"error": "bad signature or payload"}, status_code=400)
        if event.get("type") not in HANDLED:
            return JSONResponse({"received": True, "handled": False})
        try:
            async with sessionmaker() as session, unit_of_work(session):
                await payments.record_transfer_reversed(
                    session=session,
                    event_id=str(event["id"]),
                    event_type=event["type"],
                    transfer=event["data"]["object"],
                )
        except IntegrityError:
            log.info("webhook event %s was handled by a concurrent delivery", event.get("id"))
        return JSONResponse({"received": True, "handled": True})

    return [Route("/webhooks/stripe", stripe_webhook, methods=["POST"])]
