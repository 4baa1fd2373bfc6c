"""What every portal page shares: the Jinja2 environment, the language (Chinese first, `?lang=en`),
the texts of the frame (brand, navigation, language switch), date formats and the response headers.

Pages are server-rendered and autoescaped, need no JavaScript, load nothing from elsewhere (the
Content-Security-Policy allows only the page's own inline style, by nonce), and have a print layout.
A part of the portal adds its own texts with `texts(...)` and renders with `render(...)`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from core.settings import get_settings

LANGUAGES = ("zh", "en")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip

FRAME: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "brand": "政府购买服务 · 信息公开",
        "switch_label": "English",
        "switch_lang": "en",
        "switch_html_lang": "en",
        "nav_label": "主导航",
        "nav_home": "首页",
        "nav_dashboard": "均等化指标",
        "skip": "跳到正文",
        "footer": "本平台依法公开政府购买服务的采购、结果与绩效评价信息。",
        "date_format": "{d.year}年{d.month}月{d.day}日",
        "datetime_format": "{d.year}年{d.month}月{d.day}日 {d:%H:%M}",
    },
    "en": {
        "html_lang": "en",
        "brand": "Government purchase of services · Disclosure",
        "switch_label": "中文",
        "switch_lang": "zh",
        "switch_html_lang": "zh-CN",
        "nav_label": "Main navigation",
        "nav_home": "Home",
        "nav_dashboard": "Equality dashboard",
        "skip": "Skip to the content",
        "footer": "This platform discloses the purchases, results and performance evaluations of "
        "government-purchased public services.",
        "date_format": "{d.day} {month} {d.year}",
        "datetime_format": "{d.day} {month} {d.year}, {d:%H:%M}",
    },
}

_environment = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def language(request: Request) -> str:
    lang = request.query_params.get("lang")
    return lang if lang in LANGUAGES else "zh"


def texts(own: dict[str, dict[str, str]], lang: str) -> dict[str, str]:
    """The frame's texts and a page's own, in one language."""
    return {**FRAME[lang], **own[lang]}


def switch_url(request: Request, lang: str) -> str:
    """This page in the other language, its other query parameters kept."""
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    params["lang"] = FRAME[lang]["switch_lang"]
    return f"{request.url.path}?{urlencode(params)}"


def link(path: str, lang: str, **params: object) -> str:
    """A portal URL in the reader's language (Chinese needs no parameter)."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if lang != "zh":
        query["lang"] = lang
    return f"{path}?{urlencode(query)}" if query else path


def formatters(lang: str) -> dict[str, Callable]:
    frame, zone = FRAME[lang], get_settings().zone

    def day(value: dt.date) -> str:
        return frame["date_format"].format(d=value, month=MONTHS[value.month - 1])

    def when(moment: dt.datetime) -> str:
        local = moment.astimezone(zone)
        return frame["datetime_format"].format(d=local, month=MONTHS[local.month - 1])

    return {"day": day, "when": when}


def headers(nonce: str) -> dict[str, str]:
    """Public pages: no framing, no scripts, nothing loaded from elsewhere; no stored copies, since
    what they show changes (a tender closes, an award is challenged)."""
    return {
        "Cache-Control": "no-cache",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    }


def render(
    request: Request,
    name: str,
    own_texts: dict[str, dict[str, str]],
    *,
    status: int = 200,
    **context,
) -> HTMLResponse:
    """A portal page: `name` (extending portal_base.html) with the frame, the texts and formatters."""
    lang = language(request)
    nonce = secrets.token_urlsafe(16)
    html = _environment.get_template(name).render(
        lang=lang,
        t=texts(own_texts, lang),
        nonce=nonce,
        switch_url=switch_url(request, lang),
        link=lambda path, **params: link(path, lang, **params),
        **formatters(lang),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=headers(nonce))
