"""The shared test clock: ADMIN only, only with MARKET_TEST_CLOCK, forward only, kept in the database."""

import datetime as dt

from core import clock
from core.auth import Role
from core.settings import get_settings

ADVANCE = "mutation($s: Int!) { advanceClock(seconds: $s) { now errors { field code message } } }"
NOW = "{ now }"


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


async def test_admin_moves_the_clock_for_everyone(api, login_as, sessionmaker):
    token, _ = await login_as(Role.ADMIN)
    before = _parse((await api(NOW))["now"])
    result = (await api(ADVANCE, {"s": 3 * 86400}, token=token))["advanceClock"]
    assert result["errors"] == []
    moved = _parse(result["now"])
    assert dt.timedelta(days=3) <= moved - before < dt.timedelta(days=3, minutes=1)
    # Another request (another session, as another worker would have) sees the same offset.
    assert _parse((await api(NOW))["now"]) >= moved
    async with sessionmaker() as session:
        assert await clock.offset_seconds(session) == 3 * 86400


async def test_times_are_shown_in_the_deployment_time_zone(api):
    assert (await api(NOW))["now"].endswith("+08:00")


async def test_non_admins_and_anonymous_callers_cannot_move_the_clock(api, login_as):
    anonymous = (await api(ADVANCE, {"s": 60}))["advanceClock"]
    assert anonymous["errors"][0]["code"] == "UNAUTHENTICATED"
    token, _ = await login_as(Role.OFFICER)
    denied = (await api(ADVANCE, {"s": 60}, token=token))["advanceClock"]
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED" and denied["now"] is None


async def test_without_the_test_clock_setting_advance_is_refused_and_changes_nothing(
    api, login_as, monkeypatch, sessionmaker
):
    token, _ = await login_as(Role.ADMIN)
    monkeypatch.setattr(get_settings(), "market_test_clock", False)
    result = (await api(ADVANCE, {"s": 3600}, token=token))["advanceClock"]
    assert result["now"] is None
    assert result["errors"][0]["code"] == "INVALID_STATE"
    monkeypatch.setattr(get_settings(), "market_test_clock", True)
    async with sessionmaker() as session:
        assert await clock.offset_seconds(session) == 0


async def test_the_clock_only_moves_forward(api, login_as):
    token, _ = await login_as(Role.ADMIN)
    for seconds in (0, -60):
        result = (await api(ADVANCE, {"s": seconds}, token=token))["advanceClock"]
        assert result["errors"] == [
            {
                "field": ["seconds"],
                "code": "INVALID",
                "message": "the clock only moves forward: seconds must be above 0",
            }
        ]


async def test_without_the_setting_the_clock_ignores_a_stored_offset(session, monkeypatch):
    await clock.advance(session, 10 * 86400)
    monkeypatch.setattr(get_settings(), "market_test_clock", False)
    session.info.clear()
    assert abs(await clock.now(session) - clock.real_now()) < dt.timedelta(seconds=5)
