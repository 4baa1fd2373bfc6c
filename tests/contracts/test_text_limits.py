"""Free text from residents is bounded: a clear INVALID, never a database error."""

import pytest

from contracts import service
from core.errors import DomainError, ErrorCode
from tests.contracts import world as cw


async def test_complaint_category_text_and_dispute_reason_are_bounded(session):
    world = await cw.build(session, start_in_days=10)
    _delivery, token = await world.deliver()
    with pytest.raises(DomainError) as long_category:
        await service.file_complaint(session=session, token=token, category="x" * 101, text="late")
    assert [(p.code, p.field) for p in long_category.value.problems] == [
        (ErrorCode.INVALID, ("input", "category"))
    ]
    with pytest.raises(DomainError) as long_text:
        await service.file_complaint(session=session, token=token, category="服务态度", text="x" * 2001)
    assert [(p.code, p.field) for p in long_text.value.problems] == [(ErrorCode.INVALID, ("input", "text"))]
    with pytest.raises(DomainError) as long_reason:
        await service.dispute_delivery(session=session, token=token, reason="x" * 2001)
    assert long_reason.value.problems[0].field == ("reason",)
    assert (
        await service.file_complaint(session=session, token=token, category="x" * 100, text="x" * 2000)
    ).id


async def test_a_bad_link_is_reported_before_bad_stars(session):
    with pytest.raises(DomainError) as refused:
        await service.rate_delivery(session=session, token="no-such-token", rating=service.Stars(9))
    assert refused.value.problems[0].code == ErrorCode.TOKEN_INVALID
