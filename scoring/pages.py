"""The public verification page of a star certificate (SPEC §6.3): `/certificates/{code}`.

Whoever holds a certificate's code (printed on it, or in its QR code) checks here that it is
genuine and what it says today: the provider, its stars in words, the score, the periods and
ratings counted and each period's numbers, the dates, and whether it is valid, expired, revoked
or superseded. Server-rendered (Jinja2, autoescaped), the residents' pages' look: Chinese by
default, English with `?lang=en`, no JavaScript, large type and high contrast, fits a 360 px
phone. The QR code is an inline SVG (segno) of the page's own absolute address under
PUBLIC_BASE_URL. An unknown code gets a 404 page of the same look.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from core.db import sqlite_writes
from core.language import data_lang
from core.settings import get_settings
from scoring import certification
from scoring.certification import CertificateStatus

LANGUAGES = ("zh", "en")
MAX_CODE = 64
"""Longer paths are no code: answered with the 404 page without a query."""

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "brand": "政府购买服务 · 证书核验",
        "title": "服务质量星级认证",
        "switch_label": "English",
        "switch_lang": "en",
        "switch_html_lang": "en",
        "status_VALID": "有效",
        "status_EXPIRED": "已过期",
        "status_REVOKED": "已撤销",
        "status_SUPERSEDED": "已被取代",
        "status_line_VALID": "本证书真实有效，有效期至 {until}。",
        "status_line_EXPIRED": "本证书真实，但已于 {until} 到期，不再有效。",
        "status_line_REVOKED": "本证书已于 {when} 撤销，不再有效。",
        "status_line_SUPERSEDED": "本证书已被该机构的新证书取代，不再有效。",
        "newest": "查看该机构的最新证书",
        "revoked_reason": "撤销原因",
        "reason_provider suspended": "服务机构被暂停参与政府购买服务",
        "reason_provider debarred": "服务机构被禁止参与政府购买服务",
        "provider": "服务机构",
        "credit_code": "统一社会信用代码",
        "stars": "星级",
        "stars_text": "{n} 星（满分 5 星）",
        "unrated": "暂无星级（未评级）",
        "score": "综合得分",
        "score_value": "{score} 分（满分 100 分）",
        "no_score": "无",
        "periods": "计入的考核期",
        "periods_value": "{n} 个",
        "ratings": "计入的居民评价",
        "ratings_value": "{n} 条",
        "as_of": "认证基准日",
        "issued_on": "发证日期",
        "valid_until": "有效期至",
        "code": "证书编号",
        "critical": "认证期内的第三方评估中有严重（CRITICAL）问题未被撤销，星级已降低一星。",
        "unrated_note": "未评级：须在认证基准日前12个月内有至少 2 个已结算的考核期、"
        "至少 30 条有效的居民评价。新进入的服务机构在评标时不受影响（履约记录按 80 分计）。",
        "evidence_heading": "评分依据",
        "evidence_caption": "计入的考核期（认证基准日前12个月内结束的）",
        "contract": "合同",
        "period": "考核期",
        "period_value": "第 {n} 期",
        "period_dates": "{start} 至 {end}",
        "composite": "综合得分",
        "base": "结算基数（元）",
        "weight_note": "综合得分按各考核期的结算基数加权平均。",
        "period_critical": "有严重问题",
        "no_evidence": "认证期内没有已结算的考核期。",
        "how_heading": "星级怎么定",
        "how": "90 分及以上 5 星，80 分及以上 4 星，70 分及以上 3 星，60 分及以上 2 星，其余 1 星。",
        "qr_heading": "扫码核验",
        "qr_text": "用手机扫描二维码，打开本页核验证书：",
        "qr_title": "本证书核验页面的二维码",
        "not_found_title": "未找到证书",
        "not_found_text": "没有找到这个编号的证书。请检查证书编号（4组，每组5个字母或数字）是否完整、正确。",
        "date_format": "{d.year}年{d.month}月{d.day}日",
        "datetime_format": "{d.year}年{d.month}月{d.day}日 {d:%H:%M}",
    },
    "en": {
        "html_lang": "en",
        "brand": "Publicly funded services · Certificate check",
        "title": "Service quality star certificate",
        "switch_label": "中文",
        "switch_lang": "zh",
        "switch_html_lang": "zh-CN",
        "status_VALID": "Valid",
        "status_EXPIRED": "Expired",
        "status_REVOKED": "Revoked",
        "status_SUPERSEDED": "Superseded",
        "status_line_VALID": "This certificate is genuine and valid until {until}.",
        "status_line_EXPIRED": "This certificate is genuine but expired on {until}; it is no longer valid.",
        "status_line_REVOKED": "This certificate was revoked on {when}; it is no longer valid.",
        "status_line_SUPERSEDED": "This certificate was replaced by a newer certificate of the provider; "
        "it is no longer valid.",
        "newest": "See the provider's newest certificate",
        "revoked_reason": "Reason",
        "reason_provider suspended": "the provider was suspended from publicly funded services",
        "reason_provider debarred": "the provider was debarred from publicly funded services",
        "provider": "Provider",
        "credit_code": "Unified Social Credit Code",
        "stars": "Stars",
        "stars_text": "{n} out of 5 stars",
        "unrated": "No stars yet (unrated)",
        "score": "Score",
        "score_value": "{score} out of 100",
        "no_score": "None",
        "periods": "Periods counted",
        "periods_value": "{n}",
        "ratings": "Residents' ratings counted",
        "ratings_value": "{n}",
        "as_of": "Certified as of",
        "issued_on": "Issued on",
        "valid_until": "Valid until",
        "code": "Certificate number",
        "critical": "A CRITICAL finding of an independent audit in the certified period stands: one star "
        "was taken off.",
        "unrated_note": "Unrated: a rating needs at least 2 settled periods and 30 valid residents' ratings "
        "in the 12 months before the certification date. New providers are not held back in tenders (their "
        "track record counts 80).",
        "evidence_heading": "What the score is based on",
        "evidence_caption": "Periods counted (those that ended in the 12 months before the certification "
        "date)",
        "contract": "Contract",
        "period": "Period",
        "period_value": "Period {n}",
        "period_dates": "{start} to {end}",
        "composite": "Score",
        "base": "Payment base (CNY)",
        "weight_note": "The score is the mean of the periods' scores, weighted by their payment bases.",
        "period_critical": "critical finding",
        "no_evidence": "No settled period in the certified 12 months.",
        "how_heading": "How stars are given",
        "how": "5 stars from 90 points, 4 from 80, 3 from 70, 2 from 60, otherwise 1.",
        "qr_heading": "Scan to check",
        "qr_text": "Scan the QR code with a phone to open this page and check the certificate:",
        "qr_title": "QR code of this certificate's check page",
        "not_found_title": "Certificate not found",
        "not_found_text": "No certificate has this number. Check that the number (4 groups of 5 letters or "
        "digits) is complete and correct.",
        "date_format": "{d.day} {month} {d.year}",
        "datetime_format": "{d.day} {month} {d.year}, {d:%H:%M}",
    },
}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _language(request: Request) -> str:
    lang = request.query_params.get("lang")
    return lang if lang in LANGUAGES else "zh"


def _formatters(lang: str) -> dict[str, Callable]:
    texts, zone = TEXT[lang], get_settings().zone

    def day(value: dt.date) -> str:
        return texts["date_format"].format(d=value, month=MONTHS[value.month - 1])

    def when(moment: dt.datetime) -> str:
        local = moment.astimezone(zone)
        return texts["datetime_format"].format(d=local, month=MONTHS[local.month - 1])

    def reason(text: str | None) -> str:
        return texts.get(f"reason_{text}", text or "")

    def text_lang(text: object) -> Markup:
        return data_lang(text, lang)

    return {"day": day, "when": when, "reason": reason, "data_lang": text_lang}


def _headers(nonce: str) -> dict[str, str]:
    """A public page, but no framing, no scripts, no resources from elsewhere; its status changes
    (revoked, expired), so nothing keeps a copy."""
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "X-Robots-Tag": "noindex, nofollow",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'none'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
    }


def _render(name: str, lang: str, *, status: int = 200, **context) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _templates.get_template(name).render(
        lang=lang, t=TEXT[lang], nonce=nonce, **_formatters(lang), **context
    )
    return HTMLResponse(html, status_code=status, headers=_headers(nonce))


def qr_svg(url: str, title: str) -> Markup:
    """The QR code of `url` as inline SVG (sized by CSS), with a title for screen readers."""
    code = segno.make(url, error="m", micro=False)
    # segno writes the SVG: its only inputs are our own URL (as modules) and our own title text.
    svg = code.svg_inline(scale=1, border=4, omitsize=True, title=title, dark="#000", light="#fff")
    return Markup(svg)  # noqa: S704


def _page(found: certification.Verification, lang: str) -> HTMLResponse:
    certificate = found.certificate
    url = certification.verification_url(certificate.code)
    suffix = "?lang=en" if lang == "en" else ""
    return _render(
        "certificate.html",
        lang,
        found=found,
        c=certificate,
        state=found.status.value,
        revoked=found.status == CertificateStatus.REVOKED,
        evidence=certificate.evidence,
        date_of=dt.date.fromisoformat,
        url=url,
        qr=qr_svg(url, TEXT[lang]["qr_title"]),
        newest_url=(f"/certificates/{found.newest.code}{suffix}" if found.newest is not None else None),
        switch_url=f"/certificates/{quote(certificate.code, safe='')}?lang={TEXT[lang]['switch_lang']}",
    )


def routes(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Route]:
    """`/certificates/{code}`: the certificate's public page."""

    async def show(request: Request) -> Response:
        code, lang = request.path_params["code"], _language(request)
        found = None
        if len(code) <= MAX_CODE:
            with sqlite_writes(False):
                async with sessionmaker() as session:
                    found = await certification.verify(session, code)
        if found is None:
            switch = f"/certificates/{quote(code, safe='')}?lang={TEXT[lang]['switch_lang']}"
            return _render("certificate_not_found.html", lang, status=404, switch_url=switch)
        return _page(found, lang)

    return [Route("/certificates/{code}", show, methods=["GET"], name="certificate_page")]
