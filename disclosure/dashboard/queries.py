"""The public GraphQL query of the equality dashboard."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from core.api import context_of, query_errors
from disclosure.dashboard import figures
from disclosure.dashboard.types import EqualityDashboard


@strawberry.type
class Query:
    @strawberry.field(
        description="The equality dashboard (SPEC §7), public: figures of one period, or of all time. "
        "Bad periods (`to` before `from`) are an error with code INVALID."
    )
    async def equality_dashboard(
        self,
        info: Info,
        from_: Annotated[
            dt.date | None,
            strawberry.argument(name="from", description="First day (inclusive), in the deployment's zone."),
        ] = None,
        to: Annotated[
            dt.date | None, strawberry.argument(description="Last day (inclusive), in the deployment's zone.")
        ] = None,
    ) -> EqualityDashboard:
        with query_errors():
            period = figures.Period.of(from_, to)
        async with context_of(info).db() as session:
            found = await figures.equality_dashboard(session, period)
        return EqualityDashboard.from_figures(found)
