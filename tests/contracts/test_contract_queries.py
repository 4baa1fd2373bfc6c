"""Reading contracts: who sees what (SPEC §2), `contracts` and `complaints` lists, `node` for contracts
and what belongs to them, and statement counts of a page (no N+1)."""

from __future__ import annotations

import pytest

from contracts import audits, complaints, lifecycle, ratings
from contracts import models as cm
from market.models import KpiSource
from tests.contracts import world as cw
from tests.contracts.test_contracts import contract_worlds, gid, login

DETAILS = """
  id status unitPrice totalValue quantity
  provider { legalName }
  periods { index startsOn endsOn }
  kpis { name }
  ratingsCount
  deliveries(first: 10) { totalCount edges { node { id } } }
  complaints { id }
  audits { id checks { id } appeals { id } }
"""
CONTRACT = f"query($id: ID!) {{ node(id: $id) {{ ... on Contract {{ {DETAILS} }} }} }}"
CONTRACTS = f"""query($mine: Boolean!) {{
  contracts(first: 20, mine: $mine) {{ totalCount edges {{ node {{ {DETAILS} }} }} }} }}"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
COMPLAINTS = "query { complaints(first: 20) { totalCount edges { node { id category } } } }"
TENDER_CONTRACT = (
    "query($id: ID!) { node(id: $id) { ... on Tender { id award { contract { id status } } } } }"
)

CALLERS = [None, "provider", "other_provider", "officer", "other_officer", "auditor", "other_auditor"]
SEES_DETAILS = {"provider", "officer", "auditor"}


@pytest.fixture
async def busy(session):
    """The contract world with one of everything: a rated delivery, a complaint, a submitted audit with
    an item, and the provider's appeal of it."""
    world = await cw.build(session, start_in_days=10)
    delivery, token = await world.deliver()
    await ratings.rate_delivery(
        session=session, token=token, rating=ratings.Stars(4), client_address="10.1.1.1"
    )
    complaint = await complaints.file_complaint(
        session=session, token=token, category="ATTITUDE", text="迟到"
    )
    audit = await audits.create_audit(
        session=session, actor=world.auditor, contract_id=world.contract.id, period_index=1
    )
    for kpi in await lifecycle.contract_kpis(session, [world.contract.id]):
        if kpi.source == KpiSource.AUDIT:
            await audits.record_kpi_value(
                session=session, actor=world.auditor, audit_id=audit.id, kpi_id=kpi.id, value=96
            )
    spec = audits.CheckSpec("护理员持证上岗", False, 2.0, cm.Severity.MAJOR)
    await audits.add_audit_check(session=session, actor=world.auditor, audit_id=audit.id, check=spec)
    await audits.submit_audit(session=session, actor=world.auditor, audit_id=audit.id)
    (check,) = await _checks(session, audit.id)
    appeal = await audits.appeal_audit(
        session=session, actor=world.provider, audit_id=audit.id, check_ids=[check.id], reason="证书齐全"
    )
    await session.commit()
    ids = {
        "Contract": gid("Contract", world.contract.id),
        "Delivery": gid("Delivery", delivery.id),
        "Complaint": gid("Complaint", complaint.id),
        "Audit": gid("Audit", audit.id),
        "Appeal": gid("Appeal", appeal.id),
    }
    return world, ids


async def _checks(session, audit_id):
    from sqlalchemy import select

    return (await session.scalars(select(cm.AuditCheck).where(cm.AuditCheck.audit_id == audit_id))).all()


def assert_summary(contract: dict, world) -> None:
    """What anyone (but auditors of other firms) sees: the public summary."""
    assert contract["status"] == "ACTIVE"
    assert contract["unitPrice"] == str(world.contract.unit_price)
    assert contract["totalValue"] == str(world.contract.total_value)
    assert contract["quantity"] == 1200
    assert contract["provider"]["legalName"].startswith("Provider ")
    assert [p["index"] for p in contract["periods"]] == [1, 2, 3, 4]
    assert [k["name"] for k in contract["kpis"]] == ["按时上门率", "服务完成率", "有效投诉率"]


def details(contract: dict) -> dict:
    return {
        "ratingsCount": contract["ratingsCount"],
        "deliveries": (contract["deliveries"]["totalCount"], len(contract["deliveries"]["edges"])),
        "complaints": len(contract["complaints"]),
        "audits": [(len(a["checks"]), len(a["appeals"])) for a in contract["audits"]],
    }


ALL_DETAILS = {"ratingsCount": 1, "deliveries": (1, 1), "complaints": 1, "audits": [(1, 1)]}
NO_DETAILS = {"ratingsCount": None, "deliveries": (0, 0), "complaints": 0, "audits": []}


# ---------------------------------------------------------------- who sees what


@pytest.mark.parametrize("who", CALLERS)
async def test_the_contract_node_shows_details_only_to_its_parties(who, busy, api):
    world, ids = busy
    token = await login(api, world, who)

    contract = (await api(CONTRACT, {"id": ids["Contract"]}, token=token))["node"]

    if who == "other_auditor":
        assert contract is None  # auditors of another firm see nothing of the contract
        return
    assert_summary(contract, world)
    assert details(contract) == (ALL_DETAILS if who in SEES_DETAILS else NO_DETAILS)


