"""The resident's link in a real browser: Debian's Chromium, headless, driven by Playwright.

A real server (uvicorn, in a subprocess) runs over a scratch database that the test fills
and commits for real. One test opens the link from the outbox message, rates 4 stars, and
checks the rating through the GraphQL API of the same server; the other files a complaint on a
360 px phone, reads its reference on the thanks page, and after the provider's answer sees the
complaint on the page, in both languages, and an unknown link's page. Screenshots go to
test-output/browser/ at the project root (resident-complaint-360.png: the complaint state).

Needs `chromium` (apt-get install chromium) and the `playwright` package; never run
`playwright install`. Without them the test is skipped, and fails when CI=true.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import httpx
import pytest

from contracts import complaints, deliveries, outbox
from core.api import encode_id
from core.db import create_sessionmaker
from core.settings import get_settings
from tests import factories, live
from tests.contracts import world as cw

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


# Elements that stick out of their parent's box (a grid cell wider than its card, say).
OVERFLOWING = """
[...document.querySelectorAll("main *:not(.sr-only, [type=hidden])")].filter(e => {
  const box = e.getBoundingClientRect(), outer = e.parentElement.getBoundingClientRect();
  return box.right > outer.right + 0.5 || box.left < outer.left - 0.5;
}).map(e => e.tagName + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : ""))
"""


def _require_browser() -> None:
    """Skip without a browser, except in CI (CI=true), where a missing browser is a failure."""
    problems = []
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        problems.append("the `playwright` package is missing: pip install -e '.[dev]'")
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    if problems:
        message = "browser test cannot run: " + "; ".join(problems)
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def server(scratch_engine):
    """uvicorn serving the app over the scratch database; PUBLIC_BASE_URL points at it for the test."""
    _require_browser()
    base = f"http://127.0.0.1:{live.free_port()}"
    env = {
        **os.environ,
        "DATABASE_URL": scratch_engine.url.render_as_string(hide_password=False),
        "PUBLIC_BASE_URL": base,
    }
    command = [sys.executable, "-m", "uvicorn", "app:create_app", "--factory",
               "--host", "127.0.0.1", "--port", base.rsplit(":", 1)[1], "--log-level", "warning"]  # fmt: skip
    saved = os.environ.get("PUBLIC_BASE_URL")
    os.environ["PUBLIC_BASE_URL"] = base  # the links the services write point at this server
    get_settings.cache_clear()
    try:
        with live.running(command, env=env, base=base, log=OUTPUT / "server.log"):
            yield base
    finally:
        if saved is None:
            os.environ.pop("PUBLIC_BASE_URL", None)
        else:
            os.environ["PUBLIC_BASE_URL"] = saved
        get_settings.cache_clear()


class Capture:
    """An SMS gateway that keeps the messages."""

    def __init__(self):
        self.sent: list[str] = []

    def send(self, *, channel: str, recipient: str, body: str) -> None:
        self.sent.append(body)


async def test_a_resident_rates_a_delivery_in_chromium(server, scratch_engine):
    from playwright.async_api import async_playwright, expect

    async with create_sessionmaker(scratch_engine)() as session:
        world = await cw.build(session, start_in_days=10)
        delivery, _token = await world.deliver()
        gateway = Capture()
        assert await outbox.send_notifications(session=session, backend=gateway) == (1, 0)
        await session.commit()
        provider_email = world.users["provider"].email
    link = re.search(r"https?://\S+/r/[A-Za-z0-9_\-]+", gateway.sent[0]).group(0)
    assert link.startswith(f"{server}/r/")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            phone = await browser.new_context(viewport={"width": 360, "height": 780}, locale="zh-CN")
            narrow = await phone.new_page()
            await narrow.goto(link)
            await expect(narrow.locator("h1")).to_have_text("服务确认与评价")
            assert await narrow.evaluate("document.documentElement.scrollWidth") <= 360
            overflowing = await narrow.evaluate(OVERFLOWING)
            assert overflowing == [], f"elements wider than their box at 360 px: {overflowing}"
            size = await narrow.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
            assert size >= 20
            await narrow.screenshot(path=OUTPUT / "resident-form-360.png", full_page=True)
            await phone.close()

            context = await browser.new_context(viewport={"width": 800, "height": 900}, locale="zh-CN")
            page = await context.new_page()
            await page.goto(link)
            await expect(page.locator("h1")).to_have_text("服务确认与评价")
            await page.locator("label[for='stars-4']").click()
            await expect(page.locator("#stars-4")).to_be_checked()
            await page.get_by_label("意见或建议").fill("护理员很耐心，准时上门。")
            await page.screenshot(path=OUTPUT / "resident-form.png", full_page=True)
            await page.get_by_role("button", name="提交评价").click()
            await page.wait_for_url("**/thanks?done=rated")
            await expect(page.locator("h1")).to_have_text("谢谢！")
            await expect(page.get_by_role("status")).to_contain_text("已收到您的评价")
            await page.screenshot(path=OUTPUT / "resident-thanks.png", full_page=True)
            await context.close()
        finally:
            await browser.close()

    async with httpx.AsyncClient(base_url=server) as client:
        login = await client.post(
            "/graphql",
            json={
                "query": "mutation($i: LoginInput!) { login(input: $i) { token errors { code } } }",
                "variables": {"i": {"email": provider_email, "password": factories.PASSWORD}},
            },
        )
        token = login.json()["data"]["login"]["token"]
        answer = await client.post(
            "/graphql",
            json={
                "query": "query($id: ID!) { node(id: $id) { ... on Delivery { rating { stars comment } } } }",
                "variables": {"id": encode_id("Delivery", delivery.id)},
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.json()["data"]["node"]["rating"] == {"stars": 4, "comment": "护理员很耐心，准时上门。"}


async def _fits_360(page) -> None:
    """No horizontal scroll, nothing sticking out of its box, large type."""
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    overflowing = await page.evaluate(OVERFLOWING)
    assert overflowing == [], f"elements wider than their box at 360 px: {overflowing}"
    assert await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 20


async def test_a_resident_complains_and_follows_the_complaint_in_chromium(server, scratch_engine):
    """The complaint form on a 360 px phone, the reference on the thanks page, the answer on the page."""
    from playwright.async_api import async_playwright, expect

    sessionmaker = create_sessionmaker(scratch_engine)
    async with sessionmaker() as session:
        world = await cw.build(session, start_in_days=10)
        delivery, _token = await world.deliver()
        gateway = Capture()
        assert await outbox.send_notifications(session=session, backend=gateway) == (1, 0)
        await session.commit()
    link = re.search(r"https?://\S+/r/[A-Za-z0-9_\-]+", gateway.sent[0]).group(0)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            phone = await browser.new_context(viewport={"width": 360, "height": 780}, locale="zh-CN")
            page = await phone.new_page()
            await page.goto(link)
            await page.locator("label[for='category-LATE']").click()
            await page.get_by_label("投诉内容").fill("约好上午9点上门，10点半才到，也没有提前打电话。")
            await page.get_by_role("button", name="提交投诉").click()
            await page.wait_for_url("**/thanks?done=complained&ref=*")
            status = page.get_by_role("status")
            await expect(status).to_contain_text("您的投诉已提交")
            reference = await page.locator("#reference").inner_text()
            assert re.fullmatch(r"\d{4}-\d{4}-\d{4}", reference)
            await expect(status.locator("a[href='tel:12345']")).to_have_text("12345")
            await _fits_360(page)
            await page.screenshot(path=OUTPUT / "resident-complaint-thanks-360.png", full_page=True)

            # The provider answers; the resident opens the link again.
            async with sessionmaker() as session:
                (complaint,) = (await deliveries.resident_view(session=session, token=_token)).complaints
                assert complaint.reference == reference
                await complaints.respond_complaint(
                    session=session, actor=world.provider, complaint_id=complaint.id,
                    text="非常抱歉，已与护理员核实并调整排班，今后会提前电话确认上门时间。",
                )  # fmt: skip
                await session.commit()
            await page.get_by_role("link", name="返回服务页面").click()
            card = page.locator(f"#complaint-{reference}")
            await expect(card.locator(".status")).to_have_text("已答复，正在办理")
            await expect(card).to_contain_text("调整排班")
            await expect(page.locator("#complaints a[href='tel:12345']").first).to_be_visible()
            await _fits_360(page)
            await page.locator("#complaints").screenshot(path=OUTPUT / "resident-complaint-360.png")
            await page.screenshot(path=OUTPUT / "resident-complaint-page-360.png", full_page=True)

            await page.get_by_role("link", name="English").click()
            await expect(card.locator(".status")).to_have_text("Answered, being settled")
            await expect(card).to_contain_text("Late or missed visit")
            await _fits_360(page)
            await page.locator("#complaints").screenshot(path=OUTPUT / "resident-complaint-360-en.png")

            # An unknown link: the error page has the switch and the hotline to call.
            await page.goto(link + "x")
            await expect(page.locator("h1")).to_have_text("链接无效")
            await expect(page.locator("main a[href='tel:12345']")).to_have_text("12345")
            await _fits_360(page)
            await page.screenshot(path=OUTPUT / "resident-not-found-360.png", full_page=True)
            await page.get_by_role("link", name="English").click()
            await expect(page.locator("h1")).to_have_text("Link not valid")
            await expect(page.locator("main a[href='tel:12345']")).to_have_text("12345")
            await phone.close()
        finally:
            await browser.close()
    assert delivery.id == complaint.delivery_id
