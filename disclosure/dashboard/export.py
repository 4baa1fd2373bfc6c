"""The dashboard as CSV: one row per figure, dimension and measure, UTF-8 with a byte-order mark (so
that Excel opens the Chinese names correctly).

Columns: `figure`, `dimension` (a stable code: region code, URBAN/RURAL, category code, package code,
ALL), `dimension_name` (in the reader's language), `measure` (a stable code), `value` (a plain
number, money in CNY to the fen; empty when undefined, e.g. a mean of nothing), `from`, `to` (the
period, empty when open). Texts that a spreadsheet would take for a formula are quoted with `'`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal

from disclosure.dashboard import figures

HEADER = ("figure", "dimension", "dimension_name", "measure", "value", "from", "to")
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A name as a spreadsheet cell that is never a formula (CSV injection)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _number(value: int | Decimal | float | None) -> str:
    return "" if value is None else str(value)


def _reach(reach: figures.Reach) -> Iterator[tuple[str, object]]:
    yield "population", reach.population
    yield "deliveries", reach.deliveries
    yield "units", reach.units
    yield "residents_served", reach.residents_served
    yield "deliveries_per_1000", reach.deliveries_per_1000
    yield "coverage_per_1000", reach.coverage_per_1000
    yield "ratings_counted", reach.ratings_counted
    yield "mean_stars", reach.mean_stars


def _category_name(category, lang: str) -> str:
    return category.name_en if lang == "en" else category.name


def rows(dashboard: figures.Dashboard, lang: str) -> Iterator[tuple[str, str, str, str, object]]:
    """(figure, dimension, dimension name, measure, value), figure by figure."""
    kinds = {"URBAN": ("城市", "Urban"), "RURAL": ("农村", "Rural")}

    def kind_name(kind: str) -> str:
        return kinds[kind][lang == "en"]

    everything = "All" if lang == "en" else "全部"
    for item in dashboard.regions:
        region = item.region
        yield "reach_by_region", region.code, region.name, "kind", region.kind.value
        for measure, value in _reach(item.reach):
            yield "reach_by_region", region.code, region.name, measure, value
    satisfaction = dashboard.satisfaction
    for side in (satisfaction.urban, satisfaction.rural):
        name = kind_name(side.kind.value)
        yield "reach_by_kind", side.kind.value, name, "regions", side.regions
        for measure, value in _reach(side.reach):
            yield "reach_by_kind", side.kind.value, name, measure, value
    gap_name = "Urban minus rural" if lang == "en" else "城市减农村"
    yield "satisfaction_gap", "URBAN-RURAL", gap_name, "gap_stars", satisfaction.gap
    for item in dashboard.bidders:
        code = "ALL" if item.category is None else item.category.code
        name = everything if item.category is None else _category_name(item.category, lang)
        yield "bidders_per_tender", code, name, "tenders", item.tenders
        yield "bidders_per_tender", code, name, "mean_bidders", item.mean
        yield "bidders_per_tender", code, name, "mean_valid_bids", item.mean_valid
        yield "bidders_per_tender", code, name, "single_bid_tenders", item.single_bid_tenders
        yield "bidders_per_tender", code, name, "single_bid_share_percent", item.single_bid_share
        for bidders, tenders in item.distribution.items():
            yield "bidders_per_tender", code, name, f"tenders_with_{bidders}_bidders", tenders
    for item in dashboard.concentration:
        code, name = item.category.code, _category_name(item.category, lang)
        yield "market_concentration", code, name, "contracts", item.contracts
        yield "market_concentration", code, name, "providers", item.providers
        yield "market_concentration", code, name, "awarded_value_cny", item.awarded_value
        yield "market_concentration", code, name, "top_provider_share_percent", item.top_share
        yield "market_concentration", code, name, "hhi", item.hhi
        yield "market_concentration", code, name, "level", item.level
    payments = dashboard.payments
    for measure, value in (
        ("payments", payments.payments),
        ("period_payments", payments.period_payments),
        ("raised", payments.raised),
        ("reduced", payments.reduced),
        ("corrections", payments.corrections),
        ("adjusted", payments.adjusted),
        ("adjusted_share_percent", payments.adjusted_share),
        *((f"tier_{tier.value}", n) for tier, n in payments.by_tier.items()),
    ):
        yield "performance_payments", "ALL", everything, measure, value
    for item in dashboard.unit_costs:
        package = item.package
        code = package.code
        name = (package.name_en or package.name) if lang == "en" else package.name
        for measure, value in (
            ("contracts", item.contracts),
            ("quantity", item.quantity),
            ("total_value_cny", item.total_value),
            ("min_unit_price_cny", item.min_price),
            ("max_unit_price_cny", item.max_price),
            ("mean_unit_price_cny", item.mean_price),
            ("weighted_unit_price_cny", item.weighted_price),
            ("urban_mean_unit_price_cny", item.urban_mean_price),
            ("rural_mean_unit_price_cny", item.rural_mean_price),
            ("reference_min_unit_price_cny", package.min_unit_price),
            ("reference_max_unit_price_cny", package.max_unit_price),
        ):
            yield "unit_cost", code, name, measure, value


def to_csv(dashboard: figures.Dashboard, lang: str) -> bytes:
    period = dashboard.period
    start = "" if period.start is None else period.start.isoformat()
    end = "" if period.end is None else period.end.isoformat()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for figure, dimension, name, measure, value in rows(dashboard, lang):
        cell = _text(value) if isinstance(value, str) else _number(value)
        writer.writerow((figure, _text(dimension), _text(name), measure, cell, start, end))
    return (BOM + out.getvalue()).encode("utf-8")
