"""Free text from residents is bounded: a clear INVALID, never a database error."""

import pytest

from contracts import complaints, deliveries, outbox, ratings
from core.errors import DomainError, ErrorCode
from tests.contracts import world as cw


async def test_complaint_category_text_and_dispute_reason_are_bounded(session):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver()
    with pytest.raises(DomainError) as long_category:
        await complaints.file_complaint(session=session, token=token, category="x" * 101, text="late")
    assert [(p.code, p.field) for p in long_category.value.problems] == [
        (ErrorCode.INVALID, ("input", "category"))
    ]
    with pytest.raises(DomainError) as long_text:
        await complaints.file_complaint(session=session, token=token, category="ATTITUDE", text="x" * 2001)
    assert [(p.code, p.field) for p in long_text.value.problems] == [(ErrorCode.INVALID, ("input", "text"))]
    with pytest.raises(DomainError) as long_reason:
        await deliveries.dispute_delivery(session=session, token=token, reason="x" * 2001)
    assert long_reason.value.problems[0].field == ("reason",)
    assert (
        await complaints.file_complaint(session=session, token=token, category="OTHER", text="x" * 2000)
    ).id


async def test_a_bad_link_is_reported_before_bad_stars(session):
    with pytest.raises(DomainError) as refused:
        await ratings.rate_delivery(session=session, token="no-such-token", rating=ratings.Stars(9))
    assert refused.value.problems[0].code == ErrorCode.TOKEN_INVALID


async def test_a_message_given_up_after_five_failures_keeps_no_number_or_link(session):
    from sqlalchemy import select

    from contracts import models as cm

    class Down:
        def send(self, **_message):
            raise ConnectionError("SMS gateway unreachable")

    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver()
    for attempt in range(1, outbox.MAX_SEND_ATTEMPTS + 1):
        assert await outbox.send_notifications(session=session, backend=Down()) == (0, 1)
        message = (await session.scalars(select(cm.Notification))).one()
        if attempt < outbox.MAX_SEND_ATTEMPTS:
            assert message.status == cm.NotificationStatus.PENDING and message.sealed is not None
    assert (message.status, message.sealed) == (cm.NotificationStatus.FAILED, None)
    assert cw.PHONE not in message.recipient + message.body and token not in message.body
    assert await outbox.send_notifications(session=session, backend=Down()) == (0, 0)
