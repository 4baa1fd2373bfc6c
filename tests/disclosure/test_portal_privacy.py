"""Only what SPEC §7 discloses reaches the portal: every page of every demo state, in both languages, is
searched for what must never be public (bids' texts, sealed bids, residents' numbers and words,
complaints, audit notes, challenges' reasons, accounts), and a published tender's page reads the same
whether or not bids were made (before the deadline nothing about a bid exists, not even how many)."""

from __future__ import annotations

import html

from sqlalchemy import delete, select

from contracts.models import Contract
from demo import marketplace as demo
from market.models import Bid, BidVersion, Provider, Tender, TenderStatus
from tests.disclosure import helpers


def secrets() -> dict[str, str]:
    """What must never be public, each with a label saying what it is."""
    found: dict[str, str] = {}
    for tender in demo.TENDERS:
        for bid in tender.bids:
            found[bid.proposal] = "a bid's technical proposal"
            found[bid.capacity] = "a bid's capacity statement"
        for challenge in tender.challenges:
            found[challenge.reason] = "a challenge's reasons"
            found[challenge.note] = "the officer's note on a challenge"
    for phone in (*demo.RESIDENTS, *demo.STAFF_PHONES):
        found[phone] = "a resident's or care worker's phone number"
        found[phone[:3] + "****" + phone[-4:]] = "a masked phone number"
    for delivery in demo.DELIVERIES:
        if delivery.rating and delivery.rating.comment:
            found[delivery.rating.comment] = "a resident's rating comment"
        if delivery.disputed:
            found[delivery.disputed] = "a resident's dispute"
    for complaint in demo.COMPLAINTS:
        found[complaint.text] = "a complaint"
        if complaint.response:
            found[complaint.response[1]] = "a complaint's response"
        if complaint.closed:
            found[complaint.closed[1]] = "an officer's note on a complaint"
    for check in demo.AUDIT_CHECKS:
        for words in (check.note, check.evidence, check.appeal and check.appeal[1]):
            if words:
                found[words] = "an audit's internal note"
    found[demo.APPEAL_REASON] = "a provider's appeal"
    for account in demo.ACCOUNTS:
        found[account.email] = "an account's email"
        found[account.name] = "an account holder's name"
    found["/r/"] = "a resident's link"
    found["password"] = "a password"
    return found


async def every_page(portal) -> dict[str, str]:
    session = portal.session
    paths = ["/portal", "/portal?soon=1", "/portal?q=项目&page=1", "/portal/tenders/999999"]
    paths += [f"/portal/tenders/{i}" for i in (await session.scalars(select(Tender.id))).all()]
    paths += [f"/portal/contracts/{i}" for i in (await session.scalars(select(Contract.id))).all()]
    paths += [f"/portal/providers/{i}" for i in (await session.scalars(select(Provider.id))).all()]
    pages = {}
    for path in paths:
        for lang in ("", "en"):
            url = f"{path}{'&' if '?' in path else '?'}lang={lang}" if lang else path
            response = await portal.get(url)
            assert response.status_code in (200, 404), url
            pages[url] = html.unescape(response.text)
    return pages


async def test_no_page_shows_anything_that_is_not_public(portal):
    pages = await every_page(portal)
    assert len(pages) >= 2 * (4 + 9 + 3 + 4)
    leaks = [
        f"{url}: {label} ({secret[:20]}…)"
        for url, body in pages.items()
        for secret, label in secrets().items()
        if secret in body
    ]
    assert leaks == []


async def test_the_sealed_bids_of_the_published_tender_leave_no_trace(portal):
    tender = await helpers.tender(portal.session, TenderStatus.PUBLISHED)
    bids = (await portal.session.scalars(select(Bid).where(Bid.tender_id == tender.id))).all()
    assert len(bids) == 2  # 颐康's and 乐龄's, sealed
    names = (
        await portal.session.scalars(
            select(Provider.legal_name).where(Provider.id.in_([b.provider_id for b in bids]))
        )
    ).all()
    paths = [
        f"/portal/tenders/{tender.id}",
        f"/portal/tenders/{tender.id}?lang=en",
        "/portal",
        "/portal?lang=en",
    ]
    with_bids = {path: helpers.without_nonce((await portal.get(path)).text) for path in paths}
    page = with_bids[f"/portal/tenders/{tender.id}"]
    for bid in bids:
        assert str(bid.unit_price) not in page and bid.receipt_sha256 not in page
    for name in names:
        assert name not in page

    # The same pages once the bids are gone: not one character differs.
    await portal.session.execute(delete(BidVersion).where(BidVersion.bid_id.in_([b.id for b in bids])))
    await portal.session.execute(delete(Bid).where(Bid.tender_id == tender.id))
    await portal.session.commit()
    for path in paths:
        assert helpers.without_nonce((await portal.get(path)).text) == with_bids[path], path


async def test_scores_stay_unpublished_until_the_award_is_final(portal):
    for status in (TenderStatus.EVALUATING, TenderStatus.AWARD_PENDING, TenderStatus.UNSUCCESSFUL):
        tender = await helpers.tender(portal.session, status)
        bids = (await portal.session.scalars(select(Bid).where(Bid.tender_id == tender.id))).all()
        body = (await portal.get(f"/portal/tenders/{tender.id}")).text
        assert 'id="scores"' not in body and "各评审专家评分" not in body
        for bid in bids:
            for value in (bid.total_score, bid.quality_score):
                if value is not None:
                    assert f"{value:.2f}" not in body, (status, value)
