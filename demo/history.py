"""The demo's back-dated history: moments counted from the day of loading, and the steps told at them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.settings import get_settings


@dataclass(frozen=True)
class When:
    """A moment of the demo's history: `day` days from the day of loading, at local `time`."""

    day: int
    time: str = "10:00"


@dataclass(frozen=True)
class Ago:
    """A moment `hours` before loading, for what must stay recent (a GREEN complaint)."""

    hours: float


Step = Callable[[], Awaitable[object]]


class History:
    """Steps run in the order of their moments, the session's clock pinned to each step's moment.

    Each step is a savepoint: its commit checks (a bid is in before the deadline) and its journal
    events run at its moment, so the journal reads in time order; and when a step fails, the
    caller's rollback leaves nothing behind.
    """

    def __init__(self, session: AsyncSession, now: dt.datetime):
        self.session, self.now, self.today = session, now, clock.today(now)
        self.steps: list[tuple[dt.datetime, int, Step]] = []

    def moment(self, when: When | Ago) -> dt.datetime:
        if isinstance(when, Ago):
            return self.now - dt.timedelta(hours=when.hours)
        hour, minute = (int(part) for part in when.time.split(":"))
        local = dt.datetime.combine(
            self.today + dt.timedelta(days=when.day), dt.time(hour, minute), tzinfo=get_settings().zone
        )
        return local.astimezone(dt.UTC)

    def at(self, when: When | Ago, step: Step) -> None:
        if (isinstance(when, When) and when.day >= 0) or (isinstance(when, Ago) and when.hours <= 0):
            raise ValueError(f"the demo's history lies before the moment of loading, not at {when}")
        self.steps.append((self.moment(when), len(self.steps), step))

    async def run(self) -> None:
        try:
            for moment, _, step in sorted(self.steps, key=lambda s: s[:2]):
                clock.pin(self.session, moment)
                async with self.session.begin_nested():
                    await step()
        finally:
            clock.pin(self.session, None)
