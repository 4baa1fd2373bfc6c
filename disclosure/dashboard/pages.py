"""The dashboard's portal page `/portal/dashboard` and its CSV `/portal/dashboard.csv`.

Both take an optional period, `?from=YYYY-MM-DD&to=YYYY-MM-DD` (inclusive), and `?lang=en`. The
page is the portal's frame (`disclosure.portal.render`): Chinese first, no JavaScript, a chart per
figure (inline SVG, `charts`) with a table of the same numbers. A malformed date or a period that
ends before it starts gets the page with the error and status 400, read from no table.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.db import sqlite_writes
from core.errors import DomainError
from disclosure import portal
from disclosure.dashboard import charts, export, figures

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "基本公共服务均等化指标",
        "labelled": "{name}（{note}）",
        "intro": "政府购买服务的城乡覆盖、居民满意度、竞争程度与绩效付费情况。"
        "数据按所选期间统计，每次打开时计算。",
        "period_legend": "统计期间（含起止日）",
        "from": "开始日期",
        "to": "结束日期",
        "apply": "查看",
        "all_time": "全部期间",
        "period_all": "统计期间：全部",
        "period_value": "统计期间：{start} 至 {end}",
        "open_start": "最早记录",
        "open_end": "今天",
        "csv": "下载全部数据（CSV，可用 Excel 打开）",
        "bad_date": "日期格式不正确，请按“年-月-日”填写，例如 2026-01-31。",
        "bad_period": "结束日期早于开始日期，请重新选择。",
        "table_note": "{title}：下表列出图中的全部数值。",
        "none": "—",
        "reach_heading": "各区服务覆盖",
        "reach_chart": "每千名居民中接受过服务的人数（覆盖率）",
        "reach_caption": "各区的服务次数、覆盖人数与满意度",
        "region": "地区",
        "kind": "类型",
        "URBAN": "城市",
        "RURAL": "农村",
        "population": "常住人口",
        "deliveries": "有效服务次数",
        "deliveries_per_1000": "每千人服务次数",
        "residents_served": "服务居民人数",
        "coverage_per_1000": "每千人覆盖人数",
        "ratings_counted": "有效评价数",
        "mean_stars": "平均满意度（星）",
        "gap_heading": "城乡满意度差距",
        "gap_chart": "城市与农村居民的平均满意度（1–5 星）",
        "gap_caption": "城市与农村合计",
        "gap_line": "城市比农村高 {gap} 星。",
        "gap_line_negative": "农村比城市高 {gap} 星。",
        "gap_line_equal": "城市与农村的平均满意度相同。",
        "gap_none": "城市或农村暂无有效评价，无法计算差距。",
        "regions": "地区数",
        "bidders_heading": "每个采购项目的投标人数",
        "bidders_chart": "已开标项目的投标人数分布（全部类别）",
        "bidders_caption": "各服务类别的投标情况",
        "bidders_axis": "{n} 家投标",
        "tenders_axis": "项目数",
        "category": "服务类别",
        "all_categories": "全部类别",
        "tenders": "已开标项目",
        "mean_bidders": "平均投标人数",
        "mean_valid_bids": "平均有效投标",
        "single_bid_share": "仅一家投标的比例（%）",
        "hhi_heading": "市场集中度（HHI）",
        "hhi_chart": "各服务类别的 HHI（0–10000）",
        "hhi_caption": "各服务类别的合同金额集中度",
        "contracts": "合同数",
        "providers": "服务机构数",
        "awarded_value": "合同金额（元）",
        "top_share": "最大机构份额（%）",
        "hhi": "HHI",
        "level": "集中程度",
        "level_LOW": "低",
        "level_MODERATE": "中等",
        "level_HIGH": "高",
        "payments_heading": "按绩效调整的支付",
        "payments_chart": "各档次的考核期支付笔数",
        "payments_caption": "支付笔数",
        "payments_line": "{total} 笔支付中有 {adjusted} 笔（{share}%）因绩效而调整。",
        "payments_none": "本期间没有已计算的支付。",
        "tier_axis": "{tier} 档",
        "measure": "项目",
        "count": "笔数",
        "period_payments": "考核期支付",
        "raised": "上浮（档次比例高于 100%）",
        "reduced": "下调（档次比例低于 100%）",
        "corrections": "申诉改分后的更正支付",
        "adjusted": "按绩效调整的合计",
        "unit_heading": "各服务包的单位成本",
        "unit_chart": "城市与农村合同的平均中标单价（元）",
        "unit_caption": "各服务包的中标单价（元）",
        "package": "服务包",
        "unit": "计量单位",
        "quantity": "合同数量",
        "price_range": "最低–最高",
        "mean_price": "平均单价",
        "weighted_price": "加权单价",
        "reference": "参考价区间",
        "urban_price": "城市平均",
        "rural_price": "农村平均",
        "no_data": "暂无数据",
        "definitions_heading": "指标口径",
        "def_reach": "有效服务：未被居民异议、未被第三方评估认定为虚假的服务记录，按服务日期计入。"
        "覆盖人数按居民手机号的加密摘要去重，每千人覆盖人数 = 覆盖人数 × 1000 ÷ 常住人口。"
        "各区只计本区的合同。",
        "def_gap": "满意度只计与评分相同的有效评价（未被标记或标记已撤销、服务有效），为 1–5 星的平均值；"
        "差距 = 城市平均 − 农村平均。",
        "def_bidders": "只计统计期间内已开标的项目（开标前的投标是密封的，从不计数）；"
        "投标人数为开标时的全部投标，有效投标为开标时认定有效的投标。",
        "def_hhi": "HHI = 各服务机构合同金额份额（百分数）的平方和，按合同签订日期计入；"
        "高于 1800 为高度集中，1000–1800 为中等，低于 1000 为低。",
        "def_payments": "按计算日期计入的考核期支付与更正支付（不含已取消的和质保金返还）；"
        "档次比例不等于 100% 的考核期支付和更正支付算作按绩效调整。",
        "def_unit": "按合同签订日期计入的中标单价，同一服务包的各版本合并；加权单价 = 合同总额 ÷ 合同数量。",
    },
    "en": {
        "title": "Equality of public services",
        "labelled": "{name} ({note})",
        "intro": "How evenly government-purchased services reach urban and rural residents, how satisfied "
        "residents are, how competitive purchasing is and how much payment follows performance. The "
        "figures are for the chosen period, computed each time the page is opened.",
        "period_legend": "Period (both days included)",
        "from": "From",
        "to": "To",
        "apply": "Show",
        "all_time": "All time",
        "period_all": "Period: all time",
        "period_value": "Period: {start} to {end}",
        "open_start": "the first record",
        "open_end": "today",
        "csv": "Download all figures (CSV, opens in Excel)",
        "bad_date": "A date is not valid: write it as year-month-day, e.g. 2026-01-31.",
        "bad_period": "The period ends before it starts: choose the dates again.",
        "table_note": "{title}: the table below lists every number of the chart.",
        "none": "—",
        "reach_heading": "Coverage by region",
        "reach_chart": "Residents served per 1,000 residents (coverage)",
        "reach_caption": "Deliveries, residents served and satisfaction by region",
        "region": "Region",
        "kind": "Kind",
        "URBAN": "Urban",
        "RURAL": "Rural",
        "population": "Population",
        "deliveries": "Verified deliveries",
        "deliveries_per_1000": "Deliveries per 1,000",
        "residents_served": "Residents served",
        "coverage_per_1000": "Served per 1,000",
        "ratings_counted": "Counted ratings",
        "mean_stars": "Mean satisfaction (stars)",
        "gap_heading": "Urban–rural satisfaction gap",
        "gap_chart": "Mean satisfaction of urban and rural residents (1–5 stars)",
        "gap_caption": "Urban and rural regions together",
        "gap_line": "Urban residents rate {gap} stars higher than rural ones.",
        "gap_line_negative": "Rural residents rate {gap} stars higher than urban ones.",
        "gap_line_equal": "Urban and rural residents rate the same on average.",
        "gap_none": "Urban or rural regions have no counted rating yet: no gap can be computed.",
        "regions": "Regions",
        "bidders_heading": "Bidders per tender",
        "bidders_chart": "Tenders by number of bidders (all categories)",
        "bidders_caption": "Bidding by service category",
        "bidders_axis": "{n} bidders",
        "tenders_axis": "Tenders",
        "category": "Category",
        "all_categories": "All categories",
        "tenders": "Tenders opened",
        "mean_bidders": "Mean bidders",
        "mean_valid_bids": "Mean valid bids",
        "single_bid_share": "Single-bid tenders (%)",
        "hhi_heading": "Market concentration (HHI)",
        "hhi_chart": "HHI by service category (0–10,000)",
        "hhi_caption": "Concentration of the awarded value by category",
        "contracts": "Contracts",
        "providers": "Providers",
        "awarded_value": "Awarded value (CNY)",
        "top_share": "Largest provider's share (%)",
        "hhi": "HHI",
        "level": "Concentration",
        "level_LOW": "low",
        "level_MODERATE": "moderate",
        "level_HIGH": "high",
        "payments_heading": "Performance-adjusted payments",
        "payments_chart": "Period payments by tier",
        "payments_caption": "Payments",
        "payments_line": "{share}% of the payments were adjusted for performance ({adjusted} of {total}).",
        "payments_none": "No payment was calculated in the period.",
        "tier_axis": "Tier {tier}",
        "measure": "Payments",
        "count": "Number",
        "period_payments": "Period payments",
        "raised": "Raised (tier pays over 100%)",
        "reduced": "Reduced (tier pays under 100%)",
        "corrections": "Corrections after an appeal",
        "adjusted": "Adjusted for performance, in all",
        "unit_heading": "Unit cost per package",
        "unit_chart": "Mean awarded unit price, urban and rural (CNY)",
        "unit_caption": "Awarded unit prices by package (CNY)",
        "package": "Package",
        "unit": "Unit",
        "quantity": "Units contracted",
        "price_range": "Lowest–highest",
        "mean_price": "Mean price",
        "weighted_price": "Weighted price",
        "reference": "Reference range",
        "urban_price": "Urban mean",
        "rural_price": "Rural mean",
        "no_data": "No data yet",
        "definitions_heading": "How the figures are defined",
        "def_reach": "Verified deliveries: deliveries neither disputed by the resident nor found false by an "
        "audit, counted by delivery date. Residents served are told apart by a keyed hash of their phone; "
        "served per 1,000 = residents served × 1,000 ÷ population. Each region counts its own contracts.",
        "def_gap": "Satisfaction counts the ratings that scoring counts (unflagged or cleared, of verified "
        "deliveries): the mean of 1–5 stars. Gap = urban mean − rural mean.",
        "def_bidders": "Only tenders opened in the period count (bids are sealed until the opening and never "
        "counted before); bidders are all bids opened, valid bids those found valid at the opening.",
        "def_hhi": "HHI = the sum of the squared shares (in percent) of each provider in the value of the "
        "contracts signed in the period; above 1,800 is highly concentrated, 1,000–1,800 moderately.",
        "def_payments": "Period payments and corrections calculated in the period (cancelled ones and "
        "holdback releases left out); a period payment whose tier pays other than 100%, and every "
        "correction, is performance-adjusted.",
        "def_unit": "Unit prices of the contracts signed in the period, all versions of a package together; "
        "weighted price = total value ÷ units contracted.",
    },
}


class BadPeriod(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _date(request: Request, name: str) -> dt.date | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadPeriod("bad_date") from None


def period_of(request: Request) -> figures.Period:
    """The period of `?from=&to=`; BadPeriod names the text of what is wrong."""
    start, end = _date(request, "from"), _date(request, "to")
    try:
        return figures.Period.of(start, end)
    except DomainError as error:
        # Out of the years dates may take, or ending before it starts.
        ordered = start is None or end is None or start <= end
        raise BadPeriod("bad_date" if ordered else "bad_period") from error


def _charts(dashboard: figures.Dashboard, t: dict[str, str], lang: str) -> dict[str, charts.Chart]:
    regions = dashboard.regions
    urban, rural = dashboard.satisfaction.urban, dashboard.satisfaction.rural
    overall = dashboard.bidders[-1]
    costs = dashboard.unit_costs
    by_tier = dashboard.payments.by_tier
    return {
        "reach": charts.bars(
            t["reach_chart"],
            [t["labelled"].format(name=r.region.name, note=t[r.region.kind.value]) for r in regions],
            [(t["coverage_per_1000"], [_f(r.reach.coverage_per_1000) for r in regions])],
            no_data=t["no_data"],
        ),
        "gap": charts.bars(
            t["gap_chart"],
            [t["URBAN"], t["RURAL"]],
            [(t["mean_stars"], [_f(urban.reach.mean_stars), _f(rural.reach.mean_stars)])],
            range_=(0, 5),
            no_data=t["no_data"],
        ),
        "bidders": charts.bars(
            t["bidders_chart"],
            [t["bidders_axis"].format(n=n) for n in overall.distribution],
            [(t["tenders_axis"], list(overall.distribution.values()))],
            value_format="{:,.0f}",
            no_data=t["no_data"],
        ),
        "hhi": charts.bars(
            t["hhi_chart"],
            [c.category.name_en if lang == "en" else c.category.name for c in dashboard.concentration],
            [(t["hhi"], [_f(c.hhi) for c in dashboard.concentration])],
            range_=(0, 10000),
            value_format="{:,.0f}",
            no_data=t["no_data"],
        ),
        "payments": charts.bars(
            t["payments_chart"],
            [tier.value for tier in by_tier],
            [(t["count"], list(by_tier.values()))],
            value_format="{:,.0f}",
            no_data=t["no_data"],
        ),
        "unit": charts.bars(
            t["unit_chart"],
            [_package_name(c.package, lang) for c in costs],
            [
                (t["URBAN"], [_f(c.urban_mean_price) for c in costs]),
                (t["RURAL"], [_f(c.rural_mean_price) for c in costs]),
            ],
            no_data=t["no_data"],
        ),
    }


def _f(value) -> float | None:
    return None if value is None else float(value)


def _package_name(package, lang: str) -> str:
    return (package.name_en or package.name) if lang == "en" else package.name


def routes(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Route]:
    """`/portal/dashboard` (the page) and `/portal/dashboard.csv` (the download)."""

    async def read(period: figures.Period) -> figures.Dashboard:
        with sqlite_writes(False):
            async with sessionmaker() as session:
                return await figures.equality_dashboard(session, period)

    async def page(request: Request) -> Response:
        lang = portal.language(request)
        t = portal.texts(TEXTS, lang)
        form = {"from": request.query_params.get("from", ""), "to": request.query_params.get("to", "")}
        try:
            period = period_of(request)
        except BadPeriod as bad:
            return portal.render(
                request, "dashboard.html", TEXTS, status=400, error=t[bad.key], form=form, d=None, charts={}
            )
        dashboard = await read(period)
        return portal.render(
            request,
            "dashboard.html",
            TEXTS,
            error=None,
            form=form,
            d=dashboard,
            charts=_charts(dashboard, t, lang),
            package_name=lambda package: _package_name(package, lang),
            csv_url=portal.link("/portal/dashboard.csv", lang, **{"from": form["from"], "to": form["to"]}),
        )

    async def download(request: Request) -> Response:
        lang = portal.language(request)
        try:
            period = period_of(request)
        except BadPeriod as bad:
            return Response(
                TEXTS[lang][bad.key] + "\n", status_code=400, media_type="text/plain; charset=utf-8"
            )
        dashboard = await read(period)
        name = "equality-dashboard.csv"
        return Response(
            export.to_csv(dashboard, lang),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return [
        Route("/portal/dashboard", page, methods=["GET"], name="portal_dashboard"),
        Route("/portal/dashboard.csv", download, methods=["GET"], name="portal_dashboard_csv"),
    ]
