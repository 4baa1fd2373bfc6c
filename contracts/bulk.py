"""Bulk demo data: realistic deliveries and resident ratings, thousands at a time.

`market demo ratings --count N` and the benchmarks use this to fill a contract with
history that would take the services hours to write one request at a time:
PostgreSQL `COPY` (through psycopg's copy protocol on the session's own connection)
and, on SQLite, multi-row `INSERT`s, in batches of `BATCH` ratings, each batch its
own committed transaction.

What the rows look like:

- deliveries spread over the contract's term up to the platform's today (Sundays
  half as often), 1 unit (2 for one in five), recorded the same day by the
  provider, each to a resident of a pool of synthetic mainland numbers
  (13xxxxxxxxx, so a resident is served many times), stored as the service stores
  them: the keyed phone hash and the SHA-256 of a random link token (nobody holds
  those links; no SMS is queued), links valid 30 days from recording;
- one delivery in a hundred disputed by its resident (never rated), and most of
  the others rated (`RATED_SHARE`): stars skewed to 4-5 with some 1-3, the three
  dimensions on most ratings (near the stars), an occasional comment matching the
  stars, given within hours to days of the visit (never after now), the keyed
  hash of the resident's client address on most (a household shares one); none
  flagged: a resident rates a few times a month, far from the abuse rule's 6 per
  address per hour.

Contracts: `contract_id`, which must be ACTIVE with its term started; or, without
it, every ACTIVE contract whose term has started, the count split between them.
A contract whose term starts after today gets nothing: deliveries in the future
are what `record_delivery` refuses, and so does this.

The journal: writing one event per generated delivery and rating through the
services would make a million-rating demo take hours and the journal two million
events long. Instead each batch appends **one** hash-chained event, in the batch's
transaction, that records the bulk load: action `demo.ratings_generated` (or
`demo.deliveries_generated`), entity the contract, and the counts, the delivery ID
range and the dates in `after`. The chain stays valid (`market journal verify`)
and says where these rows came from; the individual rows have no event of their own.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import random
import time
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from contracts.deliveries import TOKEN_LIFETIME
from contracts.lifecycle import contract_term
from contracts.models import Contract, ContractStatus, Delivery, Rating
from contracts.residents import address_hash, phone_hash, token_hash
from core import bulk as core_bulk
from core import clock, hooks, journal
from core.db import create_sessionmaker
from core.errors import DomainError, ErrorCode
from core.models import JournalEvent, JournalHead
from core.settings import get_settings

BATCH = 10_000
"""Ratings (with their deliveries) per batch, per transaction."""
RATED_SHARE = 0.85
DISPUTED_SHARE = 0.01
STARS = (5, 4, 3, 2, 1)
STAR_WEIGHTS = (0.55, 0.27, 0.09, 0.04, 0.05)
DIMENSIONS_SHARE = 0.7
COMMENT_SHARE = 0.08
ADDRESS_SHARE = 0.75
DELIVERIES_PER_RESIDENT = 40
COMMENTS = {
    5: ("护理员很准时，服务认真细致，谢谢！", "阿姨很耐心，老人很满意。", "服务很好，希望一直是这位护理员。"),
    4: ("整体不错，就是来得稍晚了一点。", "服务挺好，沟通可以再多一些。"),
    3: ("服务一般，时间不够两小时。", "换了护理员，老人不太适应。"),
    2: ("迟到了四十分钟，也没有提前打电话。", "打扫不够仔细。"),
    1: ("约好的时间没来，打电话也没人接。", "态度很差，服务没做完就走了。"),
}
NOTES = ("助浴", "助洁", "助餐", "陪同就医", "基础照护")
DISPUTE_REASONS = ("当天没有人上门", "服务时间和记录不符")
# SQLite allows 32,766 bound values per statement: rows per multi-row INSERT.

DELIVERY_COLUMNS = (
    "id", "contract_id", "delivered_on", "units", "note", "phone_hash", "token_hash", "token_expires_at",
    "recorded_at", "recorded_by_id", "disputed_at", "dispute_reason", "marked_false_by_audit_id",
)  # fmt: skip
RATING_COLUMNS = (
    "delivery_id", "contract_id", "stars", "timeliness", "attitude", "professionalism", "comment",
    "created_at", "updated_at", "client_address", "flag_reason", "flag_cleared_at",
)  # fmt: skip

Progress = Callable[[int], object]


@dataclass
class Generated:
    """What a bulk load wrote."""

    contract_ids: list[int]
    deliveries: int = 0
    ratings: int = 0
    disputed: int = 0
    batches: int = 0
    seconds: float = 0.0
    per_contract: dict[int, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.deliveries + self.ratings

    def summary(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        contracts = ", ".join(f"#{c}: {n:,}" for c, n in self.per_contract.items())
        return (
            f"{self.ratings:,} ratings of {self.deliveries:,} deliveries ({self.disputed:,} disputed) on "
            f"contract(s) {contracts}; {self.batches} batch(es), one journal event each; "
            f"{self.rows:,} rows in {self.seconds:.1f} s = {rate:,.0f} rows/s"
        )


# ---------------------------------------------------------------- entry points


async def generate_ratings(
    target: AsyncEngine | AsyncSession,
    *,
    contract_id: int | None = None,
    count: int,
    progress: Progress | None = None,
    batch_size: int = BATCH,
    seed: int | None = None,
) -> Generated:
    """`count` ratings with their deliveries (and some unrated or disputed ones), batch by batch.

    `target`: an engine (each batch in a session of its own) or a session (each batch
    committed in it). `progress(n)` is called after each batch with the ratings it wrote.
    No row is dated after the moment the load started. While the database takes one
    batch, the next one is made in a worker thread.
    """
    if count < 1:
        raise DomainError(ErrorCode.INVALID, "generate at least 1 rating", field=["count"])
    rng = random.Random(seed)  # noqa: S311 - shapes of demo data; link tokens come from os.urandom
    started = time.perf_counter()
    session_for = _session_factory(target)
    async with session_for() as session:
        contracts = await _eligible(session, contract_id)
        now = await clock.now(session)
    plans = [_ContractPlan(contract, clock.today(now), rng) for contract in contracts]
    result = Generated(contract_ids=[p.contract_id for p in plans])
    jobs = []
    for plan, share in zip(plans, _split(count, len(plans)), strict=True):
        plan.prepare_residents(share)
        result.per_contract[plan.contract_id] = share
        jobs += [(plan, min(batch_size, share - done)) for done in range(0, share, batch_size)]
    await _run_batches(
        session_for,
        [lambda plan=plan, size=size: plan.rated_batch(size, now) for plan, size in jobs],
        [plan.contract_id for plan, _ in jobs],
        action="demo.ratings_generated",
        result=result,
        progress=progress,
        counted=lambda batch: batch.ratings,
    )
    result.seconds = time.perf_counter() - started
    return result


async def generate_deliveries(
    target: AsyncEngine | AsyncSession,
    *,
    contract_id: int,
    tokens: Sequence[str],
    progress: Progress | None = None,
    batch_size: int = BATCH,
    seed: int | None = None,
) -> Generated:
    """Unrated deliveries of the last days whose link tokens the caller chose (and so can rate through).

    For the benchmarks: each token opens one delivery whose link is valid for 30 days from now.
    """
    rng = random.Random(seed)  # noqa: S311 - shapes of demo data
    started = time.perf_counter()
    session_for = _session_factory(target)
    async with session_for() as session:
        (contract,) = await _eligible(session, contract_id)
        now = await clock.now(session)
    plan = _ContractPlan(contract, clock.today(now), rng, recent_days=7)
    plan.prepare_residents(len(tokens))
    result = Generated(contract_ids=[contract_id], per_contract={contract_id: 0})
    chunks = [tokens[start : start + batch_size] for start in range(0, len(tokens), batch_size)]
    await _run_batches(
        session_for,
        [lambda chunk=chunk: plan.linked_batch(chunk, now) for chunk in chunks],
        [contract_id] * len(chunks),
        action="demo.deliveries_generated",
        result=result,
        progress=progress,
        counted=lambda batch: len(batch.deliveries),
    )
    result.seconds = time.perf_counter() - started
    return result


async def _run_batches(session_for, makers, contract_ids, *, action, result, progress, counted) -> None:
    """Write the batches in order, each in its own committed transaction; make the next one meanwhile."""
    upcoming = asyncio.ensure_future(asyncio.to_thread(makers[0])) if makers else None
    for index, contract_id in enumerate(contract_ids):
        batch = await upcoming
        if index + 1 < len(makers):
            upcoming = asyncio.ensure_future(asyncio.to_thread(makers[index + 1]))
        try:
            async with session_for() as session:
                await _write(session, batch, contract_id, action=action)
                await session.commit()
        except BaseException:
            if index + 1 < len(makers):
                await asyncio.gather(upcoming, return_exceptions=True)
            raise
        result.deliveries += len(batch.deliveries)
        result.ratings += batch.ratings
        result.disputed += batch.disputed
        result.batches += 1
        if progress is not None:
            progress(counted(batch))


# ---------------------------------------------------------------- choosing contracts


async def _eligible(session: AsyncSession, contract_id: int | None) -> list[Contract]:
    today = clock.today(await clock.now(session))
    if contract_id is not None:
        contract = await session.get(Contract, contract_id)
        if contract is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no contract with this ID", field=["contractId"])
        if contract.status != ContractStatus.ACTIVE:
            raise DomainError(
                ErrorCode.INVALID_STATE, f"contract #{contract.id} is {contract.status.value}, not ACTIVE"
            )
        if contract.start_date > today:
            raise DomainError(
                ErrorCode.INVALID_STATE,
                f"contract #{contract.id} starts on {contract.start_date}: no delivery can be recorded yet",
            )
        return [contract]
    contracts = list(
        (
            await session.scalars(
                select(Contract)
                .where(Contract.status == ContractStatus.ACTIVE, Contract.start_date <= today)
                .order_by(Contract.id)
            )
        ).all()
    )
    if not contracts:
        raise DomainError(
            ErrorCode.INVALID_STATE,
            "no ACTIVE contract whose term has started: load the demo first (market demo load)",
        )
    return contracts


def _split(count: int, parts: int) -> list[int]:
    share, extra = divmod(count, parts)
    return [share + (1 if i < extra else 0) for i in range(parts)]


# ---------------------------------------------------------------- making rows


@dataclass
class _Batch:
    deliveries: list[dict] = field(default_factory=list)
    ratings_rows: list[dict] = field(default_factory=list)
    disputed: int = 0

    @property
    def ratings(self) -> int:
        return len(self.ratings_rows)


class _ContractPlan:
    """Where and when one contract's deliveries happen, and who receives them."""

    def __init__(
        self, contract: Contract, today: dt.date, rng: random.Random, recent_days: int | None = None
    ):
        self.contract_id = contract.id
        self.rng = rng
        self.zone = get_settings().zone
        first, last = contract_term(contract)
        last = min(last, today)
        if recent_days is not None:
            first = max(first, last - dt.timedelta(days=recent_days - 1))
        self.first_day, self.days = first, (last - first).days + 1
        self.phones: list[str] = []
        self.addresses: list[str | None] = []

    def prepare_residents(self, ratings: int) -> None:
        """A pool of residents (phone hash, household address hash) sized to the deliveries to come."""
        residents = max(20, round(ratings / RATED_SHARE / DELIVERIES_PER_RESIDENT))
        rng = self.rng
        numbers = {f"13{rng.randrange(10**9):09d}" for _ in range(residents)}
        self.phones = [phone_hash(n) for n in sorted(numbers)]
        households = [
            address_hash(f"100.{rng.randrange(64, 128)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
            for _ in range(max(1, len(self.phones) // 2))
        ]
        self.addresses = [
            rng.choice(households) if rng.random() < ADDRESS_SHARE else None for _ in self.phones
        ]

    def _day(self) -> dt.date:
        rng = self.rng
        while True:
            day = self.first_day + dt.timedelta(days=rng.randrange(self.days))
            if day.weekday() != 6 or rng.random() < 0.5:
                return day

    def rated_batch(self, ratings: int, now: dt.datetime) -> _Batch:
        batch = _Batch()
        while batch.ratings < ratings:
            self.add_delivery(batch, now)
        return batch

    def linked_batch(self, tokens: Sequence[str], now: dt.datetime) -> _Batch:
        batch = _Batch()
        for token in tokens:
            self.add_delivery(batch, now, token=token)
        return batch

    def add_delivery(self, batch: _Batch, now: dt.datetime, *, token: str | None = None) -> None:
        rng = self.rng
        day = self._day()
        minute = rng.randrange(600)  # visits from 08:00 to 18:00, the deployment's local time
        visit = dt.datetime.combine(day, dt.time(8), tzinfo=self.zone) + dt.timedelta(minutes=minute)
        recorded_at = min(visit.astimezone(dt.UTC) + dt.timedelta(minutes=rng.randrange(120, 240)), now)
        if token is not None:  # a fresh link, valid 30 days from now
            recorded_at = now
        resident = rng.randrange(len(self.phones))
        link = token if token is not None else base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        delivery = {
            "id": None,
            "contract_id": self.contract_id,
            "delivered_on": day,
            "units": 2 if rng.random() < 0.2 else 1,
            "note": rng.choice(NOTES) if rng.random() < 0.05 else None,
            "phone_hash": self.phones[resident],
            "token_hash": token_hash(link),
            "token_expires_at": recorded_at + TOKEN_LIFETIME,
            "recorded_at": recorded_at,
            "recorded_by_id": None,
            "disputed_at": None,
            "dispute_reason": None,
            "marked_false_by_audit_id": None,
        }
        batch.deliveries.append(delivery)
        if token is not None:
            return
        if rng.random() < DISPUTED_SHARE:
            delivery["disputed_at"] = min(recorded_at + dt.timedelta(hours=rng.randrange(2, 72)), now)
            delivery["dispute_reason"] = rng.choice(DISPUTE_REASONS)
            batch.disputed += 1
            return
        if rng.random() >= RATED_SHARE:
            return
        batch.ratings_rows.append(self._rating(delivery, self.addresses[resident], now))

    def _rating(self, delivery: dict, address: str | None, now: dt.datetime) -> dict:
        rng = self.rng
        stars = rng.choices(STARS, STAR_WEIGHTS)[0]
        dimensions = [None, None, None]
        if rng.random() < DIMENSIONS_SHARE:
            dimensions = [min(5, max(1, stars + rng.choice((-1, 0, 0, 0, 1)))) for _ in range(3)]
        # Most residents rate within hours of the SMS, some days later.
        delay = dt.timedelta(minutes=int(rng.expovariate(1 / 300)) + 5)
        created_at = min(delivery["recorded_at"] + delay, now)
        updated_at = created_at
        if rng.random() < 0.03:  # changed within the 48 hours allowed
            updated_at = min(created_at + dt.timedelta(minutes=rng.randrange(5, 2880)), now)
        comment = rng.choice(COMMENTS[stars]) if rng.random() < COMMENT_SHARE else None
        return {
            "delivery_id": None,
            "contract_id": delivery["contract_id"],
            "stars": stars,
            "timeliness": dimensions[0],
            "attitude": dimensions[1],
            "professionalism": dimensions[2],
            "comment": comment,
            "created_at": created_at,
            "updated_at": updated_at,
            "client_address": address,
            "flag_reason": None,
            "flag_cleared_at": None,
            "_delivery": delivery,
        }


# ---------------------------------------------------------------- writing rows


async def _write(session: AsyncSession, batch: _Batch, contract_id: int, *, action: str) -> None:
    """The batch's deliveries and ratings, and one journal event, in the session's transaction."""
    ids = await core_bulk.reserve_ids(session, Delivery.__table__, len(batch.deliveries))
    for delivery, delivery_id in zip(batch.deliveries, ids, strict=True):
        delivery["id"] = delivery_id
    for rating in batch.ratings_rows:
        rating["delivery_id"] = rating.pop("_delivery")["id"]
    await core_bulk.insert_rows(session, Delivery.__table__, batch.deliveries, DELIVERY_COLUMNS)
    await core_bulk.insert_rows(session, Rating.__table__, batch.ratings_rows, RATING_COLUMNS)
    # Core inserts pass no ORM event: what is kept from these rows downstream (scoring's period
    # rollups) is brought up to date here, in the batch's transaction.
    await hooks.emit(
        session,
        hooks.DELIVERIES_BULK_WRITTEN,
        contract_id=contract_id,
        deliveries=batch.deliveries,
        ratings=batch.ratings_rows,
    )
    days = [d["delivered_on"] for d in batch.deliveries]
    await _journal_batch(
        session,
        action=action,
        contract_id=contract_id,
        after={
            "source": "bulk load (contracts.bulk)",
            "deliveries": len(batch.deliveries),
            "ratings": batch.ratings,
            "disputed": batch.disputed,
            "delivery_ids": [ids[0], ids[-1]] if ids else None,
            "delivered_on": [min(days).isoformat(), max(days).isoformat()] if days else None,
        },
    )


async def _journal_batch(session: AsyncSession, *, action: str, contract_id: int, after: dict) -> None:
    """One hash-chained event for the batch, appended under the journal head's lock like any other."""
    head = (
        await session.execute(
            select(JournalHead)
            .where(JournalHead.id == 1)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if head is None:
        head = JournalHead(id=1, seq=0, hash=journal.GENESIS_HASH)
        session.add(head)
    entry = JournalEvent(
        seq=head.seq + 1,
        occurred_at=await clock.now(session),
        actor_id=None,
        action=action,
        entity_type="Contract",
        entity_id=str(contract_id),
        before=None,
        after=journal.canonical_json(after),
        prev_hash=head.hash,
        hash="",
    )
    entry.hash = journal.event_hash(head.hash, entry)
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    await session.flush()


# ---------------------------------------------------------------- sessions


def _session_factory(target: AsyncEngine | AsyncSession):
    """`async with session_for() as session`: a new session per batch from an engine, or the given session."""
    if isinstance(target, AsyncSession):

        @asynccontextmanager
        async def borrowed():
            yield target

        return borrowed
    return create_sessionmaker(target)
