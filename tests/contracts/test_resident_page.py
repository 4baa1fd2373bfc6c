"""The resident's page behind the SMS link (SPEC §5.4): rendered, posted, refused, escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from contracts import complaints, deliveries
from contracts import models as cm
from core.api import encode_id
from core.settings import get_settings
from tests import factories
from tests.contracts import world as cw

HOUR = 3600
DAY = 24 * HOUR


class Forms(HTMLParser):
    """The page's forms by action path: their hidden fields, and the radio buttons with a <label for>."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: dict[str, dict] = {}
        self.actions: dict[str, str] = {}
        self.labelled: set[str] = set()
        self.radios: list[str] = []
        self.current = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            path = urlsplit(attrs["action"]).path
            self.actions[path.rsplit("/", 1)[-1]] = attrs["action"]
            self.current = self.forms.setdefault(path.rsplit("/", 1)[-1], {})
        elif tag == "input" and attrs.get("type") == "hidden" and self.current is not None:
            self.current[attrs["name"]] = attrs["value"]
        elif tag == "input" and attrs.get("type") == "radio":
            self.radios.append(attrs["id"])
        elif tag == "label" and "for" in attrs:
            self.labelled.add(attrs["for"])

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None


class Hotline(HTMLParser):
    """Where the hotline number appears: in the text of a `tel:` link, or elsewhere in the text."""

    def __init__(self, html: str):
        super().__init__()
        self.links: list[str] = []  # text of <a href="tel:12345">
        self.bare = 0  # times 12345 appears in text outside such a link
        self.inside = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "a" and dict(attrs).get("href") == "tel:12345":
            self.inside = True

    def handle_endtag(self, tag):
        if tag == "a":
            self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.links.append(data)
        else:
            self.bare += data.count("12345")


def calls_the_hotline(html: str) -> bool:
    """The number appears, and everywhere only as a link that calls it."""
    found = Hotline(html)
    return found.bare == 0 and found.links != [] and set(found.links) == {"12345"}


def switch_link(html: str) -> str:
    """The href of the language switch in the page's header."""
    return re.search(r'<header class="bar">.*?<a href="([^"]+)"', html, re.S).group(1).replace("&amp;", "&")


@pytest.fixture
async def resident(session):
    """A delivery recorded today, 10 days into an ACTIVE contract; (world, delivery, link token)."""
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    return world, delivery, token


async def page(api, token: str, lang: str | None = None):
    response = await api.client.get(f"/r/{token}" + (f"?lang={lang}" if lang else ""))
    return response, Forms(response.text)


async def post(api, token: str, action: str, data: dict, *, lang: str | None = None, headers=None):
    """Submit one of the page's forms as a browser would: its hidden fields (CSRF, language) and `data`."""
    _, forms = await page(api, token, lang)
    fields = {**forms.forms[action], **data}
    return await api.client.post(forms.actions[action], data=fields, headers=headers or {})


async def stored(session, delivery_id: int):
    """What the database holds now (the requests committed through their own sessions)."""
    delivery = await session.get(cm.Delivery, delivery_id, populate_existing=True)
    rating = await session.get(cm.Rating, delivery_id, populate_existing=True)
    complaints = (
        await session.scalars(select(cm.Complaint).where(cm.Complaint.delivery_id == delivery_id))
    ).all()
    return delivery, rating, list(complaints)


