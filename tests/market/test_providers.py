"""Provider registration, approval, suspension, debarment, qualifications and visibility."""

from sqlalchemy import func, select

from core.api import encode_id
from core.auth import Role
from market import models as m
from tests import factories

ERRORS = "errors { field code message }"
REGISTER = f"""
mutation($i: RegisterProviderInput!) {{
  registerProvider(input: $i) {{ provider {{ id legalName creditCode status regions {{ code }} }} {ERRORS} }}
}}"""


async def _registration(session, **overrides):
    region = await factories.region(session)
    await session.commit()
    values = {
        "legalName": "上海乐龄养老服务中心",
        "creditCode": factories.credit_code("52310000"),
        "kind": "SOCIAL_ORGANISATION",
        "regionIds": [encode_id("Region", region.id)],
        "adminEmail": "director@leling.org.cn",
        "adminPassword": "a-good-password",
        "adminName": "王主任",
    }
    return {**values, **overrides}


async def _count(session, model):
    return await session.scalar(select(func.count()).select_from(model))


async def test_self_registration_creates_a_pending_provider_with_its_first_account(session, api):
    variables = await _registration(session)
    payload = (await api(REGISTER, {"i": variables}))["registerProvider"]
    assert payload["errors"] == []
    assert payload["provider"]["status"] == "PENDING"
    assert payload["provider"]["creditCode"] == variables["creditCode"]
    token = await api.login("director@leling.org.cn", "a-good-password")
    me = (await api("{ me { role provider { legalName status } } }", token=token))["me"]
    assert me == {"role": "PROVIDER", "provider": {"legalName": "上海乐龄养老服务中心", "status": "PENDING"}}


async def test_a_wrong_check_digit_is_invalid_and_nothing_is_written(session, api):
    providers_before, users_before = await _count(session, m.Provider), await _count(session, m.User)
    variables = await _registration(session)
    variables["creditCode"] = factories.with_wrong_check_digit(variables["creditCode"])
    payload = (await api(REGISTER, {"i": variables}))["registerProvider"]
    assert payload["provider"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", ["input", "creditCode"])]
    assert "check digit" in payload["errors"][0]["message"] or "checksum" in payload["errors"][0]["message"]
    assert (await _count(session, m.Provider), await _count(session, m.User)) == (
        providers_before,
        users_before,
    )


async def test_malformed_credit_codes_are_invalid(session, api):
    for code in ("123", "9131000000001234X5", "91310000MA1FL8XXX?"):
        variables = await _registration(session, creditCode=code)
        errors = (await api(REGISTER, {"i": variables}))["registerProvider"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["input", "creditCode"])], code


async def test_duplicate_credit_code_or_email_already_exists(session, api):
    first = await _registration(session)
    assert (await api(REGISTER, {"i": first}))["registerProvider"]["errors"] == []

    same_code = await _registration(session, adminEmail="someone.else@example.org")
    same_code["creditCode"] = first["creditCode"]
    errors = (await api(REGISTER, {"i": same_code}))["registerProvider"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("ALREADY_EXISTS", ["input", "creditCode"])]

    same_email = await _registration(session, adminEmail=first["adminEmail"].upper())
    errors = (await api(REGISTER, {"i": same_email}))["registerProvider"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("ALREADY_EXISTS", ["input", "adminEmail"])]


async def test_every_input_problem_is_reported_at_once(session, api):
    variables = await _registration(
        session, legalName=" ", adminEmail="not-an-email", adminPassword="short", regionIds=[]
    )
    errors = (await api(REGISTER, {"i": variables}))["registerProvider"]["errors"]
    assert {tuple(e["field"]) for e in errors} == {
        ("input", "legalName"),
        ("input", "adminEmail"),
        ("input", "adminPassword"),
        ("input", "regionIds"),
    }


async def test_unknown_region_is_not_found(session, api):
    variables = await _registration(session, regionIds=[encode_id("Region", 999999)])
    errors = (await api(REGISTER, {"i": variables}))["registerProvider"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "regionIds", "0"])]


async def test_duplicate_email_on_create_user_already_exists(session, api, login_as):
    token, admin = await login_as(Role.ADMIN)
    department = await factories.department(session)
    await session.commit()
    document = f"mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ user {{ id }} {ERRORS} }} }}"
    variables = {
        "i": {
            "email": admin.email,
            "password": "long-password",
            "name": "Dup",
            "role": "OFFICER",
            "departmentId": encode_id("Department", department.id),
        }
    }
    errors = (await api(document, variables, token=token))["createUser"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("ALREADY_EXISTS", ["input", "email"])]


