"""Formulas of bid evaluation (综合评分法, SPEC §4.3) and the challenge calendar (SPEC §4.4).

Pure functions: no database, no clock. Scores are Decimals rounded half-even to
0.01, as published in the award notice; ranking uses the rounded totals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

HUNDRED = Decimal(100)
SCORE_PLACES = Decimal("0.01")
ABNORMALLY_LOW_SHARE = Decimal("0.8")  # below 80% of the mean valid price
CHALLENGE_WORKING_DAYS = 7  # 质疑期
MIN_PRICE_WEIGHT, MAX_PRICE_WEIGHT = 0.10, 0.30  # services: price weighs 10%-30%

# Track-record score by star certification at the deadline; unrated entrants are not punished.
RECORD_SCORE_BY_STARS = {5: 100, 4: 90, 3: 80, 2: 60, 1: 40, None: 80}


def score(value: Decimal) -> Decimal:
    return value.quantize(SCORE_PLACES, rounding=ROUND_HALF_EVEN)


def price_score(lowest: Decimal, unit_price: Decimal) -> Decimal:
    """100 × lowest valid unit price / this bid's unit price."""
    return score(HUNDRED * lowest / unit_price)


def quality_score(evaluator_scores: Sequence[float]) -> Decimal:
    """The mean of the remaining evaluators' scores."""
    values = [Decimal(str(s)) for s in evaluator_scores]
    return score(sum(values) / len(values))


def record_score(stars: int | None) -> Decimal:
    return Decimal(RECORD_SCORE_BY_STARS[stars])


def total_score(
    *, price: Decimal, quality: Decimal, record: Decimal, weights: tuple[float, float, float]
) -> Decimal:
    price_weight, quality_weight, record_weight = (Decimal(str(w)) for w in weights)
    return score(price_weight * price + quality_weight * quality + record_weight * record)


def abnormally_low(prices: Sequence[Decimal]) -> list[bool]:
    """Which prices are below 80% of the mean of all given (valid) prices."""
    if not prices:
        return []
    threshold = ABNORMALLY_LOW_SHARE * sum(prices) / len(prices)
    return [price < threshold for price in prices]


@dataclass(frozen=True)
class Ranked:
    bid_id: int
    unit_price: Decimal
    submitted_at: dt.datetime
    total: Decimal


def rank(bids: Sequence[Ranked]) -> list[int]:
    """Bid ids best first: highest total, then lower unit price, then earlier final submission."""
    ordered = sorted(bids, key=lambda b: (-b.total, b.unit_price, b.submitted_at, b.bid_id))
    return [b.bid_id for b in ordered]


@lru_cache(maxsize=4)
def _calendar() -> holidays.HolidayBase:
    return holidays.China()


def is_working_day(day: dt.date) -> bool:
    """Weekdays that are not public holidays, plus the make-up working weekends (调休)."""
    return _calendar().is_working_day(day)


def challenge_deadline(recommended_at: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """End of the 7th working day after the day of recommendation, in the deployment's zone (UTC)."""
    day, counted = recommended_at.astimezone(zone).date(), 0
    while counted < CHALLENGE_WORKING_DAYS:
        day += dt.timedelta(days=1)
        counted += is_working_day(day)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return end.astimezone(dt.UTC)
