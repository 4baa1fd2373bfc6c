"""Each red-flag rule (disclosure/red_flags): hand-made tenders that raise it, and ones that just miss it."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from sqlalchemy import Float, literal, select, union_all

from core.auth import Actor, Role
from disclosure.red_flags import ocds
from disclosure.red_flags.service import Comparison, RedFlagCode, Scope, Thresholds, flags_for_tenders
from market import models as m
from tests.disclosure import red_flag_world as rw
from tests.disclosure.red_flag_world import INVALID, WITHDRAWN

PENDING = m.TenderStatus.AWARD_PENDING


def officer_of(market: rw.Market, department: int = 0) -> Actor:
    return Actor(user_id=1, role=Role.OFFICER, department_id=market.departments[department].id)


async def flags_of(market: rw.Market, tender: m.Tender, *, actor=None, **thresholds):
    found = await flags_for_tenders(
        market.session, [tender.id], actor=actor, thresholds=Thresholds(**thresholds)
    )
    return found[tender.id]


def codes(flags) -> list[RedFlagCode]:
    return [f.code for f in flags]


def only(flags, code: RedFlagCode):
    found = [f for f in flags if f.code == code]
    assert len(found) == 1, flags
    return found[0]


def figures(flag) -> dict[str, str]:
    return {f.name: f.text for f in flag.figures}


# ---------------------------------------------------------------- quartiles as Cardinal computes them


async def test_quartiles_are_cardinals_method_8(session):
    """statrs (Cardinal's statistics crate) on its own test data: h = (n + 1/3)p + 1/3.
    Sorted: -3 -1 -0.5 0 0.2 1 4 5 6 10 (n = 10).
    Q1: h = 2.9167 -> x2 + 0.9167 (x3 - x2) = -1 + 0.9167 × 0.5 = -0.541667
    Q3: h = 8.0833 -> x8 + 0.0833 (x9 - x8) = 5 + 0.0833 × 1 = 5.083333"""
    data = [-1.0, 5.0, 0.0, -3.0, 10.0, -0.5, 4.0, 0.2, 1.0, 6.0]
    values = union_all(*(select(literal(v, Float).label("value")) for v in data))
    q = await ocds.quartiles(session, select(values.subquery().c.value))
    assert q.n == 10
    assert q.q1 == pytest.approx(-1 + (2 + 11 / 12 - 2) * 0.5)
    assert q.q3 == pytest.approx(5 + 1 / 12)


async def test_quartiles_of_one_and_of_no_value(session):
    one = select(literal(0.25, Float).label("value"))
    q = await ocds.quartiles(session, select(one.subquery().c.value))
    assert (q.n, q.q1, q.q3) == (1, 0.25, 0.25)
    none = select(literal(0.25, Float).label("value")).where(literal(1) == 0)
    assert await ocds.quartiles(session, select(none.subquery().c.value)) is None


def _method_8(values: list[float], p: float) -> float:
    """statrs' quantile, written plainly: the reference the SQL must agree with."""
    ordered, n = sorted(values), len(values)
    h = (n + 1 / 3) * p + 1 / 3
    k = int(h)
    if k <= 0:
        return ordered[0]
    if k >= n:
        return ordered[-1]
    return ordered[k - 1] + (h - k) * (ordered[k] - ordered[k - 1])


@pytest.mark.parametrize("seed", range(12))
async def test_quartiles_in_sql_agree_with_method_8_on_any_sample(session, seed):
    chance = random.Random(seed)
    data = [round(chance.uniform(0, 0.3), 4) for _ in range(chance.randint(1, 40))]
    if seed % 3 == 0:
        data += data[: len(data) // 2]  # ties
    values = union_all(*(select(literal(v, Float).label("value")) for v in data))
    q = await ocds.quartiles(session, select(values.subquery().c.value))
    assert q.n == len(data)
    assert q.q1 == pytest.approx(_method_8(data, 0.25), abs=1e-9)
    assert q.q3 == pytest.approx(_method_8(data, 0.75), abs=1e-9)


# ---------------------------------------------------------------- R003 short submission period


async def test_r003_a_submission_period_under_15_whole_days(session):
    market = await rw.build(session)
    short = await market.tender([(0, "100.00"), (1, "101.00")], period_days=14.99)
    enough = await market.tender([(0, "100.00"), (1, "101.00")], period_days=15)
    flag = only(await flags_of(market, short), RedFlagCode.R003)
    assert (flag.value_text, flag.comparison, flag.threshold_text) == ("14", Comparison.BELOW, "15")
    assert RedFlagCode.R003 not in codes(await flags_of(market, enough))
    # The threshold is a setting.
    assert RedFlagCode.R003 in codes(await flags_of(market, enough, r003_min_days=16))


# ---------------------------------------------------------------- R018, R035, R036


async def test_r018_single_valid_bid(session):
    market = await rw.build(session)
    single = await market.tender([(0, "100.00")])
    one_valid = await market.tender([(0, "100.00"), (1, "90.00", INVALID)])
    two_valid = await market.tender([(0, "100.00"), (1, "101.00")])
    flag = only(await flags_of(market, single), RedFlagCode.R018)
    assert figures(flag) == {"submittedBids": "1", "validBids": "1"}
    assert flag.provider_ids == (market.provider_id(0),)
    assert figures(only(await flags_of(market, one_valid), RedFlagCode.R018)) == {
        "submittedBids": "2",
        "validBids": "1",
    }
    assert RedFlagCode.R018 not in codes(await flags_of(market, two_valid))


async def test_r035_all_except_the_winning_bid_disqualified(session):
    market = await rw.build(session)
    others_out = await market.tender([(0, "100.00"), (1, "101.00", INVALID), (2, "99.00", INVALID)])
    one_other_valid = await market.tender([(0, "100.00"), (1, "101.00", INVALID), (2, "99.00")], winner=0)
    alone = await market.tender([(0, "100.00"), (1, "98.00", WITHDRAWN)])

    flag = only(await flags_of(market, others_out), RedFlagCode.R035)
    assert (flag.value, flag.threshold, flag.provider_ids) == (2, 1, (market.provider_id(0),))
    assert RedFlagCode.R035 not in codes(await flags_of(market, one_other_valid))
    assert RedFlagCode.R035 not in codes(await flags_of(market, alone))  # a withdrawn bid is no bid
    # Threshold: at least this many other bidders disqualified.
    assert RedFlagCode.R035 in codes(await flags_of(market, others_out, r035_min_disqualified=2))
    assert RedFlagCode.R035 not in codes(await flags_of(market, others_out, r035_min_disqualified=3))


async def test_r036_lowest_bid_disqualified(session):
    market = await rw.build(session)
    lower = await market.tender([(0, "100.00"), (1, "101.00"), (2, "99.99", INVALID)])
    tie = await market.tender([(0, "100.00"), (1, "101.00"), (2, "100.00", INVALID)])
    withdrawn_lower = await market.tender([(0, "100.00"), (1, "101.00"), (2, "90.00", WITHDRAWN)])
    flag = only(await flags_of(market, lower), RedFlagCode.R036)
    assert (flag.value_text, flag.comparison, flag.threshold_text) == ("99.99", Comparison.BELOW, "100.00")
    assert RedFlagCode.R036 not in codes(await flags_of(market, tie))
    assert RedFlagCode.R036 not in codes(await flags_of(market, withdrawn_lower))


async def test_r036_needs_an_award(session):
    market = await rw.build(session)
    unranked = await market.tender(
        [(0, "100.00"), (1, "99.00", INVALID)], status=m.TenderStatus.EVALUATING, ranked=False
    )
    flags = await flags_of(market, unranked, actor=officer_of(market))
    assert RedFlagCode.R036 not in codes(flags)
    assert RedFlagCode.R018 in codes(flags)  # a rule of the bids alone


# ---------------------------------------------------------------- R028 identical prices


async def test_r028_identical_prices_of_different_bidders(session):
    market = await rw.build(session)
    same = await market.tender([(0, "100.00"), (1, "105.00"), (2, "105.00", INVALID), (3, "107.00")])
    a_cent_apart = await market.tender([(0, "100.00"), (1, "105.00"), (2, "105.01")])
    withdrawn_same = await market.tender([(0, "100.00"), (1, "105.00"), (2, "105.00", WITHDRAWN)])
    flag = only(await flags_of(market, same), RedFlagCode.R028)
    assert flag.provider_ids == (market.provider_id(1), market.provider_id(2))
    assert figures(flag) == {"price": "105.00", "biddersAtThisPrice": "2"}
    assert RedFlagCode.R028 not in codes(await flags_of(market, a_cent_apart))
    assert RedFlagCode.R028 not in codes(await flags_of(market, withdrawn_same))


# ---------------------------------------------------------------- R024 and R058 against the fences


async def _ratios_market(session) -> rw.Market:
    """Five awarded tenders, each won by the lowest bid of 100.00, the second-lowest at 105, 106, 107,
    108, 110: ratios 0.05 0.06 0.07 0.08 0.10. Method 8 with n = 5:
    Q1: h = 1.6667 -> 0.05 + 0.6667 × 0.01 = 0.056667; Q3: h = 4.3333 -> 0.08 + 0.3333 × 0.02 = 0.086667;
    IQR 0.03; lower fence 0.011667, upper fence 0.131667."""
    market = await rw.build(session)
    for second in ("105.00", "106.00", "107.00", "108.00", "110.00"):
        await market.tender([(0, "100.00"), (1, second)])
    # Not in the sample: a tender won above the lowest bid (综合评分法), and one not yet final.
    await market.tender([(0, "100.00"), (1, "90.00")])
    return market


async def test_r024_price_close_to_the_winning_bid(session):
    market = await _ratios_market(session)
    close = await market.tender([(2, "100.00"), (3, "101.16")], status=PENDING, winner=2)
    not_so = await market.tender([(2, "100.00"), (3, "101.17")], status=PENDING, winner=2)
    officer = officer_of(market)
    flag = only(await flags_of(market, close, actor=officer), RedFlagCode.R024)
    assert flag.comparison == Comparison.AT_MOST
    assert float(flag.value) == pytest.approx(0.0116)
    assert flag.threshold == pytest.approx(0.056667 - 1.5 * 0.03, abs=1e-6)
    assert figures(flag) == {
        "winningBid": "100.00",
        "secondLowestValidBid": "101.16",
        "q1": "0.0567",
        "q3": "0.0867",
        "awardedTendersCompared": "5",
    }
    assert flag.provider_ids == (market.provider_id(2),)
    assert RedFlagCode.R024 not in codes(await flags_of(market, not_so, actor=officer))


async def test_r058_heavily_discounted_bid(session):
    market = await _ratios_market(session)
    discounted = await market.tender([(2, "100.00"), (3, "113.17")], status=PENDING, winner=2)
    not_so = await market.tender([(2, "100.00"), (3, "113.16")], status=PENDING, winner=2)
    officer = officer_of(market)
    flag = only(await flags_of(market, discounted, actor=officer), RedFlagCode.R058)
    assert flag.threshold == pytest.approx(0.086667 + 1.5 * 0.03, abs=1e-6)
    assert RedFlagCode.R058 not in codes(await flags_of(market, not_so, actor=officer))


async def test_outlier_rules_need_enough_awarded_tenders_unless_the_fence_is_set(session):
    market = await _ratios_market(session)
    close = await market.tender([(2, "100.00"), (3, "100.50")], status=PENDING, winner=2)
    officer = officer_of(market)
    assert RedFlagCode.R024 not in codes(await flags_of(market, close, actor=officer, min_sample=6))
    # A fence set by the settings applies whatever the sample.
    flags = await flags_of(market, close, actor=officer, min_sample=6, r024_threshold=0.005)
    assert only(flags, RedFlagCode.R024).threshold == 0.005
    assert RedFlagCode.R024 not in codes(await flags_of(market, close, actor=officer, r024_threshold=0.004))


async def test_no_r024_when_most_tenders_have_no_difference(session):
    """Cardinal's guard: with Q1 at 0 the lower fence would flag most tenders."""
    market = await rw.build(session)
    for _ in range(5):
        await market.tender([(0, "100.00"), (1, "100.00")])
    close = await market.tender([(2, "100.00"), (3, "100.00")], status=PENDING, winner=2)
    assert RedFlagCode.R024 not in codes(await flags_of(market, close, actor=officer_of(market)))


# ---------------------------------------------------------------- R038 disqualification records


async def test_r038_a_bidders_and_a_departments_record_of_disqualified_bids(session):
    market = await rw.build(session, providers=4)
    # Department 0: two awarded tenders, 3 of 5 bids disqualified (0.6); provider 3: 2 of 2 (1.0);
    # provider 2: 1 of 2 (0.5); provider 1: 0 of 2.
    await market.tender([(0, "100.00"), (3, "99.00", INVALID), (2, "98.00", INVALID)])
    await market.tender([(1, "100.00"), (3, "95.00", INVALID)], winner=1)
    await market.tender([(1, "100.00"), (2, "101.00")], winner=1, department=1)
    await market.tender([(0, "100.00")], department=1)
    new = await market.tender([(0, "100.00"), (3, "101.00"), (2, "102.00")], status=PENDING)
    flags = [
        f
        for f in await flags_of(market, new, actor=officer_of(market), r038_threshold=0.6)
        if f.code == RedFlagCode.R038
    ]
    assert [(f.scope, f.provider_ids) for f in flags] == [
        (Scope.BUYER, ()),
        (Scope.TENDERER, (market.provider_id(3),)),
    ]
    buyer, tenderer = flags
    assert figures(buyer) == {"submittedBids": "5", "disqualifiedBids": "3", "awardedTenders": "2"}
    assert float(buyer.value) == pytest.approx(0.6)
    assert figures(tenderer) == {"submittedBids": "2", "disqualifiedBids": "2", "awardedTenders": "2"}
    # Just above the department's ratio: only the bidder's record is flagged.
    flags = await flags_of(market, new, actor=officer_of(market), r038_threshold=0.61)
    assert [(f.scope) for f in flags if f.code == RedFlagCode.R038] == [Scope.TENDERER]
    # Cardinal's minimums: a department with one awarded tender is not compared.
    assert [f.scope for f in flags if f.code == RedFlagCode.R038] == [Scope.TENDERER]
    flags = await flags_of(market, new, actor=officer_of(market), r038_threshold=0.6, r038_min_tenders=3)
    assert [f.scope for f in flags if f.code == RedFlagCode.R038] == [Scope.TENDERER]
    flags = await flags_of(market, new, actor=officer_of(market), r038_threshold=0.6, r038_min_bids=3)
    assert [f.scope for f in flags if f.code == RedFlagCode.R038] == [Scope.BUYER]


async def test_r038_fence_from_the_bidders_records(session):
    """Five bidders with 2 bids each in awarded tenders: 0, 0, 0, 0.5 and 1.0 of them disqualified.
    Method 8, n = 5: Q1 = 0 + 0.6667 × 0 = 0; Q3: h = 4.3333 -> 0.5 + 0.3333 × 0.5 = 0.666667;
    upper fence 0.666667 + 1.5 × 0.666667 = 1.666667: nobody can reach it. With provider 4 at 1.0 and
    the others at 0 (Q3 = 0.3333 × 1.0): fence 0.8333, reached by 1.0."""
    market = await rw.build(session, providers=6, departments=1)
    await market.tender([(0, "100.00"), (1, "101.00"), (2, "102.00"), (5, "99.00", INVALID)])
    await market.tender([(0, "100.00"), (1, "101.00"), (2, "102.00"), (5, "99.00", INVALID)])
    await market.tender([(3, "100.00"), (4, "101.00", INVALID)], winner=3)
    await market.tender([(3, "100.00"), (4, "101.00")], winner=3)
    new = await market.tender([(0, "100.00"), (5, "101.00")], status=PENDING)
    officer = officer_of(market)
    # Records: 0, 0, 0, 0 (providers 0-3), 0.5 (4), 1.0 (5): Q1 = 0, Q3: h = (6 + 1/3) × 0.75 + 1/3
    # = 5.0833 -> 0.5 + 0.0833 × 0.5 = 0.541667; fence 0.541667 + 1.5 × 0.541667 = 1.354167.
    assert RedFlagCode.R038 not in codes(await flags_of(market, new, actor=officer))
    # Provider 4 bids twice more, valid: 1 of 4 (0.25); Q3: 0.25 + 0.0833 × 0.75 = 0.3125, fence 0.78125.
    await market.tender([(3, "100.00"), (4, "101.00")], winner=3)
    await market.tender([(3, "100.00"), (4, "101.00")], winner=3)
    flag = only(await flags_of(market, new, actor=officer), RedFlagCode.R038)
    assert (flag.scope, flag.provider_ids) == (Scope.TENDERER, (market.provider_id(5),))
    assert flag.threshold == pytest.approx(0.3125 * 2.5)
    assert figures(flag)["q3"] == "0.3125"


# ---------------------------------------------------------------- the platform's own rules


async def test_near_ceiling_the_winning_price_at_95_percent_of_the_maximum(session):
    market = await rw.build(session)
    at = await market.tender([(0, "114.00"), (1, "116.00")], max_unit_price="120.00")
    under = await market.tender([(0, "113.99"), (1, "116.00")], max_unit_price="120.00")
    other_near = await market.tender([(0, "100.00"), (1, "119.00")], max_unit_price="120.00")
    flag = only(await flags_of(market, at), RedFlagCode.NEAR_CEILING)
    assert (flag.value_text, flag.threshold_text, flag.comparison) == (
        "0.9500",
        "0.9500",
        Comparison.AT_LEAST,
    )
    assert figures(flag) == {"winningBid": "114.00", "maxUnitPrice": "120.00"}
    assert flag.provider_ids == (market.provider_id(0),)
    assert RedFlagCode.NEAR_CEILING not in codes(await flags_of(market, under))
    assert RedFlagCode.NEAR_CEILING not in codes(
        await flags_of(market, other_near)
    )  # the winner's price only
    assert RedFlagCode.NEAR_CEILING in codes(await flags_of(market, under, ceiling_share=0.9))


async def test_win_rotation_two_bidders_taking_turns_in_one_department(session):
    market = await rw.build(session)
    await market.tender([(0, "100.00"), (1, "101.00")], winner=0)
    await market.tender([(0, "100.00"), (1, "101.00"), (2, "103.00")], winner=1)
    third = await market.tender([(0, "100.00"), (1, "101.00")], winner=0)
    flag = only(await flags_of(market, third), RedFlagCode.WIN_ROTATION)
    assert figures(flag) == {"tendersBidTogether": "3", "wonByWinner": "2", "wonByOtherBidder": "1"}
    assert flag.provider_ids == (market.provider_id(0), market.provider_id(1))
    # Provider 2 bid with the winner once only: no flag for that pair.
    assert RedFlagCode.WIN_ROTATION in codes(await flags_of(market, third, rotation_min_tenders=3))
    assert RedFlagCode.WIN_ROTATION not in codes(await flags_of(market, third, rotation_min_tenders=4))


async def test_no_win_rotation_when_one_bidder_always_wins_or_across_departments(session):
    market = await rw.build(session)
    await market.tender([(0, "100.00"), (1, "101.00")], winner=0)
    await market.tender([(0, "100.00"), (1, "101.00")], winner=0)
    always = await market.tender([(0, "100.00"), (1, "101.00")], winner=0)
    assert RedFlagCode.WIN_ROTATION not in codes(await flags_of(market, always))
    await market.tender([(0, "100.00"), (1, "101.00")], winner=1, department=1)
    assert RedFlagCode.WIN_ROTATION not in codes(await flags_of(market, always))


async def test_win_rotation_counts_the_proposed_award_for_its_officers(session):
    market = await rw.build(session)
    await market.tender([(0, "100.00"), (1, "101.00")], winner=0)
    await market.tender([(0, "100.00"), (1, "101.00")], winner=1)
    pending = await market.tender([(0, "100.00"), (1, "101.00")], winner=0, status=PENDING)
    flag = only(await flags_of(market, pending, actor=officer_of(market)), RedFlagCode.WIN_ROTATION)
    assert figures(flag)["tendersBidTogether"] == "3"


# ---------------------------------------------------------------- a clean award, and what is computed on what


async def test_a_competitive_award_carries_no_flag(session):
    market = await rw.build(session)
    clean = await market.tender([(0, "100.00"), (1, "104.00"), (2, "108.00")], max_unit_price="120.00")
    assert await flags_of(market, clean) == []


async def test_flags_are_only_for_tenders_the_caller_may_see_them_on(session):
    market = await rw.build(session)
    awarded = await market.tender([(0, "100.00")])
    pending = await market.tender([(0, "100.00")], status=PENDING)
    evaluating = await market.tender([(0, "100.00")], status=m.TenderStatus.EVALUATING, ranked=False)
    ids = [awarded.id, pending.id, evaluating.id]
    public = await flags_for_tenders(session, ids, thresholds=Thresholds())
    assert set(public) == {awarded.id}
    officer = await flags_for_tenders(session, ids, actor=officer_of(market), thresholds=Thresholds())
    assert set(officer) == set(ids)
    other = await flags_for_tenders(session, ids, actor=officer_of(market, 1), thresholds=Thresholds())
    assert set(other) == {awarded.id}
    assert await flags_for_tenders(session, [], thresholds=Thresholds()) == {}


@pytest.mark.parametrize("price", ["114.00", "113.99"])
async def test_amounts_are_exact(session, price):
    market = await rw.build(session)
    tender = await market.tender([(0, price)], max_unit_price="120.00")
    flag = only(await flags_of(market, tender), RedFlagCode.R018)
    assert flag.provider_ids == (market.provider_id(0),)
    near = [f for f in await flags_of(market, tender) if f.code == RedFlagCode.NEAR_CEILING]
    assert bool(near) == (Decimal(price) / Decimal("120.00") >= Decimal("0.95"))


# ---------------------------------------------------------------- the settings


def test_thresholds_come_from_the_settings_and_bad_ones_are_refused():
    from pydantic import ValidationError

    from core.settings import Settings

    settings = Settings(red_flag_ceiling_share=0.9, red_flag_r024_threshold=0.01, red_flag_r003_min_days=10)
    thresholds = Thresholds.from_settings(settings)
    assert (thresholds.ceiling_share, thresholds.r024_threshold, thresholds.r003_min_days) == (0.9, 0.01, 10)
    assert Thresholds.from_settings(Settings()) == Thresholds()  # the defaults agree
    for bad in (
        {"red_flag_ceiling_share": 1.5},
        {"red_flag_min_sample": 0},
        {"red_flag_rotation_min_tenders": 1},
    ):
        with pytest.raises(ValidationError):
            Settings(**bad)
