"""The clock every rule reads.

Normally real UTC time. With MARKET_TEST_CLOCK=1 it is real time plus an
offset kept in the database, so every worker agrees and tests can move it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import ClockOffset
from core.settings import get_settings

_OFFSET_KEY = "clock_offset_seconds"


def real_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def offset_seconds(session: AsyncSession) -> int:
    if not get_settings().market_test_clock:
        return 0
    if _OFFSET_KEY not in session.info:
        value = await session.scalar(select(ClockOffset.offset_seconds).where(ClockOffset.id == 1))
        session.info[_OFFSET_KEY] = value or 0
    return session.info[_OFFSET_KEY]


def remember_offset(session: AsyncSession, seconds: int) -> None:
    """The offset read by another statement of this session (see core.cache.data_version)."""
    if get_settings().market_test_clock:
        session.info[_OFFSET_KEY] = seconds


_PINNED_KEY = "clock_pinned_at"


async def now(session: AsyncSession) -> dt.datetime:
    """The platform's current time, aware, in UTC."""
    if _PINNED_KEY in session.info:
        return session.info[_PINNED_KEY]
    return real_now() + dt.timedelta(seconds=await offset_seconds(session))


def pin(session: AsyncSession, moment: dt.datetime | None) -> None:
    """Make this session's clock read `moment` (None: the real clock again).

    For back-filling history, e.g. demo data whose tenders ran last month;
    requests never pin their session.
    """
    if moment is None:
        session.info.pop(_PINNED_KEY, None)
    else:
        session.info[_PINNED_KEY] = moment.astimezone(dt.UTC)


def now_at_commit(session: AsyncSession) -> dt.datetime:
    """The platform time inside a commit check (sync code); uses the offset this session read."""
    if _PINNED_KEY in session.info:
        return session.info[_PINNED_KEY]
    return real_now() + dt.timedelta(seconds=session.info.get(_OFFSET_KEY, 0))


async def advance(session: AsyncSession, seconds: int) -> dt.datetime:
    """Move the shared test clock forward; the caller checks that the test clock is on."""
    result = await session.execute(
        update(ClockOffset)
        .where(ClockOffset.id == 1)
        .values(offset_seconds=ClockOffset.offset_seconds + seconds)
    )
    if result.rowcount == 0:
        session.add(ClockOffset(id=1, offset_seconds=seconds))
        await session.flush()
    session.info.pop(_OFFSET_KEY, None)
    return await now(session)


def today(moment: dt.datetime) -> dt.date:
    """The calendar date of a moment in the deployment's time zone."""
    return moment.astimezone(get_settings().zone).date()
