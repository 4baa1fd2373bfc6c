"""The resident's page behind the link in the SMS (SPEC §5.4): dispute, rate, complain, and
follow one's complaints (their reference numbers, status and answers).

Server-rendered HTML (Jinja2, autoescaped) that works without JavaScript on a cheap
phone: Chinese by default, English with `?lang=en`, large type and high contrast.
Each POST runs one service call in one transaction and answers with a redirect to a
thank-you page (303, so a reload does not post again), or the form again with the
reason it was refused. Forms carry a CSRF token bound to the link and the action, and
POSTs from another origin are refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from contracts import deliveries, ratings
from contracts.complaints import COMPLAINT_CATEGORIES, current_deadline, file_complaint
from contracts.models import ComplaintStatus
from contracts.residents import MAX_TEXT, mask_links, token_hash
from core import clock
from core.db import bad_text, sqlite_writes, unit_of_work
from core.errors import DomainError, ErrorCode, Problem
from core.language import data_lang
from core.settings import get_settings

ACTIONS = ("dispute", "rate", "complaint")
DONE = {"dispute": "disputed", "rate": "rated", "complaint": "complained"}
LANGUAGES = ("zh", "en")
DIMENSIONS = ("timeliness", "attitude", "professionalism")
MAX_FIELDS = 16
HOTLINE = "12345"  # 12345政务服务便民热线: the government service hotline, the same number everywhere
MAX_FIELD_BYTES = 64 * 1024

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip

# The short list the resident picks from: the complaint categories, code -> (Chinese, English).
CATEGORIES = COMPLAINT_CATEGORIES

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "brand": "政府购买服务 · 服务回访",
        "title": "服务确认与评价",
        "switch_label": "English",
        "switch_lang": "en",
        "switch_html_lang": "en",
        "intro": "政府购买服务回访：请告诉我们这次服务怎么样。",
        "service": "服务项目",
        "provider": "服务机构",
        "date": "服务日期",
        "rate_heading": "为这次服务打分",
        "stars_legend": "总体满意度（必选）",
        "star_unit": "星",
        "star_1": "1 星",
        "star_n": "{n} 星",
        "star_words": "很不满意|不满意|一般|满意|非常满意",
        "dimensions_intro": "以下三项可选：",
        "timeliness": "准时",
        "attitude": "服务态度",
        "professionalism": "专业水平",
        "skip": "不评",
        "comment": "意见或建议（可选，最多2000字）",
        "rate_submit": "提交评价",
        "rate_change_submit": "修改评价",
        "your_rating": "您的评价：",
        "colon": "：",
        "editable_until": "您可以在 {when} 之前修改评价。",
        "rating_final": "评价已满48小时，不能再修改。",
        "no_comment": "（无文字意见）",
        "dispute_heading": "没有收到这次服务？",
        "dispute_help": "如果这次服务没有发生，请在 {day} 当天结束前告诉我们。",
        "reason": "说明（可选）",
        "dispute_submit": "这次服务没有发生",
        "disputed_on": "您已于 {when} 报告这次服务没有发生，我们会核实。",
        "dispute_closed": "提出“服务没有发生”的期限（服务后7天）已过。如有问题，请在下面投诉。",
        "disputed_no_rating": "这次服务已被报告为没有发生，因此不能评价。",
        "complaint_heading": "投诉",
        "complaint_help": "服务机构须在24小时内答复，7天内办结。",
        "category": "投诉类别",
        "complaint_text": "投诉内容（必填，最多2000字）",
        "complaint_submit": "提交投诉",
        "error_heading": "未能提交",
        "err_stars": "请选择1到5星的总体评价。",
        "err_dimension": "每项评分须为1到5星，或选择“不评”。",
        "err_comment": "意见或建议最多2000字。",
        "err_rating_final": "评价已满48小时，不能再修改。",
        "err_dispute_deadline": "只能在服务后7天内报告“服务没有发生”，期限已过。",
        "err_disputed_already": "您已经报告过这次服务没有发生。",
        "err_disputed_cannot_rate": "这次服务已被报告为没有发生，因此不能评价。",
        "err_category": "请选择投诉类别。",
        "err_text": "请写下投诉内容。",
        "err_text_long": "内容最多2000字。",
        "err_characters": "内容里有无法保存的字符，请删去后再提交。",
        "err_generic": "未能提交，请稍后再试。",
        "thanks_title": "谢谢！",
        "thanks_rated": "已收到您的评价，谢谢您的反馈。",
        "thanks_disputed": "已记录：这次服务没有发生。我们会核实，这次服务不会被计入付款。",
        "thanks_complained": "您的投诉已提交。服务机构须在24小时内答复，7天内办结。",
        "thanks_other": "谢谢您的反馈。",
        "back": "返回服务页面",
        "not_found_title": "链接无效",
        "not_found_text": "没有找到这个链接。请检查短信里的链接是否完整，或拨打{hotline}热线。",
        "expired_title": "链接已过期",
        "expired_text": "回访链接在发出后30天内有效，这个链接已过期。如需投诉，请拨打{hotline}热线。",
        "forbidden_title": "无法提交",
        "forbidden_text": "这个表单无法接受。请从短信里的链接重新打开本页后再试。",
        "bad_request_title": "无法提交",
        "bad_request_text": "提交的内容过长或格式不对。请返回后重试。",
        "complaints_heading": "我的投诉",
        "reference": "投诉编号",
        "status": "办理状态",
        "complaint_category": "投诉类别",
        "status_OPEN": "等待答复",
        "status_RESPONDED": "已答复，正在办理",
        "status_RESOLVED": "已办结",
        "status_RESOLVED_upheld": "已办结：投诉属实",
        "status_RESOLVED_not_upheld": "已办结：投诉不属实",
        "status_REJECTED": "不予受理",
        "filed": "提交时间",
        "channel": "提交方式",
        "channel_LINK": "短信链接",
        "channel_HOTLINE": "{hotline}热线",
        "answer_due": "答复期限：{when}",
        "settle_due": "办结期限：{when}",
        "overdue": "已超过期限，正在督办",
        "your_text": "投诉内容",
        "response": "答复",
        "no_response": "还没有答复。",
        "resolution": "处理结果",
        "quote_reference": "查询办理进展，请拨打{hotline}热线并报上投诉编号。",
        "datetime_format": "{d.year}年{d.month}月{d.day}日 {d:%H:%M}",
        "date_format": "{d.year}年{d.month}月{d.day}日",
    },
    "en": {
        "html_lang": "en",
        "brand": "Publicly funded services · Follow-up",
        "title": "Confirm and rate the service",
        "switch_label": "中文",
        "switch_lang": "zh",
        "switch_html_lang": "zh-CN",
        "intro": "A follow-up on a publicly funded service: please tell us how it went.",
        "service": "Service",
        "provider": "Provider",
        "date": "Date",
        "rate_heading": "Rate this service",
        "stars_legend": "Overall (required)",
        "star_unit": "stars",
        "star_1": "1 star",
        "star_n": "{n} stars",
        "star_words": "Very poor|Poor|Fair|Good|Excellent",
        "dimensions_intro": "These three are optional:",
        "timeliness": "On time",
        "attitude": "Staff attitude",
        "professionalism": "Professional skill",
        "skip": "Skip",
        "comment": "Comments (optional, up to 2000 characters)",
        "rate_submit": "Send rating",
        "rate_change_submit": "Change rating",
        "your_rating": "Your rating:",
        "colon": ": ",
        "editable_until": "You can change your rating until {when}.",
        "rating_final": "More than 48 hours have passed: the rating is final.",
        "no_comment": "(no comment)",
        "dispute_heading": "Did this service not happen?",
        "dispute_help": "If it did not happen, tell us by the end of {day}.",
        "reason": "What happened (optional)",
        "dispute_submit": "This service did not happen",
        "disputed_on": "On {when} you reported that this service did not happen; it will be checked.",
        "dispute_closed": "Reporting that the service did not happen is possible within 7 days; that time "
        "has passed. You can still complain below.",
        "disputed_no_rating": "This service was reported as not having happened, so it cannot be rated.",
        "complaint_heading": "Make a complaint",
        "complaint_help": "The provider must answer within 24 hours and settle it within 7 days.",
        "category": "What is it about?",
        "complaint_text": "Your complaint (required, up to 2000 characters)",
        "complaint_submit": "Send complaint",
        "error_heading": "Not sent",
        "err_stars": "Choose an overall rating from 1 to 5 stars.",
        "err_dimension": "Each optional rating is 1 to 5 stars, or “Skip”.",
        "err_comment": "Comments can be at most 2000 characters.",
        "err_rating_final": "More than 48 hours have passed: the rating is final and cannot be changed.",
        "err_dispute_deadline": "A service can be reported as not having happened within 7 days; "
        "that time has passed.",
        "err_disputed_already": "You have already reported that this service did not happen.",
        "err_disputed_cannot_rate": "This service was reported as not having happened, so it cannot be "
        "rated.",
        "err_category": "Choose what the complaint is about.",
        "err_text": "Write what the complaint is about.",
        "err_text_long": "At most 2000 characters.",
        "err_characters": "The text holds a character that cannot be stored; remove it and send again.",
        "err_generic": "This could not be sent. Please try again later.",
        "thanks_title": "Thank you!",
        "thanks_rated": "Your rating has been received. Thank you for your feedback.",
        "thanks_disputed": "Recorded: this service did not happen. It will be checked and not paid for.",
        "thanks_complained": "Your complaint has been sent. The provider must answer within 24 hours and "
        "settle it within 7 days.",
        "thanks_other": "Thank you for your feedback.",
        "back": "Back to the service page",
        "not_found_title": "Link not valid",
        "not_found_text": "This link was not found. Check that the link from the text message is complete, "
        "or call the {hotline} hotline.",
        "expired_title": "Link expired",
        "expired_text": "Links are valid for 30 days after they are sent, and this one has expired. To "
        "complain, call the {hotline} hotline.",
        "forbidden_title": "Not accepted",
        "forbidden_text": "This form could not be accepted. Open this page again from the link in the text "
        "message and try again.",
        "bad_request_title": "Not accepted",
        "bad_request_text": "What was sent is too long or not in the expected form. Go back and try again.",
        "complaints_heading": "Your complaints",
        "reference": "Reference number",
        "status": "Status",
        "complaint_category": "Category",
        "status_OPEN": "Waiting for an answer",
        "status_RESPONDED": "Answered, being settled",
        "status_RESOLVED": "Settled",
        "status_RESOLVED_upheld": "Settled: the complaint was upheld",
        "status_RESOLVED_not_upheld": "Settled: the complaint was not upheld",
        "status_REJECTED": "Not accepted",
        "filed": "Filed",
        "channel": "Filed through",
        "channel_LINK": "the link in the text message",
        "channel_HOTLINE": "the {hotline} hotline",
        "answer_due": "To be answered by {when}",
        "settle_due": "To be settled by {when}",
        "overdue": "Overdue: it has been escalated",
        "your_text": "The complaint",
        "response": "Answer",
        "no_response": "No answer yet.",
        "resolution": "Decision",
        "quote_reference": "To ask how it is going, call the {hotline} hotline and give the reference "
        "number.",
        "datetime_format": "{d.day} {month} {d.year}, {d:%H:%M}",
        "date_format": "{d.day} {month} {d.year}",
    },
}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# ---------------------------------------------------------------- cross-site protection


def csrf_token(token: str, purpose: str) -> str:
    """HMAC of the link's hash and the form's purpose, under a key derived from SECRET_KEY."""
    key = hashlib.sha256(f"resident-form:{get_settings().secret_key}".encode()).digest()
    message = f"{token_hash(token)}:{purpose}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _same_origin(request: Request) -> bool:
    """No Origin header (old browsers, scripts), or the page's own origin or PUBLIC_BASE_URL's."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    return origin.strip().lower() in {own, _origin(get_settings().public_base_url)}


