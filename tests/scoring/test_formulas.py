"""The formulas (SPEC §6.1, §6.2), worked by hand, and their properties (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.models import KpiDirection
from market.tenders import DEFAULT_PAYMENT_TIERS
from scoring import formulas as f
from scoring.models import Tier

D = Decimal
HIGHER, LOWER = KpiDirection.HIGHER_IS_BETTER, KpiDirection.LOWER_IS_BETTER


def test_satisfaction_by_hand():
    # 12 counted ratings of the package in the dates, summing 54: m = 54 / 12 = 4.5 (12 ≥ C = 10).
    m = f.prior_mean(12, 54)
    assert m == Fraction(9, 2)
    # This contract's period: n = 4 ratings, Σ = 14.
    # S = ((10 × 4.5 + 14) / (10 + 4) − 1) / 4 × 100 = (59 / 14 − 1) / 4 × 100 = (45 / 14) / 4 × 100
    #   = 4500 / 56 = 80.357142... → 80.36
    assert f.satisfaction(4, 14, m) == Fraction(4500, 56)
    assert f.rounded(f.satisfaction(4, 14, m)) == D("80.36")
    # Fewer than 10 in the dates: m = 3.0; no rating at all: S = (3 − 1) / 4 × 100 = 50.00.
    assert f.prior_mean(9, 45) == 3
    assert f.rounded(f.satisfaction(0, 0, f.prior_mean(0, 0))) == D("50.00")


def test_kpi_attainment_by_hand():
    # AUDIT, higher is better: 93.1 of 95 → 0.98; above the target → 1 (capped).
    assert f.attainment(93.1, 95, HIGHER) == Fraction(98, 100)
    assert f.attainment(99.0, 95, HIGHER) == 1
    # DELIVERY_RATE: 270 verified units, 1 200 planned over 4 periods (300 a period): 90%; of 100 → 0.9.
    assert f.delivery_rate(270, 1200, 4) == 90
    assert f.attainment(f.delivery_rate(270, 1200, 4), 100, HIGHER) == Fraction(9, 10)
    # COMPLAINT_RATE, lower is better: 3 substantiated per 150 deliveries = 2 per 100; target 1 → 1/2.
    assert f.complaint_rate(3, 150) == 2
    assert f.attainment(f.complaint_rate(3, 150), 1, LOWER) == Fraction(1, 2)
    # Value 0 with lower is better → 1; no deliveries → rate 0 → 1.
    assert f.complaint_rate(0, 0) == 0
    assert f.attainment(0, 1, LOWER) == 1
    # Below the target with lower is better: 0.5 of 1 → min(1, 1 / 0.5) = 1.
    assert f.attainment(0.5, 1, LOWER) == 1
    # K = 100 × (0.5 × 0.98 + 0.3 × 0.9 + 0.2 × 0.5) / (0.5 + 0.3 + 0.2) = 100 × 0.86 = 86.00
    k = f.kpi_score([(0.5, Fraction(98, 100)), (0.3, Fraction(9, 10)), (0.2, Fraction(1, 2))])
    assert f.rounded(k) == D("86.00")
    assert f.kpi_score([]) == 100


def test_audit_score_by_hand():
    # Items: passed 2.0, failed 1.5, failed 0.5 (overturned on appeal): 100 × 2 / 3.5 = 57.142... → 57.14
    items = [f.Item(2.0, True), f.Item(1.5, False), f.Item(0.5, False, overturned=True)]
    assert f.rounded(f.audit_score(items)) == D("57.14")
    assert f.audit_score([]) == 100
    assert f.audit_score([f.Item(1.0, False, overturned=True)]) == 100


def test_composite_and_tier_boundaries_by_hand():
    # 0.4 × 80.36 + 0.4 × 86.00 + 0.2 × 57.14 = 32.144 + 34.4 + 11.428 = 77.972 → 77.97 → C (90%)
    score = f.composite((0.4, 0.4, 0.2), D("80.36"), D("86.00"), D("57.14"))
    assert score == D("77.97")
    assert f.tier_of(score, DEFAULT_PAYMENT_TIERS) == f.TierRate(Tier.C, D("0.9"))
    # Inclusive boundaries: 60.00 is D, 59.99 is E; 90.00 A, 89.99 B.
    assert f.tier_of(D("60.00"), DEFAULT_PAYMENT_TIERS).tier == Tier.D
    assert f.tier_of(D("59.99"), DEFAULT_PAYMENT_TIERS).tier == Tier.E
    assert f.tier_of(D("90.00"), DEFAULT_PAYMENT_TIERS) == f.TierRate(Tier.A, D("1.05"))
    assert f.tier_of(D("89.99"), DEFAULT_PAYMENT_TIERS).tier == Tier.B
    # A composite that binary floating point would put just under 60 (0.1 + 0.2 style) is exactly 60.00:
    # 0.3 × 60 + 0.3 × 60 + 0.4 × 60 = 60.
    assert f.composite((0.3, 0.3, 0.4), D("60.00"), D("60.00"), D("60.00")) == D("60.00")
    # A contract's own table: D from 65.
    tiers = [dict(t) for t in DEFAULT_PAYMENT_TIERS]
    tiers[3]["min_score"] = 65
    assert f.tier_of(D("64.99"), tiers).tier == Tier.E


def test_money_by_hand():
    # 257 verified units × 96.50 = 24 800.50; 200 000.00 of the contract value left: not capped.
    # Tier C (0.90): payout 24 800.50 × 0.9 = 22 320.45; holdback 10%: 2 232.045 → 2 232.04 (half-even);
    # the payment 22 320.45 − 2 232.04 = 20 088.41.
    money = f.period_money(
        verified_units=257, unit_price=D("96.50"), base_left=D("200000.00"), rate=D("0.9"), holdback_rate=0.1
    )
    assert (money.uncapped, money.base, money.payout, money.holdback, money.net) == (
        D("24800.50"), D("24800.50"), D("22320.45"), D("2232.04"), D("20088.41"),
    )  # fmt: skip
    # Half-even on the payout: 1 unit × 10.05 at 0.75 = 7.5375 → 7.54; 7.54 × 0.1 = 0.754 → 0.75.
    money = f.period_money(verified_units=1, unit_price=D("10.05"), base_left=D("100"), rate=D("0.75"),
                           holdback_rate=0.1)  # fmt: skip
    assert (money.payout, money.holdback, money.net) == (D("7.54"), D("0.75"), D("6.79"))
    # Capped: 1 300 × 100.00 = 130 000.00 but 120 000.00 − 100 000.00 = 20 000.00 are left.
    money = f.period_money(verified_units=1300, unit_price=D("100.00"), base_left=D("20000.00"),
                           rate=D("1.05"), holdback_rate=0.1)  # fmt: skip
    assert (money.base, money.payout, money.holdback, money.net) == (
        D("20000.00"), D("21000.00"), D("2100.00"), D("18900.00"),
    )  # fmt: skip
    # Correction after a rescore from D to C of a 26 000.00 base:
    # D: 19 500.00 − 1 950.00 = 17 550.00;  C: 23 400.00 − 2 340.00 = 21 060.00;  difference 3 510.00.
    d = f.period_money(
        verified_units=260, unit_price=D("100"), base_left=D("1e6"), rate=D("0.75"), holdback_rate=0.1
    )
    c = f.period_money(
        verified_units=260, unit_price=D("100"), base_left=D("1e6"), rate=D("0.9"), holdback_rate=0.1
    )
    assert c.net - d.net == D("3510.00")


# ---------------------------------------------------------------- properties

stars = st.lists(st.integers(1, 5), max_size=60)
weights = st.floats(0.01, 10, allow_nan=False).map(lambda w: round(w, 2))
values = st.floats(0, 1000, allow_nan=False).map(lambda v: round(v, 1))


@given(stars, stars)
def test_satisfaction_lies_in_0_to_100(own, package):
    prior = f.prior_mean(len(package), sum(package))
    assert 0 <= f.rounded(f.satisfaction(len(own), sum(own), prior)) <= 100


@given(stars, st.integers(1, 4), st.integers(0, 100))
def test_satisfaction_rises_with_stars(own, position, prior_count):
    """One rating more stars, the rest the same: S does not fall (and rises before rounding)."""
    own = [*own, position]
    better = [*own[:-1], position + 1]
    prior = f.prior_mean(prior_count, prior_count * 3)
    assert f.satisfaction(len(better), sum(better), prior) > f.satisfaction(len(own), sum(own), prior)


@given(st.lists(st.tuples(weights, values, values, st.sampled_from([HIGHER, LOWER])), max_size=6))
def test_kpi_score_lies_in_0_to_100(kpis):
    score = f.kpi_score([(w, f.attainment(v, t, d)) for w, v, t, d in kpis])
    assert 0 <= score <= 100


@given(st.lists(st.tuples(weights, st.booleans(), st.booleans()), max_size=8))
def test_audit_score_lies_in_0_to_100(items):
    assert 0 <= f.audit_score([f.Item(w, p, o) for w, p, o in items]) <= 100


scores = st.decimals(0, 100, places=2)


@given(
    scores,
    scores,
    scores,
    st.sampled_from([(0.4, 0.4, 0.2), (0.3, 0.5, 0.2), (0.5, 0.3, 0.2), (0.3, 0.3, 0.4)]),
)
def test_composite_lies_in_0_to_100(s, k, a, w):
    assert 0 <= f.composite(w, s, k, a) <= 100


@given(
    st.integers(0, 100_000),
    st.decimals(D("0.01"), D("99999.99"), places=2),
    st.decimals(D("0"), D("10000000000"), places=2),
    st.sampled_from([t["payout_rate"] for t in DEFAULT_PAYMENT_TIERS]),
    st.sampled_from([0.0, 0.05, 0.1, 0.15, 0.2]),
)
def test_payment_and_holdback_sum_exactly_to_base_times_rate(units, price, left, rate, holdback_rate):
    money = f.period_money(
        verified_units=units,
        unit_price=price,
        base_left=left,
        rate=D(repr(rate)),
        holdback_rate=holdback_rate,
    )
    assert money.base <= left and money.base <= money.uncapped
    assert money.net + money.holdback == money.payout == f.rounded(money.base * D(repr(rate)))
    assert money.net >= 0 and money.holdback >= 0
    assert money.payout.as_tuple().exponent == -2


@pytest.mark.parametrize("value", [0.1, 0.4, 93.1, 1e-7])
def test_floats_are_read_as_the_decimal_they_were_written_as(value):
    assert f.exact(value) == Fraction(repr(value))
