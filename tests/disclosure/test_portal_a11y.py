"""Accessibility of the public portal (SPEC §7) on the demo data, in Chinese and English: axe-core's
WCAG 2.0/2.1 A and AA rules in Chromium at 360 px and 1280 px (tests/browser_checks.py), no serious or
critical violation. Screenshots: test-output/browser/portal-<page>-<lang>-360.png and -1280.png.

The pages: the home page, the equality dashboard, a tender in each public state (published,
evaluating, award pending, awarded, unsuccessful, cancelled), the contract in delivery and a completed
one, a certified and an unrated provider, and the 404 page of an unpublished (draft) tender. The demo
is loaded into a database of this module's own and served by uvicorn; the ids come from that database.
A tender's, contract's or provider's address is tried with the row's number and with its GraphQL
global ID: the first that answers is checked. A page that none of its addresses serves, answering 404
(or 400 for the form of id the portal does not use), is skipped with "portal page not available" (its
part of the portal is not there yet), so each page is checked as soon as it lands. The portal's frame (portal_base.html: skip link, navigation, language switch, footer) is
checked now, rendered on its own.

Needs Chromium, the playwright package and axe-core (`make install`).
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from contracts.models import Contract, ContractStatus
from core.api import encode_id
from core.db import alembic_config, create_engine, create_sessionmaker
from demo import marketplace as demo
from disclosure import portal
from market.models import Provider, Tender, TenderStatus
from scoring.models import Certificate
from tests import live
from tests.browser_checks import OUTPUT, check_page, require_axe
from tests.contracts.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser

LANGUAGES = {"zh": "zh-CN", "en": "en-GB"}
PUBLIC_TENDER_STATES = {
    "published": TenderStatus.PUBLISHED,
    "evaluating": TenderStatus.EVALUATING,
    "award-pending": TenderStatus.AWARD_PENDING,
    "awarded": TenderStatus.AWARDED,
    "unsuccessful": TenderStatus.UNSUCCESSFUL,
    "cancelled": TenderStatus.CANCELLED,
}
PAGES = [
    "home",
    "dashboard",
    *(f"tender-{state}" for state in PUBLIC_TENDER_STATES),
    "contract-active",
    "contract-completed",
    "provider-certified",
    "provider-unrated",
]
NOT_AVAILABLE = "portal page not available"


@dataclass
class DemoSite:
    """The server's address and, for each page, the addresses it may have (first that answers wins)."""

    base: str
    addresses: dict[str, list[str]]
    draft_tender: list[str]

    async def reached(self, page: str, lang: str) -> str:
        """The page's URL in LANG, the first address that answers 200.

        Skipped when none does and one answers 404 (no such page yet; the other form of id may be
        refused as malformed, 400); failed on any other answer (a 500, or 400 for every form).
        """
        answers = {}
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            for path in self.addresses[page]:
                url = self.base + path + ("?lang=en" if lang == "en" else "")
                answers[path] = (await client.get(url)).status_code
                if answers[path] == 200:
                    return url
        told = ", ".join(f"{path} answered {status}" for path, status in answers.items())
        if 404 in answers.values() and set(answers.values()) <= {400, 404}:
            pytest.skip(f"{NOT_AVAILABLE}: {told}")
        pytest.fail(f"the demo's {page} page cannot be had: {told}", pytrace=False)


def _addresses(kind: str, type_name: str, pk: int) -> list[str]:
    return [f"/portal/{kind}/{pk}", f"/portal/{kind}/{encode_id(type_name, pk)}"]


async def _demo_addresses(session) -> tuple[dict[str, list[str]], int]:
    """Each page's possible addresses on the loaded demo, and the id of its draft tender."""

    async def newest(column, *conditions) -> int:
        found = await session.scalar(select(func.max(column)).where(*conditions))
        assert found is not None, f"the demo has no {column} where {conditions}"
        return found

    addresses = {"home": ["/portal"], "dashboard": ["/portal/dashboard"]}
    for name, status in PUBLIC_TENDER_STATES.items():
        addresses[f"tender-{name}"] = _addresses(
            "tenders", "Tender", await newest(Tender.id, Tender.status == status)
        )
    for name, status in (("active", ContractStatus.ACTIVE), ("completed", ContractStatus.COMPLETED)):
        contract = await newest(Contract.id, Contract.status == status)
        addresses[f"contract-{name}"] = _addresses("contracts", "Contract", contract)
    for name, rated in (("certified", True), ("unrated", False)):
        provider = await session.scalar(
            select(Certificate.provider_id)
            .where(Certificate.rated.is_(rated))
            .order_by(Certificate.id.desc())
        )
        assert provider is not None and await session.get(Provider, provider) is not None
        addresses[f"provider-{name}"] = _addresses("providers", "Provider", provider)
    return addresses, await newest(Tender.id, Tender.status == TenderStatus.DRAFT)