# ---------------------------------------------------------------- rendering


def _language(request: Request, form: Any = None) -> str:
    lang = (form.get("lang") if form is not None else None) or request.query_params.get("lang")
    return lang if lang in LANGUAGES else "zh"


def _formatters(lang: str) -> dict[str, Callable]:
    texts, zone = TEXT[lang], get_settings().zone

    def when(moment: dt.datetime) -> str:
        local = moment.astimezone(zone)
        return texts["datetime_format"].format(d=local, month=MONTHS[local.month - 1])

    def day(value: dt.date) -> str:
        return texts["date_format"].format(d=value, month=MONTHS[value.month - 1])

    def stars_text(n: int) -> str:
        return texts["star_1"] if n == 1 else texts["star_n"].format(n=n)

    def hotline(text: str, **values: str) -> Markup:
        """The text escaped, with the hotline number as a `tel:` link (one tap to call on a phone)."""
        link = Markup('<a href="tel:{0}" class="tel">{0}</a>').format(HOTLINE)
        return escape(text).format(hotline=link, **values)

    def text_lang(text: object) -> Markup:
        return data_lang(text, lang)

    return {"when": when, "day": day, "stars_text": stars_text, "hotline": hotline, "data_lang": text_lang}


def _headers(nonce: str | None = None) -> dict[str, str]:
    """The link is a secret: never cached, no Referer to other sites; no framing, no scripts.

    Not `no-referrer`: with it, browsers send `Origin: null` on the page's own form posts.
    """
    style = f"'nonce-{nonce}'" if nonce else "'none'"
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "X-Robots-Tag": "noindex, nofollow",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {style}; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
    }


