"""The public portal over the demo: each page's content in Chinese and English, its links (to the other
pages, the certificate page and the OCDS downloads), the search and its pages, and the 404 and 400
pages of the same look."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import quote

import pytest
from sqlalchemy import select

from contracts.models import ContractStatus
from market.models import Tender, TenderAmendment, TenderStatus
from scoring.models import Certificate
from tests.disclosure import helpers


def text(response) -> str:
    return html.unescape(response.text)


async def test_the_root_leads_to_the_portal(portal):
    response = await portal.get("/")
    assert response.status_code in (302, 307) and response.headers["location"] == "/portal"


async def test_the_home_page_lists_open_tenders_awards_and_certified_providers(portal):
    published = await helpers.tender(portal.session, TenderStatus.PUBLISHED)
    awarded = await helpers.tender(portal.session, TenderStatus.AWARDED)
    contract = await helpers.contract_of(portal.session, awarded.id)
    yikang = await helpers.provider(portal.session, "颐康")
    certificate = await portal.session.scalar(
        select(Certificate).where(Certificate.provider_id == yikang.id).order_by(Certificate.id.desc())
    )
    response = await portal.get("/portal")
    assert response.status_code == 200
    body = text(response)
    assert '<html lang="zh-CN">' in body and "<h1>政府购买服务信息公开</h1>" in body
    # Open tenders: only the PUBLISHED one, linked, with its deadline.
    assert "共 1 个项目" in body
    assert f'href="/portal/tenders/{published.id}">{published.title}</a>' in body
    for other in (TenderStatus.DRAFT, TenderStatus.EVALUATING, TenderStatus.CANCELLED):
        assert (await helpers.tender(portal.session, other)).title not in body.split('id="awards"')[0]
    # Recent awards: the newest first, with its provider and contract.
    awards = body.split('id="award-list"')[1].split("</ul>")[0]
    assert awarded.title in awards.split("</h3>")[0]
    assert f'href="/portal/providers/{yikang.id}">上海颐康居家养老服务有限公司</a>' in awards
    assert f'href="/portal/contracts/{contract.id}"' in awards and "96.50" in awards
    # Certified providers, most stars first, with their certificates.
    certified = body.split('id="certified-list"')[1].split("</ul>")[0]
    assert certified.index("颐康") < certified.index("乐龄") < certified.index("瀛洲")
    assert "★★★★☆</span> 4 星" in certified and "★★★☆☆</span> 3 星" in certified and "未评级" in certified
    assert f'href="/certificates/{certificate.code}"' in certified
    assert "<script" not in body
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_the_home_page_in_english(portal):
    body = text(await portal.get("/portal?lang=en"))
    assert (
        '<html lang="en">' in body and "<h1>Government purchase of public services: disclosure</h1>" in body
    )
    assert "1 tenders" in body and "Latest awards" in body and "Certified providers" in body
    assert "4 stars" in body and "Unrated" in body
    assert '<input type="hidden" name="lang" value="en">' in body  # the search stays in English
    assert 'href="/portal/tenders/' in body and "?lang=en" in body


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("q=农村高龄", True),
        ("q=体检", False),
        ("q=%25", False),  # a literal %, not a wildcard
        ("soon=1", False),  # the demo's open tender closes in 20 days
        ("category=ELDERLY_CARE", True),
        ("category=EDUCATION", False),
    ],
)
async def test_the_search_filters_open_tenders(portal, query, found):
    published = await helpers.tender(portal.session, TenderStatus.PUBLISHED)
    body = text(await portal.get(f"/portal?{query}"))
    assert (published.title in body.split('id="awards"')[0]) is found
    assert ("共 1 个项目" in body) is found and ("没有符合条件的正在招标的项目。" in body) is not found


async def test_region_department_and_closing_soon_filters(portal):
    published = await helpers.tender(portal.session, TenderStatus.PUBLISHED)
    own, other = published.region_id, published.region_id + 1 if published.region_id == 1 else 1
    open_part = lambda body: body.split('id="awards"')[0]  # noqa: E731
    assert published.title in open_part(text(await portal.get(f"/portal?region={own}")))
    assert published.title not in open_part(text(await portal.get(f"/portal?region={other}")))
    department = published.department_id
    assert published.title in open_part(text(await portal.get(f"/portal?department={department}")))
    assert published.title not in open_part(text(await portal.get(f"/portal?department={department + 100}")))
    # Closing soon: the deadline moved within 7 days.
    published.bid_deadline = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    await portal.session.commit()
    body = text(await portal.get(f"/portal?soon=1&region={own}"))
    assert published.title in open_part(body)
    assert 'name="soon" type="checkbox" value="1" checked' in body
    assert f'<option value="{own}" selected>' in body


async def test_open_tenders_come_a_page_at_a_time(portal):
    published = await helpers.tender(portal.session, TenderStatus.PUBLISHED)
    columns = {k: v for k, v in published.model_dump().items() if k != "id"}
    for n in range(12):
        portal.session.add(Tender(**{**columns, "title": f"加页测试项目{n:02d}",
                                     "bid_deadline": published.bid_deadline + dt.timedelta(hours=n + 1)}))  # fmt: skip
    await portal.session.commit()
    first = text(await portal.get("/portal?q=测试项目"))
    assert "共 12 个项目" in first and "第 1 页，共 2 页" in first
    assert first.count("加页测试项目") == 10 and "加页测试项目00" in first and "加页测试项目10" not in first
    assert f'rel="next" href="/portal?q={quote("测试项目")}&page=2"' in first
    second = text(await portal.get("/portal?q=测试项目&page=2"))
    assert "第 2 页，共 2 页" in second and "加页测试项目10" in second and "加页测试项目11" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    beyond = text(await portal.get("/portal?q=测试项目&page=9"))
    assert "共 12 个项目" in beyond and "第 9 页，共 2 页" in beyond and 'rel="prev"' in beyond


@pytest.mark.parametrize(
    "query",
    ["region=abc", "region=-1", "region=0", "department=1.5", "page=0", "page=x", "soon=yes",
     "region=99999999999", "region=²", "page=%D9%A3", "q=" + "长" * 101],
)  # fmt: skip
async def test_a_search_no_form_sends_gets_a_400_page(portal, query):
    response = await portal.get(f"/portal?{query}")
    assert response.status_code == 400
    assert "<h1>查询条件有误</h1>" in response.text and 'href="/portal"' in response.text
    assert response.headers["content-type"].startswith("text/html")


async def test_the_awarded_tenders_notice_opening_and_award(portal):
    tender = await helpers.tender(portal.session, TenderStatus.AWARDED)
    contract = await helpers.contract_of(portal.session, tender.id)
    yikang, leling = (
        await helpers.provider(portal.session, "颐康"),
        await helpers.provider(portal.session, "乐龄"),
    )
    response = await portal.get(f"/portal/tenders/{tender.id}")
    assert response.status_code == 200
    body = text(response)
    assert f"<h1>{tender.title}</h1>" in body and "已成交" in body
    assert "黄浦区民政局" in body and "36000" in body and "100.00" in body and "养老机构设立许可" in body
    assert "价格 30%，服务质量 60%，履约记录 10%" in body and "按时上门率" in body
    # The answered question, without who asked.
    assert "服务对象是否包括长期护理保险评估等级" in body and "不得分次累计" in body
    # The opening record: both bidders with their prices and receipts.
    opening = body.split('id="opening-record"')[1].split("</table>")[0]
    for entry in tender.opening_record:
        assert (
            entry["provider"] in opening
            and entry["unit_price"] in opening
            and entry["receipt_sha256"] in opening
        )
    assert f'href="/portal/providers/{leling.id}">上海市崇明区乐龄社会工作服务中心</a>' in opening
    # The award notice: the winner, the contract, every score of every bid, each evaluator's score.
    assert f'id="winner"><a href="/portal/providers/{yikang.id}">上海颐康居家养老服务有限公司</a>' in body
    assert f'href="/portal/contracts/{contract.id}"' in body
    scores = body.split('id="scores"')[1].split("</table>")[0]
    assert scores.index("颐康") < scores.index("乐龄") and f'/portal/providers/{leling.id}"' in scores
    for number in (
        "97.41",
        "87.00",
        "88.00, 86.00",
        "89.42",
        "100.00",
        "81.00",
        "82.00, 80.00",
        "86.60",
        "80.00",
    ):
        assert number in scores, number
    # The challenge's outcome, not its reasons.
    assert "质疑不成立，驳回" in body and "收到质疑" in body
    # Open data.
    assert f'href="/ocds/tenders/{tender.id}/releases.json"' in body
    assert f'href="/ocds/tenders/{tender.id}/record.json"' in body


async def test_the_award_notice_in_english(portal):
    tender = await helpers.tender(portal.session, TenderStatus.AWARDED)
    body = text(await portal.get(f"/portal/tenders/{tender.id}?lang=en"))
    assert '<html lang="en">' in body and "Award notice" in body and "Opening record" in body
    assert "Each evaluator's score" in body and "dismissed" in body and "price 30%, quality 60%" in body
    assert f'href="/portal/tenders/{tender.id}?lang=zh"' in body  # the switch back
    assert "?lang=en" in body.split('id="winner"')[1].split("</dd>")[0]


@pytest.mark.parametrize(
    ("status", "present", "absent"),
    [
        (
            TenderStatus.PUBLISHED,
            ["招标中", "投标文件密封保存", "交通时间不计入服务时长"],
            ["开标记录", "中标公告"],
        ),
        (TenderStatus.EVALUATING, ["评审中", "开标记录", "正在评审"], ["中标公告", "各评审专家评分"]),
        (
            TenderStatus.AWARD_PENDING,
            ["中标候选人公示（质疑期）", "开标记录", "质疑期至"],
            ["中标公告", "综合得分"],
        ),
        (TenderStatus.UNSUCCESSFUL, ["流标", "开标记录", "终止或流标原因"], ["中标公告", "各评审专家评分"]),
        (TenderStatus.CANCELLED, ["已终止", "终止或流标原因"], ["开标记录", "中标公告"]),
    ],
)
async def test_each_state_shows_what_it_discloses(portal, status, present, absent):
    tender = await helpers.tender(portal.session, status)
    body = text(await portal.get(f"/portal/tenders/{tender.id}"))
    for words in present:
        assert words in body, words
    for words in absent:
        assert words not in body, words
    if tender.closed_reason:
        assert tender.closed_reason in body


async def test_a_correction_notice_shows_what_changed_and_when(portal):
    tender = await helpers.tender(portal.session, TenderStatus.PUBLISHED)
    portal.session.add(
        TenderAmendment(
            tender_id=tender.id,
            version=2,
            reason="调整最高限价和投标截止时间。",
            changes=[
                {"field": "maxUnitPrice", "before": "115.00", "after": "110.00"},
                {
                    "field": "bidDeadline",
                    "before": "2026-12-17T09:00:00+00:00",
                    "after": "2026-12-20T09:00:00+00:00",
                },
            ],
            created_at=dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC),
        )
    )
    await portal.session.commit()
    body = text(await portal.get(f"/portal/tenders/{tender.id}"))
    assert "第 2 版更正（2026年11月25日 10:00）" in body and "调整最高限价和投标截止时间。" in body
    assert "最高限价（元）</td>" in body and "115.00" in body and "110.00" in body
    assert "2026年12月17日 17:00" in body and "2026年12月20日 17:00" in body
    english = text(await portal.get(f"/portal/tenders/{tender.id}?lang=en"))
    assert "Version 2 (25 November 2026, 10:00)" in english and "Ceiling price (CNY)</td>" in english


async def test_the_contract_page_shows_the_summary_and_scorecards(portal):
    tender = await helpers.tender(portal.session, TenderStatus.AWARDED, newest=False)
    contract = await helpers.contract_of(portal.session, tender.id)
    response = await portal.get(f"/portal/contracts/{contract.id}")
    assert response.status_code == 200
    body = text(response)
    assert contract.status == ContractStatus.COMPLETED and "已完成" in body
    assert f'id="tender-link" href="/portal/tenders/{tender.id}"' in body
    assert f'id="provider-link" href="/portal/providers/{contract.provider_id}"' in body
    assert str(contract.total_value) in body and "上海明鉴公共服务评估有限公司" in body
    assert "居民满意度 40%，考核指标 40%，第三方评估 20%" in body
    periods = body.split('id="periods"')[1].split("</table>")[0]
    assert periods.count("<tr>") == 5 and "第 4 期" in periods and "尚未评分" not in periods
    assert " 档（按结算基数的 " in periods
    assert f'href="/ocds/tenders/{tender.id}/releases.json"' in body


async def test_the_demo_contract_in_delivery_has_periods_not_scored_yet(portal):
    tender = await helpers.tender(portal.session, TenderStatus.AWARDED)
    contract = await helpers.contract_of(portal.session, tender.id)
    body = text(await portal.get(f"/portal/contracts/{contract.id}?lang=en"))
    assert "In delivery" in body and "Period scores" in body
    assert body.count("Not scored yet") == 4  # the first period waits for step 35 of the walkthrough


async def test_the_provider_page_shows_stars_certificate_and_history(portal):
    yikang = await helpers.provider(portal.session, "颐康")
    certificate = await portal.session.scalar(
        select(Certificate).where(Certificate.provider_id == yikang.id).order_by(Certificate.id.desc())
    )
    awarded = await helpers.tender(portal.session, TenderStatus.AWARDED)
    contract = await helpers.contract_of(portal.session, awarded.id)
    response = await portal.get(f"/portal/providers/{yikang.id}")
    assert response.status_code == 200
    body = text(response)
    assert "<h1>上海颐康居家养老服务有限公司</h1>" in body and yikang.credit_code in body
    assert "★★★★☆</span> 4 星" in body
    assert f'id="certificate-link" href="/certificates/{certificate.code}"' in body
    history = body.split('id="awards"')[1].split("</table>")[0]
    assert history.count("<tr>") == 3  # this year's and last year's awards
    assert f'href="/portal/tenders/{awarded.id}">{awarded.title}</a>' in history
    assert f'href="/portal/contracts/{contract.id}">履约中</a>' in history and "已完成" in history
    english = text(await portal.get(f"/portal/providers/{yikang.id}?lang=en"))
    assert (
        "4 stars" in english
        and f"/certificates/{certificate.code}?lang=en" in english
        and "Company" in english
    )


async def test_a_provider_without_awards_or_stars(portal):
    qiming = await helpers.provider(portal.session, "启明")
    body = text(await portal.get(f"/portal/providers/{qiming.id}"))
    assert "未评级" in body and "暂无中标项目。" in body


@pytest.mark.parametrize(
    "path",
    ["/portal/tenders/999999", "/portal/tenders/abc", "/portal/tenders/0", "/portal/tenders/-3",
     "/portal/tenders/99999999999999999999", "/portal/contracts/999999", "/portal/contracts/x",
     "/portal/providers/999999", "/portal/providers/1e3", "/portal/providers/²", "/portal/tenders/%D9%A3"],
)  # fmt: skip
async def test_unknown_ids_get_a_404_page(portal, path):
    response = await portal.get(path)
    assert response.status_code == 404
    assert "<h1>未找到</h1>" in response.text and 'href="/portal"' in response.text
    english = await portal.get(path + "?lang=en")
    assert english.status_code == 404 and "<h1>Not found</h1>" in english.text


async def test_a_draft_tender_and_a_pending_provider_are_not_found(portal):
    draft = await helpers.tender(portal.session, TenderStatus.DRAFT)
    assert (await portal.get(f"/portal/tenders/{draft.id}")).status_code == 404
    qiming = await helpers.provider(portal.session, "启明")
    from market.models import ProviderStatus

    qiming.status = ProviderStatus.PENDING
    await portal.session.commit()
    assert (await portal.get(f"/portal/providers/{qiming.id}")).status_code == 404
    assert qiming.legal_name not in (await portal.get("/portal")).text


async def test_the_award_notice_shows_its_red_flags(portal):
    """The demo's award in delivery won at 96.50 under a ceiling of 100.00: NEAR_CEILING (README, Red flags)."""
    tender = await helpers.tender(portal.session, TenderStatus.AWARDED)
    contract = await helpers.contract_of(portal.session, tender.id)
    assert contract is not None
    body = text(await portal.get(f"/portal/tenders/{tender.id}"))
    assert 'id="red-flags"' in body and "NEAR_CEILING · 中标价接近最高限价" in body
    assert "中标报价 96.50" in body and "最高限价 100.00" in body
    english = text(await portal.get(f"/portal/tenders/{tender.id}?lang=en"))
    assert "NEAR_CEILING · Winning price near the ceiling" in english and "winning bid 96.50" in english


async def test_no_red_flag_section_before_the_award_is_final(portal):
    for status in (TenderStatus.PUBLISHED, TenderStatus.EVALUATING):
        tender = await helpers.tender(portal.session, status)
        assert 'id="red-flags"' not in text(await portal.get(f"/portal/tenders/{tender.id}"))
