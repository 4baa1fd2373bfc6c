"""Read side of the scoring domain."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from core.api import context_of
from core.cache import volatile_field
from core.limits import text_argument
from scoring import certification
from scoring.types import Certification


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
