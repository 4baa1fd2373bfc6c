"""The figures of the equality dashboard (SPEC §7), each one set-based SQL statement or two.

`equality_dashboard(session, period)` reads them all in a constant number of statements
(`STATEMENTS`), whatever the number of regions, tenders, contracts, deliveries or ratings. Only
what is public, or what public records add up to, is read: bids are counted only once their
tender was opened (before that nobody may learn even how many exist), residents only as a count of
distinct phone hashes, ratings and payments only as counts and means.

A reporting period (`Period`, both ends optional and inclusive, calendar days in the deployment's
time zone) picks, per figure: deliveries and ratings by the delivery's date, tenders by the day
their bids were opened, contracts (awarded value, unit prices) by the day they were signed, and
payments by the day they were calculated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.models import Contract, Delivery, Rating
from core.db import to_money
from core.errors import DomainError, ErrorCode
from core.scalars import EARLIEST_YEAR, LATEST_YEAR
from core.settings import get_settings
from market.models import (
    Bid,
    BidStatus,
    Region,
    RegionKind,
    ServiceCategory,
    ServicePackage,
    Tender,
)
from scoring.models import Payment, PaymentKind, PaymentStatus, Scorecard, Tier
from scoring.rollups import counted_rating_clause, verified_clause

STATEMENTS = 6
"""How many SQL statements `equality_dashboard` sends, whatever the data (tests hold it to this)."""

PER = 1000
"""Coverage and deliveries are per 1,000 residents."""

TWO_PLACES = Decimal("0.01")

# Market concentration bands of the Herfindahl-Hirschman index (0-10,000), as the U.S. merger
# guidelines of 2023 draw them: above 1,800 highly concentrated, 1,000-1,800 moderately.
HHI_MODERATE = 1000
HHI_HIGH = 1800


def _round(value: Decimal | float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(TWO_PLACES, rounding=ROUND_HALF_EVEN)


def _ratio(numerator: int | Decimal, denominator: int | Decimal, scale: int = 1) -> Decimal | None:
    """numerator × scale ÷ denominator to 0.01, half-even; None when the denominator is 0."""
    if not denominator:
        return None
    return (Decimal(numerator) * scale / Decimal(denominator)).quantize(TWO_PLACES, rounding=ROUND_HALF_EVEN)


# ---------------------------------------------------------------- the reporting period


@dataclass(frozen=True)
class Period:
    """Calendar days, both ends inclusive and optional (None: since the first record, until now)."""

    start: dt.date | None = None
    end: dt.date | None = None

    @classmethod
    def of(cls, start: dt.date | None, end: dt.date | None) -> Period:
        for name, day in (("from", start), ("to", end)):
            if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                message = f"dates lie in the years {EARLIEST_YEAR} to {LATEST_YEAR}"
                raise DomainError(ErrorCode.INVALID, message, field=[name])
        if start is not None and end is not None and start > end:
            raise DomainError(ErrorCode.INVALID, "the period ends before it starts", field=["to"])
        return cls(start, end)

    def days(self, column) -> ColumnElement[bool]:
        """A date column within the period."""
        found = []
        if self.start is not None:
            found.append(column >= self.start)
        if self.end is not None:
            found.append(column <= self.end)
        return and_(literal(True), *found)

    def moments(self, column) -> ColumnElement[bool]:
        """A UTC moment column on one of the period's days in the deployment's time zone."""
        zone, found = get_settings().zone, []
        if self.start is not None:
            found.append(column >= dt.datetime.combine(self.start, dt.time.min, zone).astimezone(dt.UTC))
        if self.end is not None:
            next_day = self.end + dt.timedelta(days=1)
            found.append(column < dt.datetime.combine(next_day, dt.time.min, zone).astimezone(dt.UTC))
        return and_(literal(True), *found)


# ---------------------------------------------------------------- deliveries, coverage, satisfaction


@dataclass(frozen=True)
class Reach:
    """Deliveries, residents served and counted ratings of a population (a region or a kind)."""

    population: int
    deliveries: int
    """Verified deliveries (neither disputed nor found false by an audit)."""
    units: int
    residents_served: int
    """Distinct residents of those deliveries, told apart by their phone's keyed hash."""
    ratings_counted: int
    """Ratings that count for scoring (SPEC §6.1): unflagged or cleared, of verified deliveries."""
    stars_sum: int

    @property
    def deliveries_per_1000(self) -> Decimal | None:
        return _ratio(self.deliveries, self.population, PER)

    @property
    def coverage_per_1000(self) -> Decimal | None:
        """Distinct residents served per 1,000 residents."""
        return _ratio(self.residents_served, self.population, PER)

    @property
    def mean_stars(self) -> Decimal | None:
        """Mean of the counted ratings, 1-5 stars; None without any."""
        return _ratio(self.stars_sum, self.ratings_counted)


