"""The formulas of a period's score and payment (SPEC §6.1, §6.2), as pure functions.

Exact arithmetic throughout: ratings, weights, targets and values are turned into fractions (a float
such as a weight of 0.4 as the decimal it was written as, "0.4"), so nothing depends on binary
floating point. Rounding, in this order and nowhere else:

1. S, K and A are each rounded half-even to 0.01 (what the scorecard shows);
2. the composite is computed from those rounded scores with the contract's weights, and rounded
   half-even to 0.01; the tier is read from this rounded composite (60.00 is D, 59.99 is E);
3. the base (verified units × unit price) is exact in fen and capped, without rounding;
4. payout = base × tier rate, rounded half-even to 0.01 CNY;
5. holdback = the rounded payout × holdback rate, rounded half-even to 0.01 CNY;
6. the period's payment = payout − holdback, exact (so payment + holdback = payout to the fen).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import lru_cache

from market.models import KpiDirection
from scoring.models import Tier

C = 10
"""Weight of the prior in the Bayesian average of ratings, in ratings."""
DEFAULT_PRIOR = Fraction(3)
"""The prior mean when the package has fewer than C counted ratings in the period's dates."""
CENT = Decimal("0.01")
HUNDRED = Fraction(100)


def exact(value: float | int | str | Decimal | Fraction) -> Fraction:
    """A number as an exact fraction; a float as the shortest decimal that reads back as it (0.4 → 2/5)."""
    if isinstance(value, Fraction):
        return value
    return _exact(type(value), value)


@lru_cache(maxsize=65_536)
def _exact(_kind: type, value: float | int | str | Decimal) -> Fraction:
    """`exact` of a value that is not yet a fraction, remembered: weights, targets and the scores of
    a run's thousands of periods repeat. Keyed by type too, as 1, 1.0 and Decimal(1) hash alike."""
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    return Fraction(Decimal(value) if isinstance(value, str) else value)


def rounded(value: Fraction | Decimal) -> Decimal:
    """Half-even to 0.01, exactly (scores and money alike)."""
    if isinstance(value, Fraction):
        cents = round(value * 100)  # Fraction rounds half to even, exactly
        return (Decimal(cents) / 100).quantize(CENT)
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


# ---------------------------------------------------------------- S: satisfaction


def prior_mean(count: int, stars_sum: int) -> Fraction:
    """m: the mean counted rating of the package in the period's dates; 3.0 with fewer than C of them."""
    return Fraction(stars_sum, count) if count >= C else DEFAULT_PRIOR


def satisfaction(count: int, stars_sum: int, prior: Fraction) -> Fraction:
    """S = ((C·m + Σ) / (C + n) − 1) / 4 × 100."""
    return ((C * prior + stars_sum) / (C + count) - 1) / 4 * HUNDRED


# ---------------------------------------------------------------- K: KPIs


def attainment(value: float | Fraction, target: float | Fraction, direction: KpiDirection) -> Fraction:
    """min(1, value/target) when higher is better; min(1, target/value) when lower is better, 1 for 0.

    A target of 0 with higher-is-better is met by any value (1).
    """
    value, target = exact(value), exact(target)
    if direction == KpiDirection.LOWER_IS_BETTER:
        return Fraction(1) if value == 0 else min(Fraction(1), target / value)
    return Fraction(1) if target <= 0 else max(Fraction(0), min(Fraction(1), value / target))


def delivery_rate(verified_units: int, quantity: int, periods: int) -> Fraction:
    """Verified units ÷ planned units per period (quantity ÷ periods), in percent."""
    return Fraction(verified_units * periods * 100, quantity)


def complaint_rate(substantiated: int, deliveries: int) -> Fraction:
    """Substantiated complaints per 100 deliveries recorded in the period; 0 without deliveries."""
    return Fraction(0) if deliveries == 0 else Fraction(substantiated * 100, deliveries)


def kpi_score(weighted: Sequence[tuple[float | Fraction, Fraction]]) -> Fraction:
    """K = 100 × Σ wᵢ·aᵢ / Σ wᵢ over (weight, attainment); 100 when the contract has no KPI weight."""
    total = sum((exact(w) for w, _ in weighted), Fraction(0))
    if total == 0:
        return HUNDRED
    return HUNDRED * sum((exact(w) * a for w, a in weighted), Fraction(0)) / total


# ---------------------------------------------------------------- A: audit


@dataclass(frozen=True)
class Item:
    weight: float
    passed: bool
    overturned: bool = False


def audit_score(items: Sequence[Item]) -> Fraction:
    """A = 100 × weight of passed items / weight of all items, overturned left out; 100 when none remain."""
    counted = [i for i in items if not i.overturned]
    total = sum((exact(i.weight) for i in counted), Fraction(0))
    if total == 0:
        return HUNDRED
    return HUNDRED * sum((exact(i.weight) for i in counted if i.passed), Fraction(0)) / total


# ---------------------------------------------------------------- composite and tier


def composite(
    weights: tuple[float, float, float], satisfaction: Decimal, kpi: Decimal, audit: Decimal
) -> Decimal:
    """w_S·S + w_K·K + w_A·A from the rounded scores, rounded half-even to 0.01."""
    w_s, w_k, w_a = (exact(w) for w in weights)
    return rounded(w_s * exact(satisfaction) + w_k * exact(kpi) + w_a * exact(audit))


@dataclass(frozen=True)
class TierRate:
    tier: Tier
    rate: Decimal


def tier_of(score: Decimal, tiers: Sequence[dict]) -> TierRate:
    """The first tier, highest first, whose minimum the composite reaches (boundaries inclusive)."""
    table = _tier_table(tuple((t["tier"], t["min_score"], t["payout_rate"]) for t in tiers))
    value = exact(score)
    for minimum, rate in table:
        if value >= minimum:
            return rate
    return table[-1][1]


@lru_cache(maxsize=1_024)
def _tier_table(tiers: tuple[tuple[str, float, float], ...]) -> tuple[tuple[Fraction, TierRate], ...]:
    """A contract's tier table, highest minimum first, read once (contracts mostly share the default)."""
    return tuple(
        (exact(minimum), TierRate(Tier(tier), Decimal(repr(float(rate)))))
        for tier, minimum, rate in sorted(tiers, key=lambda t: exact(t[1]), reverse=True)
    )


# ---------------------------------------------------------------- money


@dataclass(frozen=True)
class Money:
    uncapped: Decimal
    base: Decimal
    payout: Decimal
    holdback: Decimal

    @property
    def net(self) -> Decimal:
        """What the period's payment pays now: payout less holdback."""
        return self.payout - self.holdback


def period_money(
    *,
    verified_units: int,
    unit_price: Decimal,
    base_left: Decimal,
    rate: Decimal,
    holdback_rate: float | Decimal,
) -> Money:
    """Base capped by what the contract value leaves (`base_left`), payout, holdback (order above)."""
    uncapped = verified_units * unit_price
    base = max(Decimal("0.00"), min(uncapped, base_left))
    payout = rounded(base * rate)
    holdback_share = holdback_rate if isinstance(holdback_rate, Decimal) else Decimal(repr(holdback_rate))
    holdback = rounded(payout * holdback_share)
    return Money(uncapped=uncapped, base=base, payout=payout, holdback=holdback)
