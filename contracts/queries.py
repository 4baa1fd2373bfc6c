"""Read side of the contracts domain."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from contracts.types import Notification, ResidentDelivery
from core.api import context_of, query_errors
from core.auth import Role, require


@strawberry.type
class Query:
    @strawberry.field(description="A resident's view of the delivery behind a link token.")
    async def resident_delivery(self, info: Info, token: str) -> ResidentDelivery | None:
        # Links are issued with deliveries (the delivery issue); no token is known before that.
        return None

    @strawberry.field(description="Messages the platform sent or queued (ADMIN only).")
    async def notifications(self, info: Info, first: int | None = None) -> list[Notification]:
        with query_errors():
            require(context_of(info).actor, Role.ADMIN)
        # The notification outbox comes with the delivery issue; nothing is queued before it.
        return []
