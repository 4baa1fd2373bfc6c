"""Read side of the scoring domain."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from core.api import Connection, connection, context_of, paginate, query_errors
from core.cache import volatile_field
from core.limits import text_argument
from scoring import certification, payments
from scoring.types import Certification, Payment, PaymentStatusType


@strawberry.type
class Query:
    @volatile_field(
        description="Certificate verification, public: the certificate with this code (any case; spaces and "
        "hyphens ignored) and its status today, also when expired, revoked or superseded; null when unknown."
    )
    async def certificate(
        self, info: Info, code: Annotated[str, text_argument("The code printed on it.", max_length=64)]
    ) -> Certification | None:
        async with context_of(info).db() as session:
            found = await certification.verify(session, code)
        return None if found is None else Certification.from_verification(found)


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