async def test_the_page_is_chinese_by_default_and_english_on_request(session, api, resident):
    _world, _delivery, token = resident
    view = await deliveries.resident_view(session=session, token=token)

    response, forms = await page(api, token)
    assert response.status_code == 200
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<h1>服务确认与评价</h1>" in html
    assert view.service_name in html and view.provider_name in html
    assert "2030年1月11日" in html  # the delivery date, 10 days into the term
    assert "为这次服务打分" in html and "没有收到这次服务？" in html and "投诉" in html
    assert "服务态度" in html and "未按时上门" in html  # the complaint categories
    assert "<script" not in html  # it works without JavaScript
    assert set(forms.forms) == {"rate", "dispute", "complaint"}
    assert all(f["lang"] == "zh" and len(f["csrf"]) == 64 for f in forms.forms.values())
    assert {f"stars-{n}" for n in range(1, 6)} <= set(forms.radios)
    assert set(forms.radios) <= forms.labelled  # every radio button has its <label for>
    assert 'href="/r/' + token + '?lang=en"' in html  # the switch to English

    response, forms = await page(api, token, "en")
    html = response.text
    assert '<html lang="en">' in html
    assert "Rate this service" in html and "Did this service not happen?" in html
    assert "11 January 2030" in html
    assert all(f["lang"] == "en" for f in forms.forms.values())
    assert all(action.endswith("?lang=en") for action in forms.actions.values())

    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_a_rating_is_stored_and_shown(session, api, resident):
    world, delivery, token = resident
    response = await post(
        api, token, "rate",
        {"stars": "4", "timeliness": "5", "attitude": "", "professionalism": "3", "comment": "准时，很耐心"},
    )  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == f"/r/{token}/thanks?done=rated"

    thanks = await api.client.get(response.headers["location"])
    assert thanks.status_code == 200
    assert "已收到您的评价" in thanks.text and "您可以在" in thanks.text

    _, rating, _ = await stored(session, delivery.id)
    assert (rating.stars, rating.timeliness, rating.attitude, rating.professionalism) == (4, 5, None, 3)
    assert rating.comment == "准时，很耐心"
    assert rating.client_address not in (None, "127.0.0.1")  # the client's address, kept as a keyed hash

    provider = await api.login(world.users["provider"].email, factories.PASSWORD)
    data = await api(
        "query($id: ID!) { node(id: $id) { ... on Delivery { rating { stars timeliness comment } } } }",
        {"id": encode_id("Delivery", delivery.id)},
        token=provider,
    )
    assert data["node"]["rating"] == {"stars": 4, "timeliness": 5, "comment": "准时，很耐心"}

    response, _ = await page(api, token)
    assert "您的评价：" in response.text and "可以在" in response.text
    assert 'value="4" required checked' in response.text  # the form starts from the rating given
    assert "修改评价" in response.text

    response = await post(api, token, "rate", {"stars": "5", "comment": ""})
    assert response.status_code == 303
    _, rating, _ = await stored(session, delivery.id)
    assert (rating.stars, rating.comment) == (5, None)


async def test_a_dispute_and_a_complaint(session, api, resident):
    _world, delivery, token = resident
    response = await post(api, token, "dispute", {"reason": "那天没有人来"}, lang="en")
    assert response.status_code == 303
    assert response.headers["location"] == f"/r/{token}/thanks?done=disputed&lang=en"
    thanks = await api.client.get(response.headers["location"])
    assert "Recorded: this service did not happen" in thanks.text

    delivery, _, _ = await stored(session, delivery.id)
    assert delivery.disputed_at is not None and delivery.dispute_reason == "那天没有人来"

    response, forms = await page(api, token)
    assert "报告这次服务没有发生" in response.text
    assert set(forms.forms) == {"complaint"}  # neither rated nor disputed again

    response = await post(api, token, "complaint", {"category": "ATTITUDE", "text": "电话打不通"})
    assert response.status_code == 303
    _, _, complaints = await stored(session, delivery.id)
    assert [(c.category, c.text, c.channel) for c in complaints] == [("ATTITUDE", "电话打不通", "LINK")]
    reference = complaints[0].reference
    assert response.headers["location"] == f"/r/{token}/thanks?done=complained&ref={reference}"
    assert "您的投诉已提交" in (await api.client.get(response.headers["location"])).text


