"""The parameters of a many-tender export (HTTP query or command options), checked once for both."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, ErrorCode, Problem
from disclosure.ocds import data
from disclosure.ocds.packages import Selection

MAX_PARAMETER = 40


def _day(value: str | None, name: str, problems: list[Problem]) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        problems.append(Problem(ErrorCode.INVALID, f"{name} must be a date as YYYY-MM-DD", (name,)))
        return None


async def selection(
    session: AsyncSession, *, region: str | None, first: str | None, last: str | None
) -> Selection:
    """A checked selection: the region by its code, the dates as YYYY-MM-DD, `from` not after `to`.
    INVALID (every problem at once) or NOT_FOUND for an unknown region."""
    problems: list[Problem] = []
    first_day, last_day = _day(first, "from", problems), _day(last, "to", problems)
    if first_day and last_day and first_day > last_day:
        problems.append(Problem(ErrorCode.INVALID, "from must not be after to", ("from",)))
    if region is not None and (not region.strip() or len(region) > MAX_PARAMETER):
        problems.append(
            Problem(ErrorCode.INVALID, "region must be a region code such as 310101", ("region",))
        )
    if problems:
        raise DomainError.many(problems)
    region_id = None
    if region is not None:
        region_id = await data.region_id_of(session, region.strip())
        if region_id is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"no region with the code {region!r}", field=["region"])
    return Selection(region_id=region_id, first_day=first_day, last_day=last_day)