def _render(name: str, lang: str, *, status: int = 200, **context) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _templates.get_template(name).render(
        lang=lang, t=TEXT[lang], nonce=nonce, **_formatters(lang), **context
    )
    return HTMLResponse(html, status_code=status, headers=_headers(nonce))


def _switch_url(request: Request, lang: str) -> str:
    """The same page in the other language; after a refused POST, the link's page in it."""
    other = TEXT[lang]["switch_lang"]
    if request.method != "GET":
        return f"/r/{quote(request.path_params['token'], safe='')}?lang={other}"
    kept = [(k, v) for k, v in request.query_params.multi_items() if k in ("done", "ref")]
    return f"{quote(request.url.path)}?{urlencode([*kept, ('lang', other)])}"


def _problem_page(request: Request, lang: str, kind: str, status: int) -> HTMLResponse:
    return _render(
        "resident_problem.html", lang, status=status, kind=kind, switch_url=_switch_url(request, lang)
    )


def _link_problem(request: Request, error: DomainError, lang: str) -> HTMLResponse | None:
    """The page for a link that is unknown (404) or expired (410); None for other errors."""
    code = error.problems[0].code
    if code == ErrorCode.TOKEN_INVALID:
        return _problem_page(request, lang, "not_found", 404)
    if code == ErrorCode.TOKEN_EXPIRED:
        return _problem_page(request, lang, "expired", 410)
    return None


