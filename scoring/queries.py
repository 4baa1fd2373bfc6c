"""Read side of the scoring domain."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from scoring.types import Certification


@strawberry.type
class Query:
    @strawberry.field(description="Certificate verification, public.")
    async def certificate(self, info: Info, code: str) -> Certification | None:
        # Certificates are issued by certification runs (the scoring issue); none exist before.
        return None
