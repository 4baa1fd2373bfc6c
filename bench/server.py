"""The app under test, served by uvicorn: the real `create_app(...)` plus bare routes on its engine.

`uvicorn --factory bench.server:create_bench_app` with DATABASE_URL and
BENCH_PROBE_DIR set, one or more workers. The bare routes do the same database
work as the measured GraphQL operations (`submitBid`, the public and the
officer's `tenders` page, one tender by `node`, `rateDelivery`) with
hand-written SQL through the same engine (same pool), without GraphQL, auth or
service logic.

The probe works across worker processes: each worker counts the SQL statements
it sends in a file of its own in BENCH_PROBE_DIR (`statements-<pid>`, 8 bytes,
memory-mapped), which the load generator and `/bench/counters` add up; SIGUSR1
starts a profiler in a worker, SIGUSR2 stops it and writes what it found to
`profile-<pid>.json` there. `/bench/statements/*` times each statement of the
worker that answers (meant for one worker).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import mmap
import os
import signal
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import app as application
from bench import profiling
from contracts.residents import address_hash
from core.api import encode_id
from core.db import create_engine, create_sessionmaker, sqlite_writes
from core.settings import get_settings

GENESIS_HASH = "0" * 64


# ---------------------------------------------------------------- small helpers of the bare routes


def canonical(value) -> str:
    """The journal's canonical JSON (sorted keys, compact, UTF-8), so that the hash chain stays valid."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cursor(position: int) -> str:
    return base64.b64encode(f"cursor:{position}".encode()).decode()