@dataclass(frozen=True)
class RegionReach:
    region: Region
    reach: Reach


@dataclass(frozen=True)
class KindReach:
    kind: RegionKind
    regions: int
    reach: Reach


@dataclass(frozen=True)
class SatisfactionGap:
    urban: KindReach
    rural: KindReach

    @property
    def gap(self) -> Decimal | None:
        """Urban minus rural mean stars: positive when rural residents rate their services lower."""
        if self.urban.reach.mean_stars is None or self.rural.reach.mean_stars is None:
            return None
        return self.urban.reach.mean_stars - self.rural.reach.mean_stars


def _reach_columns(period: Period):
    """Joins and aggregates shared by the region and the kind figures: every region, its contracts'
    verified deliveries in the period, and their counted ratings (at most one per delivery)."""
    delivery_on = and_(
        Delivery.contract_id == Contract.id, verified_clause(), period.days(Delivery.delivered_on)
    )
    rating_on = and_(Rating.delivery_id == Delivery.id, counted_rating_clause())

    def joined(statement):
        return (
            statement.select_from(Region)
            .outerjoin(Contract, Contract.region_id == Region.id)
            .outerjoin(Delivery, delivery_on)
            .outerjoin(Rating, rating_on)
        )

    aggregates = (
        func.count(Delivery.id).label("deliveries"),
        func.coalesce(func.sum(Delivery.units), 0).label("units"),
        func.count(func.distinct(Delivery.phone_hash)).label("residents"),
        func.count(Rating.delivery_id).label("ratings"),
        func.coalesce(func.sum(Rating.stars), 0).label("stars"),
    )
    return joined, aggregates


def _reach(row, population: int) -> Reach:
    return Reach(
        population=int(population or 0),
        deliveries=row.deliveries,
        units=int(row.units),
        residents_served=row.residents,
        ratings_counted=row.ratings,
        stars_sum=int(row.stars),
    )


async def reach_by_region(session: AsyncSession, period: Period) -> list[RegionReach]:
    """Every region (each with its own contracts), urban first, then by code."""
    joined, aggregates = _reach_columns(period)
    statement = (
        joined(select(Region, *aggregates)).group_by(Region.id).order_by(Region.kind.desc(), Region.code)
    )
    rows = (await session.execute(statement)).all()
    return [RegionReach(row.Region, _reach(row, row.Region.population)) for row in rows]


async def satisfaction_gap(session: AsyncSession, period: Period) -> SatisfactionGap:
    """Urban and rural regions together, each kind's population the sum of its regions'."""
    joined, aggregates = _reach_columns(period)
    others = Region.__table__.alias("same_kind")
    population = (
        select(func.coalesce(func.sum(others.c.population), 0))
        .where(others.c.kind == Region.kind)
        .scalar_subquery()
    )
    statement = joined(
        select(
            Region.kind,
            population.label("population"),
            func.count(func.distinct(Region.id)).label("regions"),
            *aggregates,
        )
    ).group_by(Region.kind)
    found = {row.kind: row for row in (await session.execute(statement)).all()}

    def kind(value: RegionKind) -> KindReach:
        row = found.get(value)
        if row is None:
            return KindReach(value, 0, Reach(0, 0, 0, 0, 0, 0))
        return KindReach(value, row.regions, _reach(row, row.population))

    return SatisfactionGap(urban=kind(RegionKind.URBAN), rural=kind(RegionKind.RURAL))