async def test_user_errors_show_the_form_again_with_the_reason(session, api, resident):
    _world, delivery, token = resident
    response = await post(api, token, "rate", {"comment": "忘了选星"})
    assert response.status_code == 422
    assert "请选择1到5星的总体评价。" in response.text
    assert "忘了选星</textarea>" in response.text  # what was typed is kept

    response = await post(api, token, "rate", {"stars": "9"}, lang="en")
    assert response.status_code == 422
    assert "Choose an overall rating from 1 to 5 stars." in response.text
    assert '<html lang="en">' in response.text  # the language is kept through the form

    response = await post(api, token, "complaint", {"category": "bogus", "text": "太吵"})
    assert response.status_code == 422 and "请选择投诉类别。" in response.text
    response = await post(api, token, "complaint", {"category": "LATE", "text": "  "})
    assert response.status_code == 422 and "请写下投诉内容。" in response.text
    response = await post(api, token, "complaint", {"category": "LATE", "text": "长" * 2001})
    assert response.status_code == 422 and "内容最多2000字。" in response.text
    # A NUL in a form (PostgreSQL stores none; SQLite would): a clear error on both databases
    response = await post(api, token, "complaint", {"category": "LATE", "text": "a\x00b"})
    assert response.status_code == 422 and "内容里有无法保存的字符" in response.text
    response = await post(api, token, "rate", {"stars": "4", "comment": "好\x00"}, lang="en")
    assert response.status_code == 422 and "a character that cannot be stored" in response.text

    _, rating, complaints = await stored(session, delivery.id)
    assert rating is None and complaints == []


async def test_a_dispute_after_seven_days_is_refused(session, api, resident):
    world, delivery, token = resident
    _, forms = await page(api, token)
    stale = forms.forms["dispute"]
    await world.advance(8 * DAY)

    response, forms = await page(api, token)
    assert "dispute" not in forms.forms
    assert "期限（服务后7天）已过" in response.text

    response = await api.client.post(forms.actions["rate"].replace("/rate", "/dispute"), data=stale)
    assert response.status_code == 409
    assert "期限已过" in response.text
    delivery, _, _ = await stored(session, delivery.id)
    assert delivery.disputed_at is None


async def test_an_expired_link_is_410_and_an_unknown_one_404(session, api, resident):
    world, delivery, token = resident
    _, forms = await page(api, token)
    await world.advance(30 * DAY + 1)

    response = await api.client.get(f"/r/{token}")
    assert response.status_code == 410
    assert "链接已过期" in response.text and "<form" not in response.text
    assert (await api.client.get(f"/r/{token}?lang=en")).text.count("Link expired") >= 1
    response = await api.client.post(forms.actions["rate"], data={**forms.forms["rate"], "stars": "5"})
    assert response.status_code == 410
    assert (await api.client.get(f"/r/{token}/thanks?done=rated")).status_code == 410

    response = await api.client.get("/r/not-a-real-token")
    assert response.status_code == 404 and "链接无效" in response.text
    assert (await api.client.get("/r/not-a-real-token/thanks")).status_code == 404
    _, rating, _ = await stored(session, delivery.id)
    assert rating is None