@pytest.mark.parametrize("who", CALLERS)
async def test_the_contracts_list_shows_details_only_to_its_parties(who, busy, api):
    world, ids = busy
    token = await login(api, world, who)

    listed = (await api(CONTRACTS, {"mine": False}, token=token))["contracts"]

    if who == "other_auditor":
        assert listed == {"totalCount": 0, "edges": []}
        return
    assert listed["totalCount"] == 1
    (edge,) = listed["edges"]
    assert edge["node"]["id"] == ids["Contract"]
    assert_summary(edge["node"], world)
    assert details(edge["node"]) == (ALL_DETAILS if who in SEES_DETAILS else NO_DETAILS)


@pytest.mark.parametrize("who", CALLERS)
async def test_deliveries_complaints_audits_and_appeals_are_nodes_only_for_the_parties(who, busy, api):
    world, ids = busy
    token = await login(api, world, who)

    for type_name in ("Delivery", "Complaint", "Audit", "Appeal"):
        node = (await api(NODE, {"id": ids[type_name]}, token=token))["node"]
        expected = {"id": ids[type_name]} if who in SEES_DETAILS else None
        assert node == expected, type_name


@pytest.mark.parametrize(
    "who", ["provider", "officer", "auditor", "other_provider", "other_officer", "other_auditor"]
)
async def test_complaints_list_only_those_of_contracts_whose_details_the_caller_sees(who, busy, api):
    world, ids = busy
    token = await login(api, world, who)

    listed = (await api(COMPLAINTS, token=token))["complaints"]

    expected = [ids["Complaint"]] if who in SEES_DETAILS else []
    assert [e["node"]["id"] for e in listed["edges"]] == expected
    assert listed["totalCount"] == len(expected)


async def test_complaints_are_not_listed_to_the_public(busy, api):
    response = await api.raw(COMPLAINTS)

    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_auditors_of_another_firm_cannot_create_an_audit_of_it(busy, api):
    world, ids = busy
    token = await login(api, world, "other_auditor")

    data = await api(
        "mutation($c: ID!) { createAudit(contractId: $c, periodIndex: 2) { audit { id } errors { code } } }",
        {"c": ids["Contract"]},
        token=token,
    )

    assert data["createAudit"] == {"audit": None, "errors": [{"code": "NOT_FOUND"}]}


async def test_auditors_of_another_firm_do_not_reach_the_contract_through_its_tender(busy, api):
    world, _ = busy
    token = await login(api, world, "other_auditor")

    variables = {"id": gid("Tender", world.contract.tender_id)}

    tender = (await api(TENDER_CONTRACT, variables, token=token))["node"]

    assert tender is None or tender["award"] is None or tender["award"]["contract"] is None


async def test_the_public_reaches_the_contract_summary_through_its_tender(busy, api):
    world, ids = busy

    tender = (await api(TENDER_CONTRACT, {"id": gid("Tender", world.contract.tender_id)}))["node"]

    assert tender["award"]["contract"] == {"id": ids["Contract"], "status": "ACTIVE"}


# ---------------------------------------------------------------- mine, status


@pytest.mark.parametrize(
    ("who", "mine"),
    [
        ("provider", True),
        ("other_provider", False),
        ("officer", True),
        ("other_officer", False),
        ("auditor", True),
        ("other_auditor", False),
    ],
)
async def test_mine_lists_the_callers_own_contracts(who, mine, busy, api):
    world, ids = busy
    token = await login(api, world, who)

    listed = (await api(CONTRACTS, {"mine": True}, token=token))["contracts"]

    assert [e["node"]["id"] for e in listed["edges"]] == ([ids["Contract"]] if mine else [])
    assert listed["totalCount"] == (1 if mine else 0)


@pytest.mark.parametrize("who", [None, "evaluator0"])
async def test_mine_lists_nothing_for_callers_without_contracts(who, busy, api):
    world, _ = busy
    token = await login(api, world, who)

    listed = (await api(CONTRACTS, {"mine": True}, token=token))["contracts"]

    assert listed == {"totalCount": 0, "edges": []}


async def test_contracts_are_filtered_by_status_newest_first(session, api):
    first, second, third = await contract_worlds(session, 3)
    await lifecycle.change_contract_status(
        session=session,
        actor=first.officer,
        contract_id=second.contract.id,
        change="suspended",
        reason="整改",
    )
    await session.commit()
    query = "query($s: ContractStatus) { contracts(first: 10, status: $s) { edges { node { id } } } }"

    def ids(data) -> list[str]:
        return [e["node"]["id"] for e in data["contracts"]["edges"]]

    everything = ids(await api(query, {"s": None}))
    assert everything == [gid("Contract", w.contract.id) for w in (third, second, first)]
    assert ids(await api(query, {"s": "ACTIVE"})) == [gid("Contract", w.contract.id) for w in (third, first)]
    assert ids(await api(query, {"s": "SUSPENDED"})) == [gid("Contract", second.contract.id)]
    assert ids(await api(query, {"s": "TERMINATED"})) == []