# ---------------------------------------------------------------- bidders per tender


@dataclass
class Bidders:
    """Bidders of the tenders of one category opened in the period."""

    category: ServiceCategory | None
    """None: all categories together."""
    tenders: int
    bids_sum: int
    valid_sum: int
    single_bid_tenders: int
    distribution: dict[int, int] = field(default_factory=dict)
    """Number of bidders -> tenders that had that many, fewest bidders first."""

    @property
    def mean(self) -> Decimal | None:
        return _ratio(self.bids_sum, self.tenders)

    @property
    def mean_valid(self) -> Decimal | None:
        return _ratio(self.valid_sum, self.tenders)

    @property
    def single_bid_share(self) -> Decimal | None:
        """Percent of tenders with one bidder only (a Cardinal red flag)."""
        return _ratio(self.single_bid_tenders, self.tenders, 100)


def _tender_bidders(period: Period):
    """One row per opened tender: its category, its bidders (bids opened, valid or not) and valid bids.

    Opening decides every bid not withdrawn VALID or INVALID; bids of unopened tenders stay sealed
    and are never read here.
    """
    opened = Bid.status.in_([BidStatus.VALID, BidStatus.INVALID])
    return (
        select(
            Tender.id.label("tender_id"),
            ServicePackage.category_code.label("category_code"),
            func.count(Bid.id).label("bidders"),
            func.count(case((Bid.status == BidStatus.VALID, Bid.id))).label("valid"),
        )
        .join(ServicePackage, ServicePackage.id == Tender.package_id)
        .outerjoin(Bid, and_(Bid.tender_id == Tender.id, opened))
        .where(Tender.opened_at.is_not(None), period.moments(Tender.opened_at))
        .group_by(Tender.id, ServicePackage.category_code)
        .subquery()
    )


async def bidders_per_tender(session: AsyncSession, period: Period) -> list[Bidders]:
    """Per category of the tenders' packages (by name), then all categories together (last)."""
    per_tender = _tender_bidders(period)
    statement = (
        select(
            ServiceCategory,
            per_tender.c.bidders,
            func.count().label("tenders"),
            func.sum(per_tender.c.valid).label("valid"),
        )
        .join(ServiceCategory, ServiceCategory.code == per_tender.c.category_code)
        .group_by(ServiceCategory.code, per_tender.c.bidders)
        .order_by(ServiceCategory.code, per_tender.c.bidders)
    )
    tallies: dict[str, Bidders] = {}
    overall = Bidders(category=None, tenders=0, bids_sum=0, valid_sum=0, single_bid_tenders=0)
    # One row per (category, number of bidders): a handful, whatever the number of tenders.
    for row in (await session.execute(statement)).all():
        category = row.ServiceCategory
        tally = tallies.setdefault(category.code, Bidders(category, 0, 0, 0, 0))
        for figure in (tally, overall):
            figure.tenders += row.tenders
            figure.bids_sum += row.bidders * row.tenders
            figure.valid_sum += int(row.valid)
            figure.single_bid_tenders += row.tenders if row.bidders == 1 else 0
            figure.distribution[row.bidders] = row.tenders + figure.distribution.get(row.bidders, 0)
    return [*(tallies[code] for code in sorted(tallies)), overall]


# ---------------------------------------------------------------- market concentration


@dataclass(frozen=True)
class Concentration:
    """The Herfindahl-Hirschman index of the value awarded in one category."""

    category: ServiceCategory
    contracts: int
    providers: int
    awarded_value: Decimal
    top_value: Decimal
    hhi: Decimal
    """Σ (provider's share of the awarded value, in percent)², 0-10,000; 10,000 is a monopoly."""

    @property
    def top_share(self) -> Decimal | None:
        """Percent of the value awarded to the largest provider."""
        return _ratio(self.top_value, self.awarded_value, 100)

    @property
    def level(self) -> str:
        """LOW, MODERATE or HIGH concentration (`HHI_MODERATE`, `HHI_HIGH`)."""
        if self.hhi > HHI_HIGH:
            return "HIGH"
        return "MODERATE" if self.hhi >= HHI_MODERATE else "LOW"


