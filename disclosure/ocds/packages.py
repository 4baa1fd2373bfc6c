"""Release packages and record packages of the export, whole (one tender) or streamed (many).

A record is one process: all its releases and the compiled release, which ocdsmerge (OCP's merge
library) compiles with the export's patched schema, so that the extensions' arrays merge by their
rules. Streams read the tenders in pages by ID (`PAGE_SIZE` at a time, each page in a fixed number
of statements) and write each release as soon as it is made, so memory does not grow with the data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cache

import ocdsmerge
import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.settings import get_settings
from disclosure.ocds import data, schema
from disclosure.ocds.releases import moment, releases
from market.models import Tender

VERSION = "1.1"
PAGE_SIZE = 100
"""Tenders read per page of a stream."""


@cache
def _merger() -> ocdsmerge.Merger:
    return ocdsmerge.Merger(schema=schema.patched_release_schema())


def compile_record(process_releases: list[dict]) -> dict:
    """The record of one process: its releases and their compiled release."""
    return {
        "ocid": process_releases[0]["ocid"],
        "releases": process_releases,
        "compiledRelease": _merger().create_compiled_release(process_releases),
    }


def package_metadata(*, uri: str, published: dt.datetime) -> dict:
    """What a release or record package says about itself (everything but its releases or records)."""
    settings = get_settings()
    metadata = {
        "uri": uri,
        "version": VERSION,
        "extensions": schema.extension_urls(),
        "publishedDate": moment(published),
        "publisher": {"name": settings.ocds_publisher_name},
    }
    if settings.ocds_license:
        metadata["license"] = settings.ocds_license
    return metadata


def absolute(path: str) -> str:
    return f"{get_settings().public_base_url}{path}"


async def tender_release_package(session: AsyncSession, tender_id: int) -> dict | None:
    """The release package of one published tender's releases; None for no such published tender."""
    facts = await data.tender_facts(session, tender_id)
    if facts is None:
        return None
    metadata = package_metadata(
        uri=absolute(f"/ocds/tenders/{tender_id}/releases.json"), published=await clock.now(session)
    )
    return {**metadata, "releases": releases(facts)}


async def tender_record_package(session: AsyncSession, tender_id: int) -> dict | None:
    """The record package of one published tender; None for no such published tender."""
    facts = await data.tender_facts(session, tender_id)
    if facts is None:
        return None
    metadata = package_metadata(
        uri=absolute(f"/ocds/tenders/{tender_id}/record.json"), published=await clock.now(session)
    )
    return {**metadata, "records": [compile_record(releases(facts))]}


# ---------------------------------------------------------------- streams


@dataclass(frozen=True)
class Selection:
    """Which processes and releases a stream holds: a region's tenders (by ID), releases dated within
    [first_day, last_day] in the deployment's time zone (either end open)."""

    region_id: int | None = None
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    def _bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        zone = get_settings().zone
        start = dt.datetime.combine(self.first_day, dt.time(), zone) if self.first_day else None
        end = (
            dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), zone)
            if self.last_day
            else None
        )
        return start, end

    def statement(self, after_id: int):
        _start, end = self._bounds()
        return data.published_tenders(region_id=self.region_id, published_until=end, after_id=after_id)

    def keeps(self, release: dict) -> bool:
        start, end = self._bounds()
        when = dt.datetime.fromisoformat(release["date"])
        return (start is None or when >= start) and (end is None or when < end)


async def count_tenders(session: AsyncSession, selection: Selection) -> int:
    """How many tenders a stream reads (for a progress bar)."""
    inner = selection.statement(0).order_by(None).with_only_columns(Tender.id)
    return (await session.execute(select(func.count()).select_from(inner.subquery()))).scalar_one()


async def stream(
    session: AsyncSession,
    selection: Selection,
    *,
    uri: str,
    records: bool = False,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """A release package (or record package) of the selection, as UTF-8 JSON in pieces.

    Records hold every release of a process that has at least one release in the selection's dates.
    `on_page(n)` is told after each page how many tenders it read. The session's objects are expunged
    after each page (so give it a session of its own).
    """
    metadata = package_metadata(uri=uri, published=await clock.now(session))
    head = orjson.dumps(metadata)[:-1]  # without the closing brace
    yield head + (b',"records":[' if records else b',"releases":[')
    after_id, first = 0, True
    while True:
        rows = (await session.execute(selection.statement(after_id).limit(page_size))).all()
        if not rows:
            break
        for facts in await data.load_page(session, rows):
            process = releases(facts)
            kept = [r for r in process if selection.keeps(r)]
            items = [compile_record(process)] if records and kept else kept
            for item in items:
                yield (b"" if first else b",") + orjson.dumps(item)
                first = False
        after_id = rows[-1][0].id
        session.expunge_all()  # the page's rows are done with: memory stays flat
        if on_page is not None:
            on_page(len(rows))
    yield b"]}"
