"""A certificate's public page in a real browser: Debian's Chromium, headless, driven by Playwright,
against a real server (uvicorn in a subprocess) over a scratch database, as tests/contracts/test_browser.py.

On a 360 px phone and a 1280 px screen: the verdict, the stars in words, the evidence (a table on a
wide screen, one card per period on a phone), the QR code of the page's own address, the English
switch, and an unknown code's page. Screenshots go to test-output/browser/ (certificate-*.png).

Needs `chromium` (apt-get install chromium) and the `playwright` package; never run `playwright
install`. Without them the test is skipped, and fails when CI=true.
"""

from __future__ import annotations

import datetime as dt

from core.db import create_sessionmaker
from tests.contracts import test_browser
from tests.contracts.test_browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT
from tests.scoring import cert_world as sw

server = test_browser.server
"""The residents' pages' fixture: uvicorn over the scratch database, PUBLIC_BASE_URL pointing at it."""

DAY = dt.timedelta(days=1)

# Visible elements that stick out of their parent's box (hidden ones have no box to speak of).
OVERFLOWING = """
[...document.querySelectorAll("main *")].filter(e => {
  const box = e.getBoundingClientRect(), outer = e.parentElement.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) return false;
  return box.right > outer.right + 0.5 || box.left < outer.left - 0.5;
}).map(e => e.tagName + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : ""))
"""


async def _fits(page, width: int) -> None:
    """No horizontal scroll, nothing sticking out of its box, large type."""
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    overflowing = await page.evaluate(OVERFLOWING)
    assert overflowing == [], f"elements wider than their box at {width} px: {overflowing}"
    assert await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 20


async def test_a_certificate_page_in_chromium(server, scratch_engine):
    from playwright.async_api import async_playwright, expect

    async with create_sessionmaker(scratch_engine)() as session:
        world = await sw.build(session)
        d, provider_id = await world.today(), world.contract.provider_id
        for index, (composite, base) in enumerate(((88.5, "96500.00"), (91.25, "48250.00")), start=1):
            await sw.scorecard(world, period_index=index, ends_on=d - (100 - 40 * index) * DAY,
                               composite=composite, ratings=18, base=base)  # fmt: skip
        issued = sw.issued_to(await sw.run(world, d), provider_id)
        await session.commit()
    url = f"{server}/certificates/{issued.code}"
    assert issued.stars == 4 and issued.score == 89.42  # (88.5 × 96500 + 91.25 × 48250) / 144750

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            phone = await browser.new_context(viewport={"width": 360, "height": 780}, locale="zh-CN")
            page = await phone.new_page()
            await page.goto(url)
            await expect(page.locator("h1")).to_have_text("服务质量星级认证")
            await expect(page.get_by_role("status")).to_contain_text("有效")
            await expect(page.locator("#stars")).to_contain_text("4 星（满分 5 星）")
            await expect(page.locator("#score")).to_have_text("89.42 分（满分 100 分）")
            await expect(page.locator("#evidence tbody tr")).to_have_count(2)
            await expect(page.locator("#evidence thead")).to_be_hidden()  # one card per period
            await expect(page.locator("#url")).to_have_text(url)
            qr = await page.locator("#qr svg").bounding_box()
            assert qr is not None and 150 <= qr["width"] <= 330 and qr["width"] == qr["height"]
            await _fits(page, 360)
            await page.screenshot(path=OUTPUT / "certificate-360.png", full_page=True)

            await page.get_by_role("link", name="English").click()
            await expect(page.locator("h1")).to_have_text("Service quality star certificate")
            await expect(page.locator("#stars")).to_contain_text("4 out of 5 stars")
            await expect(page.get_by_role("status")).to_contain_text("Valid")
            await _fits(page, 360)
            await page.screenshot(path=OUTPUT / "certificate-360-en.png", full_page=True)
            await page.get_by_role("link", name="中文").click()
            await expect(page.locator("h1")).to_have_text("服务质量星级认证")

            await page.goto(f"{server}/certificates/2222-2222-2222-2222-2222")
            await expect(page.locator("h1")).to_have_text("未找到证书")
            await _fits(page, 360)
            await page.screenshot(path=OUTPUT / "certificate-not-found-360.png", full_page=True)
            await phone.close()

            desktop = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            wide = await desktop.new_page()
            await wide.goto(url)
            await expect(wide.locator("#evidence thead")).to_be_visible()  # a table on a wide screen
            await expect(wide.get_by_role("columnheader", name="综合得分")).to_be_visible()
            await expect(wide.locator("#evidence tbody tr").first).to_contain_text("96500.00")
            await _fits(wide, 1280)
            await wide.screenshot(path=OUTPUT / "certificate-1280.png", full_page=True)
            await desktop.close()
        finally:
            await browser.close()