@pytest.fixture(scope="module")
async def demo_site(database_url, tmp_path_factory):
    """The demo in a database of this module's own, served by uvicorn."""
    _require_browser()
    require_axe()
    from alembic import command

    if database_url.startswith("postgresql"):
        from tests.conftest import _create_postgres_database

        url, drop = _create_postgres_database(os.environ["TEST_DATABASE_URL"])
    else:
        url, drop = f"sqlite:///{tmp_path_factory.mktemp('portal') / 'demo.db'}", lambda: None
    try:
        command.upgrade(alembic_config(url), "head")
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                await demo.load(session)
                await session.commit()
                addresses, draft = await _demo_addresses(session)
        finally:
            await engine.dispose()
        base = f"http://127.0.0.1:{live.free_port()}"
        command_line = [sys.executable, "-m", "uvicorn", "app:create_app", "--factory",
                        "--host", "127.0.0.1", "--port", base.rsplit(":", 1)[1], "--log-level", "warning"]  # fmt: skip
        env = {**os.environ, "DATABASE_URL": url, "PUBLIC_BASE_URL": base}
        with live.running(command_line, env=env, base=base, log=OUTPUT / "portal-server.log"):
            yield DemoSite(
                base=base, addresses=addresses, draft_tender=_addresses("tenders", "Tender", draft)
            )
    finally:
        drop()


@pytest.fixture(scope="module")
async def browser():
    _require_browser()
    require_axe()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _page(browser, lang: str):
    context = await browser.new_context(viewport={"width": 360, "height": 780}, locale=LANGUAGES[lang])
    return context, await context.new_page()


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("name", PAGES)
async def test_a_portal_page_on_the_demo_passes_axe(demo_site, browser, name, lang):
    url = await demo_site.reached(name, lang)
    context, page = await _page(browser, lang)
    try:
        await check_page(page, url, f"portal-{name}-{lang}")
        assert await page.get_attribute("html", "lang") == portal.FRAME[lang]["html_lang"]
    finally:
        await context.close()


@pytest.mark.parametrize("lang", list(LANGUAGES))
async def test_the_portals_not_found_page_passes_axe(demo_site, browser, lang):
    """An unpublished (draft) tender: never shown; the portal's own 404 page once the tender pages are
    there (Starlette's bare "Not Found" before), at whichever form of id the portal takes."""
    url = None
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        for path in demo_site.draft_tender:
            address = demo_site.base + path + ("?lang=en" if lang == "en" else "")
            response = await client.get(address)
            assert response.status_code in (400, 404), (
                f"{path}, a draft tender, answered {response.status_code}"
            )
            if response.status_code == 404 and 'id="content"' in response.text:
                url = address
    if url is None:
        pytest.skip(f"{NOT_AVAILABLE}: {' and '.join(demo_site.draft_tender)} have no portal 404 page yet")
    context, page = await _page(browser, lang)
    try:
        await check_page(page, url, f"portal-not-found-{lang}")
    finally:
        await context.close()


FRAME_PAGE = """{% extends "portal_base.html" %}
{% block title %}{{ t.brand }}{% endblock %}
{% block main %}<h1>{{ t.brand }}</h1><p>{{ t.footer }}</p>{% endblock %}"""


@pytest.mark.parametrize("lang", list(LANGUAGES))
async def test_the_portal_frame_passes_axe_with_the_skip_link_in_view(browser, lang):
    """portal_base.html around a heading and a paragraph, served with the portal's own headers; then
    again with the skip link focused (it shows only then: its contrast is checked there)."""
    nonce = secrets.token_urlsafe(16)
    html = portal._environment.from_string(FRAME_PAGE).render(
        lang=lang,
        t=portal.texts({"zh": {}, "en": {}}, lang),
        nonce=nonce,
        switch_url=f"/portal?lang={portal.FRAME[lang]['switch_lang']}",
        link=lambda path, **params: portal.link(path, lang, **params),
        **portal.formatters(lang),
    )

    async def serve(route):
        await route.fulfill(
            status=200, body=html, headers={**portal.headers(nonce), "Content-Type": "text/html"}
        )

    context, page = await _page(browser, lang)
    try:
        await context.route("http://portal.invalid/**", serve)
        await check_page(page, "http://portal.invalid/portal", f"portal-frame-{lang}")
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.className") == "skip"
        box = await page.locator("a.skip").bounding_box()
        assert box is not None and box["x"] >= 0 and box["y"] >= 0  # in view once focused
        await check_page(page, None, f"portal-frame-skip-link-{lang}")
    finally:
        await context.close()
