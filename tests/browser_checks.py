"""Accessibility checks for the browser tests: axe-core run in a real page, screenshots at two widths.

`await check_page(page, url, name)` opens URL in a Playwright page (or, with `url=None`, takes the
page as it is, e.g. the answer to a form's POST), and at 360 px and 1280 px wide:

- runs axe-core (the accessibility engine of Deque, pinned in tests/browser/package.json and installed
  there by `make install` with `npm ci`) with the WCAG 2.0 and 2.1 level A and AA rules, and fails on
  any violation of impact "serious" or "critical", naming the rule, its impact, the elements
  (CSS selectors), what axe found wrong with each and the rule's help URL; with `strict=True`, axe's
  best practices too (landmarks, heading order...) and WCAG's Language of Parts, which axe does not
  check (Chinese text on a page in English needs lang="zh-CN"), and any violation fails, whatever
  its impact;
- saves a full-page screenshot: test-output/browser/<name>-360.png and <name>-1280.png;
- writes every violation found, whatever its impact, to test-output/browser/<name>-axe.json.

The pages forbid scripts (Content-Security-Policy `default-src 'none'`), so axe is not added as a
`<script>` tag, which the browser would block: its source is evaluated through the DevTools protocol
(Playwright's `evaluate`), which a page's CSP does not govern. The pages are checked with their real
policy in force (their styles come in by nonce, as in production).

Without npm or the installed axe-core the tests that need it are skipped with the reason, and fail
when CI=true (like the browser tests without Chromium).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "test-output" / "browser"
AXE_PROJECT = ROOT / "tests" / "browser"
"""The npm project (package.json, package-lock.json) whose only dependency is axe-core."""
AXE_PACKAGE = AXE_PROJECT / "node_modules" / "axe-core"
AXE_SCRIPT = AXE_PACKAGE / "axe.min.js"

WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
"""axe-core's tags of the WCAG 2.0 and 2.1 success criteria of levels A and AA."""
WITH_BEST_PRACTICE = (*WCAG_TAGS, "best-practice")
"""And axe's best practices: landmarks (one main, all content in one), heading order, unique ids..."""
FAILING_IMPACTS = ("serious", "critical")
WIDTHS = (360, 1280)
"""A cheap phone and a desktop screen, in CSS pixels."""
NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")

# Runs in the page: axe over the whole document, the violations only, as plain data.
RUN_AXE = """
async (tags) => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    rule: v.id,
    impact: v.impact,
    help: v.help,
    help_url: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target.map((t) => (Array.isArray(t) ? t.join(" >>> ") : String(t))).join(" "),
      summary: n.failureSummary || "",
    })),
  }));
}
"""

# Runs in the page: text with Chinese characters in an element whose language (its own `lang` or its
# nearest ancestor's) is not Chinese. WCAG 2.1 SC 3.1.2, Language of Parts, which axe cannot check:
# on a page in English, a provider's Chinese name needs lang="zh-CN" (core/language.py).
UNMARKED_CHINESE = r"""
() => {
  const han = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{3134f}]/u;
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!han.test(node.data)) continue;
    const owner = node.parentElement;
    const tagged = owner.closest("[lang]");
    if (tagged && tagged.getAttribute("lang").toLowerCase().startsWith("zh")) continue;
    const classes = [...owner.classList].map((c) => "." + c).join("");
    found.push({
      target: owner.tagName.toLowerCase() + (owner.id ? "#" + owner.id : "") + classes,
      summary: "Chinese text in a part whose language is " +
        (tagged ? JSON.stringify(tagged.getAttribute("lang")) : "not given") + ": " + node.data.trim().slice(0, 40),
    });
  }
  return found;
}
"""
LANGUAGE_OF_PARTS = {
    "rule": "language-of-parts",
    "impact": "serious",
    "help": "Text in another language than the page's carries its own lang attribute (WCAG 2.1 SC 3.1.2)",
    "help_url": "https://www.w3.org/WAI/WCAG21/Understanding/language-of-parts.html",
}


@dataclass
class Violation:
    """One axe rule broken on a page: where (CSS selectors) and at which viewport widths."""

    rule: str
    impact: str | None
    help: str
    help_url: str
    nodes: list[dict[str, str]]
    widths: list[int] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        return self.impact in FAILING_IMPACTS