def _message(texts: dict[str, str], action: str, problem: Problem) -> str:
    field = problem.field[-1] if problem.field else None
    if problem.code == ErrorCode.RATING_FINAL:
        return texts["err_rating_final"]
    if problem.code == ErrorCode.DEADLINE_PASSED:
        return texts["err_dispute_deadline"]
    if problem.code == ErrorCode.INVALID_STATE:
        return texts["err_disputed_already" if action == "dispute" else "err_disputed_cannot_rate"]
    if problem.code == ErrorCode.INVALID:
        by_field = {
            "stars": "err_stars",
            "timeliness": "err_dimension",
            "attitude": "err_dimension",
            "professionalism": "err_dimension",
            "comment": "err_comment",
            "category": "err_category",
            "text": "err_text",
            "length": "err_text_long",
            "characters": "err_characters",
        }
        if field in by_field:
            return texts[by_field[field]]
    return texts["err_generic"]


def _urls(token: str, lang: str, done: str = "other", reference: str | None = None) -> dict[str, str]:
    base = f"/r/{quote(token, safe='')}"
    suffix = "?lang=en" if lang == "en" else ""
    other = TEXT[lang]["switch_lang"]
    thanks = f"{base}/thanks?done={done}" + (f"&ref={reference}" if reference else "")
    return {
        "page": base + suffix,
        "switch": f"{base}?lang={other}",
        "thanks": thanks + ("&lang=en" if lang == "en" else ""),
        "switch_thanks": f"{thanks}&lang={other}",
        **{action: f"{base}/{action}{suffix}" for action in ACTIONS},
    }


