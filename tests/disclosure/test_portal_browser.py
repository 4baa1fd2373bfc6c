"""The portal in a real browser: Debian's Chromium, headless, driven by Playwright, against a real
server (uvicorn in a subprocess) over a scratch database holding the demo, as
tests/scoring/test_certificate_browser.py.

On a 360 px phone and a 1280 px screen: the home page and its search, a tender's award notice (its
score table one card per bid on a phone, a table on a wide screen), the demo contract, a provider,
the English switch and a 404 page; no horizontal scroll, nothing sticking out of its box, large
type. Screenshots go to test-output/browser/ (portal-*.png).

Needs `chromium` and the `playwright` package; without them the test is skipped (fails when CI=true).
"""

from __future__ import annotations

from sqlalchemy import select

from contracts.models import Contract
from core.db import create_sessionmaker
from demo import marketplace as demo
from market.models import Provider, Tender, TenderStatus
from tests.contracts import test_browser
from tests.contracts.test_browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT
from tests.scoring.test_certificate_browser import _fits

server = test_browser.server


async def test_the_portal_in_chromium(server, scratch_engine):
    from playwright.async_api import async_playwright, expect

    async with create_sessionmaker(scratch_engine)() as session:
        await demo.load(session)
        await session.commit()
        awarded = max(
            (await session.scalars(select(Tender).where(Tender.status == TenderStatus.AWARDED))).all(),
            key=lambda t: t.awarded_at,
        )
        contract_id = await session.scalar(select(Contract.id).where(Contract.tender_id == awarded.id))
        yikang = await session.scalar(select(Provider.id).where(Provider.legal_name.contains("颐康")))

    pages = {
        "home": "/portal",
        "tender": f"/portal/tenders/{awarded.id}",
        "contract": f"/portal/contracts/{contract_id}",
        "provider": f"/portal/providers/{yikang}",
        "not-found": "/portal/tenders/999999",
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            phone = await browser.new_context(viewport={"width": 360, "height": 780}, locale="zh-CN")
            page = await phone.new_page()
            await page.goto(f"{server}/")
            assert page.url == f"{server}/portal"
            await expect(page.locator("h1")).to_have_text("政府购买服务信息公开")
            await page.get_by_label("关键词（项目名称）").fill("农村")
            await page.get_by_role("button", name="查询").click()
            await expect(page.locator("#results")).to_have_text("共 1 个项目")
            assert "q=%E5%86%9C%E6%9D%91" in page.url
            await _fits(page, 360)
            await page.screenshot(path=OUTPUT / "portal-home-360.png", full_page=True)

            for name, path in pages.items():
                await page.goto(f"{server}{path}")
                await _fits(page, 360)
                await page.screenshot(path=OUTPUT / f"portal-{name}-360.png", full_page=True)
            await page.goto(f"{server}{pages['tender']}")
            await expect(page.locator("#scores thead")).to_be_hidden()  # one card per bid
            await expect(page.locator("#scores tbody tr")).to_have_count(2)
            await page.get_by_role("link", name="English").click()
            await expect(page.get_by_role("heading", name="Award notice")).to_be_visible()
            await _fits(page, 360)
            await page.screenshot(path=OUTPUT / "portal-tender-360-en.png", full_page=True)
            await page.locator("#winner a").click()
            await expect(page.locator("#stars")).to_contain_text("4 stars")
            await page.locator("#certificate-link").click()
            await expect(page.locator("h1")).to_have_text("Service quality star certificate")
            await page.goto(f"{server}{pages['not-found']}")
            await expect(page.locator("h1")).to_have_text("未找到")
            await phone.close()

            desktop = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            wide = await desktop.new_page()
            for name, path in pages.items():
                await wide.goto(f"{server}{path}")
                await _fits(wide, 1280)
                await wide.screenshot(path=OUTPUT / f"portal-{name}-1280.png", full_page=True)
            await wide.goto(f"{server}{pages['tender']}")
            await expect(wide.locator("#scores thead")).to_be_visible()  # a table on a wide screen
            await expect(wide.get_by_role("columnheader", name="综合得分")).to_be_visible()
            await wide.emulate_media(media="print")  # the print layout: no navigation, nothing too wide
            await expect(wide.locator(".bar nav")).to_be_hidden()
            assert await wide.evaluate("document.documentElement.scrollWidth") <= 1280
            await wide.screenshot(path=OUTPUT / "portal-tender-print.png", full_page=True)
            await desktop.close()
        finally:
            await browser.close()
