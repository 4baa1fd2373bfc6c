"""Accessibility of the certificate page in each state, in Chinese and English: axe-core's WCAG 2.0/2.1
A and AA rules and its best practices (landmarks, headings...) in Chromium at 360 px and 1280 px
(tests/browser_checks.py, strict): no violation at all, whatever its impact. Screenshots:
test-output/browser/certificate-<state>-<lang>-360.png and -1280.png.

The states: valid (stars, score, the evidence table, the QR code), unrated, superseded (a link to the
newest), revoked (with the reason), expired, and an unknown code (404).

A real server (uvicorn) over a scratch database, as tests/scoring/test_certificate_browser.py; needs
Chromium, the playwright package and axe-core (`make install`).
"""

from __future__ import annotations

import datetime as dt

from core.db import create_sessionmaker
from market import providers
from tests.browser_checks import check_page, require_axe
from tests.contracts import test_browser
from tests.contracts.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.factories import ADMIN
from tests.scoring import cert_world as sw

server = test_browser.server
"""uvicorn over the scratch database (the residents' pages' browser fixture)."""

DAY = dt.timedelta(days=1)
STATUS_WORD = {
    "valid": ("有效", "Valid"),
    "unrated": ("有效", "Valid"),
    "superseded": ("已被取代", "Superseded"),
    "revoked": ("已撤销", "Revoked"),
    "expired": ("已过期", "Expired"),
}


async def test_the_certificate_page_in_each_state_passes_axe_in_both_languages(server, scratch_engine):
    require_axe()
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        contexts = {
            lang: await browser.new_context(viewport={"width": 360, "height": 780}, locale=locale)
            for lang, locale in (("zh", "zh-CN"), ("en", "en-GB"))
        }
        pages = {lang: await context.new_page() for lang, context in contexts.items()}

        async def check(state: str, code: str) -> None:
            """The certificate's page in both languages; its verdict says the state."""
            for index, (lang, page) in enumerate(pages.items()):
                suffix = "?lang=en" if lang == "en" else ""
                await check_page(
                    page, f"{server}/certificates/{code}{suffix}", f"certificate-{state}-{lang}", strict=True
                )
                await expect(page.locator("#status .word")).to_have_text(STATUS_WORD[state][index])

        try:
            async with create_sessionmaker(scratch_engine)() as session:
                world = await sw.build(session)
                d, provider_id = await world.today(), world.contract.provider_id
                for index, (composite, base) in enumerate(((88.5, "96500.00"), (91.25, "48250.00")), start=1):
                    await sw.scorecard(world, period_index=index, ends_on=d - (100 - 40 * index) * DAY,
                                       composite=composite, ratings=18, base=base)  # fmt: skip
                result = await sw.run(world, d)
                old = sw.issued_to(result, provider_id)
                unrated = next(c for c in result.issued if c.provider_id != provider_id)
                assert old.rated and not unrated.rated
                await check("valid", old.code)
                await expect(pages["en"].locator("#evidence tbody tr")).to_have_count(2)
                await check("unrated", unrated.code)

                # A day on, a new run: the first certificate is superseded by the newest.
                await world.advance(86400)
                new = sw.issued_to(await sw.run(world), provider_id)
                await check("superseded", old.code)
                await expect(pages["en"].locator("#newest")).to_be_visible()

                # The provider suspended: its certificate revoked, with the reason.
                await providers.suspend_provider(
                    session=session, actor=ADMIN, provider_id=provider_id, reason="整改"
                )
                await sw.run(world)
                await check("revoked", new.code)

                # Reinstated, certified again, and past that certificate's validity.
                await world.advance((old.valid_until - await world.today()).days * 86400 + 86400)
                await providers.reinstate_provider(session=session, actor=ADMIN, provider_id=provider_id)
                latest = sw.issued_to(await sw.run(world), provider_id)
                await world.advance((latest.valid_until - await world.today()).days * 86400 + 86400)
                await check("expired", latest.code)

            for lang, page in pages.items():
                suffix = "?lang=en" if lang == "en" else ""
                await check_page(page, f"{server}/certificates/2222-2222-2222-2222-2222{suffix}",
                                 f"certificate-not-found-{lang}", strict=True)  # fmt: skip
                await expect(page.locator("h1")).to_have_text(
                    "未找到证书" if lang == "zh" else "Certificate not found"
                )
        finally:
            await browser.close()
