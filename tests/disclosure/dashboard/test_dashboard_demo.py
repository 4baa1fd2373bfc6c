"""The demo marketplace fills the dashboard: its urban and its rural district both show deliveries,
coverage, counted ratings and awarded unit prices, and the page shows them."""

from __future__ import annotations

from demo import marketplace as demo
from disclosure.dashboard import figures
from market.models import RegionKind


async def test_the_demo_shows_both_districts_with_data(session, api):
    await demo.load(session)
    await session.commit()

    dashboard = await figures.equality_dashboard(session, figures.Period())

    by_name = {r.region.name: r for r in dashboard.regions}
    huangpu, chongming = by_name["上海市黄浦区"], by_name["上海市崇明区"]
    assert (huangpu.region.kind, chongming.region.kind) == (RegionKind.URBAN, RegionKind.RURAL)
    for district in (huangpu, chongming):
        reach = district.reach
        assert reach.deliveries > 0 and reach.coverage_per_1000 > 0 and reach.ratings_counted > 0
    assert dashboard.satisfaction.gap is not None
    assert dashboard.bidders[-1].tenders > 0 and dashboard.concentration
    assert dashboard.payments.period_payments > 0
    (care,) = [cost for cost in dashboard.unit_costs if cost.package.category_code == "ELDERLY_CARE"]
    assert care.urban_mean_price is not None and care.rural_mean_price is not None

    page = (await api.client.get("/portal/dashboard")).text
    assert "上海市黄浦区（城市）" in page and "上海市崇明区（农村）" in page
