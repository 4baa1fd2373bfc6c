"""Each figure of the equality dashboard on hand-made rows, its numbers worked out here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import DomainError, ErrorCode
from disclosure.dashboard import figures
from disclosure.dashboard.figures import Period
from market.models import BidStatus, RegionKind
from scoring.models import PaymentKind, PaymentStatus, Tier
from tests.disclosure.dashboard.world import World

D = Decimal


@pytest.fixture
def world(session) -> World:
    return World(session)


async def reach_world(world: World):
    """An urban district (2,000 residents) and a rural one (500), each with a contract, and an urban
    district without any (3,000 residents)."""
    urban = await world.region(RegionKind.URBAN, 2000, "城区")
    rural = await world.region(RegionKind.RURAL, 500, "乡区")
    empty = await world.region(RegionKind.URBAN, 3000, "新区")
    package = await world.package()
    in_town = await world.contract(urban, package)
    in_country = await world.contract(rural, package)
    # Urban: verified d1, d2 (resident A), d4 (C, its rating flagged), d6 (E, its flag cleared), d7 (F, a
    # day before 2030); not verified: d3 (B, disputed, rated 1) and d5 (D, found false by an audit).
    await world.delivery(in_town, "A", units=2, stars=5)
    await world.delivery(in_town, "A", stars=4)
    await world.delivery(in_town, "B", stars=1, disputed=True)
    await world.delivery(in_town, "C", stars=1, flagged=True)
    await world.delivery(in_town, "D", units=3, stars=5, marked_false=True)
    await world.delivery(in_town, "E", stars=2, flagged=True, flag_cleared=True)
    await world.delivery(in_town, "F", on=dt.date(2029, 12, 31))
    # Rural: resident A again (counted in each region), G twice, one of them unrated.
    await world.delivery(in_country, "A", stars=3)
    await world.delivery(in_country, "G", stars=2)
    await world.delivery(in_country, "G")
    return urban, rural, empty


async def test_deliveries_coverage_and_satisfaction_by_region(world, session):
    urban, rural, empty = await reach_world(world)

    found = {r.region.id: r.reach for r in await figures.reach_by_region(session, Period())}

    town = found[urban.id]
    # 5 verified deliveries of 6 units to 4 residents (A, C, E, F); counted ratings 5, 4, 2.
    assert (town.deliveries, town.units, town.residents_served) == (5, 6, 4)
    assert town.deliveries_per_1000 == D("2.50")  # 5 × 1000 / 2000
    assert town.coverage_per_1000 == D("2.00")  # 4 × 1000 / 2000
    assert (town.ratings_counted, town.stars_sum) == (3, 11)
    assert town.mean_stars == D("3.67")  # 11 / 3
    country = found[rural.id]
    assert (country.deliveries, country.units, country.residents_served) == (3, 3, 2)
    assert (country.deliveries_per_1000, country.coverage_per_1000) == (D("6.00"), D("4.00"))
    assert country.mean_stars == D("2.50")  # (3 + 2) / 2
    nothing = found[empty.id]
    assert (nothing.deliveries, nothing.residents_served, nothing.ratings_counted) == (0, 0, 0)
    assert (nothing.coverage_per_1000, nothing.mean_stars) == (D("0.00"), None)


async def test_urban_and_rural_together_and_the_gap(world, session):
    await reach_world(world)

    found = await figures.satisfaction_gap(session, Period())

    urban, rural = found.urban, found.rural
    assert (urban.kind, urban.regions, urban.reach.population) == (RegionKind.URBAN, 2, 5000)
    assert urban.reach.coverage_per_1000 == D("0.80")  # 4 residents × 1000 / 5000
    assert urban.reach.deliveries_per_1000 == D("1.00")  # 5 × 1000 / 5000
    assert urban.reach.mean_stars == D("3.67")
    assert (rural.regions, rural.reach.population, rural.reach.mean_stars) == (1, 500, D("2.50"))
    assert found.gap == D("1.17")  # 3.67 − 2.50: rural residents rate lower


async def test_a_gap_needs_ratings_on_both_sides(world, session):
    urban = await world.region(RegionKind.URBAN, 1000)
    await world.delivery(await world.contract(urban, await world.package()), "A", stars=4)

    found = await figures.satisfaction_gap(session, Period())

    assert found.urban.reach.mean_stars == D("4.00")
    assert found.rural.reach.mean_stars is None and found.gap is None


async def test_the_period_picks_deliveries_by_their_date(world, session):
    urban, _rural, _ = await reach_world(world)

    in_2030 = Period.of(dt.date(2030, 1, 1), dt.date(2030, 12, 31))
    found = {r.region.id: r.reach for r in await figures.reach_by_region(session, in_2030)}

    assert (found[urban.id].deliveries, found[urban.id].residents_served) == (4, 3)  # F's was in 2029
    before = Period.of(None, dt.date(2029, 12, 31))
    found = {r.region.id: r.reach for r in await figures.reach_by_region(session, before)}
    assert (found[urban.id].deliveries, found[urban.id].ratings_counted) == (1, 0)


def test_a_period_that_ends_before_it_starts_is_refused():
    with pytest.raises(DomainError) as refused:
        Period.of(dt.date(2030, 2, 1), dt.date(2030, 1, 31))
    assert refused.value.code == ErrorCode.INVALID and refused.value.problems[0].field == ("to",)
    with pytest.raises(DomainError):
        Period.of(dt.date(1, 1, 1), None)
    assert Period.of(dt.date(2030, 1, 1), dt.date(2030, 1, 1)) == Period(
        dt.date(2030, 1, 1), dt.date(2030, 1, 1)
    )


async def bidders_world(world: World):
    region = await world.region(RegionKind.URBAN, 1000)
    care, health = await world.package("ELDERLY_CARE"), await world.package("HEALTH")
    v, i, w, s = BidStatus.VALID, BidStatus.INVALID, BidStatus.WITHDRAWN, BidStatus.SUBMITTED
    await world.tender(region, care, bids=(v, v, i, w))  # 3 bidders (the withdrawn bid is not), 2 valid
    late = dt.datetime(2030, 6, 30, 16, 30, tzinfo=dt.UTC)  # 1 July, 00:30 in Shanghai
    await world.tender(region, care, bids=(v,), opened_at=late)
    sealed = await world.tender(region, care, bids=(s, s, s, s), opened_at=None)
    await world.tender(region, health, bids=(v, v))
    await world.tender(region, health, bids=())  # opened with no bid at all
    return sealed


async def test_bidders_per_tender_by_category(world, session):
    await bidders_world(world)

    care, health, everything = await figures.bidders_per_tender(session, Period())

    assert care.category.code == "ELDERLY_CARE" and (care.tenders, care.bids_sum) == (2, 4)
    assert (care.mean, care.mean_valid) == (D("2.00"), D("1.50"))  # (3 + 1) / 2, (2 + 1) / 2
    assert (care.single_bid_tenders, care.single_bid_share) == (1, D("50.00"))
    assert care.distribution == {1: 1, 3: 1}
    assert health.category.code == "HEALTH" and (health.mean, health.mean_valid) == (D("1.00"), D("1.00"))
    assert health.distribution == {0: 1, 2: 1} and health.single_bid_share == D("0.00")
    assert everything.category is None and everything.tenders == 4
    assert (everything.mean, everything.mean_valid) == (D("1.50"), D("1.25"))  # 6 / 4, 5 / 4
    assert everything.single_bid_share == D("25.00")
    assert everything.distribution == {0: 1, 1: 1, 2: 1, 3: 1}


async def test_sealed_bids_are_never_counted(world, session):
    """Before its opening a tender's bids are sealed: not even their number shows."""
    sealed, sealed_bids = await bidders_world(world)
    before = await figures.bidders_per_tender(session, Period())
    another = await world.region(RegionKind.RURAL, 10)
    await world.tender(
        another, await world.package("ELDERLY_CARE"), bids=(BidStatus.SUBMITTED,) * 3, opened_at=None
    )

    assert await figures.bidders_per_tender(session, Period()) == before

    # The opening decides each bid; from then on they count.
    sealed.opened_at = dt.datetime(2030, 1, 20, tzinfo=dt.UTC)
    for bid in sealed_bids:
        bid.status = BidStatus.VALID
    await session.flush()
    care = (await figures.bidders_per_tender(session, Period()))[0]
    assert care.tenders == 3 and care.distribution == {1: 1, 3: 1, 4: 1}