async def test_cross_site_posts_are_refused(session, api, resident):
    world, delivery, token = resident
    _, forms = await page(api, token)
    rate = forms.actions["rate"]
    fields = {**forms.forms["rate"], "stars": "1", "comment": "forged"}

    without = {k: v for k, v in fields.items() if k != "csrf"}
    assert (await api.client.post(rate, data=without)).status_code == 403
    assert (await api.client.post(rate, data={**fields, "csrf": "0" * 64})).status_code == 403
    other_purpose = {**fields, "csrf": forms.forms["dispute"]["csrf"]}
    assert (await api.client.post(rate, data=other_purpose)).status_code == 403
    response = await api.client.post(rate, data=fields, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "无法提交" in response.text
    response = await api.client.post(
        forms.actions["complaint"],
        data={**forms.forms["complaint"], "category": "OTHER", "text": "forged"},
        headers={"Origin": "null"},
    )
    assert response.status_code == 403
    # Another link's form token does not fit this link.
    _, other_token = await world.deliver(phone="13912345678")
    _, other_forms = await page(api, other_token)
    stolen = {**fields, "csrf": other_forms.forms["rate"]["csrf"]}
    assert (await api.client.post(rate, data=stolen)).status_code == 403

    _, rating, complaints = await stored(session, delivery.id)
    assert rating is None and complaints == []

    response = await api.client.post(rate, data=fields, headers={"Origin": "http://test"})
    assert response.status_code == 303  # the page's own origin is fine


async def test_a_rating_is_final_after_48_hours(session, api, resident):
    world, delivery, token = resident
    assert (await post(api, token, "rate", {"stars": "2", "comment": "一般"})).status_code == 303
    _, forms = await page(api, token)
    await world.advance(deliveries.RATING_EDIT_WINDOW.total_seconds() + 1)

    response, current = await page(api, token)
    assert "评价已满48小时，不能再修改。" in response.text
    assert "rate" not in current.forms

    response = await api.client.post(forms.actions["rate"], data={**forms.forms["rate"], "stars": "5"})
    assert response.status_code == 409
    assert "评价已满48小时，不能再修改。" in response.text
    _, rating, _ = await stored(session, delivery.id)
    assert rating.stars == 2


async def test_a_comment_is_shown_escaped(session, api, resident):
    _world, _delivery, token = resident
    comment = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    assert (await post(api, token, "rate", {"stars": "3", "comment": comment})).status_code == 303

    response, _ = await page(api, token)
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in response.text
    )
    assert "<script" not in response.text and "<img" not in response.text


# ---------------------------------------------------------------- the resident's complaints


async def test_the_page_shows_a_complaint_with_its_reference_status_and_answer(session, api, resident):
    world, delivery, token = resident
    response, _ = await page(api, token)
    assert 'id="complaints"' not in response.text  # nothing to show before a complaint

    response = await post(api, token, "complaint", {"category": "LATE", "text": "约好9点，\n10点半才到"})
    assert response.status_code == 303
    _, _, (complaint,) = await stored(session, delivery.id)
    reference = complaint.reference
    thanks = (await api.client.get(response.headers["location"])).text
    assert f'<strong class="reference" id="reference">{reference}</strong>' in thanks
    assert "报上投诉编号" in thanks and calls_the_hotline(thanks)
    assert switch_link(thanks) == f"/r/{token}/thanks?done=complained&ref={reference}&lang=en"
    english = (await api.client.get(switch_link(thanks))).text
    assert f'Reference number: <strong class="reference" id="reference">{reference}</strong>' in english
    # Another delivery's reference (or a made-up one) is not named on this link's thanks page.
    _, other_token = await world.deliver(phone="13912345678")
    other = await complaints.file_complaint(session=session, token=other_token, category="OTHER", text="吵")
    await session.commit()
    foreign = (await api.client.get(f"/r/{token}/thanks?done=complained&ref={other.reference}")).text
    assert other.reference not in foreign and 'id="reference"' not in foreign

    # Filed: waiting for the provider's answer, due 24 hours after filing.
    html = (await page(api, token))[0].text
    assert f'<span class="reference">{reference}</span>' in html
    assert '<h2 id="complaints-heading">我的投诉</h2>' in html
    assert "等待答复" in html and "未按时上门" in html and "约好9点，\n10点半才到" in html
    due = complaint.created_at + complaints.FIRST_RESPONSE
    assert f"答复期限：{_zh_time(due)}" in html
    assert "还没有答复。" in html and "短信链接" in html
    assert calls_the_hotline(html)

    # The provider answers: the answer and its time are shown, the deadline is the resolution's.
    await world.advance(2 * HOUR)
    await complaints.respond_complaint(
        session=session, actor=world.provider, complaint_id=complaint.id, text="已向您致歉，并调整了排班。"
    )
    await session.commit()
    html = (await page(api, token))[0].text
    assert "已答复，正在办理" in html and "已向您致歉，并调整了排班。" in html
    assert f"办结期限：{_zh_time(complaint.created_at + complaints.RESOLUTION)}" in html
    assert "还没有答复。" not in html

    # The officer settles it, upheld.
    await world.advance(DAY)
    await complaints.close_complaint(
        session=session, actor=world.officer, complaint_id=complaint.id,
        note="核实属实，已扣减当月服务费。", substantiated=True,
    )  # fmt: skip
    await session.commit()
    html = (await page(api, token))[0].text
    assert "已办结：投诉属实" in html and "处理结果" in html and "核实属实，已扣减当月服务费。" in html
    assert "答复期限" not in html and "办结期限" not in html

    html = (await page(api, token, "en"))[0].text
    assert '<h2 id="complaints-heading">Your complaints</h2>' in html
    assert f'Reference number <span class="reference">{reference}</span>' in html
    assert "Settled: the complaint was upheld" in html and "Late or missed visit" in html
    assert "Answer" in html and "Decision" in html and "the link in the text message" in html
    assert calls_the_hotline(html) and "<script" not in html


