"""The demo's awards as the red flags see them: one award carries a flag for everyone to read."""

from __future__ import annotations

from sqlalchemy import select

from core.auth import Actor, Role
from demo import marketplace as demo
from disclosure.red_flags.service import RedFlagCode, flags_for_tenders
from market.models import Tender, TenderStatus


async def test_the_demos_award_in_delivery_is_near_its_ceiling(session):
    # Given the demo, loaded
    await demo.load(session)
    await session.commit()
    tenders = {t.title: t for t in (await session.scalars(select(Tender))).all()}
    ids = [t.id for t in tenders.values()]

    # When the public asks for the flags of every tender
    public = await flags_for_tenders(session, ids)

    # Then only the three awarded tenders answer, and the one in delivery (96.50 of 100.00) is flagged
    assert set(public) == {t.id for t in tenders.values() if t.status == TenderStatus.AWARDED}
    flagged = {t.title: [f.code for f in public[t.id]] for t in tenders.values() if t.id in public}
    in_delivery = next(
        t
        for t in tenders.values()
        if t.title.startswith("黄浦区") and "年度居家养老上门服务采购项目" in t.title
    )
    assert flagged.pop(in_delivery.title) == [RedFlagCode.NEAR_CEILING]
    assert set(map(tuple, flagged.values())) == {()}
    flag = public[in_delivery.id][0]
    assert (flag.value_text, flag.threshold_text) == ("0.9650", "0.9500")

    # and the Chongming officer sees the flags of the award still pending (none) and of its 流标 tender
    chongming = next(t for t in tenders.values() if t.status == TenderStatus.AWARD_PENDING)
    officer = Actor(user_id=None, role=Role.OFFICER, department_id=chongming.department_id)
    theirs = await flags_for_tenders(session, ids, actor=officer)
    assert theirs[chongming.id] == []
