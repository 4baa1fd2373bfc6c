"""The published operations (graphql/operations/**/*.graphql) run against the API on the demo data,
and the demo data itself: valid credit codes, the expected counts, the README's account table.

Every operation file needs a step below: a file without one fails the test, so no operation is
published untested.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse
from sqlalchemy import func, select
from stdnum.cn import uscc

from core.auth import Role
from core.settings import get_settings
from market import demo, service
from market.models import Provider, ProviderStatus, Qualification, ServicePackage, User

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "graphql" / "operations"
README = ROOT / "README.md"

OFFICER = next(a for a in demo.ACCOUNTS if a.email == "officer.huangpu@demo.gov.cn")

# What the README's walkthrough types in; the region is added from the `regions` result.
NEW_PROVIDER = {
    "legalName": "上海市黄浦区暖阳社区服务中心",
    "creditCode": "52310101MJ9B17369M",
    "kind": "SOCIAL_ORGANISATION",
    "adminEmail": "nuanyang@provider.demo.cn",
    "adminPassword": "nuanyang-2026",
    "adminName": "赵丽",
}
NEW_QUALIFICATION = {
    "type": "养老机构设立许可",
    "number": "沪黄民养许字〔2026〕第031号",
    "validFrom": "2026-01-01",
    "validTo": "2030-12-31",
}


def operation_files() -> list[str]:
    return sorted(p.relative_to(OPERATIONS).as_posix() for p in OPERATIONS.rglob("*.graphql"))


def no_payload_errors(data: dict) -> None:
    """A mutation payload's `errors` list is empty."""
    for name, value in data.items():
        if isinstance(value, dict) and "errors" in value:
            assert value["errors"] == [], f"{name}: {value['errors']}"


class Walkthrough:
    """Runs operation files through the API; remembers tokens and IDs between steps."""

    def __init__(self, api):
        self.api = api
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    async def run(self, file: str, variables: dict | None = None, *, token: str | None = None) -> dict:
        data = await self.api((OPERATIONS / file).read_text(encoding="utf-8"), variables, token=token)
        no_payload_errors(data)
        return data


Step = Callable[[Walkthrough], Awaitable[None]]


async def browse_catalogue(w: Walkthrough) -> None:
    data = await w.run("walkthrough/01_service_packages.graphql", {"category": "ELDERLY_CARE"})
    packages = [e["node"] for e in data["servicePackages"]["edges"]]
    assert [p["code"] for p in packages] == ["ELDER-HOME-VISIT"]
    kpis = packages[0]["kpis"]
    assert sum(k["weight"] for k in kpis) == pytest.approx(1)
    assert {k["source"]: k["direction"] for k in kpis}["COMPLAINT_RATE"] == "LOWER_IS_BETTER"

    everything = await w.run("walkthrough/01_service_packages.graphql")
    assert everything["servicePackages"]["totalCount"] == len(demo.PACKAGES)


async def list_regions(w: Walkthrough) -> None:
    data = await w.run("walkthrough/02_regions.graphql")
    regions = {r["code"]: r for r in data["regions"]}
    assert {code: r["kind"] for code, r in regions.items()} == {"310101": "URBAN", "310151": "RURAL"}
    w.ids["huangpu"] = regions["310101"]["id"]


async def register_provider(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/03_register_provider.graphql",
        {"input": {**NEW_PROVIDER, "regionIds": [w.ids["huangpu"]]}},
    )
    provider = data["registerProvider"]["provider"]
    assert provider["status"] == "PENDING"
    assert [r["name"] for r in provider["regions"]] == ["上海市黄浦区"]
    w.ids["provider"] = provider["id"]


async def log_in_officer(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/04_login.graphql", {"input": {"email": OFFICER.email, "password": OFFICER.password}}
    )
    assert data["login"]["user"]["role"] == "OFFICER"
    w.tokens["officer"] = data["login"]["token"]


async def me(w: Walkthrough) -> None:
    data = await w.run("walkthrough/05_me.graphql", token=w.tokens["officer"])
    assert data["me"]["email"] == OFFICER.email
    assert data["me"]["department"]["name"] == OFFICER.works_for
    assert (await w.run("walkthrough/05_me.graphql"))["me"] is None


async def pending_providers(w: Walkthrough) -> None:
    data = await w.run("walkthrough/06_pending_providers.graphql", token=w.tokens["officer"])
    assert [e["node"]["id"] for e in data["providers"]["edges"]] == [w.ids["provider"]]
    anonymous = await w.run("walkthrough/06_pending_providers.graphql")
    assert anonymous["providers"]["totalCount"] == 0


async def approve_provider(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/07_approve_provider.graphql", {"id": w.ids["provider"]}, token=w.tokens["officer"]
    )
    assert data["approveProvider"]["provider"]["status"] == "ACTIVE"


