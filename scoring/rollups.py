"""Period rollups (SPEC §6.1): the evidence of every contract period, kept current as it changes.

One `PeriodRollup` row per contract period. The rows are made when the contract is (an ORM event on
the new `Contract` row: contracts never import scoring), and backfilled for older contracts by
migration 0007. Afterwards each row moves by deltas, in the transaction of the change:

- an `after_flush` listener (installed by `scoring.hooks.install`, from app.py) reads the attribute
  history of the deliveries, ratings and complaints a flush wrote and adds the difference each makes
  to its period's counts: a delivery recorded, disputed or marked false; a rating given, changed or
  its flag cleared; a complaint resolved as substantiated. A rating costs one UPDATE of one row, never
  a scan of ratings.
- bulk loads (`contracts.bulk`, Core inserts that pass no ORM event) emit
  `hooks.DELIVERIES_BULK_WRITTEN` with the rows they wrote; their counts are added per period.

What a period counts: deliveries recorded (all, by delivery date), verified units (of deliveries
neither disputed nor marked false), substantiated complaints (RESOLVED, substantiated; in the period
of their delivery's date), every rating given, and the counted ratings (unflagged or flag cleared,
of verified deliveries) with their sum and histogram.

`recompute` counts everything again from the rows, set-based (tests hold the deltas to it).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, event, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, attributes
from sqlalchemy.orm.util import identity_key

from contracts import lifecycle
from contracts.models import Complaint, ComplaintStatus, Contract, Delivery, Rating
from scoring.models import PeriodRollup

COUNTS = (
    "deliveries_recorded",
    "verified_units",
    "substantiated_complaints",
    "ratings_given",
    "ratings_count",
    "ratings_sum",
    "stars_1",
    "stars_2",
    "stars_3",
    "stars_4",
    "stars_5",
)


def rows_for(contract: Contract) -> list[dict[str, Any]]:
    """The rollup rows of a new contract: one per period, nothing counted yet."""
    return [
        {
            "contract_id": contract.id,
            "period_index": p.index,
            "starts_on": p.starts_on,
            "ends_on": p.ends_on,
            "package_id": contract.package_id,
            **dict.fromkeys(COUNTS, 0),
        }
        for p in lifecycle.periods_of(contract)
    ]


# ---------------------------------------------------------------- what one row contributes


def _delivery_counts(units: int, verified: bool) -> Counter:
    return Counter({"deliveries_recorded": 1, "verified_units": units if verified else 0})


def _rating_counts(stars: int, counted: bool) -> Counter:
    found = Counter({"ratings_given": 1})
    if counted:
        found.update({"ratings_count": 1, "ratings_sum": stars, f"stars_{stars}": 1})
    return found


def _old(row: Any, key: str) -> Any:
    """The value an attribute had before this flush."""
    history = attributes.get_history(row, key)
    if history.deleted:
        return history.deleted[0]
    return getattr(row, key)


def _values(row: Any, keys: Sequence[str], *, old: bool) -> dict[str, Any]:
    return {key: _old(row, key) if old else getattr(row, key) for key in keys}


_DELIVERY_KEYS = ("units", "disputed_at", "marked_false_by_audit_id")
_RATING_KEYS = ("stars", "flag_reason", "flag_cleared_at")


def _verified(delivery: dict[str, Any] | None) -> bool:
    return (
        delivery is not None
        and delivery["disputed_at"] is None
        and delivery["marked_false_by_audit_id"] is None
    )


def _contribution(delivery: dict[str, Any] | None, rating: dict[str, Any] | None) -> Counter:
    """What a delivery and its rating add to their period, in one state (None: the row did not exist)."""
    found = Counter()
    if delivery is not None:
        found += _delivery_counts(delivery["units"], _verified(delivery))
    if rating is not None:
        unflagged = rating["flag_reason"] is None or rating["flag_cleared_at"] is not None
        found.update(_rating_counts(rating["stars"], unflagged and _verified(delivery)))
    return found


def _difference(after: Counter, before: Counter) -> Counter:
    delta = Counter(after)
    delta.subtract(before)
    return Counter({key: value for key, value in delta.items() if value})


# ---------------------------------------------------------------- the flush listener


def _changed(session: Session, row: Any, keys: Sequence[str]) -> bool:
    state = attributes.instance_state(row)
    return any(state.attrs[key].history.has_changes() for key in keys) if row in session.dirty else False


def _after_flush(session: Session, _flush_context) -> None:
    """Rollup rows for new contracts; deltas for the deliveries, ratings and complaints just written."""
    new_contracts = [row for row in session.new if isinstance(row, Contract)]
    deliveries: dict[int, Delivery] = {}
    ratings: dict[int, Rating] = {}
    complaints: list[Complaint] = []
    for row in (*session.new, *session.dirty):
        if isinstance(row, Delivery) and (row in session.new or _changed(session, row, _DELIVERY_KEYS)):
            deliveries[row.id] = row
        elif isinstance(row, Rating) and (row in session.new or _changed(session, row, _RATING_KEYS)):
            ratings[row.delivery_id] = row
        elif isinstance(row, Complaint):
            complaints.append(row)
    if not (new_contracts or deliveries or ratings or complaints):
        return
    connection = session.connection()
    if new_contracts:
        connection.execute(insert(PeriodRollup), [r for c in new_contracts for r in rows_for(c)])
    deltas: dict[tuple[int, dt.date], Counter] = {}

    def add(contract_id: int, day: dt.date, delta: Counter) -> None:
        if delta:
            deltas.setdefault((contract_id, day), Counter()).update(delta)

    for delivery_id in {*deliveries, *ratings}:
        delivery = deliveries.get(delivery_id) or session.identity_map.get(
            identity_key(Delivery, delivery_id)
        )
        if delivery is None:  # a rating changed whose delivery this session has not loaded
            found = connection.execute(
                select(
                    Delivery.contract_id,
                    Delivery.delivered_on,
                    *(getattr(Delivery, k) for k in _DELIVERY_KEYS),
                ).where(Delivery.id == delivery_id)
            ).one()
            contract_id, day = found.contract_id, found.delivered_on
            delivery_before = delivery_after = {k: getattr(found, k) for k in _DELIVERY_KEYS}
        else:
            contract_id, day = delivery.contract_id, delivery.delivered_on
            is_new = delivery in session.new
            delivery_before = None if is_new else _values(delivery, _DELIVERY_KEYS, old=True)
            delivery_after = _values(delivery, _DELIVERY_KEYS, old=False)
        rating = ratings.get(delivery_id)
        if rating is None and delivery_id in deliveries and deliveries[delivery_id] not in session.new:
            # A delivery's verification changed: its rating (if any) moves with it.
            rating = session.identity_map.get(identity_key(Rating, delivery_id))
            if rating is None:
                found = connection.execute(
                    select(*(getattr(Rating, k) for k in _RATING_KEYS)).where(
                        Rating.delivery_id == delivery_id
                    )
                ).one_or_none()
                state = None if found is None else {k: getattr(found, k) for k in _RATING_KEYS}
                rating_before = rating_after = state
            else:
                rating_before = rating_after = _values(rating, _RATING_KEYS, old=False)
        elif rating is None:
            rating_before = rating_after = None
        else:
            rating_before = None if rating in session.new else _values(rating, _RATING_KEYS, old=True)
            rating_after = _values(rating, _RATING_KEYS, old=False)
        add(
            contract_id,
            day,
            _difference(
                _contribution(delivery_after, rating_after), _contribution(delivery_before, rating_before)
            ),
        )

    for complaint in complaints:
        before = (
            0
            if complaint in session.new
            else _substantiated(_old(complaint, "status"), _old(complaint, "substantiated"))
        )
        after = _substantiated(complaint.status, complaint.substantiated)
        if after != before:
            day = connection.execute(
                select(Delivery.delivered_on).where(Delivery.id == complaint.delivery_id)
            ).scalar_one()
            add(complaint.contract_id, day, Counter({"substantiated_complaints": after - before}))

    for (contract_id, day), delta in deltas.items():
        connection.execute(
            update(PeriodRollup)
            .where(
                PeriodRollup.contract_id == contract_id,
                PeriodRollup.starts_on <= day,
                PeriodRollup.ends_on >= day,
            )
            .values({key: getattr(PeriodRollup, key) + value for key, value in sorted(delta.items())})
        )


def _substantiated(status: ComplaintStatus, substantiated: bool | None) -> int:
    return 1 if status == ComplaintStatus.RESOLVED and substantiated else 0


def install() -> None:
    """Keep rollups current on every session's flush (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def installed() -> bool:
    return event.contains(Session, "after_flush", _after_flush)


