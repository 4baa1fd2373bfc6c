"""Every mutation checks its caller's role: anonymous → UNAUTHENTICATED, wrong role → PERMISSION_DENIED."""

from dataclasses import dataclass
from typing import Any

import pytest

from core.api import encode_id
from core.auth import Role
from market import models as m
from tests import factories

ROLES = [None, *Role]
STAFF = {Role.ADMIN, Role.OFFICER}


@dataclass
class Case:
    name: str
    document: str
    allowed: set
    setup: Any  # async (session, acting_user) -> variables


async def _pending_provider(session, _user):
    p = await factories.provider(session, status=m.ProviderStatus.PENDING)
    return {"id": encode_id("Provider", p.id)}


async def _active_provider(session, _user):
    p = await factories.provider(session)
    return {"id": encode_id("Provider", p.id), "reason": "late deliveries"}


async def _suspended_provider(session, _user):
    p = await factories.provider(session, status=m.ProviderStatus.SUSPENDED)
    return {"id": encode_id("Provider", p.id)}


async def _new_user(session, _user):
    d = await factories.department(session)
    return {
        "i": {
            "email": "new.officer@example.org",
            "password": "long-enough-password",
            "name": "New Officer",
            "role": "OFFICER",
            "departmentId": encode_id("Department", d.id),
        }
    }


async def _new_region(session, _user):
    return {"i": {"code": "999001", "name": "New district", "kind": "RURAL", "population": 5000}}


async def _new_department(session, _user):
    r = await factories.region(session)
    return {"i": {"name": "Health Commission", "regionId": encode_id("Region", r.id)}}


async def _new_firm(session, _user):
    return {"i": {"name": "Audit Co", "creditCode": factories.credit_code()}}


async def _qualification(session, user):
    provider_id = user.provider_id if user and user.provider_id else (await factories.provider(session)).id
    return {
        "i": {
            "providerId": encode_id("Provider", provider_id),
            "type": "养老机构设立许可",
            "number": "NO-1",
            "validFrom": "2026-01-01",
            "validTo": "2028-12-31",
        }
    }


def _kpis():
    return [
        {"name": "on time", "unit": "%", "target": 95, "direction": "HIGHER_IS_BETTER", "weight": 0.6, "source": "AUDIT"},
        {"name": "complaints", "unit": "per 100", "target": 1, "direction": "LOWER_IS_BETTER", "weight": 0.4, "source": "COMPLAINT_RATE"},
    ]  # fmt: skip


async def _new_package(session, _user):
    return {
        "i": {
            "code": "NEW-PKG",
            "name": "社区健康体检",
            "nameEn": "Community health check-up",
            "category": "HEALTH",
            "tier": "BASIC",
            "unit": "person",
            "standard": "Basic physical examination.",
            "minUnitPrice": "80.00",
            "maxUnitPrice": "150.00",
            "kpis": _kpis(),
        }
    }


async def _edit_package(session, _user):
    p = await factories.package(session)
    return {"id": encode_id("ServicePackage", p.id), "i": {"maxUnitPrice": "130.00"}}


async def _new_category(session, _user):
    return {"i": {"code": "RURAL_SANITATION", "name": "农村环卫", "nameEn": "Rural sanitation"}}


async def _clock(session, _user):
    return {"s": 60}