async def test_create_user_needs_the_link_of_its_role(session, api, login_as):
    token, _ = await login_as(Role.ADMIN)
    document = f"mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ user {{ id }} {ERRORS} }} }}"
    for role, field in (("OFFICER", "departmentId"), ("PROVIDER", "providerId"), ("AUDITOR", "auditFirmId")):
        variables = {
            "i": {"email": f"x.{role}@example.org", "password": "long-password", "name": "X", "role": role}
        }
        errors = (await api(document, variables, token=token))["createUser"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["input", field])]


STATUS = f"{{ provider {{ status statusReason }} {ERRORS} }}"


async def test_provider_status_machine(session, api, login_as):
    token, _ = await login_as(Role.OFFICER)
    provider = await factories.provider(session, status=m.ProviderStatus.PENDING)
    await session.commit()
    pid = encode_id("Provider", provider.id)

    async def call(name, **args):
        params = ", ".join(f"{k}: {v!r}".replace("'", '"') for k, v in {"id": pid, **args}.items())
        return (await api(f"mutation {{ {name}({params}) {STATUS} }}", token=token))[name]

    assert (await call("suspendProvider", reason="x"))["errors"][0]["code"] == "INVALID_STATE"
    assert (await call("approveProvider"))["provider"]["status"] == "ACTIVE"
    assert (await call("approveProvider"))["errors"][0]["code"] == "INVALID_STATE"
    blank = await call("suspendProvider", reason="  ")
    assert [(e["code"], e["field"]) for e in blank["errors"]] == [("INVALID", ["reason"])]
    suspended = (await call("suspendProvider", reason="服务中断"))["provider"]
    assert suspended == {"status": "SUSPENDED", "statusReason": "服务中断"}
    assert (await call("reinstateProvider"))["provider"] == {"status": "ACTIVE", "statusReason": None}
    assert (await call("debarProvider", reason="虚假材料"))["provider"]["status"] == "DEBARRED"
    assert (await call("reinstateProvider"))["errors"][0]["code"] == "INVALID_STATE"
    assert (await call("approveProvider"))["errors"][0]["code"] == "INVALID_STATE"


async def test_pending_providers_are_hidden_from_the_public_and_other_providers(session, api, login_as):
    pending = await factories.provider(session, status=m.ProviderStatus.PENDING)
    active = await factories.provider(session)
    own_staff = await factories.user(session, Role.PROVIDER, provider_id=pending.id)
    await session.commit()
    other_token, _ = await login_as(Role.PROVIDER)
    officer_token, _ = await login_as(Role.OFFICER)
    own_token = await api.login(own_staff.email, factories.PASSWORD)
    query = "query($id: ID!) { node(id: $id) { ... on Provider { legalName } } providers(first: 100) { totalCount edges { node { id } } } }"
    pending_id, active_id = encode_id("Provider", pending.id), encode_id("Provider", active.id)

    for token, sees_pending in (
        (None, False),
        (other_token, False),
        (own_token, True),
        (officer_token, True),
    ):
        data = await api(query, {"id": pending_id}, token=token)
        listed = {edge["node"]["id"] for edge in data["providers"]["edges"]}
        assert (data["node"] is not None) == sees_pending
        assert (pending_id in listed) == sees_pending
        assert active_id in listed


async def test_qualifications_need_a_valid_period(session, api, login_as):
    token, user = await login_as(Role.PROVIDER)
    document = f"mutation($i: AddQualificationInput!) {{ addQualification(input: $i) {{ provider {{ qualifications {{ type validTo }} }} {ERRORS} }} }}"
    variables = {
        "i": {
            "providerId": encode_id("Provider", user.provider_id),
            "type": "养老机构设立许可",
            "number": "沪民养 2026-001",
            "validFrom": "2026-06-01",
            "validTo": "2026-05-31",
        }
    }
    errors = (await api(document, variables, token=token))["addQualification"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["input", "validTo"])]
    variables["i"]["validTo"] = "2029-05-31"
    payload = (await api(document, variables, token=token))["addQualification"]
    assert payload["errors"] == []
    assert payload["provider"]["qualifications"] == [{"type": "养老机构设立许可", "validTo": "2029-05-31"}]


async def test_providers_can_be_filtered(session, api):
    rural = await factories.region(session, kind=m.RegionKind.RURAL)
    in_rural = await factories.provider(session, regions=[rural])
    await factories.provider(session)
    await session.commit()
    query = "query($r: ID) { providers(regionId: $r, status: ACTIVE) { totalCount edges { node { legalName } } } }"
    data = await api(query, {"r": encode_id("Region", rural.id)})
    assert [e["node"]["legalName"] for e in data["providers"]["edges"]] == [in_rural.legal_name]
    found = await api('{ providers(search: "Provider") { totalCount } }')
    assert found["providers"]["totalCount"] >= 2
