"""Finding the demo's rows for the portal's tests."""

from __future__ import annotations

import re

from sqlalchemy import select

from contracts.models import Contract
from market.models import Provider, Tender, TenderStatus

NONCE = re.compile(r'nonce="[^"]*"|nonce-[A-Za-z0-9_\-]+')


async def tender(session, status: TenderStatus, *, newest: bool = True) -> Tender:
    """The demo's tender in this state (of the AWARDED ones, this year's unless `newest` is False)."""
    rows = (await session.scalars(select(Tender).where(Tender.status == status).order_by(Tender.id))).all()
    return max(rows, key=lambda t: t.awarded_at or t.id) if newest else min(rows, key=lambda t: t.awarded_at)


async def provider(session, name_part: str) -> Provider:
    return await session.scalar(select(Provider).where(Provider.legal_name.contains(name_part)))


async def contract_of(session, tender_id: int) -> Contract:
    return await session.scalar(select(Contract).where(Contract.tender_id == tender_id))


def without_nonce(html: str) -> str:
    """A page with its per-response style nonce blanked, to compare two renderings."""
    return NONCE.sub("nonce", html)
