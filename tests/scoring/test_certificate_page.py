"""The public verification page `/certificates/{code}` over HTTP: what it shows in each state and both
languages, its QR code of its own absolute address, its headers, and the 404 page of an unknown code."""

from __future__ import annotations

import datetime as dt
import html

import pytest

from contracts.models import Severity
from core.settings import get_settings
from market import providers
from scoring import pages
from scoring.certification import REVOKED_BECAUSE
from tests.factories import ADMIN
from tests.scoring import cert_world as sw

DAY = dt.timedelta(days=1)


async def page(api, path: str):
    return await api.client.get(path)


async def certified(session, *, composites=(82.0, 86.0), ratings=(15, 16)):
    """The world and the certificate of its contracted provider: 2 periods, bases 3000 and 1000."""
    world = await sw.build(session)
    d, provider_id = await world.today(), world.contract.provider_id
    for index, (composite, count, base) in enumerate(
        zip(composites, ratings, ("3000.00", "1000.00"), strict=True)
    ):
        await sw.scorecard(world, period_index=index + 1, ends_on=d - (40 - 30 * index) * DAY, composite=composite,
                           ratings=count, base=base)  # fmt: skip
    return world, sw.issued_to(await sw.run(world, d), provider_id)


def name_of(world) -> str:
    return next(p.legal_name for p in world.market.providers if p.id == world.contract.provider_id)


def day_zh(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


async def test_a_valid_certificate_in_chinese(session, api):
    world, issued = await certified(session)
    response = await page(api, f"/certificates/{issued.code}")
    assert response.status_code == 200
    body = response.text
    assert '<html lang="zh-CN">' in body
    assert "<h1>服务质量星级认证</h1>" in body
    assert "有效</strong>" in body and f"有效期至 {day_zh(issued.valid_until)}" in body
    assert html.escape(name_of(world)) in body
    assert '<span class="stars" aria-hidden="true">★★★★☆</span> 4 星（满分 5 星）' in body
    assert "83.00 分（满分 100 分）" in body  # (82 × 3000 + 86 × 1000) / 4000
    assert ">2 个<" in body and ">31 条<" in body
    assert day_zh(issued.issued_on) in body and issued.code in body
    # The evidence table: each period with its contract, dates and numbers.
    assert body.count("<tr>") == 3
    assert "黄浦区居家养老上门服务采购" in body and "第 1 期" in body and "第 2 期" in body
    assert "82.00" in body and "3000.00" in body and "86.00" in body and "1000.00" in body
    assert f'href="/certificates/{issued.code}?lang=en"' in body
    assert "<script" not in body


async def test_the_english_page(session, api):
    _world, issued = await certified(session)
    body = (await page(api, f"/certificates/{issued.code}?lang=en")).text
    assert '<html lang="en">' in body and "<h1>Service quality star certificate</h1>" in body
    assert "Valid</strong>" in body and "4 out of 5 stars" in body and "83.00 out of 100" in body
    assert "Period 1" in body and "Payment base (CNY)" in body
    assert f'href="/certificates/{issued.code}?lang=zh"' in body


async def test_the_qr_code_holds_the_pages_absolute_address(session, api, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://market.example.gov.cn")
    get_settings.cache_clear()
    try:
        _world, issued = await certified(session)
        body = (await page(api, f"/certificates/{issued.code.lower()}")).text
    finally:
        get_settings.cache_clear()
    url = f"https://market.example.gov.cn/certificates/{issued.code}"
    assert str(pages.qr_svg(url, "本证书核验页面的二维码")) in body
    assert f'<p class="url" id="url">{url}</p>' in body
    assert body.count("<svg") == 1 and "<title>本证书核验页面的二维码</title>" in body


async def test_security_headers(session, api):
    _world, issued = await certified(session)
    response = await page(api, f"/certificates/{issued.code}")
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "same-origin"
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<style nonce="{nonce}">' in response.text


async def test_an_unrated_certificate_says_why(session, api):
    world = await sw.build(session)
    issued = sw.issued_to(await sw.run(world), world.contract.provider_id)
    body = (await page(api, f"/certificates/{issued.code}")).text
    assert "暂无星级（未评级）" in body and 'id="unrated"' in body and "★" not in body
    assert "认证期内没有已结算的考核期。" in body and "<table" not in body
    assert '<dd id="score" class="num">无</dd>' in body


async def test_a_critical_finding_is_explained(session, api):
    world = await sw.build(session)
    d = await world.today()
    for period in (1, 2):
        await sw.scorecard(
            world, period_index=period, ends_on=d - 20 * period * DAY, composite=85.0, ratings=15
        )
    await sw.audit(world, 2, [(Severity.CRITICAL, False)])
    issued = sw.issued_to(await sw.run(world, d), world.contract.provider_id)
    body = (await page(api, f"/certificates/{issued.code}")).text
    assert "3 星（满分 5 星）" in body and 'id="critical"' in body and "有严重问题" in body


async def test_superseded_revoked_and_expired_certificates(session, api):
    world, old = await certified(session)
    provider_id = world.contract.provider_id
    await world.advance(86400)
    new = sw.issued_to(await sw.run(world), provider_id)
    body = (await page(api, f"/certificates/{old.code}")).text
    assert "已被取代</strong>" in body and f'href="/certificates/{new.code}"' in body
    assert (
        f'href="/certificates/{new.code}?lang=en"'
        in (await page(api, f"/certificates/{old.code}?lang=en")).text
    )

    await providers.suspend_provider(session=session, actor=ADMIN, provider_id=provider_id, reason="整改")
    await sw.run(world)
    body = (await page(api, f"/certificates/{new.code}")).text
    assert "已撤销</strong>" in body and "撤销原因：服务机构被暂停参与政府购买服务" in body
    english = (await page(api, f"/certificates/{new.code}?lang=en")).text
    assert "Revoked</strong>" in english and "Reason: the provider was suspended" in english

    await world.advance((old.valid_until - await world.today()).days * 86400 + 86400)
    await providers.reinstate_provider(session=session, actor=ADMIN, provider_id=provider_id)
    latest = sw.issued_to(await sw.run(world), provider_id)
    await world.advance((latest.valid_until - await world.today()).days * 86400 + 86400)
    body = (await page(api, f"/certificates/{latest.code}")).text
    assert "已过期</strong>" in body and f"已于 {day_zh(latest.valid_until)} 到期" in body


def test_every_revocation_reason_reads_in_both_languages():
    for reason in REVOKED_BECAUSE.values():
        for lang in pages.LANGUAGES:
            assert f"reason_{reason}" in pages.TEXT[lang]


@pytest.mark.parametrize("code", ["2222-2222-2222-2222-2222", "nothing-like-a-code", "A" * 500])
async def test_an_unknown_code_gets_the_not_found_page(session, api, code):
    response = await page(api, f"/certificates/{code}")
    assert response.status_code == 404
    assert "<h1>未找到证书</h1>" in response.text and "?lang=en" in response.text
    assert response.headers["x-frame-options"] == "DENY"
    english = await page(api, f"/certificates/{code}?lang=en")
    assert english.status_code == 404 and "<h1>Certificate not found</h1>" in english.text


def test_both_languages_have_the_same_texts():
    assert set(pages.TEXT["zh"]) == set(pages.TEXT["en"])
