"""GraphQL types of the equality dashboard: typed figures, each described with its definition.

Ratios (per 1,000 residents, means, percentages, the HHI) are floats rounded half-even to two
places; money is `Decimal` (CNY). A ratio whose denominator is zero (no population, no tender,
no rating) is null rather than 0.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import strawberry

from disclosure.dashboard import figures
from market.types import Region, RegionKindType, ServiceCategory, ServicePackage
from scoring.types import TierType


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@strawberry.interface(
    description="Verified deliveries, residents served and counted ratings of a population."
)
class Reach:
    population: int = strawberry.field(description="Residents (the regions' recorded population).")
    deliveries: int = strawberry.field(
        description="Verified deliveries in the period (neither disputed nor found false by an audit), by "
        "delivery date."
    )
    units: int = strawberry.field(description="Units of those deliveries (visits, sessions...).")
    residents_served: int = strawberry.field(
        description="Distinct residents those deliveries reached, told apart by their phone's keyed hash."
    )
    deliveries_per_1000: float | None = strawberry.field(
        description="Verified deliveries per 1,000 residents; null without population."
    )
    coverage_per_1000: float | None = strawberry.field(
        description="Coverage: distinct residents served per 1,000 residents; null without population."
    )
    ratings_counted: int = strawberry.field(
        description="Residents' ratings of those deliveries that count for scoring (unflagged, or flag "
        "cleared)."
    )
    mean_stars: float | None = strawberry.field(
        description="Mean satisfaction: the mean of the counted ratings, 1-5 stars; null without any."
    )


def _reach(reach: figures.Reach) -> dict:
    return {
        "population": reach.population,
        "deliveries": reach.deliveries,
        "units": reach.units,
        "residents_served": reach.residents_served,
        "deliveries_per_1000": _float(reach.deliveries_per_1000),
        "coverage_per_1000": _float(reach.coverage_per_1000),
        "ratings_counted": reach.ratings_counted,
        "mean_stars": _float(reach.mean_stars),
    }


@strawberry.type(description="Deliveries, coverage and satisfaction of one region (its own contracts).")
class RegionReach(Reach):
    region: Region = strawberry.field(description="The region.")

    @classmethod
    def from_figure(cls, figure: figures.RegionReach) -> RegionReach:
        return cls(region=Region.from_row(figure.region), **_reach(figure.reach))


@strawberry.type(description="Deliveries, coverage and satisfaction of all urban, or all rural, regions.")
class RegionKindReach(Reach):
    kind: RegionKindType = strawberry.field(description="URBAN or RURAL.")
    regions: int = strawberry.field(description="Regions of this kind.")

    @classmethod
    def from_figure(cls, figure: figures.KindReach) -> RegionKindReach:
        return cls(kind=figure.kind, regions=figure.regions, **_reach(figure.reach))


@strawberry.type(description="Tenders that had a given number of bidders.")
class BidderCount:
    bidders: int = strawberry.field(description="Bids opened (valid or not).")
    tenders: int = strawberry.field(description="Tenders opened with that many bids.")


@strawberry.type(
    description="Bidders per tender of one category: tenders whose bids were opened in the period (bids of "
    "tenders not yet opened are sealed and never counted)."
)
class CategoryBidders:
    category: ServiceCategory | None = strawberry.field(
        description="The category of the tenders' package; null for all categories together."
    )
    tenders: int = strawberry.field(description="Tenders opened in the period.")
    mean_bidders: float | None = strawberry.field(description="Mean bids opened per tender, valid or not.")
    mean_valid_bids: float | None = strawberry.field(
        description="Mean bids found valid at the opening per tender."
    )
    single_bid_tenders: int = strawberry.field(description="Tenders with one bid only.")
    single_bid_share: float | None = strawberry.field(description="Percent of tenders with one bid only.")
    distribution: list[BidderCount] = strawberry.field(
        description="How many tenders had each number of bids, fewest first."
    )

    @classmethod
    def from_figure(cls, figure: figures.Bidders) -> CategoryBidders:
        return cls(
            category=None if figure.category is None else ServiceCategory.from_row(figure.category),
            tenders=figure.tenders,
            mean_bidders=_float(figure.mean),
            mean_valid_bids=_float(figure.mean_valid),
            single_bid_tenders=figure.single_bid_tenders,
            single_bid_share=_float(figure.single_bid_share),
            distribution=[BidderCount(bidders=n, tenders=t) for n, t in figure.distribution.items()],
        )


@strawberry.enum(description="Concentration bands of the HHI (U.S. merger guidelines, 2023).")
class ConcentrationLevel(enum.Enum):
    LOW = strawberry.enum_value("LOW", description="HHI under 1,000: unconcentrated.")
    MODERATE = strawberry.enum_value("MODERATE", description="HHI from 1,000 to 1,800.")
    HIGH = strawberry.enum_value("HIGH", description="HHI above 1,800: highly concentrated.")


@strawberry.type(
    description="Market concentration of one category: the Herfindahl-Hirschman index of the value of the "
    "contracts signed in the period, by provider."
)
class CategoryConcentration:
    category: ServiceCategory = strawberry.field(description="The category of the contracts' package.")
    contracts: int = strawberry.field(description="Contracts signed in the period.")
    providers: int = strawberry.field(description="Distinct providers awarded them.")
    awarded_value: Decimal = strawberry.field(description="Their total value, CNY.")
    top_provider_share: float | None = strawberry.field(
        description="Percent of the value awarded to the largest provider."
    )
    hhi: float = strawberry.field(
        description="Σ (each provider's share of the value, in percent)², from 0 to 10,000 (one provider)."
    )
    level: ConcentrationLevel = strawberry.field(description="The HHI's band.")

    @classmethod
    def from_figure(cls, figure: figures.Concentration) -> CategoryConcentration:
        return cls(
            category=ServiceCategory.from_row(figure.category),
            contracts=figure.contracts,
            providers=figure.providers,
            awarded_value=figure.awarded_value,
            top_provider_share=_float(figure.top_share),
            hhi=float(figure.hhi),
            level=ConcentrationLevel(figure.level),
        )


@strawberry.type(description="Period payments of one tier.")
class TierCount:
    tier: TierType = strawberry.field(description="The tier of the payment's scorecard.")
    payments: int = strawberry.field(description="Period payments of that tier.")


@strawberry.type(
    description="How many payments performance changed: period payments and corrections calculated in the "
    "period, cancelled ones left out (holdback releases are not counted)."
)
class PerformancePayments:
    payments: int = strawberry.field(description="Period payments and corrections.")
    period_payments: int = strawberry.field(description="Payments of finalised periods.")
    raised: int = strawberry.field(
        description="Period payments whose tier paid more than the base (rate > 1)."
    )
    reduced: int = strawberry.field(
        description="Period payments whose tier paid less than the base (rate < 1)."
    )
    corrections: int = strawberry.field(
        description="Corrections: a period rescored after an appeal, paid or recovered by difference."
    )
    adjusted: int = strawberry.field(description="Performance-adjusted: raised + reduced + corrections.")
    adjusted_share: float | None = strawberry.field(
        description="Percent of the payments that were performance-adjusted; null without payments."
    )
    by_tier: list[TierCount] = strawberry.field(description="Period payments per tier, A to E.")

    @classmethod
    def from_figure(cls, figure: figures.PerformancePayments) -> PerformancePayments:
        return cls(
            payments=figure.payments,
            period_payments=figure.period_payments,
            raised=figure.raised,
            reduced=figure.reduced,
            corrections=figure.corrections,
            adjusted=figure.adjusted,
            adjusted_share=_float(figure.adjusted_share),
            by_tier=[TierCount(tier=tier, payments=n) for tier, n in figure.by_tier.items()],
        )


@strawberry.type(
    description="Unit cost of one service package: the unit prices of the contracts (of any of its versions) "
    "signed in the period."
)
class PackageUnitCost:
    package: ServicePackage = strawberry.field(
        description="The package's latest version (name, unit, reference price range)."
    )
    contracts: int = strawberry.field(description="Contracts signed in the period.")
    quantity: int = strawberry.field(description="Units they contract.")
    total_value: Decimal = strawberry.field(description="Their total value, CNY.")
    min_unit_price: Decimal = strawberry.field(description="Lowest awarded unit price, CNY.")
    max_unit_price: Decimal = strawberry.field(description="Highest awarded unit price, CNY.")
    mean_unit_price: Decimal = strawberry.field(description="Mean of the awarded unit prices, CNY.")
    weighted_unit_price: Decimal | None = strawberry.field(
        description="Total value ÷ units contracted, CNY: what one unit cost across the contracts."
    )
    urban_mean_unit_price: Decimal | None = strawberry.field(
        description="Mean awarded unit price in urban regions, CNY; null without such a contract."
    )
    rural_mean_unit_price: Decimal | None = strawberry.field(
        description="Mean awarded unit price in rural regions, CNY; null without such a contract."
    )

    @classmethod
    def from_figure(cls, figure: figures.UnitCost) -> PackageUnitCost:
        return cls(
            package=ServicePackage.from_row(figure.package),
            contracts=figure.contracts,
            quantity=figure.quantity,
            total_value=figure.total_value,
            min_unit_price=figure.min_price,
            max_unit_price=figure.max_price,
            mean_unit_price=figure.mean_price,
            weighted_unit_price=figure.weighted_price,
            urban_mean_unit_price=figure.urban_mean_price,
            rural_mean_unit_price=figure.rural_mean_price,
        )


@strawberry.type(
    description="The public equality dashboard (均等化指标, SPEC §7): how evenly services reach urban and "
    "rural residents, how competitive purchasing is and how much payment follows performance."
)
class EqualityDashboard:
    from_: dt.date | None = strawberry.field(
        name="from", description="First day of the period (inclusive); null: since the first record."
    )
    to: dt.date | None = strawberry.field(description="Last day of the period (inclusive); null: until now.")
    regions: list[RegionReach] = strawberry.field(
        description="Deliveries and coverage per 1,000 residents, and mean satisfaction, by region: urban "
        "first, then by code."
    )
    urban: RegionKindReach = strawberry.field(description="All urban regions together.")
    rural: RegionKindReach = strawberry.field(description="All rural regions together.")
    satisfaction_gap: float | None = strawberry.field(
        description="Urban minus rural mean satisfaction, in stars (positive: rural residents rate lower); "
        "null when either has no counted rating."
    )
    bidders: list[CategoryBidders] = strawberry.field(
        description="Bidders per tender by category, by category code; the last entry is all categories "
        "together."
    )
    concentration: list[CategoryConcentration] = strawberry.field(
        description="Market concentration (HHI of the awarded value) per category with contracts."
    )
    payments: PerformancePayments = strawberry.field(
        description="The share of payments that performance adjusted."
    )
    unit_costs: list[PackageUnitCost] = strawberry.field(
        description="Awarded unit prices per package with contracts, by category and code."
    )

    @classmethod
    def from_figures(cls, dashboard: figures.Dashboard) -> EqualityDashboard:
        return cls(
            from_=dashboard.period.start,
            to=dashboard.period.end,
            regions=[RegionReach.from_figure(r) for r in dashboard.regions],
            urban=RegionKindReach.from_figure(dashboard.satisfaction.urban),
            rural=RegionKindReach.from_figure(dashboard.satisfaction.rural),
            satisfaction_gap=_float(dashboard.satisfaction.gap),
            bidders=[CategoryBidders.from_figure(b) for b in dashboard.bidders],
            concentration=[CategoryConcentration.from_figure(c) for c in dashboard.concentration],
            payments=PerformancePayments.from_figure(dashboard.payments),
            unit_costs=[PackageUnitCost.from_figure(u) for u in dashboard.unit_costs],
        )
