"""GraphiQL on an intranet: a real Chromium with every request off this machine blocked opens /graphql,
sees the editor and runs `{ now }`. Needs the installed files (`make install`) and, like
tests/contracts/test_browser.py, Debian's chromium and the playwright package."""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import urlsplit

import pytest

from core import graphiql
from tests import live
from tests.contracts.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser

OUTPUT = live.OUTPUT / "browser"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@pytest.fixture
def server(scratch_engine):
    _require_browser()
    if not graphiql.installed():
        pytest.fail("GraphiQL's files are not installed: run `make install`", pytrace=False)
    port = live.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": scratch_engine.url.render_as_string(hide_password=False)}
    env.pop("GRAPHQL_INTROSPECTION", None)  # development: GraphiQL on
    env["ENVIRONMENT"] = "development"
    command = [sys.executable, "-c", "import app; app.cli()", "serve", "--port", str(port)]
    with live.running(command, env=env, base=base, log=OUTPUT / "graphiql-server.log"):
        yield base


async def test_graphiql_renders_and_runs_a_query_with_no_internet(server):
    from playwright.async_api import async_playwright, expect

    blocked: list[str] = []
    problems: list[str] = []

    async def only_this_machine(route):
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            await context.route("**/*", only_this_machine)
            page = await context.new_page()
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda message: (
                    problems.append(f"console {message.type}: {message.text}")
                    if message.type == "error"
                    else None
                ),
            )
            page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
            await page.goto(f"{server}/graphql")
            editor = page.locator(".graphiql-query-editor .CodeMirror")
            await expect(editor).to_be_visible(timeout=20_000)
            await expect(editor).to_contain_text("query Now")  # our welcome text
            # Its schema query done, so that the next page load does not cut it off ("requestfailed").
            await page.wait_for_load_state("networkidle")

            # `?q=` fills the editor, as in strawberry's page (a shared link).
            await page.goto(f"{server}/graphql?q=%7B%20now%20%7D")
            await expect(editor).to_contain_text("{ now }", timeout=20_000)
            await expect(page.locator("#graphiql")).not_to_contain_text("Loading GraphiQL")
            await page.locator(".graphiql-execute-button").click()
            response = page.locator(".graphiql-response .CodeMirror")
            await expect(response).to_contain_text('"now"', timeout=10_000)
            text = await page.evaluate(
                "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
            )
            OUTPUT.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=OUTPUT / "graphiql.png")
            await context.close()
        finally:
            await browser.close()

    result = json.loads(text)
    assert "errors" not in result and result["data"]["now"], result
    assert blocked == [], f"GraphiQL asked for files off this machine: {blocked}"
    assert problems == [], problems
