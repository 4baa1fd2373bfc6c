"""The dashboard page in a real browser: Debian's Chromium, headless, driven by Playwright, against a
real server (uvicorn in a subprocess) over a scratch database, as tests/contracts/test_browser.py.

On a 360 px phone and a 1280 px screen: the six charts drawn (inline SVG, each named for screen
readers) with their tables, no horizontal scroll and nothing sticking out of its box, the period
form, the English switch. Screenshots go to test-output/browser/ (dashboard-*.png).

Needs `chromium` (apt-get install chromium) and the `playwright` package; never run `playwright
install`. Without them the test is skipped, and fails when CI=true.
"""

from __future__ import annotations

from core.db import create_sessionmaker
from tests.contracts import test_browser
from tests.contracts.test_browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT
from tests.disclosure.dashboard.test_dashboard_api import small_world

server = test_browser.server
"""uvicorn over the scratch database."""

# The charts as a whole, not the shapes inside them (pygal's plot layers overlap its margins).
OVERFLOWING = """
[...document.querySelectorAll("main *:not(.visually-hidden, svg *)")].filter(e => {
  const box = e.getBoundingClientRect(), outer = e.parentElement.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) return false;
  return box.right > outer.right + 0.5 || box.left < outer.left - 0.5;
}).map(e => e.tagName + (e.id ? "#" + e.id : "") + (e.getAttribute("class") ? "." + e.getAttribute("class") : ""))
"""


async def _fits(page, width: int) -> None:
    """No horizontal scroll, nothing sticking out of its box, large type."""
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    overflowing = await page.evaluate(OVERFLOWING)
    assert overflowing == [], f"elements wider than their box at {width} px: {overflowing}"
    assert await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 20


async def _charts_drawn(page, width: int) -> None:
    """Six charts, each as wide as it may be and taller than a sliver, with its table."""
    charts = page.locator("figure.chart svg[role=img]")
    assert await charts.count() == 6
    for index in range(6):
        box = await charts.nth(index).bounding_box()
        assert box is not None and 200 <= box["width"] <= min(width, 720) and box["height"] >= 120
    assert await page.locator("table.data").count() == 6
    # The charts' own stylesheet applies under the CSP: the bars are filled with the first colour.
    fill = await page.evaluate("getComputedStyle(document.querySelector('figure.chart .series rect')).fill")
    assert fill == "rgb(11, 61, 110)"


async def test_the_dashboard_in_chromium(server, scratch_engine):
    from playwright.async_api import async_playwright, expect

    async with create_sessionmaker(scratch_engine)() as session:
        await small_world(session)
    url = f"{server}/portal/dashboard"

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            phone = await browser.new_context(viewport={"width": 360, "height": 780}, locale="zh-CN")
            page = await phone.new_page()
            problems: list[str] = []
            page.on("console", lambda message: problems.append(message.text))
            await page.goto(url)
            await expect(page.locator("h1")).to_have_text("基本公共服务均等化指标")
            await expect(page.get_by_role("img", name="城市与农村居民的平均满意度（1–5 星）")).to_be_visible()
            await expect(page.locator("#gap ~ p.lead")).to_have_text("城市比农村高 1.50 星。")
            await _charts_drawn(page, 360)
            await _fits(page, 360)
            await page.screenshot(path=OUTPUT / "dashboard-360.png", full_page=True)

            await page.get_by_label("开始日期").fill("2030-02-02")
            await page.get_by_role("button", name="查看").click()
            await expect(page.locator("p.lead").first).to_contain_text("2030年2月2日")
            await page.get_by_role("link", name="English").click()
            await expect(page.locator("h1")).to_have_text("Equality of public services")
            await expect(page.locator("p.lead").first).to_have_text("Period: 2 February 2030 to today")
            await _charts_drawn(page, 360)
            await _fits(page, 360)
            await page.screenshot(path=OUTPUT / "dashboard-360-en.png", full_page=True)
            # Nothing refused by the Content-Security-Policy (the browser's own favicon request may 404).
            assert [p for p in problems if "Content Security Policy" in p] == []
            await phone.close()

            desktop = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            wide = await desktop.new_page()
            await wide.goto(url)
            await expect(wide.get_by_role("columnheader", name="每千人覆盖人数").first).to_be_visible()
            await _charts_drawn(wide, 1280)
            await _fits(wide, 1280)
            await wide.screenshot(path=OUTPUT / "dashboard-1280.png", full_page=True)
            await desktop.close()
        finally:
            await browser.close()