ERRORS = "errors { field code message }"
CASES = [
    Case("createUser", f"mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ user {{ id }} {ERRORS} }} }}", {Role.ADMIN}, _new_user),
    Case("createRegion", f"mutation($i: CreateRegionInput!) {{ createRegion(input: $i) {{ region {{ id }} {ERRORS} }} }}", {Role.ADMIN}, _new_region),
    Case("createDepartment", f"mutation($i: CreateDepartmentInput!) {{ createDepartment(input: $i) {{ department {{ id }} {ERRORS} }} }}", {Role.ADMIN}, _new_department),
    Case("createAuditFirm", f"mutation($i: CreateAuditFirmInput!) {{ createAuditFirm(input: $i) {{ auditFirm {{ id }} {ERRORS} }} }}", {Role.ADMIN}, _new_firm),
    Case("approveProvider", f"mutation($id: ID!) {{ approveProvider(id: $id) {{ provider {{ status }} {ERRORS} }} }}", STAFF, _pending_provider),
    Case("suspendProvider", f"mutation($id: ID!, $reason: String!) {{ suspendProvider(id: $id, reason: $reason) {{ provider {{ status }} {ERRORS} }} }}", STAFF, _active_provider),
    Case("reinstateProvider", f"mutation($id: ID!) {{ reinstateProvider(id: $id) {{ provider {{ status }} {ERRORS} }} }}", STAFF, _suspended_provider),
    Case("debarProvider", f"mutation($id: ID!, $reason: String!) {{ debarProvider(id: $id, reason: $reason) {{ provider {{ status }} {ERRORS} }} }}", STAFF, _active_provider),
    Case("addQualification", f"mutation($i: AddQualificationInput!) {{ addQualification(input: $i) {{ provider {{ id }} {ERRORS} }} }}", STAFF | {Role.PROVIDER}, _qualification),
    Case("createServicePackage", f"mutation($i: CreateServicePackageInput!) {{ createServicePackage(input: $i) {{ servicePackage {{ id }} {ERRORS} }} }}", STAFF, _new_package),
    Case("updateServicePackage", f"mutation($id: ID!, $i: UpdateServicePackageInput!) {{ updateServicePackage(id: $id, input: $i) {{ servicePackage {{ version }} {ERRORS} }} }}", STAFF, _edit_package),
    Case("createServiceCategory", f"mutation($i: CreateServiceCategoryInput!) {{ createServiceCategory(input: $i) {{ serviceCategory {{ code }} {ERRORS} }} }}", {Role.ADMIN}, _new_category),
    Case("advanceClock", f"mutation($s: Int!) {{ advanceClock(seconds: $s) {{ now {ERRORS} }} }}", {Role.ADMIN}, _clock),
]  # fmt: skip


def test_every_mutation_of_the_schema_is_covered():
    import app

    built = set(app.build_schema().as_str().split("type Mutation {", 1)[1].split("}", 1)[0].split())
    names = {token.split("(")[0].rstrip(":") for token in built if token[:1].islower() and "(" in token}
    from tests.contracts.test_contract_permissions import CASES as CONTRACT_CASES
    from tests.contracts.test_contract_permissions import TOKEN_CASES
    from tests.market.test_tender_permissions import CASES as TENDER_CASES
    from tests.scoring.test_certification_permissions import CASES as CERTIFICATION_CASES
    from tests.scoring.test_payment_permissions import CASES as PAYMENT_CASES
    from tests.scoring.test_scoring_permissions import CASES as SCORING_CASES

    # login and registerProvider are open to anonymous callers (tested in their own modules); the
    # resident's link mutations (TOKEN_CASES) take a token instead of a login; finalizeAward is a tender case.
    covered = (
        CASES + TENDER_CASES + CONTRACT_CASES + TOKEN_CASES + SCORING_CASES + PAYMENT_CASES
        + CERTIFICATION_CASES
    )  # fmt: skip
    assert names - {"login", "registerProvider"} == {case.name for case in covered}


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
        assert all(value is None for key, value in payload.items() if key != "errors")


async def test_a_provider_cannot_add_qualifications_to_another_provider(session, api, login_as):
    token, _user = await login_as(Role.PROVIDER)
    other = await factories.provider(session)
    await session.commit()
    variables = await _qualification(session, None)
    variables["i"]["providerId"] = encode_id("Provider", other.id)
    payload = (await api(CASES[8].document, variables, token=token))["addQualification"]
    assert [e["code"] for e in payload["errors"]] == ["PERMISSION_DENIED"]