async def test_tenders_count_by_their_opening_day_in_the_deployment_zone(world, session):
    await bidders_world(world)

    june = Period.of(dt.date(2030, 1, 1), dt.date(2030, 6, 30))
    care = (await figures.bidders_per_tender(session, june))[0]
    assert care.tenders == 1 and care.distribution == {3: 1}  # the one opened at 00:30 on 1 July is not
    july = Period.of(dt.date(2030, 7, 1), None)
    care, everything = await figures.bidders_per_tender(session, july)
    assert care.distribution == {1: 1} and everything.tenders == 1


async def test_market_concentration_per_category(world, session):
    region = await world.region(RegionKind.URBAN, 1000)
    care, health = await world.package("ELDERLY_CARE"), await world.package("HEALTH")
    big = await world.provider()
    # Elderly care: 300.00 to one provider (two contracts), 100.00 to another: shares 75 % and 25 %.
    await world.contract(region, care, unit_price="10.00", quantity=20, provider=big)
    await world.contract(region, care, unit_price="10.00", quantity=10, provider=big)
    await world.contract(region, care, unit_price="10.00", quantity=10)
    # Health: ten providers with 50.00 each: 10 × 10² = 1,000.
    for _ in range(10):
        await world.contract(region, health, unit_price="5.00", quantity=10)

    care_hhi, health_hhi = await figures.concentration(session, Period())

    assert care_hhi.category.code == "ELDERLY_CARE"
    assert (care_hhi.contracts, care_hhi.providers) == (3, 2)
    assert (care_hhi.awarded_value, care_hhi.top_value) == (D("400.00"), D("300.00"))
    assert care_hhi.hhi == D("6250.00")  # 75² + 25²
    assert (care_hhi.top_share, care_hhi.level) == (D("75.00"), "HIGH")
    assert (health_hhi.providers, health_hhi.hhi, health_hhi.level) == (10, D("1000.00"), "MODERATE")
    assert health_hhi.top_share == D("10.00")


