"""tests/browser_checks.py itself: axe-core runs under the pages' strict Content-Security-Policy, fails
on serious and critical violations with a readable message, passes a sound page, saves screenshots at
360 px and 1280 px, and skips (or fails in CI) without axe-core.

The pages are served by Playwright's request interception (no server, no network): a made-up origin
answers with the HTML and the same kind of CSP header as the project's pages.
"""

from __future__ import annotations

import json

import pytest

from tests import browser_checks
from tests.browser_checks import OUTPUT, check_page
from tests.contracts.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser

ORIGIN = "http://a11y.invalid"
CSP = "default-src 'none'; style-src 'nonce-n0nce'; form-action 'self'; frame-ancestors 'none'"

# Grey on white (2.3:1), a text box without a label, no language: three rules of WCAG 2.0 A/AA.
BROKEN = """<!doctype html>
<html><head><meta charset="utf-8"><title>Broken</title>
<style nonce="n0nce">p.faint { color: #aaa; }</style></head>
<body><main><h1>A page with problems</h1>
<p class="faint">Faint text that few can read.</p>
<form><input type="text" id="nameless"></form>
</main></body></html>"""

SOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sound</title>
<style nonce="n0nce">body { color: #111; background: #fff; font-size: 20px; }</style></head>
<body><main><h1>A sound page</h1>
<p>Dark text on white.</p>
<form><label for="name">Name</label> <input type="text" id="name"></form>
</main></body></html>"""


@pytest.fixture
async def page():
    _require_browser()
    browser_checks.require_axe()
    from playwright.async_api import async_playwright

    pages = {"/broken": BROKEN, "/sound": SOUND}

    async def serve(route):
        path = route.request.url.removeprefix(ORIGIN)
        await route.fulfill(
            status=200,
            content_type="text/html; charset=utf-8",
            body=pages[path],
            headers={"Content-Security-Policy": CSP},
        )

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": 800, "height": 600})
            await context.route(f"{ORIGIN}/**", serve)
            yield await context.new_page()
            await context.close()
        finally:
            await browser.close()


async def test_serious_and_critical_violations_fail_with_rule_impact_selectors_and_help(page):
    for width in (360, 1280):
        (OUTPUT / f"selftest-broken-{width}.png").unlink(missing_ok=True)

    with pytest.raises(AssertionError) as failure:
        await check_page(page, f"{ORIGIN}/broken", "selftest-broken")

    message = str(failure.value)
    assert f"on selftest-broken ({ORIGIN}/broken)" in message
    assert "- color-contrast [serious] at 360, 1280 px" in message
    assert "- label [critical] at 360, 1280 px" in message
    assert "- html-has-lang [serious]" in message
    # Each element as axe's CSS selector, with what is wrong with it.
    assert "    p: Fix any of the following: Element has insufficient color contrast of 2.32" in message
    assert "    #nameless: Fix any of the following:" in message
    assert "https://dequeuniversity.com/rules/axe/" in message  # each rule's help page
    # The screenshots are taken before the verdict, and the report lists every violation.
    for width in (360, 1280):
        assert (OUTPUT / f"selftest-broken-{width}.png").stat().st_size > 0
    report = json.loads((OUTPUT / "selftest-broken-axe.json").read_text(encoding="utf-8"))
    assert {v["rule"] for v in report["violations"]} >= {"color-contrast", "label", "html-has-lang"}
    # The page's own policy stayed in force: axe came in without a <script> element.
    assert await page.evaluate("document.scripts.length") == 0
    assert page.viewport_size == {"width": 800, "height": 600}  # put back as it was


async def test_a_sound_page_passes_and_the_page_as_it_is_can_be_checked(page):
    assert await check_page(page, f"{ORIGIN}/sound", "selftest-sound") == []
    for width in (360, 1280):
        assert (OUTPUT / f"selftest-sound-{width}.png").stat().st_size > 0

    # url=None checks what the page shows now (the answer to a form's POST, say): here, a label lost.
    await page.evaluate("document.querySelector('label').remove()")
    with pytest.raises(AssertionError, match=r"- label \[critical\]"):
        await check_page(page, None, "selftest-sound-changed")


async def test_strict_fails_on_any_impact_and_on_best_practices(page):
    # A sound page by the WCAG rules: its minor flaws pass by default.
    await page.goto(f"{ORIGIN}/sound")
    await page.evaluate(
        "document.querySelector('h1').outerHTML = '<h3>A sound page</h3>';"  # no level-one heading
        "document.body.insertAdjacentHTML('beforeend', '<p>Outside every landmark.</p>')"
    )
    assert await check_page(page, None, "selftest-lax") == []
    with pytest.raises(AssertionError) as failure:
        await check_page(page, None, "selftest-strict", strict=True)
    message = str(failure.value)
    assert message.startswith("2 accessibility violation(s) on selftest-strict")
    assert "- page-has-heading-one [moderate]" in message
    assert "- region [moderate]" in message


async def test_strict_wants_chinese_text_on_an_english_page_marked_as_chinese(page):
    await page.goto(f"{ORIGIN}/sound")
    await page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        " '<p id=provider>上海颐康居家养老服务有限公司</p><p lang=zh-CN>居家养老</p>')"
    )
    assert await check_page(page, None, "selftest-unmarked") == []  # axe does not see it
    with pytest.raises(AssertionError) as failure:
        await check_page(page, None, "selftest-unmarked-strict", strict=True)
    message = str(failure.value)
    assert message.startswith("1 accessibility violation(s)")
    assert "- language-of-parts [serious] at 360, 1280 px" in message
    assert "https://www.w3.org/WAI/WCAG21/Understanding/language-of-parts.html" in message
    assert (
        'p#provider: Chinese text in a part whose language is "en": 上海颐康居家养老服务有限公司' in message
    )

    await page.evaluate("document.querySelector('#provider').lang = 'zh-CN'")
    assert await check_page(page, None, "selftest-marked-strict", strict=True) == []


async def test_a_name_that_is_no_file_name_is_refused(page):
    with pytest.raises(ValueError, match="screenshot name"):
        await check_page(page, f"{ORIGIN}/sound", "../elsewhere")


def test_without_axe_core_the_check_is_skipped_or_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(browser_checks, "AXE_SCRIPT", tmp_path / "axe.min.js")
    monkeypatch.setattr(browser_checks.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert "axe-core is not installed in tests/browser: run `make install`" in browser_checks.axe_problem()
    monkeypatch.setattr(browser_checks.shutil, "which", lambda name: None)
    assert browser_checks.axe_problem().startswith("npm is not installed")

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="accessibility check cannot run: npm is not installed"):
        browser_checks.require_axe()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="accessibility check cannot run"):
        browser_checks.require_axe()


def test_an_installed_version_other_than_the_pinned_one_is_reported(monkeypatch, tmp_path):
    package = tmp_path / "axe-core"
    package.mkdir()
    (package / "axe.min.js").write_text("window.axe = {};", encoding="utf-8")
    (package / "package.json").write_text('{"version": "1.0.0"}', encoding="utf-8")
    monkeypatch.setattr(browser_checks, "AXE_PACKAGE", package)
    monkeypatch.setattr(browser_checks, "AXE_SCRIPT", package / "axe.min.js")
    pinned = browser_checks._pinned_version()
    assert (
        browser_checks.axe_problem() == f"axe-core 1.0.0 is installed, {pinned} is pinned: run `make install`"
    )
