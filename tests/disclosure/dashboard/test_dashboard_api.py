"""The dashboard through its three doors: the GraphQL query, the portal page (zh and en) and the CSV.
Each answers in a constant number of SQL statements whatever the data size, and shows nothing but
aggregates: no resident's phone (not even its hash), no sealed bid."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from disclosure.dashboard import figures
from market.models import BidStatus, RegionKind
from tests.disclosure.dashboard.world import World, phone_hash

QUERY = """
query Dashboard($from: Date, $to: Date) {
  equalityDashboard(from: $from, to: $to) {
    from to satisfactionGap
    regions { region { code name kind } population deliveries residentsServed deliveriesPer1000 coveragePer1000
              ratingsCounted meanStars }
    urban { kind regions population coveragePer1000 meanStars }
    rural { kind regions population coveragePer1000 meanStars }
    bidders { category { code nameEn } tenders meanBidders meanValidBids singleBidTenders singleBidShare
              distribution { bidders tenders } }
    concentration { category { code } contracts providers awardedValue topProviderShare hhi level }
    payments { payments periodPayments raised reduced corrections adjusted adjustedShare
               byTier { tier payments } }
    unitCosts { package { code version name } contracts quantity totalValue minUnitPrice maxUnitPrice
                meanUnitPrice weightedUnitPrice urbanMeanUnitPrice ruralMeanUnitPrice }
  }
}
"""


async def small_world(session) -> World:
    """An urban district of 2,000 and a rural one of 500 residents, a contract in each: urban 3 visits to
    2 residents rated 5 and 4, rural 1 visit rated 3; a tender opened with 2 bids, another still
    sealed with 3; the urban contract's periods paid in tiers A and B."""
    world = World(session)
    urban = await world.region(RegionKind.URBAN, 2000, "城区")
    rural = await world.region(RegionKind.RURAL, 500, "乡区")
    package = await world.package(code="DASH-CARE", name="居家养老上门服务")
    town = await world.contract(urban, package, unit_price="100.00", quantity=30)
    country = await world.contract(rural, package, unit_price="80.00", quantity=10)
    await world.delivery(town, "resident-1", stars=5, on=dt.date(2030, 2, 1))
    await world.delivery(town, "resident-1", stars=4, on=dt.date(2030, 2, 3))
    await world.delivery(town, "resident-2", on=dt.date(2030, 2, 5))
    await world.delivery(country, "resident-3", stars=3, on=dt.date(2030, 2, 1))
    await world.tender(urban, package, bids=(BidStatus.VALID, BidStatus.INVALID))
    await world.tender(rural, package, bids=(BidStatus.SUBMITTED,) * 3, opened_at=None)
    await world.payment(town, "A")
    await world.payment(town, "B")
    await session.commit()
    return world


async def grow(world: World, times: int) -> None:
    """More of everything: contracts, deliveries, ratings, tenders and payments."""
    region = await world.region(RegionKind.RURAL, 1000)
    package = await world.package("HEALTH")
    for n in range(times):
        contract = await world.contract(region, package, unit_price="50.00")
        for m in range(4):
            await world.delivery(contract, f"more-{n}-{m}", stars=1 + m)
        await world.payment(contract, "D")
        await world.tender(region, package, bids=(BidStatus.VALID,) * 3)
    await world.session.commit()


