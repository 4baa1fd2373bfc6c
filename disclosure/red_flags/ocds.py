"""The market's tables as OCDS shapes them, in SQL: what Cardinal's indicators read.

One contracting process (`ocid`) is one tender. The columns and the OCDS 1.1 fields (with the bids
extension) they stand for:

- `ocid` = `/ocid`: `tender.id`;
- `buyer_id` = `/buyer/id` and `/tender/procuringEntity/id` (the same department): `tender.department_id`;
- `published_at`, `bid_deadline` = `/tender/tenderPeriod/startDate`, `/endDate`;
- `max_unit_price` = `/tender/value` per unit (最高限价);
- a bid's status = `/bids/details[]/status`: VALID `valid`, INVALID `disqualified`, SUBMITTED `pending`,
  WITHDRAWN `withdrawn`;
- a bid's `unit_price` = `/bids/details[]/value/amount`;
- a bid's `provider_id` = `/bids/details[]/tenderers[]/id` (one tenderer per bid);
- `award_status` = `/awards[]/status`: `active` once AWARDED, `pending` while proposed (AWARD_PENDING, or
  ranked while EVALUATING);
- `supplier_id` = `/awards[]/suppliers[]/id` (one supplier per award): the recommended bid's provider;
- `winning_amount` = that bid's `/bids/details[]/value/amount`.

Amounts are unit prices: every bid of a tender is for the same quantity, so a ratio or an equality of
unit prices is the same as of total values (`quantity × unit price`). There is one currency (CNY).
A bid is "submitted" (Cardinal) when it is `valid` or `disqualified`: after the opening no bid of a
tender is `pending`, and `withdrawn` ones never count.

Before the award is final, the tender's officers see the flags the proposed award would carry: the
recommended bid (AWARD_PENDING), or the top-ranked one once the panel's ranking is done (EVALUATING).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, Select, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from market.models import Bid, BidStatus, Tender, TenderStatus

SUBMITTED = (BidStatus.VALID, BidStatus.INVALID)
"""OCDS `valid` and `disqualified`: the bids Cardinal counts as submitted."""


class days_between(FunctionElement):
    """Days (with their fraction) from the first timestamp to the second."""

    type = Float()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return f"(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element, compiler, **kw):
    start, end = list(element.clauses)
    interval = f"{compiler.process(end, **kw)} - {compiler.process(start, **kw)}"
    return f"(EXTRACT(EPOCH FROM ({interval})) / 86400.0)"


def amount(column) -> ColumnElement[float]:
    """An amount as a float of fen, for ratios (money is stored as integer fen)."""
    return cast(column, Float)


def awards(name: str = "awards"):
    """`/awards[]`: one row per tender with a final or proposed award, and its single supplier."""
    winning = aliased(Bid, name=f"{name}_winning_bid")
    is_winner = or_(
        and_(
            Tender.status.in_((TenderStatus.AWARD_PENDING, TenderStatus.AWARDED)),
            winning.id == Tender.recommended_bid_id,
        ),
        and_(Tender.status == TenderStatus.EVALUATING, Tender.ranked_at.is_not(None), winning.rank == 1),
    )
    return (
        select(
            Tender.id.label("ocid"),
            case((Tender.status == TenderStatus.AWARDED, "active"), else_="pending").label("award_status"),
            winning.provider_id.label("supplier_id"),
            winning.unit_price.label("winning_amount"),
        )
        .join(winning, and_(winning.tender_id == Tender.id, is_winner))
        .subquery(name)
    )


def processes(where: ColumnElement[bool]) -> Select:
    """One row per tender matching `where`: its OCDS figures, aggregated over its bids in SQL.

    `second_lowest` is Cardinal's second-lowest valid bid: the lowest valid bid of another tenderer
    than the supplier. `second_lowest_ratio` is (second_lowest − winning) / winning, kept only when the
    winner is the lowest valid bid (Cardinal excludes processes whose award criteria are not price
    alone, and so do we: 综合评分法 often awards a higher price).
    """
    award = awards()
    bid = aliased(Bid, name="bid_detail")
    valid = bid.status == BidStatus.VALID
    disqualified = bid.status == BidStatus.INVALID
    other = bid.provider_id != award.c.supplier_id
    second_lowest = func.min(case((and_(valid, other), bid.unit_price)))
    winning = award.c.winning_amount
    return (
        select(
            Tender.id.label("ocid"),
            Tender.department_id.label("buyer_id"),
            Tender.published_at,
            Tender.bid_deadline,
            Tender.max_unit_price,
            days_between(Tender.published_at, Tender.bid_deadline).label("period_days"),
            award.c.award_status,
            award.c.supplier_id,
            winning.label("winning_amount"),
            (amount(winning) / amount(Tender.max_unit_price)).label("ceiling_share"),
            func.count(case((bid.status.in_(SUBMITTED), bid.id))).label("submitted"),
            func.count(case((valid, bid.id))).label("valid"),
            func.count(case((and_(disqualified, other), bid.id))).label("others_disqualified"),
            func.min(case((valid, bid.unit_price))).label("lowest_valid"),
            func.min(case((disqualified, bid.unit_price))).label("lowest_disqualified"),
            second_lowest.label("second_lowest"),
            case(
                (
                    second_lowest >= winning,
                    (amount(second_lowest) - amount(winning)) / amount(winning),
                )
            ).label("second_lowest_ratio"),
        )
        .select_from(Tender)
        .outerjoin(award, award.c.ocid == Tender.id)
        .outerjoin(bid, bid.tender_id == Tender.id)
        .where(where)
        .group_by(Tender.id, award.c.award_status, award.c.supplier_id, award.c.winning_amount)
    )


# ---------------------------------------------------------------- quartile fences

THIRD = 1 / 3


@dataclass(frozen=True)
class Quartiles:
    n: int
    q1: float
    q3: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def lower_fence(self) -> float:
        return self.q1 - 1.5 * self.iqr

    @property
    def upper_fence(self) -> float:
        return self.q3 + 1.5 * self.iqr


def _r8(p: float, n: int, low: float, high: float, at: float | None, after: float | None, frac: float | None):
    """Cardinal's quantile (statrs, Hyndman & Fan's method 8) from the order statistics around it."""
    h = (n + THIRD) * p + THIRD
    if int(h) <= 0:
        return low
    if int(h) >= n:
        return high
    return at + frac * (after - at)


async def quartiles(session: AsyncSession, values: Select) -> Quartiles | None:
    """Q1 and Q3 of the single column `value` of `values`, in one statement; None without values.

    Each row is ranked; the rows at ⌊h⌋ and ⌊h⌋ + 1 (h = (n + ⅓)p + ⅓) are picked by comparing the
    rank with h, which needs no floor function (SQLite has none by default).
    """
    source = values.subquery("sample")
    ranked = select(
        source.c.value,
        func.row_number().over(order_by=source.c.value).label("rn"),
        func.count().over().label("n"),
    ).subquery("ranked")
    columns = []
    for p in (0.25, 0.75):
        h = (ranked.c.n + literal(THIRD, Float)) * literal(p, Float) + literal(THIRD, Float)
        at = and_(ranked.c.rn <= h, h < ranked.c.rn + 1)
        after = and_(ranked.c.rn - 1 <= h, h < ranked.c.rn)
        columns += [
            func.max(case((at, ranked.c.value))),
            func.max(case((after, ranked.c.value))),
            func.max(case((at, h - ranked.c.rn))),
        ]
    row = (
        await session.execute(
            select(func.count(), func.min(ranked.c.value), func.max(ranked.c.value), *columns).select_from(
                ranked
            )
        )
    ).one()
    n, low, high = row[0], row[1], row[2]
    if not n:
        return None
    return Quartiles(
        n=n,
        q1=_r8(0.25, n, low, high, *row[3:6]),
        q3=_r8(0.75, n, low, high, *row[6:9]),
    )
