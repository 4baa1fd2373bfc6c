"""Login, tokens and throttling (issue: accounts)."""

import datetime as dt

import jwt

from core.auth import Role
from core.errors import ErrorCode
from core.settings import get_settings
from market import accounts
from market.models import LoginThrottle
from tests import factories

LOGIN = """
mutation($i: LoginInput!) {
  login(input: $i) { token expiresAt user { email role } errors { field code message } }
}"""
ME = "{ me { email role } }"
ADVANCE = "mutation($s: Int!) { advanceClock(seconds: $s) { now errors { code } } }"


async def _account(session, role=Role.OFFICER, **kw):
    user = await factories.user(session, role, **kw)
    await session.commit()
    return user


async def _login(api, email, password):
    return (await api(LOGIN, {"i": {"email": email, "password": password}}))["login"]


async def test_login_returns_a_token_that_identifies_the_caller(session, api):
    user = await _account(session)
    result = await _login(api, user.email.upper(), factories.PASSWORD)
    assert result["errors"] == []
    assert result["user"] == {"email": user.email, "role": "OFFICER"}
    assert (await api(ME, token=result["token"]))["me"] == {"email": user.email, "role": "OFFICER"}
    claims = jwt.decode(result["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 12 * 3600


async def test_anonymous_me_is_null(api):
    assert (await api(ME))["me"] is None


async def test_wrong_password_is_refused_without_saying_which_part_was_wrong(session, api):
    user = await _account(session)
    wrong = await _login(api, user.email, "not-the-password")
    unknown = await _login(api, "nobody@example.org", "not-the-password")
    assert wrong["token"] is None and unknown["token"] is None
    assert (
        wrong["errors"]
        == unknown["errors"]
        == [{"field": None, "code": "UNAUTHENTICATED", "message": "wrong email or password"}]
    )


async def test_five_failures_lock_the_email_for_fifteen_minutes(session, api):
    user = await _account(session)
    admin_token, _ = await _admin_token(session, api)
    for _ in range(5):
        assert (await _login(api, user.email, "bad-password"))["errors"][0]["code"] == "UNAUTHENTICATED"
    # Even the right password is refused while locked, and the lock does not reveal the password.
    locked = await _login(api, user.email, factories.PASSWORD)
    assert locked["token"] is None
    assert locked["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"
    # Other emails are not affected.
    other = await _account(session)
    assert (await _login(api, other.email, factories.PASSWORD))["errors"] == []

    await api(ADVANCE, {"s": 14 * 60}, token=admin_token)
    assert (await _login(api, user.email, factories.PASSWORD))["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"
    await api(ADVANCE, {"s": 61}, token=admin_token)
    assert (await _login(api, user.email, factories.PASSWORD))["errors"] == []


async def test_a_refused_login_leaves_its_count_to_the_callers_transaction(session):
    # Given an account
    email = (await _account(session)).email

    # When the service refuses a wrong password
    result = await accounts.login(
        session=session, email=email, password="bad-password", secret_key=get_settings().secret_key
    )

    # Then the refusal is its result, and the failure it counts is not committed behind the caller's back:
    # the unit of work commits it (the API tests above), a rolled-back caller leaves nothing
    assert (result.token, result.refusal.code) == (None, ErrorCode.UNAUTHENTICATED)
    await session.rollback()
    assert await session.get(LoginThrottle, email) is None


async def test_four_failures_do_not_lock_and_old_failures_expire(session, api):
    user = await _account(session)
    admin_token, _ = await _admin_token(session, api)
    for _ in range(4):
        await _login(api, user.email, "bad-password")
    await api(ADVANCE, {"s": 16 * 60}, token=admin_token)
    # The window restarted: four more failures still do not lock.
    for _ in range(4):
        await _login(api, user.email, "bad-password")
    assert (await _login(api, user.email, factories.PASSWORD))["errors"] == []


async def test_a_token_signed_with_another_key_is_refused(session, api):
    user = await _account(session)
    now = dt.datetime.now(dt.UTC)
    forged = jwt.encode(
        {"sub": str(user.id), "aud": "market", "iat": now, "exp": now + dt.timedelta(hours=1)},
        "another-secret-key-of-sufficient-length-123",
        algorithm="HS256",
    )
    response = await api.raw(ME, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_expired_token_is_refused(session, api):
    user = await _account(session)
    token = await api.login(user.email, factories.PASSWORD)
    admin_token, _ = await _admin_token(session, api)
    await api(ADVANCE, {"s": 12 * 3600 - 60}, token=admin_token)
    assert (await api(ME, token=token))["me"]["email"] == user.email
    await api(ADVANCE, {"s": 61}, token=admin_token)
    response = await api.raw(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["errors"][0]["message"]


async def test_malformed_authorization_is_refused(api):
    for header in ("Bearer", "Basic abc", "Bearer not-a-jwt"):
        response = await api.raw(ME, headers={"Authorization": header})
        assert response.status_code == 401, header


async def test_a_deactivated_account_loses_its_token(session, api):
    user = await _account(session)
    token = await api.login(user.email, factories.PASSWORD)
    user.active = False
    await session.commit()
    response = await api.raw(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def _admin_token(session, api):
    admin = await _account(session, Role.ADMIN)
    return await api.login(admin.email, factories.PASSWORD), admin