async def test_every_complaint_about_the_delivery_is_shown_newest_first_in_either_language(
    session, api, resident
):
    world, delivery, token = resident
    first = await complaints.file_complaint(session=session, token=token, category="ATTITUDE", text="态度差")
    await session.commit()
    await world.advance(HOUR)
    by_phone = await complaints.file_complaint_for_resident(
        session=session,
        actor=world.officer,
        delivery_id=delivery.id,
        category="OTHER",
        text="没打扫厨房",
    )
    await session.commit()
    await complaints.close_complaint(
        session=session, actor=world.officer, complaint_id=by_phone.id, note="与本次服务无关", substantiated=None,
        reject=True,
    )  # fmt: skip
    await session.commit()
    await world.advance(25 * HOUR)  # the first one has had no answer for 25 hours

    html = (await page(api, token))[0].text
    assert html.index(by_phone.reference) < html.index(first.reference)  # newest first
    assert "不予受理" in html and "与本次服务无关" in html and "其他" in html
    assert "已超过期限，正在督办" in html  # the first one is overdue
    assert calls_the_hotline(html) and Hotline(html).links.count("12345") >= 2  # the hotline's channel too

    html = (await page(api, token, "en"))[0].text
    assert "Not accepted" in html and "Waiting for an answer" in html and "Overdue" in html
    assert "Staff attitude" in html and "Other" in html  # the categories in English
    assert 'the <a href="tel:12345" class="tel">12345</a> hotline' in html


def _zh_time(moment) -> str:
    local = moment.astimezone(get_settings().zone)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


# ---------------------------------------------------------------- error pages


async def test_error_pages_switch_language_and_the_hotline_is_a_phone_link(session, api, resident):
    world, _delivery, token = resident
    response = await api.client.get("/r/not-a-real-token")
    assert response.status_code == 404 and '<html lang="zh-CN">' in response.text
    assert calls_the_hotline(response.text)
    assert switch_link(response.text) == "/r/not-a-real-token?lang=en"
    response = await api.client.get(switch_link(response.text))
    assert response.status_code == 404 and '<html lang="en">' in response.text
    assert "Link not valid" in response.text and calls_the_hotline(response.text)
    assert switch_link(response.text) == "/r/not-a-real-token?lang=zh"
    response = await api.client.get("/r/not-a-real-token/thanks?done=rated&lang=en")
    assert switch_link(response.text) == "/r/not-a-real-token/thanks?done=rated&lang=zh"

    # A refused POST: the switch leads to the link's page in the other language.
    _, forms = await page(api, token)
    response = await api.client.post(
        forms.actions["rate"],
        data={**forms.forms["rate"], "stars": "5"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403 and switch_link(response.text) == f"/r/{token}?lang=en"

    await world.advance(30 * DAY + 1)
    for lang, title in (("zh", "链接已过期"), ("en", "Link expired")):
        response = await api.client.get(f"/r/{token}?lang={lang}")
        assert response.status_code == 410 and f"<h1>{title}</h1>" in response.text
        assert calls_the_hotline(response.text) and "<script" not in response.text
        other = "en" if lang == "zh" else "zh"
        assert switch_link(response.text) == f"/r/{token}?lang={other}"
