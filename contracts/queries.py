"""Read side of the contracts domain."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from contracts import complaints, deliveries, lifecycle, outbox
from contracts.types import (
    Complaint,
    ComplaintConnection,
    ComplaintStatusType,
    Contract,
    ContractConnection,
    ContractStatusType,
    LightType,
    Notification,
    ResidentDelivery,
)
from core.api import connection, context_of, page_size, paginate, query_errors
from core.cache import volatile_field


@strawberry.type(description="What a complaint is about: a closed set, counted in the complaint figures.")
class ComplaintCategory:
    code: str = strawberry.field(description="Stable code, e.g. LATE; `fileComplaint` takes it.")
    name: str = strawberry.field(description="Chinese name, e.g. 未按时上门.")
    name_en: str = strawberry.field(description="English name.")


@strawberry.type
class Query:
    @strawberry.field(
        description="The complaint categories, in the order residents are offered them. Public."
    )
    def complaint_categories(self) -> list[ComplaintCategory]:
        return [
            ComplaintCategory(code=code, name=name, name_en=name_en)
            for code, (name, name_en) in complaints.COMPLAINT_CATEGORIES.items()
        ]

    @volatile_field(
        description="A resident's view of the delivery behind a link token. An unknown token is an error "
        "with code TOKEN_INVALID, an expired one TOKEN_EXPIRED."
    )
    async def resident_delivery(self, info: Info, token: str) -> ResidentDelivery | None:
        with query_errors():
            async with context_of(info).db() as session:
                view = await deliveries.resident_view(session=session, token=token)
        return ResidentDelivery.from_view(view)

    @strawberry.field(
        description="Contracts, newest first. Their summaries are public; auditors see those of their firm. "
        "`mine`: only the caller's own (a provider's, an officer's department's). `first` at most 100."
    )
    async def contracts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: ContractStatusType | None = None,
        mine: Annotated[bool, strawberry.argument(description="Only the caller's own contracts.")] = False,
    ) -> ContractConnection:
        ctx = context_of(info)
        with query_errors():
            statement = lifecycle.contracts_statement(actor=ctx.actor, status=status, mine=mine)
            async with ctx.db() as session:
                page = await paginate(session, statement, first=first, after=after)
        return connection(page, Contract.from_row)

    @volatile_field(
        description="Complaints about the contracts whose details the caller sees (officers: their "
        "department's), oldest first; by default only open ones (OPEN, RESPONDED), filterable by light."
    )
    async def complaints(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: ComplaintStatusType | None = None,
        light: Annotated[
            LightType | None, strawberry.argument(description="Only complaints of this light.")
        ] = None,
        open_only: Annotated[bool, strawberry.argument(description="Only OPEN and RESPONDED.")] = True,
        reference: Annotated[
            str | None,
            strawberry.argument(
                description="The complaint with this reference, whatever its status (a resident calling "
                "the hotline); spaces and dashes are ignored; a mistyped number is INVALID."
            ),
        ] = None,
    ) -> ComplaintConnection:
        ctx = context_of(info)
        with query_errors():
            async with ctx.db() as session:
                statement = await complaints.complaints_statement(
                    session=session, actor=ctx.actor, status=status, light_filter=light, open_only=open_only,
                    reference=reference,
                )  # fmt: skip
                page = await paginate(session, statement, first=first, after=after)
        return connection(page, Complaint.from_row)

    @volatile_field(description="Messages the platform sent or queued, newest first (ADMIN only).")
    async def notifications(self, info: Info, first: int | None = None) -> list[Notification]:
        ctx = context_of(info)
        with query_errors():
            statement = outbox.messages_statement(actor=ctx.actor).limit(page_size(first))
            async with ctx.db() as session:
                rows = (await session.scalars(statement)).all()
        return [Notification.from_row(row) for row in rows]