@pytest.mark.uncached
async def test_the_graphql_query(session, api):
    await small_world(session)

    data = (await api(QUERY))["equalityDashboard"]

    assert data["from"] is None and data["to"] is None
    town, country = data["regions"]
    assert town["region"] == {"code": town["region"]["code"], "name": "城区", "kind": "URBAN"}
    assert (town["deliveries"], town["residentsServed"], town["deliveriesPer1000"]) == (3, 2, 1.5)
    assert (town["coveragePer1000"], town["ratingsCounted"], town["meanStars"]) == (1.0, 2, 4.5)
    assert (country["population"], country["coveragePer1000"], country["meanStars"]) == (500, 2.0, 3.0)
    assert data["urban"] == {"kind": "URBAN", "regions": 1, "population": 2000, "coveragePer1000": 1.0,
                             "meanStars": 4.5}  # fmt: skip
    assert data["rural"]["kind"] == "RURAL" and data["satisfactionGap"] == 1.5
    care, everything = data["bidders"]
    # The opened tender's 2 bids and the two contracts' tenders (1 bid each); the sealed one not at all.
    assert care["category"] == {"code": "ELDERLY_CARE", "nameEn": "Elderly care"}
    assert (care["tenders"], care["meanBidders"], care["meanValidBids"]) == (3, 1.33, 1.0)
    assert care["distribution"] == [{"bidders": 1, "tenders": 2}, {"bidders": 2, "tenders": 1}]
    assert (care["singleBidTenders"], care["singleBidShare"]) == (2, 66.67)
    assert everything["category"] is None and everything["tenders"] == 3
    (hhi,) = data["concentration"]
    # 3,000.00 and 800.00: shares 78.95 % and 21.05 %.
    assert (hhi["contracts"], hhi["providers"], hhi["awardedValue"]) == (2, 2, "3800.00")
    assert (hhi["topProviderShare"], hhi["hhi"], hhi["level"]) == (78.95, 6675.9, "HIGH")
    payments = data["payments"]
    assert (payments["payments"], payments["raised"], payments["reduced"], payments["adjusted"]) == (
        2,
        1,
        0,
        1,
    )
    assert payments["adjustedShare"] == 50.0
    assert payments["byTier"][:2] == [{"tier": "A", "payments": 1}, {"tier": "B", "payments": 1}]
    (cost,) = data["unitCosts"]
    assert cost["package"] == {"code": "DASH-CARE", "version": 1, "name": "居家养老上门服务"}
    assert (cost["contracts"], cost["quantity"], cost["totalValue"]) == (2, 40, "3800.00")
    assert (cost["minUnitPrice"], cost["maxUnitPrice"], cost["meanUnitPrice"]) == ("80.00", "100.00", "90.00")
    assert (cost["weightedUnitPrice"], cost["urbanMeanUnitPrice"], cost["ruralMeanUnitPrice"]) == (
        "95.00",
        "100.00",
        "80.00",
    )


@pytest.mark.uncached
async def test_the_graphql_query_of_a_period(session, api):
    await small_world(session)

    data = (await api(QUERY, {"from": "2030-02-02", "to": "2030-02-04"}))["equalityDashboard"]

    assert (data["from"], data["to"]) == ("2030-02-02", "2030-02-04")
    town, country = data["regions"]
    assert (town["deliveries"], town["meanStars"], country["deliveries"]) == (1, 4.0, 0)
    assert data["satisfactionGap"] is None  # no rural rating in those days


async def test_a_bad_period_is_an_error_with_a_code(api):
    body = (await api.raw(QUERY, {"from": "2030-02-05", "to": "2030-02-04"})).json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID" and error["extensions"]["field"] == ["to"]
    assert "ends before it starts" in error["message"]
    body = (await api.raw(QUERY, {"from": "2030-02-30"})).json()
    assert (body["errors"] and "data" not in body) or body["data"] is None


@pytest.mark.uncached
async def test_each_door_answers_in_a_constant_number_of_statements(session, api, statements):
    world = await small_world(session)
    doors = {
        "graphql": lambda: api(QUERY),
        "page": lambda: api.client.get("/portal/dashboard"),
        "csv": lambda: api.client.get("/portal/dashboard.csv"),
    }
    counts: dict[str, list[int]] = {door: [] for door in doors}
    for extra in (0, 12):
        await grow(world, extra)
        for door, call in doors.items():
            with statements:
                await call()
            counts[door].append(statements.count)
    assert counts == {door: [figures.STATEMENTS] * 2 for door in doors}


async def test_the_page_in_chinese_and_english(session, api):
    await small_world(session)

    zh = await api.client.get("/portal/dashboard")
    assert zh.status_code == 200 and zh.headers["content-type"].startswith("text/html")
    html = zh.text
    assert '<html lang="zh-CN">' in html and "<h1>基本公共服务均等化指标</h1>" in html
    assert "城市比农村高 1.50 星。" in html
    assert "2 笔支付中有 1 笔（50.00%）因绩效而调整。" in html
    assert html.count('role="img"') == 6 and html.count("<table") == 6
    assert 'aria-label="每千名居民中接受过服务的人数（覆盖率）"' in html
    assert 'href="/portal/dashboard.csv"' in html

    en = await api.client.get("/portal/dashboard", params={"lang": "en", "from": "2030-01-01"})
    assert en.status_code == 200
    assert '<html lang="en">' in en.text and "<h1>Equality of public services</h1>" in en.text
    assert "Urban residents rate 1.50 stars higher than rural ones." in en.text
    assert "Period: 1 January 2030 to today" in en.text
    assert 'href="/portal/dashboard.csv?from=2030-01-01&amp;lang=en"' in en.text


