"""Service packages: validation, versioning, listing (SPEC §3)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.api import encode_id
from core.auth import Role
from core.errors import Validator
from market import catalogue
from market import models as m
from tests import factories

ERRORS = "errors { field code message }"
PACKAGE = "id code version name nameEn category tier unit standard minUnitPrice maxUnitPrice satisfactionWeight kpis { name unit target direction weight source }"
CREATE = f"mutation($i: CreateServicePackageInput!) {{ createServicePackage(input: $i) {{ servicePackage {{ {PACKAGE} }} {ERRORS} }} }}"
UPDATE = f"mutation($id: ID!, $i: UpdateServicePackageInput!) {{ updateServicePackage(id: $id, input: $i) {{ servicePackage {{ {PACKAGE} }} {ERRORS} }} }}"


def _input(**overrides):
    values = {
        "code": "elder-home-visit",
        "name": "居家养老上门服务",
        "nameEn": "Home elderly care visit",
        "category": "elderly_care",
        "tier": "BASIC",
        "unit": "visit",
        "standard": "Two hours of personal care.",
        "minUnitPrice": "60.00",
        "maxUnitPrice": "120.00",
        "kpis": [
            {
                "name": "按时上门率",
                "unit": "%",
                "target": 95,
                "direction": "HIGHER_IS_BETTER",
                "weight": 0.7,
                "source": "AUDIT",
            },
            {
                "name": "有效投诉率",
                "unit": "per 100",
                "target": 1,
                "direction": "LOWER_IS_BETTER",
                "weight": 0.3,
                "source": "COMPLAINT_RATE",
            },
        ],
    }
    return {**values, **overrides}


async def test_officer_creates_version_one(api, login_as):
    token, _ = await login_as(Role.OFFICER)
    payload = (await api(CREATE, {"i": _input()}, token=token))["createServicePackage"]
    assert payload["errors"] == []
    package = payload["servicePackage"]
    assert (package["code"], package["version"], package["category"]) == (
        "ELDER-HOME-VISIT",
        1,
        "ELDERLY_CARE",
    )
    assert (package["minUnitPrice"], package["maxUnitPrice"]) == ("60.00", "120.00")
    assert [k["weight"] for k in package["kpis"]] == [0.7, 0.3]
    assert package["satisfactionWeight"] == 0.4


async def test_an_edit_makes_version_two_and_leaves_version_one_unchanged(api, login_as):
    token, _ = await login_as(Role.OFFICER)
    v1 = (await api(CREATE, {"i": _input()}, token=token))["createServicePackage"]["servicePackage"]
    new_kpis = [
        {
            "name": "满意度",
            "unit": "%",
            "target": 90,
            "direction": "HIGHER_IS_BETTER",
            "weight": 1.0,
            "source": "AUDIT",
        }
    ]
    edit = {"maxUnitPrice": "135.50", "standard": "Two and a half hours.", "kpis": new_kpis}
    v2 = (await api(UPDATE, {"id": v1["id"], "i": edit}, token=token))["updateServicePackage"][
        "servicePackage"
    ]
    assert (v2["code"], v2["version"]) == (v1["code"], 2)
    assert v2["id"] != v1["id"]
    assert (v2["maxUnitPrice"], v2["standard"], v2["kpis"][0]["name"]) == (
        "135.50",
        "Two and a half hours.",
        "满意度",
    )
    assert v2["name"] == v1["name"] and v2["minUnitPrice"] == v1["minUnitPrice"]

    v1_again = (
        await api(
            f"query($id: ID!) {{ node(id: $id) {{ ... on ServicePackage {{ {PACKAGE} }} }} }}",
            {"id": v1["id"]},
        )
    )["node"]
    assert v1_again == v1

    # The catalogue lists the latest version; all versions on request.
    latest = await api(
        '{ servicePackages(code: "ELDER-HOME-VISIT") { totalCount edges { node { version } } } }'
    )
    assert [e["node"]["version"] for e in latest["servicePackages"]["edges"]] == [2]
    every = await api(
        '{ servicePackages(code: "ELDER-HOME-VISIT", allVersions: true) { edges { node { version } } } }'
    )
    assert [e["node"]["version"] for e in every["servicePackages"]["edges"]] == [1, 2]

    # Only the latest version can be edited.
    stale = (await api(UPDATE, {"id": v1["id"], "i": {"name": "x"}}, token=token))["updateServicePackage"]
    assert stale["errors"][0]["code"] == "INVALID_STATE"


async def test_min_price_above_max_is_invalid(api, login_as):
    token, _ = await login_as(Role.OFFICER)
    payload = (await api(CREATE, {"i": _input(minUnitPrice="130.00")}, token=token))["createServicePackage"]
    assert payload["servicePackage"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", ["input", "minUnitPrice"])]


async def test_an_edit_that_breaks_a_rule_makes_no_version(api, login_as):
    token, _ = await login_as(Role.OFFICER)
    v1 = (await api(CREATE, {"i": _input()}, token=token))["createServicePackage"]["servicePackage"]
    bad = (await api(UPDATE, {"id": v1["id"], "i": {"minUnitPrice": "500.00"}}, token=token))[
        "updateServicePackage"
    ]
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [("INVALID", ["input", "minUnitPrice"])]
    every = await api('{ servicePackages(code: "ELDER-HOME-VISIT", allVersions: true) { totalCount } }')
    assert every["servicePackages"]["totalCount"] == 1


async def test_kpi_weights_must_sum_to_one(api, login_as):
    token, _ = await login_as(Role.OFFICER)
    kpis = _input()["kpis"]
    kpis[1]["weight"] = 0.2
    payload = (await api(CREATE, {"i": _input(kpis=kpis)}, token=token))["createServicePackage"]
    assert [(e["code"], e["field"], e["message"]) for e in payload["errors"]] == [
        ("INVALID", ["input", "kpis"], "KPI weights must sum to 1")
    ]


async def test_kpi_templates_are_checked(api, login_as):
    token, _ = await login_as(Role.OFFICER)
    kpis = _input()["kpis"]
    kpis[1]["direction"] = "HIGHER_IS_BETTER"  # a complaint rate must be lower-is-better
    kpis[0]["target"] = 0
    payload = (await api(CREATE, {"i": _input(kpis=kpis)}, token=token))["createServicePackage"]
    assert {tuple(e["field"]) for e in payload["errors"]} == {
        ("input", "kpis", "0", "target"),
        ("input", "kpis", "1", "direction"),
    }
    empty = (await api(CREATE, {"i": _input(kpis=[])}, token=token))["createServicePackage"]
    assert [e["field"] for e in empty["errors"]] == [["input", "kpis"]]


async def test_prices_have_at_most_two_decimals_and_satisfaction_weighs_at_least_30_percent(api, login_as):
    token, _ = await login_as(Role.OFFICER)
    body = (await api.raw(CREATE, {"i": _input(minUnitPrice="60.005")}, headers=_auth(token))).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert "minUnitPrice" in body["errors"][0]["message"] and "60.005" not in body["errors"][0]["message"]
    payload = (
        await api(CREATE, {"i": _input(satisfactionWeight=0.2, kpiWeight=0.6, auditWeight=0.2)}, token=token)
    )["createServicePackage"]
    assert [tuple(e["field"]) for e in payload["errors"]] == [("input", "satisfactionWeight")]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_duplicate_code_and_unknown_category(api, login_as):
    token, _ = await login_as(Role.OFFICER)
    assert (await api(CREATE, {"i": _input()}, token=token))["createServicePackage"]["errors"] == []
    again = (await api(CREATE, {"i": _input()}, token=token))["createServicePackage"]["errors"]
    assert [(e["code"], e["field"]) for e in again] == [("ALREADY_EXISTS", ["input", "code"])]
    unknown = (await api(CREATE, {"i": _input(code="X1", category="SPACE_TRAVEL")}, token=token))[
        "createServicePackage"
    ]["errors"]
    assert [(e["code"], e["field"]) for e in unknown] == [("NOT_FOUND", ["input", "category"])]


async def test_catalogue_filters_and_pages(session, api):
    for i in range(5):
        await factories.package(session, code=f"CARE-{i}")
    await factories.package(
        session, code="CHECKUP", category="HEALTH", name="社区健康体检", name_en="Health check-up"
    )
    await session.commit()
    health = await api(
        '{ servicePackages(category: "health") { totalCount edges { node { code categoryDetails { nameEn } } } } }'
    )
    assert health["servicePackages"]["edges"] == [
        {"node": {"code": "CHECKUP", "categoryDetails": {"nameEn": "Health"}}}
    ]
    found = await api('{ servicePackages(search: "check-up") { edges { node { code } } } }')
    assert [e["node"]["code"] for e in found["servicePackages"]["edges"]] == ["CHECKUP"]

    first = (
        await api(
            '{ servicePackages(first: 4, category: "ELDERLY_CARE") { totalCount pageInfo { hasNextPage endCursor } edges { node { code } } } }'
        )
    )["servicePackages"]
    assert first["totalCount"] == 5 and first["pageInfo"]["hasNextPage"]
    rest = (
        await api(
            'query($a: String) { servicePackages(first: 4, after: $a, category: "ELDERLY_CARE") { pageInfo { hasNextPage hasPreviousPage } edges { node { code } } } }',
            {"a": first["pageInfo"]["endCursor"]},
        )
    )["servicePackages"]
    codes = [e["node"]["code"] for e in first["edges"] + rest["edges"]]
    assert codes == [f"CARE-{i}" for i in range(5)]
    assert rest["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}


async def test_first_is_capped_at_100(api):
    response = await api.raw("{ servicePackages(first: 101) { totalCount } }")
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID"
    assert "100" in body["errors"][0]["message"]


async def test_only_admins_add_categories_and_new_categories_can_be_used(session, api, login_as):
    token, _ = await login_as(Role.ADMIN)
    document = f'mutation {{ createServiceCategory(input: {{code: "rural_sanitation", name: "农村环卫", nameEn: "Rural sanitation"}}) {{ serviceCategory {{ code }} {ERRORS} }} }}'
    assert (await api(document, token=token))["createServiceCategory"]["serviceCategory"] == {
        "code": "RURAL_SANITATION"
    }
    package = (await api(CREATE, {"i": _input(category="RURAL_SANITATION")}, token=token))[
        "createServicePackage"
    ]
    assert package["errors"] == []


@given(st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=6))
def test_weights_that_sum_to_one_pass_and_others_fail(parts):
    total = sum(parts)
    weights = [p / total for p in parts]
    specs = [
        catalogue.KpiSpec(f"k{i}", "%", 90, m.KpiDirection.HIGHER_IS_BETTER, w, m.KpiSource.AUDIT)
        for i, w in enumerate(weights)
    ]
    check = Validator()
    catalogue.check_kpis(check, specs, field=["kpis"])
    assert check.problems == []
    skewed = [
        *specs[:-1],
        catalogue.KpiSpec(
            "last", "%", 90, m.KpiDirection.HIGHER_IS_BETTER, weights[-1] * 0.9 + 0.0001, m.KpiSource.AUDIT
        ),
    ]
    check = Validator()
    catalogue.check_kpis(check, skewed, field=["kpis"])
    if abs(sum(k.weight for k in skewed) - 1) > 1e-6:
        assert any(p.field == ("kpis",) for p in check.problems)


@pytest.mark.parametrize("price", [Decimal("0"), Decimal("-1.00")])
def test_prices_must_be_positive(price):
    check = Validator()
    catalogue.check_package(check, factories.package_spec(min_unit_price=price))
    assert ("input", "minUnitPrice") in {p.field for p in check.problems}


async def test_node_ids_are_global_and_typed(api, session):
    package = await factories.package(session)
    await session.commit()
    package_id = encode_id("ServicePackage", package.id)
    data = await api("query($id: ID!) { node(id: $id) { id __typename } }", {"id": package_id})
    assert data["node"] == {"id": package_id, "__typename": "ServicePackage"}
    # The same number under another type's name is not this object.
    assert (await api("query($id: ID!) { node(id: $id) { id } }", {"id": encode_id("Region", 10**9)}))[
        "node"
    ] is None
    assert (await api('{ node(id: "garbage") { id } }'))["node"] is None