DUE_TEXT = {ComplaintStatus.OPEN: "answer_due", ComplaintStatus.RESPONDED: "settle_due"}


def _complaint_items(complaints: list, lang: str, now: dt.datetime) -> list[dict[str, Any]]:
    """The resident's complaints as the page shows them, in its language."""
    texts = TEXT[lang]
    items = []
    for complaint in complaints:
        status = complaint.status.value
        if complaint.status == ComplaintStatus.RESOLVED and complaint.substantiated is not None:
            status += "_upheld" if complaint.substantiated else "_not_upheld"
        deadline = current_deadline(complaint)
        names = CATEGORIES.get(complaint.category, (complaint.category, complaint.category))
        category = names[1] if lang == "en" else names[0]
        items.append(
            {
                "row": complaint,
                "status_key": complaint.status.value.lower(),
                "status": texts["status_" + status],
                "category": category,
                "channel": "channel_HOTLINE" if complaint.channel == "HOTLINE" else "channel_LINK",
                "due": DUE_TEXT.get(complaint.status),
                "deadline": deadline,
                "overdue": deadline is not None and now >= deadline,
            }
        )
    return items


async def _page(
    session: AsyncSession,
    token: str,
    lang: str,
    *,
    status: int = 200,
    action: str | None = None,
    errors: list[str] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    """The resident's page; after a refused POST, with the reasons and what was typed."""
    view = await deliveries.resident_view(session=session, token=token)
    now = await clock.now(session)
    deadline = deliveries.dispute_deadline(view.delivery)
    rating = view.rating
    shown = {}
    if rating is not None:  # the rating form starts from the rating given
        shown = {
            "stars": str(rating.stars),
            **{d: str(getattr(rating, d) or "") for d in DIMENSIONS},
            "comment": rating.comment or "",
        }
    shown |= values or {}
    return _render(
        "resident.html",
        lang,
        status=status,
        view=view,
        delivery=view.delivery,
        rating=rating,
        can_rate=view.delivery.disputed_at is None and (rating is None or view.rating_editable_until),
        can_dispute=view.delivery.disputed_at is None and now < deadline,
        dispute_last_day=clock.today(deadline - dt.timedelta(microseconds=1)),
        dimensions=DIMENSIONS,
        complaints=_complaint_items(view.complaints, lang, now),
        categories=[(key, names[0] if lang == "zh" else names[1]) for key, names in CATEGORIES.items()],
        star_words=TEXT[lang]["star_words"].split("|"),
        action=action,
        errors=errors or [],
        values=shown,
        csrf={action: csrf_token(token, action) for action in ACTIONS},
        urls=_urls(token, lang),
    )


# ---------------------------------------------------------------- actions


def _stars(value: str | None) -> int | None:
    """A radio value as a number; empty is None; anything else 0, which the service refuses."""
    value = (value or "").strip()
    if not value:
        return None
    return int(value) if value in ("1", "2", "3", "4", "5") else 0


def _long(value: str) -> None:
    """Free text of a form: within the length limit, and only characters every database stores."""
    if len(value) > MAX_TEXT:
        raise DomainError(ErrorCode.INVALID, f"at most {MAX_TEXT} characters", field=["input", "length"])
    if reason := bad_text(value):
        raise DomainError(ErrorCode.INVALID, reason, field=["input", "characters"])


# Each handler returns what the thanks page names: the reference of a complaint, else None.


async def _dispute(session: AsyncSession, token: str, form: Any, request: Request) -> None:
    reason = str(form.get("reason") or "")
    _long(reason)
    await deliveries.dispute_delivery(session=session, token=token, reason=reason)


async def _rate(session: AsyncSession, token: str, form: Any, request: Request) -> None:
    _long(str(form.get("comment") or ""))
    stars = ratings.Stars(
        stars=_stars(form.get("stars")),
        timeliness=_stars(form.get("timeliness")),
        attitude=_stars(form.get("attitude")),
        professionalism=_stars(form.get("professionalism")),
        comment=str(form.get("comment") or ""),
    )
    address = request.client.host if request.client else None
    await ratings.rate_delivery(session=session, token=token, rating=stars, client_address=address)


async def _complain(session: AsyncSession, token: str, form: Any, request: Request) -> str:
    text = str(form.get("text") or "")
    _long(text)
    category = str(form.get("category") or "")
    complaint = await file_complaint(session=session, token=token, category=category, text=text)
    return complaint.reference


HANDLERS = {"dispute": _dispute, "rate": _rate, "complaint": _complain}


class AccessLogRedaction(logging.Filter):
    """uvicorn's access log writes each request's path: a link's token is masked there, and the query
    string dropped (a GraphQL GET carries a resident's token in it). Added to `uvicorn.access`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_links(arg.split("?", 1)[0]) + ("?…" if "?" in arg else "")
                if isinstance(arg, str) and arg.startswith("/")
                else arg
                for arg in record.args
            )
        return True


ACCESS_LOG_REDACTION = AccessLogRedaction()


def redact_access_log() -> None:
    """Install the filter once (logging ignores a filter added twice)."""
    logging.getLogger("uvicorn.access").addFilter(ACCESS_LOG_REDACTION)


def routes(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Route]:
    """`/r/{token}`: the page; POST `/r/{token}/{dispute|rate|complaint}`; `/r/{token}/thanks`."""

    async def show(request: Request) -> Response:
        token, lang = request.path_params["token"], _language(request)
        with sqlite_writes(False):
            async with sessionmaker() as session:
                try:
                    return await _page(session, token, lang)
                except DomainError as error:
                    problem = _link_problem(request, error, lang)
                    if problem is None:
                        raise
                    return problem

    async def thanks(request: Request) -> Response:
        token, lang = request.path_params["token"], _language(request)
        with sqlite_writes(False):
            async with sessionmaker() as session:
                try:
                    view = await deliveries.resident_view(session=session, token=token)
                except DomainError as error:
                    problem = _link_problem(request, error, lang)
                    if problem is None:
                        raise
                    return problem
        done = request.query_params.get("done")
        done = done if done in DONE.values() else "other"
        # Only a complaint about this delivery is named; any other `ref` is ignored.
        wanted = request.query_params.get("ref")
        complaint = next((c for c in view.complaints if c.reference == wanted), None)
        reference = complaint.reference if complaint is not None and done == "complained" else None
        return _render(
            "resident_thanks.html", lang, view=view, done=done, reference=reference,
            urls=_urls(token, lang, done, reference),
        )  # fmt: skip

    def make_post(action: str):
        async def post(request: Request) -> Response:
            token = request.path_params["token"]
            if not _same_origin(request):
                return _problem_page(request, _language(request), "forbidden", 403)
            try:
                form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
            except HTTPException:
                return _problem_page(request, _language(request), "bad_request", 400)
            lang = _language(request, form)
            sent = str(form.get("csrf") or "")
            if not hmac.compare_digest(sent.encode(), csrf_token(token, action).encode()):
                return _problem_page(request, lang, "forbidden", 403)
            with sqlite_writes(True):
                async with sessionmaker() as session:
                    try:
                        async with unit_of_work(session):
                            reference = await HANDLERS[action](session, token, form, request)
                    except DomainError as error:
                        problem = _link_problem(request, error, lang)
                        if problem is not None:
                            return problem
                        texts = TEXT[lang]
                        messages = list(dict.fromkeys(_message(texts, action, p) for p in error.problems))
                        values = {k: str(v) for k, v in form.items() if k not in ("csrf", "lang")}
                        status = 422 if error.problems[0].code == ErrorCode.INVALID else 409
                        return await _page(
                            session, token, lang, status=status, action=action, errors=messages, values=values
                        )
            location = _urls(token, lang, DONE[action], reference)["thanks"]
            return RedirectResponse(location, status_code=303, headers=_headers())

        post.__name__ = f"resident_{action}"
        return post

    return [
        Route("/r/{token}", show, methods=["GET"], name="resident_page"),
        Route("/r/{token}/thanks", thanks, methods=["GET"], name="resident_thanks"),
        *(
            Route(f"/r/{{token}}/{action}", make_post(action), methods=["POST"], name=f"resident_{action}")
            for action in ACTIONS
        ),
    ]