async def concentration(session: AsyncSession, period: Period) -> list[Concentration]:
    """Per category with a contract signed in the period: contracts' total values by provider."""
    by_provider = (
        select(
            ServicePackage.category_code.label("category_code"),
            Contract.provider_id,
            func.count(Contract.id).label("contracts"),
            func.sum(Contract.total_value).label("value"),
        )
        .join(ServicePackage, ServicePackage.id == Contract.package_id)
        .where(period.moments(Contract.signed_at))
        .group_by(ServicePackage.category_code, Contract.provider_id)
        .subquery()
    )
    # Values are integer fen; their squares can pass 64 bits, so the shares are taken in floating
    # point (an index, not money).
    value = cast(by_provider.c.value, Float)
    total = func.sum(by_provider.c.value)
    statement = (
        select(
            ServiceCategory,
            func.sum(by_provider.c.contracts).label("contracts"),
            func.count().label("providers"),
            total.label("awarded"),
            func.max(by_provider.c.value).label("top"),
            (10000 * func.sum(value * value) / (cast(total, Float) * cast(total, Float))).label("hhi"),
        )
        .join(ServiceCategory, ServiceCategory.code == by_provider.c.category_code)
        .group_by(ServiceCategory.code)
        .having(total > 0)
        .order_by(ServiceCategory.code)
    )
    return [
        Concentration(
            category=row.ServiceCategory,
            contracts=int(row.contracts),
            providers=row.providers,
            awarded_value=to_money(row.awarded),
            top_value=to_money(row.top),
            hhi=_round(row.hhi),
        )
        for row in (await session.execute(statement)).all()
    ]


# ---------------------------------------------------------------- performance-adjusted payments


@dataclass(frozen=True)
class PerformancePayments:
    """Period payments and corrections calculated in the period (cancelled ones left out)."""

    period_payments: int
    raised: int
    """Period payments whose tier paid more than the base (rate > 1, e.g. tier A: 105%)."""
    reduced: int
    """Period payments whose tier paid less than the base (rate < 1: tiers C, D, E)."""
    corrections: int
    """CORRECTION payments: a period rescored after an appeal, paid or recovered by difference."""
    by_tier: dict[Tier, int] = field(default_factory=dict)
    """Period payments per tier of their scorecard."""

    @property
    def payments(self) -> int:
        return self.period_payments + self.corrections

    @property
    def adjusted(self) -> int:
        return self.raised + self.reduced + self.corrections

    @property
    def adjusted_share(self) -> Decimal | None:
        """Percent of the payments whose amount performance changed."""
        return _ratio(self.adjusted, self.payments, 100)


async def performance_payments(session: AsyncSession, period: Period) -> PerformancePayments:
    one = Decimal("1.00")
    statement = (
        select(
            Payment.kind,
            Scorecard.tier,
            func.count(Payment.id).label("payments"),
            func.count(case((Scorecard.payout_rate > one, Payment.id))).label("raised"),
            func.count(case((Scorecard.payout_rate < one, Payment.id))).label("reduced"),
        )
        .outerjoin(Scorecard, Scorecard.id == Payment.scorecard_id)
        .where(
            Payment.kind.in_([PaymentKind.PERIOD, PaymentKind.CORRECTION]),
            Payment.status != PaymentStatus.CANCELLED,
            period.moments(Payment.created_at),
        )
        .group_by(Payment.kind, Scorecard.tier)
    )
    period_payments = raised = reduced = corrections = 0
    by_tier = dict.fromkeys(Tier, 0)
    for row in (await session.execute(statement)).all():  # one row per kind and tier
        if row.kind == PaymentKind.CORRECTION:
            corrections += row.payments
            continue
        period_payments += row.payments
        raised += row.raised
        reduced += row.reduced
        if row.tier is not None:
            by_tier[row.tier] += row.payments
    return PerformancePayments(period_payments, raised, reduced, corrections, by_tier)