def uninstall() -> None:
    if event.contains(Session, "after_flush", _after_flush):
        event.remove(Session, "after_flush", _after_flush)


# ---------------------------------------------------------------- bulk loads


async def add_bulk_rows(
    session: AsyncSession, *, contract_id: int, deliveries: Sequence[dict], ratings: Sequence[dict]
) -> None:
    """The counts of a bulk batch (new deliveries and their ratings), one UPDATE per period touched."""
    contract = await session.get(Contract, contract_id)
    periods = lifecycle.periods_of(contract)

    def period_of(day: dt.date) -> int:
        return next(p.index for p in periods if p.starts_on <= day <= p.ends_on)

    by_id = {d["id"]: d for d in deliveries}
    per_period: dict[int, Counter] = {}
    for delivery in deliveries:
        per_period.setdefault(period_of(delivery["delivered_on"]), Counter()).update(
            _contribution(delivery, None)
        )
    for rating in ratings:
        delivery = by_id[rating["delivery_id"]]
        per_period[period_of(delivery["delivered_on"])].update(
            _contribution(delivery, rating) - _contribution(delivery, None)
        )
    for index, counts in sorted(per_period.items()):
        if counts:
            await session.execute(
                update(PeriodRollup)
                .where(PeriodRollup.contract_id == contract_id, PeriodRollup.period_index == index)
                .values({key: getattr(PeriodRollup, key) + value for key, value in sorted(counts.items())})
            )


