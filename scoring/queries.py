"""Read side of the scoring domain."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from core.api import Connection, connection, context_of, paginate, query_errors
from scoring import payments
from scoring.types import Certification, Payment, PaymentStatusType


@strawberry.type
class Query:
    @strawberry.field(description="Certificate verification, public.")
    async def certificate(self, info: Info, code: str) -> Certification | None:
        # Certificates are issued by certification runs (the scoring issue); none exist before.
        return None


# ---------------------------------------------------------------- payments

PaymentConnection = Connection[Payment]


@strawberry.type
class PaymentQuery:
    @strawberry.field(
        description="Payments the caller may see (admins all; officers their department's; providers "
        "their own), oldest first, optionally of one status. `first` at most 100."
    )
    async def payments(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: PaymentStatusType | None = None,
    ) -> PaymentConnection:
        ctx = context_of(info)
        with query_errors():
            statement = payments.payments_statement(actor=ctx.actor, status=status)
            async with ctx.db() as session:
                page = await paginate(session, statement, first=first, after=after)
        return connection(page, Payment.from_row)
