"""Every mutation of the scoring domain checks its caller's role: anonymous → UNAUTHENTICATED, wrong role
→ PERMISSION_DENIED, and nothing is written (tests/market/test_permissions.py checks that every mutation
of the schema has a case here or in the other domains' lists)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.auth import Role
from scoring.models import Certificate
from tests import factories
from tests.market.test_permissions import ROLES, Case

ERRORS = "errors { code field message }"


async def _providers_to_certify(session, _user):
    await factories.provider(session)
    return {"d": "2026-01-01"}


async def _certificates(session) -> int:
    return await session.scalar(select(func.count()).select_from(Certificate))


CASES = [
    Case("runCertification", f"mutation($d: Date!) {{ runCertification(asOf: $d) {{ providers {{ id }} issued {ERRORS} }} }}",
         {Role.ADMIN}, _providers_to_certify),
]  # fmt: skip
WRITES = {"runCertification": _certificates}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_role_check(case, role, session, api, login_as):
    token, user = await login_as(role) if role else (None, None)
    variables = await case.setup(session, user)
    await session.commit()
    payload = (await api(case.document, variables, token=token))[case.name]
    if role is None:
        assert [e["code"] for e in payload["errors"]] == ["UNAUTHENTICATED"]
    elif role in case.allowed:
        assert payload["errors"] == []
    else:
        assert [e["code"] for e in payload["errors"]] == ["PERMISSION_DENIED"]
    if payload["errors"]:
        # Lists are empty rather than null (the contract makes them non-null).
        assert all(value in (None, []) for key, value in payload.items() if key != "errors")
        assert await WRITES[case.name](session) == 0
    else:
        assert await WRITES[case.name](session) > 0