def money(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


class Dialect:
    """What differs between SQLite and PostgreSQL in the hand-written SQL."""

    def __init__(self, name: str):
        self.sqlite = name == "sqlite"
        self.for_update = "" if self.sqlite else " FOR UPDATE"

    def bind_time(self, moment: dt.datetime):
        # The app's UTCDateTime stores naive UTC text on SQLite and timestamptz on PostgreSQL.
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else moment

    def read_time(self, value) -> dt.datetime:
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    @staticmethod
    def read_date(value) -> dt.date:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value

    @staticmethod
    def read_json(value):
        return json.loads(value) if isinstance(value, str) else value


BID_COLUMNS = (
    "id, tender_id, provider_id, status, version, unit_price, proposal, capacity, attachments, "
    "submitted_at, receipt_sha256, confirmed_tender_version, invalid_reason, abnormally_low, "
    "justification, justification_accepted, record_stars, price_score, quality_score, record_score, "
    "total_score, rank"
)
SELECT_BID = (
    "SELECT " + BID_COLUMNS + " FROM bid WHERE tender_id = :tender_id AND provider_id = :provider_id"  # noqa: S608
)
INSERT_BID = (
    "INSERT INTO bid (tender_id, provider_id, status, version, unit_price, proposal, capacity, attachments, "
    "submitted_at, receipt_sha256, confirmed_tender_version, abnormally_low) VALUES (:tender_id, "
    ":provider_id, 'SUBMITTED', 1, :unit_price, :proposal, NULL, '[]', :submitted_at, :receipt, 1, "
    "FALSE) RETURNING id"
)
UPDATE_BID = (
    "UPDATE bid SET version = :version, unit_price = :unit_price, proposal = :proposal, capacity = NULL, "
    "attachments = '[]', submitted_at = :submitted_at, status = 'SUBMITTED', receipt_sha256 = :receipt "
    "WHERE id = :id"
)
INSERT_BID_VERSION = (
    "INSERT INTO bid_version (bid_id, version, unit_price, proposal, capacity, attachments, submitted_at, "
    "receipt_sha256) VALUES (:bid_id, :version, :unit_price, :proposal, NULL, '[]', :submitted_at, :receipt)"
)
# The columns of a new bid that the request does not set (as the Bid model's defaults).
NEW_BID = {
    "confirmed_tender_version": 1, "invalid_reason": None, "abnormally_low": False, "justification": None,
    "justification_accepted": None, "record_stars": None, "price_score": None, "quality_score": None,
    "record_score": None, "total_score": None, "rank": None,
}  # fmt: skip
SELECT_HEAD = "SELECT seq, hash FROM journal_head WHERE id = 1"
INSERT_HEAD = "INSERT INTO journal_head (id, seq, hash) VALUES (1, :seq, :hash)"
UPDATE_HEAD = "UPDATE journal_head SET seq = :seq, hash = :hash WHERE id = 1"
INSERT_EVENT = (
    "INSERT INTO journal_event (seq, occurred_at, actor_id, action, entity_type, entity_id, before, after, "
    "prev_hash, hash) VALUES (:seq, :occurred_at, :actor_id, :action, :entity_type, :entity_id, :before, "
    ":after, :prev_hash, :hash)"
)
# (c): the delivery behind the link, locked, with the names the resident sees; then the rating.
SELECT_DELIVERY = (
    "SELECT d.id, d.contract_id, d.delivered_on, d.units, d.disputed_at, d.token_expires_at, p.legal_name, "
    "s.name FROM delivery d JOIN contract c ON c.id = d.contract_id JOIN provider p ON p.id = c.provider_id "
    "JOIN service_package s ON s.id = c.package_id WHERE d.token_hash = :token_hash"
)
INSERT_RATING = (
    "INSERT INTO rating (delivery_id, contract_id, stars, timeliness, attitude, professionalism, comment, "
    "created_at, updated_at, client_address, flag_reason, flag_cleared_at) VALUES (:delivery_id, "
    ":contract_id, :stars, :timeliness, :attitude, :professionalism, :comment, :created_at, :created_at, "
    ":client_address, NULL, NULL)"
)

TENDER_COUNT = "SELECT count(*) FROM tender t WHERE t.status <> 'DRAFT' OR t.department_id = :department_id"
TENDER_PAGE = (
    "SELECT t.id, t.title, t.status, t.bid_deadline, t.max_unit_price, p.code, p.name, r.name "
    "FROM tender t JOIN service_package p ON p.id = t.package_id JOIN region r ON r.id = t.region_id "
    "WHERE t.status <> 'DRAFT' OR t.department_id = :department_id "
    "ORDER BY t.id DESC LIMIT :limit OFFSET 0"
)
# Bids are sealed until opened; then the tender's officers, its panel and (after the award) everyone see them.
PAGE_BIDS = (
    "SELECT b.tender_id, b.unit_price, pr.legal_name FROM bid b "
    "JOIN tender t ON t.id = b.tender_id JOIN provider pr ON pr.id = b.provider_id "
    "WHERE b.tender_id IN :tender_ids AND b.status <> 'WITHDRAWN' AND t.opened_at IS NOT NULL AND "
    "(t.department_id = :department_id OR t.status = 'AWARDED' OR EXISTS "
    "(SELECT 1 FROM panel_member m WHERE m.tender_id = t.id AND m.user_id = :user_id)) "
    "ORDER BY b.tender_id, b.rank IS NULL, b.rank, b.id"
)

# The public notice list: anonymous callers see every tender but drafts.
PUBLIC_COUNT = "SELECT count(*) FROM tender t WHERE t.status <> 'DRAFT'"
PUBLIC_PAGE = (
    "SELECT t.id, t.title, t.status, t.version, t.quantity, t.periods, t.period_months, t.start_date, "
    "t.max_unit_price, t.bid_deadline, t.published_at, t.opened_at, p.id AS package_id, p.code, "
    "p.name AS package_name, p.unit, p.category_code AS category, p.tier, r.id AS region_id, "
    "r.code AS region_code, r.name AS region_name, d.id AS department_id, d.name AS department_name "
    "FROM tender t JOIN service_package p ON p.id = t.package_id JOIN region r ON r.id = t.region_id "
    "JOIN department d ON d.id = t.department_id WHERE t.status <> 'DRAFT' "
    "ORDER BY t.id DESC LIMIT :limit OFFSET 0"
)
# One public notice with its package and region, then its answered questions (what anonymous callers see).
PUBLIC_TENDER = (
    "SELECT t.id, t.title, t.status, t.version, t.quantity, t.periods, t.period_months, t.start_date, "
    "t.max_unit_price, t.bid_deadline, t.min_valid_bids, t.price_weight, t.quality_weight, t.record_weight, "
    "t.required_qualifications, t.payment_tiers, t.published_at, p.id AS package_id, p.code, "
    "p.version AS package_version, p.name AS package_name, p.unit, p.standard, p.min_unit_price, "
    "p.max_unit_price AS package_max_unit_price, r.id AS region_id, r.code AS region_code, "
    "r.name AS region_name "
    "FROM tender t JOIN service_package p ON p.id = t.package_id JOIN region r ON r.id = t.region_id "
    "WHERE t.id = :id AND t.status <> 'DRAFT'"
)
ANSWERED_CLARIFICATIONS = (
    "SELECT c.id, c.question, c.asked_at, c.answer, c.answered_at FROM clarification c "
    "WHERE c.tender_id = :id AND c.answer IS NOT NULL ORDER BY c.id"
)


def bid_snapshot(row, dialect: Dialect) -> dict:
    """The bid's columns as the journal writes them (money as text, times as UTC ISO)."""
    values = dict(row._mapping)
    values["unit_price"] = money(values["unit_price"])
    values["submitted_at"] = dialect.read_time(values["submitted_at"]).isoformat()
    values["attachments"] = dialect.read_json(values["attachments"])
    values["abnormally_low"] = bool(values["abnormally_low"])
    if values["justification_accepted"] is not None:
        values["justification_accepted"] = bool(values["justification_accepted"])
    return values


def receipt_sha256(*, tender_id, provider_id, version, unit_price: str, proposal, submitted_at) -> str:
    content = canonical(
        {
            "tender": tender_id,
            "provider": provider_id,
            "version": version,
            "unitPrice": unit_price,
            "proposal": proposal,
            "capacity": None,
            "attachments": [],
            "submittedAt": submitted_at.isoformat(),
        }
    )
    return hashlib.sha256(content.encode()).hexdigest()


class Journal:
    """The journal append of the bare routes: lock the head, insert the chained event, move the head."""

    def __init__(self, dialect: Dialect):
        self.dialect = dialect
        self.select_head = text(SELECT_HEAD + dialect.for_update)
        self.insert_head, self.update_head, self.insert_event = (
            text(INSERT_HEAD),
            text(UPDATE_HEAD),
            text(INSERT_EVENT),
        )

    async def append(
        self, conn, *, now: dt.datetime, actor_id, action, entity_type, entity_id, before, after
    ):
        head = (await conn.execute(self.select_head)).first()
        seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
        values = {
            "occurred_at": now.isoformat(),
            "actor_id": actor_id,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "before": canonical(before) if before is not None else None,
            "after": canonical(after),
        }
        content = canonical([seq, values["occurred_at"], actor_id, action, entity_type, entity_id,
                             values["before"], values["after"]])  # fmt: skip
        event_hash = hashlib.sha256((prev_hash + content).encode()).hexdigest()
        await conn.execute(
            self.insert_event,
            values
            | {
                "seq": seq,
                "occurred_at": self.dialect.bind_time(now),
                "prev_hash": prev_hash,
                "hash": event_hash,
            },
        )
        await conn.execute(self.update_head if head else self.insert_head, {"seq": seq, "hash": event_hash})


# ---------------------------------------------------------------- bare routes


def bare_routes(engine: AsyncEngine, zone: ZoneInfo) -> list[Route]:
    dialect = Dialect(engine.dialect.name)
    select_bid_locked = text(SELECT_BID + dialect.for_update)
    insert_bid, update_bid, insert_bid_version = text(INSERT_BID), text(UPDATE_BID), text(INSERT_BID_VERSION)
    journal = Journal(dialect)
    select_delivery_locked = text(SELECT_DELIVERY + ("" if dialect.sqlite else " FOR UPDATE OF d"))
    insert_rating = text(INSERT_RATING)
    tender_count, tender_page = text(TENDER_COUNT), text(TENDER_PAGE)
    public_count, public_page = text(PUBLIC_COUNT), text(PUBLIC_PAGE)
    public_tender, answered_clarifications = text(PUBLIC_TENDER), text(ANSWERED_CLARIFICATIONS)
    page_bids = text(PAGE_BIDS).bindparams(bindparam("tender_ids", expanding=True))

    async def submit_bid(request: Request) -> JSONResponse:
        """Insert or amend the provider's bid, add its version, append one journal event: one transaction."""
        body = await request.json()
        tender_id, provider_id = int(body["tenderId"]), int(body["providerId"])
        price = Decimal(body["unitPrice"]).quantize(Decimal("0.01"))
        proposal = body["proposal"].strip()
        async with engine.begin() as conn:
            now = dt.datetime.now(dt.UTC)
            keys = {"tender_id": tender_id, "provider_id": provider_id}
            old = (await conn.execute(select_bid_locked, keys)).first()
            version = 1 if old is None else old.version + 1
            receipt = receipt_sha256(tender_id=tender_id, provider_id=provider_id, version=version,
                                     unit_price=str(price), proposal=proposal, submitted_at=now)  # fmt: skip
            values = {"unit_price": int(price * 100), "proposal": proposal,
                      "submitted_at": dialect.bind_time(now), "receipt": receipt}  # fmt: skip
            changes = {"version": version, "unit_price": str(price), "proposal": proposal, "capacity": None,
                       "attachments": [], "submitted_at": now.isoformat(), "status": "SUBMITTED",
                       "receipt_sha256": receipt}  # fmt: skip
            if old is None:
                bid_id = (await conn.execute(insert_bid, keys | values)).scalar_one()
                before, after = None, NEW_BID | keys | changes | {"id": bid_id}
            else:
                bid_id = old.id
                await conn.execute(update_bid, values | {"id": bid_id, "version": version})
                before = bid_snapshot(old, dialect)
                after = before | changes
            await conn.execute(insert_bid_version, values | {"bid_id": bid_id, "version": version})
            action = "bid.submitted" if old is None else "bid.amended"
            await journal.append(
                conn, now=now, actor_id=int(body["userId"]), action=action, entity_type="Bid",
                entity_id=str(bid_id), before=before, after=after,
            )  # fmt: skip
        submitted = now.astimezone(zone).isoformat()
        return JSONResponse(
            {
                "data": {
                    "submitBid": {
                        "bid": {"id": encode_id("Bid", bid_id), "version": version, "unitPrice": str(price)},
                        "receipt": {"sha256": receipt, "submittedAt": submitted},
                        "errors": [],
                    }
                }
            }
        )

    async def tenders(request: Request) -> JSONResponse:
        """The JSON of the GraphQL `tenders` page (see bench/load.py PAGE) from three hand-written SELECTs."""
        body = await request.json()
        first, department_id, user_id = int(body["first"]), int(body["departmentId"]), int(body["userId"])
        # A read, like a GraphQL query: on SQLite a plain BEGIN, not the writers' BEGIN IMMEDIATE.
        with sqlite_writes(False):
            async with engine.connect() as conn:
                total = (await conn.execute(tender_count, {"department_id": department_id})).scalar_one()
                rows = (
                    await conn.execute(tender_page, {"department_id": department_id, "limit": first + 1})
                ).all()
                has_next, rows = len(rows) > first, rows[:first]
                bids: dict[int, list] = {row[0]: [] for row in rows}
                if rows:
                    params = {"tender_ids": list(bids), "department_id": department_id, "user_id": user_id}
                    for tender_id, unit_price, legal_name in (await conn.execute(page_bids, params)).all():
                        bids[tender_id].append(
                            {"unitPrice": money(unit_price), "provider": {"legalName": legal_name}}
                        )
        edges = [
            {
                "node": {
                    "id": encode_id("Tender", tender_id),
                    "title": title,
                    "status": status,
                    "bidDeadline": dialect.read_time(deadline).astimezone(zone).isoformat(),
                    "maxUnitPrice": money(ceiling),
                    "package": {"code": code, "name": package_name},
                    "region": {"name": region_name},
                    "bids": bids[tender_id],
                }
            }
            for tender_id, title, status, deadline, ceiling, code, package_name, region_name in rows
        ]
        page = {
            "totalCount": total,
            "pageInfo": {"hasNextPage": has_next, "endCursor": cursor(len(rows) - 1) if rows else None},
            "edges": edges,
        }
        return JSONResponse({"data": {"tenders": page}})

    def moment(value) -> str | None:
        return None if value is None else dialect.read_time(value).astimezone(zone).isoformat()

    async def public_tenders(request: Request) -> JSONResponse:
        """The JSON of the anonymous `tenders` page (bench/load.py PUBLIC_PAGE) from two SELECTs."""
        first = int((await request.json())["first"])
        with sqlite_writes(False):
            async with engine.connect() as conn:
                total = (await conn.execute(public_count)).scalar_one()
                rows = (await conn.execute(public_page, {"limit": first + 1})).all()
        has_next, rows = len(rows) > first, rows[:first]
        edges = [
            {
                "node": {
                    "id": encode_id("Tender", row.id),
                    "title": row.title,
                    "status": row.status,
                    "version": row.version,
                    "quantity": row.quantity,
                    "periods": row.periods,
                    "periodMonths": row.period_months,
                    "startDate": dialect.read_date(row.start_date).isoformat(),
                    "maxUnitPrice": money(row.max_unit_price),
                    "bidDeadline": moment(row.bid_deadline),
                    "publishedAt": moment(row.published_at),
                    "openedAt": moment(row.opened_at),
                    "package": {
                        "id": encode_id("ServicePackage", row.package_id),
                        "code": row.code,
                        "name": row.package_name,
                        "unit": row.unit,
                        "category": row.category,
                        "tier": row.tier,
                    },
                    "region": {
                        "id": encode_id("Region", row.region_id),
                        "code": row.region_code,
                        "name": row.region_name,
                    },
                    "department": {
                        "id": encode_id("Department", row.department_id),
                        "name": row.department_name,
                    },
                }
            }
            for row in rows
        ]
        page = {
            "totalCount": total,
            "pageInfo": {"hasNextPage": has_next, "endCursor": cursor(len(rows) - 1) if rows else None},
            "edges": edges,
        }
        return JSONResponse({"data": {"tenders": page}})

    async def tender_node(request: Request) -> JSONResponse:
        """The JSON of an anonymous `node(id:)` of a tender (bench/load.py NODE) from two SELECTs."""
        kind, _, key = base64.b64decode((await request.json())["id"]).decode().partition(":")
        tender_id = int(key) if kind == "Tender" and key.isdigit() else 0
        with sqlite_writes(False):
            async with engine.connect() as conn:
                row = (await conn.execute(public_tender, {"id": tender_id})).first()
                questions = []
                if row is not None:
                    questions = (await conn.execute(answered_clarifications, {"id": tender_id})).all()
        if row is None:
            return JSONResponse({"data": {"node": None}})
        node = {
            "id": encode_id("Tender", row.id),
            "title": row.title,
            "status": row.status,
            "version": row.version,
            "quantity": row.quantity,
            "periods": row.periods,
            "periodMonths": row.period_months,
            "startDate": dialect.read_date(row.start_date).isoformat(),
            "maxUnitPrice": money(row.max_unit_price),
            "bidDeadline": moment(row.bid_deadline),
            "minValidBids": row.min_valid_bids,
            "priceWeight": row.price_weight,
            "qualityWeight": row.quality_weight,
            "recordWeight": row.record_weight,
            "requiredQualifications": dialect.read_json(row.required_qualifications),
            "paymentTiers": [
                {"tier": t["tier"], "minScore": float(t["min_score"]), "payoutRate": float(t["payout_rate"])}
                for t in dialect.read_json(row.payment_tiers)
            ],
            "publishedAt": moment(row.published_at),
            "package": {
                "id": encode_id("ServicePackage", row.package_id),
                "code": row.code,
                "version": row.package_version,
                "name": row.package_name,
                "unit": row.unit,
                "standard": row.standard,
                "minUnitPrice": money(row.min_unit_price),
                "maxUnitPrice": money(row.package_max_unit_price),
            },
            "region": {
                "id": encode_id("Region", row.region_id),
                "code": row.region_code,
                "name": row.region_name,
            },
            "clarifications": [
                {
                    "id": encode_id("Clarification", q.id),
                    "question": q.question,
                    "askedAt": moment(q.asked_at),
                    "answer": q.answer,
                    "answeredAt": moment(q.answered_at),
                }
                for q in questions
            ],
        }
        return JSONResponse({"data": {"node": node}})

    async def rate_delivery(request: Request) -> JSONResponse:
        """A resident's first rating through the link: the rating and its journal event in one transaction."""
        body = await request.json()
        address = address_hash(request.client.host) if request.client else None
        comment = (body.get("comment") or "").strip() or None
        async with engine.begin() as conn:
            now = dt.datetime.now(dt.UTC)
            token = hashlib.sha256(body["token"].encode()).hexdigest()
            row = (await conn.execute(select_delivery_locked, {"token_hash": token})).first()
            if row is None:
                return JSONResponse(
                    {"errors": [{"message": "no delivery behind this token"}]}, status_code=404
                )
            rating = {
                "delivery_id": row.id, "contract_id": row.contract_id, "stars": int(body["stars"]),
                "timeliness": body.get("timeliness"), "attitude": body.get("attitude"),
                "professionalism": body.get("professionalism"), "comment": comment,
            }  # fmt: skip
            await conn.execute(
                insert_rating, rating | {"created_at": dialect.bind_time(now), "client_address": address}
            )
            stamp = now.isoformat()
            after = rating | {"created_at": stamp, "updated_at": stamp, "client_address": address,
                              "flag_reason": None, "flag_cleared_at": None}  # fmt: skip
            await journal.append(
                conn, now=now, actor_id=None, action="rating.given", entity_type="Rating",
                entity_id=str(row.id), before=None, after=after,
            )  # fmt: skip
        delivered_on = (
            row.delivered_on
            if isinstance(row.delivered_on, dt.date)
            else dt.date.fromisoformat(row.delivered_on)
        )
        delivery = {
            "serviceName": row.name,
            "providerName": row.legal_name,
            "deliveredOn": delivered_on.isoformat(),
            "units": row.units,
            "disputed": row.disputed_at is not None,
            "linkValidUntil": dialect.read_time(row.token_expires_at).astimezone(zone).isoformat(),
            "rating": {
                key: rating[key] for key in ("stars", "timeliness", "attitude", "professionalism", "comment")
            }
            | {"flagged": False},
        }
        return JSONResponse({"data": {"rateDelivery": {"delivery": delivery, "errors": []}}})

    return [
        Route("/bare/submit-bid", submit_bid, methods=["POST"]),
        Route("/bare/tenders", tenders, methods=["POST"]),
        Route("/bare/public-tenders", public_tenders, methods=["POST"]),
        Route("/bare/tender", tender_node, methods=["POST"]),
        Route("/bare/rate-delivery", rate_delivery, methods=["POST"]),
    ]


# ---------------------------------------------------------------- counters and profiling


def statement_count(probe_dir: Path) -> int:
    """The SQL statements sent so far by every worker that counts in `probe_dir`."""
    return sum(
        int.from_bytes(path.read_bytes()[:8] or b"\0", "little") for path in probe_dir.glob("statements-*")
    )


class Probe:
    """SQL statements sent through the engine, and a profile of the event loop's thread on demand.

    The count lives in a memory-mapped file of this worker (`statements-<pid>` in the probe
    folder), so that the load generator reads the sum over all workers without asking any of them.
    SIGUSR1 starts the profiler in this worker, SIGUSR2 stops it and writes `profile-<pid>.json`.
    On demand too (`/bench/statements/start`, `/stop`), the time of each statement, by its SQL; the
    listeners are attached only meanwhile, so the timed rounds do not pay for them.
    """

    def __init__(self, engine: AsyncEngine, probe_dir: Path):
        self.engine = engine
        self.probe_dir = probe_dir
        path = probe_dir / f"statements-{os.getpid()}"
        path.write_bytes(bytes(8))
        with path.open("r+b") as file:
            self.counter = mmap.mmap(file.fileno(), 8)
        self.statements = 0
        self.profile: profiling.Profile | None = None
        self.timings: dict[str, list[float]] = {}
        event.listen(engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_args) -> None:
        self.statements += 1
        self.counter[:8] = self.statements.to_bytes(8, "little")

    def _started(self, _conn, _cursor, _statement, _parameters, context, _many) -> None:
        context._bench_started = time.perf_counter()

    def _finished(self, _conn, _cursor, statement, _parameters, context, _many) -> None:
        elapsed = time.perf_counter() - context._bench_started
        self.timings.setdefault(" ".join(statement.split()), []).append(elapsed)

    def start_profile(self) -> None:
        if self.profile is None:
            self.profile = profiling.Profile.start()

    def stop_profile(self) -> None:
        """The tally of this worker, written atomically (the driver waits for the file)."""
        if self.profile is None:
            return
        tally, self.profile = self.profile.stop(), None
        target = self.probe_dir / f"profile-{os.getpid()}.json"
        partial = target.with_suffix(".partial")
        partial.write_text(json.dumps(tally))
        partial.replace(target)

    def listen_for_signals(self) -> None:
        """SIGUSR1/SIGUSR2 run start/stop in the event loop (uvicorn calls the factory inside it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # built outside a server (a test): no signals
        loop.add_signal_handler(signal.SIGUSR1, self.start_profile)
        loop.add_signal_handler(signal.SIGUSR2, self.stop_profile)

    def routes(self) -> list[Route]:
        async def counters(_request: Request) -> JSONResponse:
            return JSONResponse({"statements": statement_count(self.probe_dir)})

        async def pid(_request: Request) -> JSONResponse:
            """Which worker process holds the caller's connection."""
            return JSONResponse({"pid": os.getpid()})

        async def statements_start(_request: Request) -> JSONResponse:
            self.timings = {}
            event.listen(self.engine.sync_engine, "before_cursor_execute", self._started)
            event.listen(self.engine.sync_engine, "after_cursor_execute", self._finished)
            return JSONResponse({})

        async def statements_stop(_request: Request) -> JSONResponse:
            event.remove(self.engine.sync_engine, "before_cursor_execute", self._started)
            event.remove(self.engine.sync_engine, "after_cursor_execute", self._finished)
            return JSONResponse({"statements": self.timings})

        return [
            Route("/bench/counters", counters),
            Route("/bench/pid", pid),
            Route("/bench/statements/start", statements_start, methods=["POST"]),
            Route("/bench/statements/stop", statements_stop, methods=["POST"]),
        ]


# ---------------------------------------------------------------- the factory uvicorn calls


def create_bench_app():
    settings = get_settings()
    # The engine create_app would make for itself, shared with the bare routes.
    engine = create_engine(settings.database_url, pool_pre_ping=True)
    asgi = application.create_app(settings, create_sessionmaker(engine))
    probe_dir = Path(os.environ.get("BENCH_PROBE_DIR") or tempfile.mkdtemp(prefix="market-bench-probe-"))
    probe = Probe(engine, probe_dir)
    probe.listen_for_signals()
    # The same API with the response cache off at /graphql-fresh: what a read costs when the data
    # changed since it was last asked (the "fresh" scenarios), on the same engine.
    fresh = application.create_app(
        settings.model_copy(update={"response_cache": False}), create_sessionmaker(engine)
    )
    fresh_graphql = next(r for r in fresh.router.routes if getattr(r, "path", None) == "/graphql")
    asgi.router.routes.append(Route("/graphql-fresh", fresh_graphql.endpoint, methods=["POST"]))
    asgi.router.routes.extend([*bare_routes(engine, settings.zone), *probe.routes()])
    return asgi
