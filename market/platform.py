"""The platform operator's controls beyond the market: the shared test clock."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, journal
from core.auth import Actor
from core.errors import DomainError, ErrorCode, Validator
from core.models import ClockOffset


async def advance_clock(*, session: AsyncSession, actor: Actor, seconds: int, enabled: bool) -> dt.datetime:
    """Move the shared test clock forward (only where MARKET_TEST_CLOCK enables it)."""
    if not enabled:
        raise DomainError(
            ErrorCode.INVALID_STATE, "the test clock is disabled on this deployment (MARKET_TEST_CLOCK)"
        )
    check = Validator()
    check.check(seconds > 0, "the clock only moves forward: seconds must be above 0", field=["seconds"])
    check.raise_if_any()
    offset = await session.get(ClockOffset, 1, with_for_update=True)
    before = journal.snapshot(offset) if offset else None
    moved = await clock.advance(session, seconds)
    offset = await session.get(ClockOffset, 1, populate_existing=True)
    await journal.record(session, actor=actor, action="clock.advanced", entity=offset, before=before)
    return moved