# ---------------------------------------------------------------- statement counts

PAGE = """
query($n: Int!) {
  contracts(first: $n) {
    totalCount
    edges { node {
      id status
      periods { index startsOn endsOn }
      ratingsCount
      provider { legalName }
      kpis { name }
      auditFirm { name }
    } }
  }
}"""
PAGE_WITH_DELIVERIES = """
query($n: Int!) {
  contracts(first: $n) {
    edges { node {
      id ratingsCount
      deliveries(first: 5) { edges { node { deliveredOn rating { stars } } } }
    } }
  }
}"""
CONTRACT_COUNT = 8


@pytest.fixture
async def many(session):
    """8 contracts; the i-th newest has i+1 deliveries, the first i of them rated."""
    worlds = await contract_worlds(session, CONTRACT_COUNT)
    newest_first = list(reversed(worlds))
    address = iter(range(1000))
    for i, world in enumerate(newest_first):
        for j in range(i + 1):
            _, token = await world.deliver(phone=f"1390000{i:02d}{j:02d}")
            if j < i:
                await ratings.rate_delivery(
                    session=session, token=token, rating=ratings.Stars(1 + j % 5),
                    client_address=f"10.2.0.{next(address)}",
                )  # fmt: skip
    await session.commit()
    return newest_first


async def _count(api, statements, query, n, token):
    with statements:
        data = await api(query, {"n": n}, token=token)
    return statements.count, data


@pytest.mark.uncached
@pytest.mark.parametrize("who", ["officer", None])
async def test_a_page_of_contracts_runs_as_many_statements_for_2_as_for_8(who, many, api, statements):
    token = await login(api, many[0], who)

    small, _ = await _count(api, statements, PAGE, 2, token)
    large, data = await _count(api, statements, PAGE, CONTRACT_COUNT, token)

    edges = data["contracts"]["edges"]
    assert [e["node"]["id"] for e in edges] == [gid("Contract", w.contract.id) for w in many]
    if who == "officer":
        assert [e["node"]["ratingsCount"] for e in edges] == list(range(CONTRACT_COUNT))
    else:
        assert all(e["node"]["ratingsCount"] is None for e in edges)
    assert all(len(e["node"]["periods"]) == 4 and len(e["node"]["kpis"]) == 3 for e in edges)
    assert all(e["node"]["auditFirm"]["name"] and e["node"]["provider"]["legalName"] for e in edges)
    assert large == small
    # officer: clock offset + actor, count + page, ratings counts, providers, KPIs, audit firms;
    # the public: no actor and no ratings counts (hidden), and no clock read
    assert large == (8 if who == "officer" else 5)


@pytest.mark.uncached
async def test_deliveries_of_a_page_of_contracts_are_right_and_batched(many, api, statements):
    token = await login(api, many[0], "officer")

    with statements:
        await api(PAGE_WITH_DELIVERIES, {"n": 1}, token=token)
    one = statements.count
    with statements:
        data = await api(PAGE_WITH_DELIVERIES, {"n": CONTRACT_COUNT}, token=token)
    # clock offset + actor, count + page, ratings counts, then the deliveries of every contract on
    # the page in one windowed query plus one count, and their ratings in one more: 8 for 1 or 8.
    assert statements.count == one == 8

    for i, edge in enumerate(data["contracts"]["edges"]):
        # Newest first: delivery i (not rated), then i-1, i-2... (rated 1 + j % 5 stars); 5 at most
        shown = list(range(i, -1, -1))[:5]
        stars = [
            d["node"]["rating"]["stars"] if d["node"]["rating"] else None
            for d in edge["node"]["deliveries"]["edges"]
        ]
        assert stars == [None if j == i else 1 + j % 5 for j in shown]
        assert edge["node"]["ratingsCount"] == i


async def test_ratings_count_is_exact_with_many_ratings(session, api):
    world = await cw.build(session, start_in_days=10)
    for i in range(200):
        _, token = await world.deliver(phone=f"1370000{i:04d}")
        if i < 150:
            await ratings.rate_delivery(
                session=session, token=token, rating=ratings.Stars(5 - i % 5),
                client_address=f"10.3.{i // 100}.{i % 100}",
            )  # fmt: skip
    await session.commit()
    officer, provider, other = [
        await login(api, world, who) for who in ("officer", "provider", "other_provider")
    ]
    query = "query($id: ID!) { node(id: $id) { ... on Contract { ratingsCount deliveries { totalCount } } } }"
    variables = {"id": gid("Contract", world.contract.id)}

    for token in (officer, provider):
        contract = (await api(query, variables, token=token))["node"]
        assert contract == {"ratingsCount": 150, "deliveries": {"totalCount": 200}}
    assert (await api(query, variables, token=other))["node"] == {
        "ratingsCount": None,
        "deliveries": {"totalCount": 0},
    }