def test_concentration_bands():
    def level(hhi: str) -> str:
        return figures.Concentration(None, 1, 1, D(1), D(1), D(hhi)).level

    assert [level(h) for h in ("999.99", "1000", "1800", "1800.01", "10000")] == [
        "LOW",
        "MODERATE",
        "MODERATE",
        "HIGH",
        "HIGH",
    ]


async def test_concentration_counts_contracts_signed_in_the_period(world, session):
    region = await world.region(RegionKind.URBAN, 1000)
    care = await world.package("ELDERLY_CARE")
    await world.contract(region, care, unit_price="10.00", quantity=10)
    await world.contract(region, care, unit_price="10.00", quantity=30,
                         signed_at=dt.datetime(2031, 3, 1, tzinfo=dt.UTC))  # fmt: skip

    (only,) = await figures.concentration(session, Period.of(None, dt.date(2030, 12, 31)))
    assert (only.contracts, only.hhi) == (1, D("10000.00"))
    assert await figures.concentration(session, Period.of(dt.date(2032, 1, 1), None)) == []


async def test_share_of_payments_adjusted_for_performance(world, session):
    region = await world.region(RegionKind.RURAL, 1000)
    contract = await world.contract(region, await world.package())
    for tier in ("A", "B", "B", "C", "E"):
        await world.payment(contract, tier)
    await world.payment(contract, "D", status=PaymentStatus.CANCELLED)  # left out
    await world.payment(contract, "B", kind=PaymentKind.CORRECTION)  # a rescore after an appeal
    await world.payment(contract, None, kind=PaymentKind.HOLDBACK_RELEASE)  # not a performance payment

    found = await figures.performance_payments(session, Period())

    assert (found.period_payments, found.raised, found.reduced, found.corrections) == (5, 1, 2, 1)
    assert (found.payments, found.adjusted) == (6, 4)
    assert found.adjusted_share == D("66.67")  # 4 / 6
    assert found.by_tier == {Tier.A: 1, Tier.B: 2, Tier.C: 1, Tier.D: 0, Tier.E: 1}


async def test_no_payment_no_share(world, session):
    found = await figures.performance_payments(session, Period())
    assert (found.payments, found.adjusted_share) == (0, None)


async def test_unit_cost_per_package_across_versions(world, session):
    urban = await world.region(RegionKind.URBAN, 1000)
    rural = await world.region(RegionKind.RURAL, 1000)
    first = await world.package(code="ELDER-X", name="旧名")
    second = await world.package(code="ELDER-X", version=2, name="新名", low="60.00", high="140.00")
    await world.contract(urban, first, unit_price="100.00", quantity=10)
    await world.contract(urban, second, unit_price="120.00", quantity=30)
    await world.contract(rural, first, unit_price="80.00", quantity=60)

    (cost,) = await figures.unit_costs(session, Period())

    assert cost.package.id == second.id and cost.package.name == "新名"  # the latest version
    assert (cost.contracts, cost.quantity, cost.total_value) == (3, 100, D("9400.00"))
    assert (cost.min_price, cost.max_price, cost.mean_price) == (D("80.00"), D("120.00"), D("100.00"))
    assert cost.weighted_price == D("94.00")  # 9400 / 100
    assert (cost.urban_mean_price, cost.rural_mean_price) == (D("110.00"), D("80.00"))


async def test_the_whole_dashboard_in_a_constant_number_of_statements(world, session, statements):
    """The same number of statements for a small and a ten times larger world."""
    region = await world.region(RegionKind.URBAN, 1000)
    package = await world.package()

    async def grow(contracts: int) -> None:
        for _ in range(contracts):
            contract = await world.contract(region, package, provider=await world.provider())
            for n in range(5):
                await world.delivery(contract, f"resident-{n}", stars=4)
            await world.payment(contract, "C")

    counts = []
    for size in (1, 10):
        await grow(size)
        with statements:
            dashboard = await figures.equality_dashboard(session, Period())
        counts.append(statements.count)
        assert dashboard.payments.period_payments > 0
    assert counts == [figures.STATEMENTS, figures.STATEMENTS]