def _pinned_version() -> str:
    manifest = json.loads((AXE_PROJECT / "package.json").read_text(encoding="utf-8"))
    return manifest["devDependencies"]["axe-core"]


def axe_problem() -> str | None:
    """Why axe-core cannot run here (a sentence), or None when it can."""
    if not AXE_SCRIPT.is_file():
        if shutil.which("npm") is None:
            return (
                "npm is not installed (apt-get install npm), so axe-core is not either; then `make install`"
            )
        return f"axe-core is not installed in {AXE_PROJECT.relative_to(ROOT)}: run `make install`"
    installed = json.loads((AXE_PACKAGE / "package.json").read_text(encoding="utf-8"))["version"]
    if installed != _pinned_version():
        return f"axe-core {installed} is installed, {_pinned_version()} is pinned: run `make install`"
    return None


def require_axe() -> None:
    """Skip without axe-core, except in CI (CI=true), where a missing axe-core is a failure."""
    problem = axe_problem()
    if problem is None:
        return
    message = f"accessibility check cannot run: {problem}"
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@functools.cache
def _axe_source() -> str:
    # `;0`: the script as an expression statement, so that evaluate returns a plain value.
    return AXE_SCRIPT.read_text(encoding="utf-8") + "\n;0"


async def audit(page, tags: tuple[str, ...] = WCAG_TAGS) -> list[Violation]:
    """axe-core's violations of the rules of TAGS on the page as it is now, every impact."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(_axe_source())
    found = await page.evaluate(RUN_AXE, list(tags))
    return [Violation(**v) for v in found]


async def unmarked_chinese(page) -> list[Violation]:
    """Chinese text without lang="zh-…" on it or around it (none on a page in Chinese)."""
    nodes = await page.evaluate(UNMARKED_CHINESE)
    return [Violation(**LANGUAGE_OF_PARTS, nodes=nodes)] if nodes else []


def describe(violations: list[Violation], *, name: str, url: str, strict: bool = False) -> str:
    """A readable report: each rule with its impact, widths, help URL, and each element's problem."""
    kind = "" if strict else "serious or critical "
    lines = [f"{len(violations)} {kind}accessibility violation(s) on {name} ({url}):"]
    for v in violations:
        widths = ", ".join(str(w) for w in v.widths)
        lines.append(f"- {v.rule} [{v.impact}] at {widths} px: {v.help}")
        lines.append(f"  {v.help_url}")
        for node in v.nodes[:10]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}: {summary}")
        if len(v.nodes) > 10:
            lines.append(f"    ... and {len(v.nodes) - 10} more elements")
    return "\n".join(lines)


async def check_page(
    page, url: str | None, name: str, *, widths: tuple[int, ...] = WIDTHS, strict: bool = False
) -> list[Violation]:
    """Open URL (None: the page as it is), check it with axe at each width, screenshot each width.

    Raises AssertionError listing the serious and critical violations; returns every violation found
    (minor and moderate ones included) for a test that wants to look further. `strict`: axe's best
    practices and the Language of Parts are checked too, and a violation of any impact fails (for
    pages already free of them).
    """
    tags = WITH_BEST_PRACTICE if strict else WCAG_TAGS
    require_axe()
    if not NAME.fullmatch(name):
        raise ValueError(f"{name!r}: a screenshot name is lower-case letters, digits, '.', '_' and '-'")
    if url is not None:
        await page.goto(url)
    url = page.url
    OUTPUT.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    height = original["height"] if original else 900
    by_rule: dict[tuple[str, tuple[str, ...]], Violation] = {}
    try:
        for width in widths:
            await page.set_viewport_size({"width": width, "height": height})
            found = await audit(page, tags) + (await unmarked_chinese(page) if strict else [])
            for violation in found:
                key = (violation.rule, tuple(n["target"] for n in violation.nodes))
                by_rule.setdefault(key, violation).widths.append(width)
            await page.screenshot(path=OUTPUT / f"{name}-{width}.png", full_page=True)
    finally:
        if original:
            await page.set_viewport_size(original)
    violations = list(by_rule.values())
    report = {"url": url, "tags": list(tags), "violations": [asdict(v) for v in violations]}
    (OUTPUT / f"{name}-axe.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    failing = violations if strict else [v for v in violations if v.failing]
    if failing:
        raise AssertionError(describe(failing, name=name, url=url, strict=strict))
    return violations