async def add_qualification(w: Walkthrough) -> None:
    login = await w.run(
        "walkthrough/04_login.graphql",
        {"input": {"email": NEW_PROVIDER["adminEmail"], "password": NEW_PROVIDER["adminPassword"]}},
    )
    token = login["login"]["token"]
    data = await w.run(
        "walkthrough/08_add_qualification.graphql",
        {"input": {"providerId": w.ids["provider"], **NEW_QUALIFICATION}},
        token=token,
    )
    provider = data["addQualification"]["provider"]
    assert provider["status"] == "ACTIVE"
    assert provider["qualifications"] == [
        {k: NEW_QUALIFICATION[k] for k in ("type", "number", "validFrom", "validTo")}
    ]


# One step per operation file, run in the files' sorted order; a step may reuse earlier files.
STEPS: dict[str, Step] = {
    "walkthrough/01_service_packages.graphql": browse_catalogue,
    "walkthrough/02_regions.graphql": list_regions,
    "walkthrough/03_register_provider.graphql": register_provider,
    "walkthrough/04_login.graphql": log_in_officer,
    "walkthrough/05_me.graphql": me,
    "walkthrough/06_pending_providers.graphql": pending_providers,
    "walkthrough/07_approve_provider.graphql": approve_provider,
    "walkthrough/08_add_qualification.graphql": add_qualification,
}


async def test_every_operation_runs_on_the_demo_data(session, api):
    # Given the demo marketplace
    await demo.load(session)
    await session.commit()
    walkthrough = Walkthrough(api)

    # When every operation file runs in order, then each step's checks hold
    files = operation_files()
    assert files, "no operations found"
    for file in files:
        step = STEPS.get(file)
        if step is None:
            pytest.fail(f"graphql/operations/{file} has no step in tests/test_operations.py: add one")
        await step(walkthrough)
    assert set(STEPS) <= set(files), "STEPS names files that no longer exist"


def test_each_operation_file_holds_one_named_operation():
    names = []
    for file in operation_files():
        document = parse((OPERATIONS / file).read_text(encoding="utf-8"))
        assert len(document.definitions) == 1, f"{file}: one operation per file"
        operation = document.definitions[0]
        assert isinstance(operation, OperationDefinitionNode) and operation.name, f"{file}: name it"
        names.append(operation.name.value)
    assert len(names) == len(set(names)), f"operation names repeat: {names}"


def test_readme_walkthrough_shows_each_operation_and_its_inputs():
    readme = README.read_text(encoding="utf-8")
    for file in operation_files():
        if file.startswith("walkthrough/"):
            assert (OPERATIONS / file).read_text(encoding="utf-8").strip() in readme, file
    for value in (*NEW_PROVIDER.values(), *NEW_QUALIFICATION.values()):
        assert value in readme, value


def test_readme_lists_every_demo_account_with_its_password():
    rows = [
        line for line in README.read_text(encoding="utf-8").splitlines() if re.search(r"\| `?demo-", line)
    ]
    assert len(rows) == len(demo.ACCOUNTS)
    for account in demo.ACCOUNTS:
        assert any(
            account.email in row and account.password in row and account.role.value in row for row in rows
        ), account.email


def test_demo_credit_codes_are_valid():
    codes = [p.credit_code for p in demo.PROVIDERS] + [
        demo.AUDIT_FIRM_CREDIT_CODE,
        NEW_PROVIDER["creditCode"],
    ]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert uscc.is_valid(code), code
        assert len(code) == 18


async def test_load_fills_an_empty_database(session):
    # Given an empty database
    assert await demo.database_is_empty(session)

    # When the demo loads
    summary = await demo.load(session)
    await session.commit()

    # Then it is no longer empty and holds what the README promises
    assert not await demo.database_is_empty(session)
    assert "4 approved providers" in summary
    statuses = (await session.scalars(select(Provider.status))).all()
    assert statuses == [ProviderStatus.ACTIVE] * 4
    assert await session.scalar(select(func.count()).select_from(ServicePackage)) == 3
    roles = Counter((await session.scalars(select(User.role))).all())
    assert roles == {Role.ADMIN: 1, Role.OFFICER: 2, Role.EVALUATOR: 2, Role.AUDITOR: 1, Role.PROVIDER: 4}
    per_provider = Counter((await session.scalars(select(Qualification.provider_id))).all())
    assert sorted(per_provider.values()) == [1, 1, 1, 2]
    today = dt.datetime.now(dt.UTC).date()
    assert all(
        q.valid_from <= today <= q.valid_to for q in (await session.scalars(select(Qualification))).all()
    )
    for account in demo.ACCOUNTS:
        result = await service.login(
            session=session,
            email=account.email,
            password=account.password,
            secret_key=get_settings().secret_key,
        )
        assert result.user.role == account.role
