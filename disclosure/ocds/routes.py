"""The export over HTTP, public and without login:

- `GET /ocds/tenders/{id}/releases.json`: the release package of one published tender's releases;
- `GET /ocds/tenders/{id}/record.json`: its record package (releases and compiled release);
- `GET /ocds/releases.json?region=CODE&from=YYYY-MM-DD&to=YYYY-MM-DD`: a release package of a
  district's tenders and/or of the releases dated in a range (deployment time zone), streamed.

Errors are JSON with a code: 404 `NOT_FOUND` for a tender that does not exist or was never published
(a draft is not disclosed, and not told apart from a missing one), 400 `INVALID`/`NOT_FOUND` for bad
parameters (all reported at once).
"""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from core.db import sqlite_writes
from core.errors import DomainError
from disclosure.ocds import packages
from disclosure.ocds.selection import selection

MEDIA_TYPE = "application/json"
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Access-Control-Allow-Origin": "*",
}
"""Open data: any site may read it (no credentials are involved); it changes as processes go on."""
MAX_TENDER_ID = 2**63 - 1


def _json(body: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=HEADERS)


def _error(status: int, problems: list[tuple[str, str, list[str] | None]]) -> Response:
    return _json(
        {"errors": [{"code": code, "message": message, "field": field} for code, message, field in problems]},
        status,
    )


def _not_found() -> Response:
    return _error(404, [("NOT_FOUND", "no published tender with this ID", ["id"])])


def _tender_id(request: Request) -> int | None:
    raw = request.path_params["tender_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_TENDER_ID:
        return None
    return int(raw)


def routes(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Route]:
    """The OCDS export's routes, for the app's route list."""

    async def one(request: Request, build) -> Response:
        tender_id = _tender_id(request)
        if tender_id is None:
            return _not_found()
        with sqlite_writes(False):
            async with sessionmaker() as session:
                package = await build(session, tender_id)
        return _not_found() if package is None else _json(package)

    async def release_package(request: Request) -> Response:
        return await one(request, packages.tender_release_package)

    async def record_package(request: Request) -> Response:
        return await one(request, packages.tender_record_package)

    async def many(request: Request) -> Response:
        params = request.query_params
        unknown = sorted(set(params) - {"region", "from", "to"})
        if unknown:
            return _error(400, [("INVALID", f"unknown parameter {name!r}", [name]) for name in unknown])
        try:
            with sqlite_writes(False):
                async with sessionmaker() as session:
                    chosen = await selection(
                        session, region=params.get("region"), first=params.get("from"), last=params.get("to")
                    )
        except DomainError as error:
            return _error(
                400,
                [(p.code.value, p.message, list(p.field) if p.field else None) for p in error.problems],
            )
        uri = packages.absolute(request.url.path + (f"?{request.url.query}" if request.url.query else ""))

        async def body():
            with sqlite_writes(False):
                async with sessionmaker() as session:
                    async for chunk in packages.stream(session, chosen, uri=uri):
                        yield chunk

        return StreamingResponse(body(), media_type=MEDIA_TYPE, headers=HEADERS)

    return [
        Route(
            "/ocds/tenders/{tender_id}/releases.json", release_package, methods=["GET"], name="ocds_releases"
        ),
        Route("/ocds/tenders/{tender_id}/record.json", record_package, methods=["GET"], name="ocds_record"),
        Route("/ocds/releases.json", many, methods=["GET"], name="ocds_release_stream"),
    ]