async def test_the_page_runs_nothing_and_loads_nothing_from_elsewhere(session, api):
    await small_world(session)

    page = await api.client.get("/portal/dashboard")

    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    nonce = re.search(r"style-src 'nonce-([^']+)'", csp).group(1)
    html = page.text
    assert "<script" not in html.lower() and " style=" not in html and "javascript:" not in html
    # Every stylesheet, the charts' included, is the page's nonce'd one.
    assert re.findall(r"<style[^>]*>", html) == [f'<style nonce="{nonce}">']
    assert "xlink:href" not in html and "http://" not in html.replace("http://www.w3.org/", "")


async def test_nothing_about_a_resident_or_a_sealed_bid_is_shown(session, api):
    await small_world(session)

    page = (await api.client.get("/portal/dashboard")).text
    download = (await api.client.get("/portal/dashboard.csv")).content.decode("utf-8-sig")
    answer = str(await api(QUERY))

    for shown in (page, download, answer):
        for resident in ("resident-1", "resident-2", "resident-3"):
            assert phone_hash(resident) not in shown and resident not in shown
    # The sealed tender (3 bids) shows nowhere: no tender is counted with 3 bidders.
    assert "tenders_with_3_bidders" not in download and "'bidders': 3" not in answer


async def test_a_bad_period_gets_a_400_page_and_no_query(api, statements):
    with statements:
        bad_date = await api.client.get("/portal/dashboard", params={"from": "2030-13-01"})
    assert statements.count == 0
    assert bad_date.status_code == 400 and "日期格式不正确" in bad_date.text
    backwards = await api.client.get(
        "/portal/dashboard", params={"from": "2030-02-01", "to": "2030-01-01", "lang": "en"}
    )
    assert backwards.status_code == 400 and "The period ends before it starts" in backwards.text
    download = await api.client.get("/portal/dashboard.csv", params={"to": "yesterday"})
    assert download.status_code == 400 and download.text.startswith("日期格式不正确")


async def test_the_csv(session, api):
    await small_world(session)

    response = await api.client.get("/portal/dashboard.csv", params={"from": "2030-01-01"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="equality-dashboard.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["figure", "dimension", "dimension_name", "measure", "value", "from", "to"]
    table = {(r[0], r[2], r[3]): r[4] for r in rows[1:]}
    assert all(r[5:] == ["2030-01-01", ""] for r in rows[1:])
    assert table["reach_by_region", "城区", "coverage_per_1000"] == "1.00"
    assert table["reach_by_region", "乡区", "kind"] == "RURAL"
    assert table["reach_by_kind", "城市", "mean_stars"] == "4.50"
    assert table["satisfaction_gap", "城市减农村", "gap_stars"] == "1.50"
    assert table["bidders_per_tender", "养老服务", "tenders_with_2_bidders"] == "1"
    assert table["market_concentration", "养老服务", "hhi"] == "6675.90"
    assert table["performance_payments", "全部", "adjusted_share_percent"] == "50.00"
    assert table["unit_cost", "居家养老上门服务", "weighted_unit_price_cny"] == "95.00"
    assert table["unit_cost", "居家养老上门服务", "reference_max_unit_price_cny"] == "150.00"

    english = await api.client.get("/portal/dashboard.csv", params={"lang": "en"})
    rows = list(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert ["satisfaction_gap", "URBAN-RURAL", "Urban minus rural", "gap_stars", "1.50", "", ""] in rows
    assert ["market_concentration", "ELDERLY_CARE", "Elderly care", "level", "HIGH", "", ""] in rows


def test_csv_cells_are_never_formulas():
    from disclosure.dashboard import export

    assert export._text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert export._text("@SUM") == "'@SUM" and export._text("城区") == "城区"
