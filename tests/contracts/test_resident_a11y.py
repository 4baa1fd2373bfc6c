"""Accessibility of every state of the resident's page, in Chinese and English: axe-core's WCAG 2.0/2.1
A and AA rules and its best practices (landmarks, headings...) in Chromium at 360 px and 1280 px
(tests/browser_checks.py, strict): no violation at all, whatever its impact. Screenshots:
test-output/browser/resident-<state>-<lang>-360.png and -1280.png.

The states: the fresh form; the form refused (errors listed); a refused cross-site form (403); a rating
that can still be changed, then a final one with the dispute window closed; a disputed service; the
complaints list with each status (waiting, answered, settled upheld, not accepted), then overdue; the
three thank-you pages; an unknown link (404) and an expired one (410).

A real server (uvicorn) over a scratch database, as tests/contracts/test_browser.py; needs Chromium,
the playwright package and axe-core (`make install`).
"""

from __future__ import annotations

from contracts import complaints, deliveries, ratings
from core import clock
from core.db import create_sessionmaker
from tests.browser_checks import check_page, require_axe
from tests.contracts import test_browser
from tests.contracts import world as cw
from tests.contracts.test_browser import CHROMIUM, CHROMIUM_ARGS

server = test_browser.server
"""uvicorn over the scratch database (the residents' pages' browser fixture)."""

DAY = 24 * 3600
LANGUAGES = (("zh", "zh-CN"), ("en", "en-GB"))


def with_lang(url: str, lang: str) -> str:
    if lang == "zh":
        return url
    return url + ("&" if "?" in url else "?") + "lang=en"


async def test_every_state_of_the_residents_page_passes_axe_in_both_languages(server, scratch_engine):
    require_axe()
    from playwright.async_api import async_playwright, expect

    sessionmaker = create_sessionmaker(scratch_engine)
    async with sessionmaker() as session:
        world = await cw.build(session, start_in_days=10)
        _fresh, fresh = await world.deliver(phone="13800000001")
        _rated, rated = await world.deliver(phone="13800000002")
        _disputed, disputed = await world.deliver(phone="13800000003")
        _complained, complained = await world.deliver(phone="13800000004")
        await ratings.rate_delivery(
            session=session, token=rated,
            rating=ratings.Stars(stars=4, timeliness=5, attitude=3, comment="护理员很耐心，准时上门。"),
        )  # fmt: skip
        await deliveries.dispute_delivery(session=session, token=disputed, reason="那天没有人来。")
        filed = []
        for category in ("LATE", "ATTITUDE", "QUALITY", "OTHER"):
            filed.append(
                await complaints.file_complaint(
                    session=session, token=complained, category=category, text="约好上午9点上门，10点半才到。"
                )
            )
        responded, upheld, rejected = filed[1:]
        await complaints.respond_complaint(
            session=session, actor=world.provider, complaint_id=responded.id, text="已调整排班。"
        )
        await complaints.close_complaint(
            session=session, actor=world.officer, complaint_id=upheld.id,
            note="核实属实，已约谈服务机构。", substantiated=True,
        )  # fmt: skip
        await complaints.close_complaint(
            session=session, actor=world.officer, complaint_id=rejected.id,
            note="与本次服务无关。", substantiated=None, reject=True,
        )  # fmt: skip
        await session.commit()
    base = f"{server}/r"
    pages = {
        "form": f"{base}/{fresh}",
        "rated": f"{base}/{rated}",
        "disputed": f"{base}/{disputed}",
        "complaints": f"{base}/{complained}",
        "thanks-rated": f"{base}/{rated}/thanks?done=rated",
        "thanks-disputed": f"{base}/{disputed}/thanks?done=disputed",
        "thanks-complained": f"{base}/{complained}/thanks?done=complained&ref={filed[0].reference}",
        "not-found": f"{base}/{fresh}x",
    }

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            for lang, locale in LANGUAGES:
                context = await browser.new_context(viewport={"width": 360, "height": 780}, locale=locale)
                page = await context.new_page()
                for state, url in pages.items():
                    await check_page(page, with_lang(url, lang), f"resident-{state}-{lang}", strict=True)
                await expect(page.locator("html")).to_have_attribute(
                    "lang", "zh-CN" if lang == "zh" else "en"
                )

                # The form sent without its required stars (the browser's own check off): refused, 422.
                await page.goto(with_lang(pages["form"], lang))
                await page.evaluate("document.querySelector('#rate form').noValidate = true")
                await page.locator("#rate button[type=submit]").click()
                await expect(page.locator("div.error[role=alert]")).to_be_visible()
                await check_page(page, None, f"resident-refused-{lang}", strict=True)

                # A form whose cross-site token does not match: the 403 page.
                await page.goto(with_lang(pages["form"], lang))
                await page.evaluate("document.querySelector('#dispute input[name=csrf]').value = 'forged'")
                await page.locator("#dispute button[type=submit]").click()
                await expect(page.locator("h1")).to_have_text("无法提交" if lang == "zh" else "Not accepted")
                await check_page(page, None, f"resident-forbidden-{lang}", strict=True)
                await context.close()

            # Eight days on: the rating is final, the dispute window closed, the open complaint overdue.
            async with sessionmaker() as session:
                await clock.advance(session, 8 * DAY)
                await session.commit()
            later = {"final": pages["rated"], "dispute-closed": pages["form"], "overdue": pages["complaints"]}
            for lang, locale in LANGUAGES:
                context = await browser.new_context(viewport={"width": 360, "height": 780}, locale=locale)
                page = await context.new_page()
                for state, url in later.items():
                    await check_page(page, with_lang(url, lang), f"resident-{state}-{lang}", strict=True)
                await context.close()

            # A month on: every link has expired (410).
            async with sessionmaker() as session:
                await clock.advance(session, 30 * DAY)
                await session.commit()
            for lang, locale in LANGUAGES:
                context = await browser.new_context(viewport={"width": 360, "height": 780}, locale=locale)
                page = await context.new_page()
                await check_page(
                    page, with_lang(pages["form"], lang), f"resident-expired-{lang}", strict=True
                )
                await expect(page.locator("h1")).to_have_text(
                    "链接已过期" if lang == "zh" else "Link expired"
                )
                await context.close()
        finally:
            await browser.close()