# ---------------------------------------------------------------- unit cost per package


@dataclass(frozen=True)
class UnitCost:
    """Awarded unit prices of one package (all its versions), from the contracts signed in the period."""

    package: ServicePackage
    """The package's latest version: its name, unit and reference price range."""
    contracts: int
    quantity: int
    total_value: Decimal
    min_price: Decimal
    max_price: Decimal
    mean_price: Decimal
    """Plain mean of the contracts' unit prices."""
    urban_mean_price: Decimal | None
    rural_mean_price: Decimal | None

    @property
    def weighted_price(self) -> Decimal | None:
        """Total awarded value ÷ units contracted: what one unit cost across the contracts."""
        if not self.quantity:
            return None
        return to_money(self.total_value / self.quantity)


async def unit_costs(session: AsyncSession, period: Period) -> list[UnitCost]:
    versions = ServicePackage.__table__.alias("package_version")
    latest = (
        select(versions.c.code, func.max(versions.c.version).label("version"))
        .group_by(versions.c.code)
        .subquery()
    )
    contracted = ServicePackage.__table__.alias("contracted")

    def mean_of(kind: RegionKind):
        return func.avg(case((Region.kind == kind, cast(Contract.unit_price, Float))))

    per_code = (
        select(
            contracted.c.code,
            func.count(Contract.id).label("contracts"),
            func.sum(Contract.quantity).label("quantity"),
            func.sum(Contract.total_value).label("total"),
            func.min(Contract.unit_price).label("low"),
            func.max(Contract.unit_price).label("high"),
            func.avg(cast(Contract.unit_price, Float)).label("mean"),
            mean_of(RegionKind.URBAN).label("urban"),
            mean_of(RegionKind.RURAL).label("rural"),
        )
        .select_from(Contract)
        .join(contracted, contracted.c.id == Contract.package_id)
        .join(Region, Region.id == Contract.region_id)
        .where(period.moments(Contract.signed_at))
        .group_by(contracted.c.code)
        .subquery()
    )
    statement = (
        select(
            ServicePackage,
            *(column for column in per_code.c if column.name != "code"),
        )
        .join(latest, and_(latest.c.code == ServicePackage.code, latest.c.version == ServicePackage.version))
        .join(per_code, per_code.c.code == ServicePackage.code)
        .order_by(ServicePackage.category_code, ServicePackage.code)
    )

    def price(fen) -> Decimal | None:
        # Sums, minima and maxima of a money column read back as money; means (taken of the
        # prices cast to floating point) as fen.
        return None if fen is None else to_money(Decimal(str(fen)) / 100)

    return [
        UnitCost(
            package=row.ServicePackage,
            contracts=row.contracts,
            quantity=int(row.quantity),
            total_value=to_money(row.total),
            min_price=to_money(row.low),
            max_price=to_money(row.high),
            mean_price=price(row.mean),
            urban_mean_price=price(row.urban),
            rural_mean_price=price(row.rural),
        )
        for row in (await session.execute(statement)).all()
    ]


# ---------------------------------------------------------------- all together


@dataclass(frozen=True)
class Dashboard:
    period: Period
    regions: list[RegionReach]
    satisfaction: SatisfactionGap
    bidders: list[Bidders]
    concentration: list[Concentration]
    payments: PerformancePayments
    unit_costs: list[UnitCost]


async def equality_dashboard(session: AsyncSession, period: Period) -> Dashboard:
    """Every figure of the dashboard, read in `STATEMENTS` statements."""
    return Dashboard(
        period=period,
        regions=await reach_by_region(session, period),
        satisfaction=await satisfaction_gap(session, period),
        bidders=await bidders_per_tender(session, period),
        concentration=await concentration(session, period),
        payments=await performance_payments(session, period),
        unit_costs=await unit_costs(session, period),
    )