# ---------------------------------------------------------------- from scratch


def _in_period():
    return and_(
        Delivery.contract_id == PeriodRollup.contract_id,
        Delivery.delivered_on >= PeriodRollup.starts_on,
        Delivery.delivered_on <= PeriodRollup.ends_on,
    )


def verified_clause():
    return and_(Delivery.disputed_at.is_(None), Delivery.marked_false_by_audit_id.is_(None))


def counted_rating_clause():
    """A rating that counts for the score: unflagged or cleared, of a verified delivery."""
    return and_(verified_clause(), or_(Rating.flag_reason.is_(None), Rating.flag_cleared_at.isnot(None)))


def recount_values() -> dict[str, Any]:
    """Every count of a rollup row, as correlated subqueries over the rows (for UPDATE or SELECT)."""
    rated = select(func.count()).select_from(Delivery).join(Rating, Rating.delivery_id == Delivery.id)

    def count(statement, where):
        return statement.where(_in_period(), where).scalar_subquery()

    def total(column, where, joined=False):
        statement = select(func.coalesce(func.sum(column), 0)).select_from(Delivery)
        if joined:
            statement = statement.join(Rating, Rating.delivery_id == Delivery.id)
        return statement.where(_in_period(), where).scalar_subquery()

    deliveries = select(func.count()).select_from(Delivery)
    complaints = (
        select(func.count()).select_from(Delivery).join(Complaint, Complaint.delivery_id == Delivery.id)
    )
    return {
        "deliveries_recorded": count(deliveries, true()),
        "verified_units": total(Delivery.units, verified_clause()),
        "substantiated_complaints": count(
            complaints, and_(Complaint.status == ComplaintStatus.RESOLVED, Complaint.substantiated == true())
        ),
        "ratings_given": count(rated, true()),
        "ratings_count": count(rated, counted_rating_clause()),
        "ratings_sum": total(Rating.stars, counted_rating_clause(), joined=True),
        **{f"stars_{k}": count(rated, and_(counted_rating_clause(), Rating.stars == k)) for k in range(1, 6)},
    }


async def recompute(session: AsyncSession, contract_ids: Iterable[int] | None = None) -> None:
    """Count the rollups of these contracts (all: None) again from the rows, set-based."""
    statement = update(PeriodRollup).values(recount_values())
    if contract_ids is not None:
        statement = statement.where(PeriodRollup.contract_id.in_(list(contract_ids)))
    await session.execute(statement)


async def recounted(session: AsyncSession, contract_ids: Iterable[int]) -> dict[tuple[int, int], dict]:
    """What `recompute` would write, without writing it: (contract, period) → counts."""
    values = recount_values()
    rows = await session.execute(
        select(
            PeriodRollup.contract_id, PeriodRollup.period_index, *(v.label(k) for k, v in values.items())
        ).where(PeriodRollup.contract_id.in_(list(contract_ids)))
    )
    return {(r.contract_id, r.period_index): {k: getattr(r, k) for k in COUNTS} for r in rows}


async def stored(session: AsyncSession, contract_ids: Iterable[int]) -> dict[tuple[int, int], dict]:
    rows = await session.scalars(select(PeriodRollup).where(PeriodRollup.contract_id.in_(list(contract_ids))))
    return {(r.contract_id, r.period_index): {k: getattr(r, k) for k in COUNTS} for r in rows}
