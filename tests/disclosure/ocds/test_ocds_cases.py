"""Hand-made processes over HTTP: each kind of release (amendments, opening, cancellation, award,
implementation, contract status changes), the sealed-bid rule, errors with codes, and the number
of statements a package takes whatever the number of tenders."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from contracts import lifecycle
from core import clock
from core.settings import get_settings
from disclosure.ocds import packages
from market import bids, evaluation, tenders
from scoring.models import Payment, PaymentKind, PaymentStatus, Scorecard, Tier
from tests.contracts import world as contract_world
from tests.disclosure.ocds import validation
from tests.market import world as market_world

DAY = 86400
LATER = dt.date(2035, 1, 1)
"""A start date after the contract world's clock (which moved into its contract's term, 2030)."""


async def get_json(api, path: str, status: int = 200):
    response = await api.client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def ocid(tender_id: int) -> str:
    return f"{get_settings().ocds_prefix}-{tender_id}"


async def assert_valid_and_compiled(api, tender_id: int, monkeypatch) -> tuple[dict, dict]:
    """Both packages of a tender validate, and ocdskit compiles its releases into our compiled release."""
    release_package = await get_json(api, f"/ocds/tenders/{tender_id}/releases.json")
    record_package = await get_json(api, f"/ocds/tenders/{tender_id}/record.json")
    assert validation.schema_errors(release_package) == []
    assert validation.schema_errors(record_package) == []
    for package in (release_package, record_package):
        report = validation.cove(package, monkeypatch)
        assert report["validation_errors"] == [] and report["additional_fields"] == []
    (record,) = record_package["records"]
    assert record["releases"] == release_package["releases"]
    assert validation.compiled_by_ocdskit(release_package)[ocid(tender_id)] == record["compiledRelease"]
    return release_package, record["compiledRelease"]


async def test_a_tender_amended_then_cancelled(session, api, monkeypatch):
    world = await market_world.build(session, bidders=2)
    tender = await world.published(quantity=1200, max_unit_price=Decimal("110.00"))
    await world.advance(DAY)
    await tenders.amend_tender(
        session=session, actor=world.officer, tender_id=tender.id, reason="更正采购数量与最高限价",
        changes={"quantity": 1500, "max_unit_price": Decimal("105.00")},
    )  # fmt: skip
    await world.advance(DAY)
    await tenders.cancel_tender(session=session, actor=world.officer, tender_id=tender.id, reason="预算调整")
    await session.commit()

    package, compiled = await assert_valid_and_compiled(api, tender.id, monkeypatch)
    first, amended, cancelled = package["releases"]
    assert first["id"] == f"{ocid(tender.id)}-tender-v1" and first["tag"] == ["tender"]
    assert first["tender"]["items"][0]["quantity"] == 1200
    assert first["tender"]["value"] == {"amount": 132000.0, "currency": "CNY"}
    assert first["tender"]["status"] == "active" and "amendments" not in first["tender"]
    kpis = await tenders.kpis_of(session, [tender.id])
    assert kpis and [(m["title"], m["observations"][0]["measure"]) for m in first["tender"]["targets"]] == [
        (k.name, k.target) for k in kpis
    ]
    assert amended["tag"] == ["tenderAmendment"]
    assert amended["tender"]["items"][0]["quantity"] == 1500
    assert amended["tender"]["value"] == {"amount": 157500.0, "currency": "CNY"}
    (amendment,) = amended["tender"]["amendments"]
    assert amendment["rationale"] == "更正采购数量与最高限价"
    assert amendment["amendsReleaseID"] == first["id"] and amendment["releaseID"] == amended["id"]
    assert "quantity: 1200 → 1500" in amendment["description"]
    assert first["date"] < amended["date"] < cancelled["date"]
    assert cancelled["tag"] == ["tenderCancellation"] and cancelled["tender"]["status"] == "cancelled"
    assert cancelled["tender"]["documents"][-1]["description"] == "预算调整"
    assert compiled["tender"]["status"] == "cancelled" and compiled["tender"]["items"][0]["quantity"] == 1500


async def test_sealed_bids_are_not_exported_before_the_opening(session, api, monkeypatch):
    world = await market_world.build(session, bidders=3)
    tender = await world.published()
    for bidder, price in enumerate(("100.00", "98.00", "96.00")):
        await world.bid(tender, bidder, price, proposal=f"SECRET-PROPOSAL-{bidder}")
    package, compiled = await assert_valid_and_compiled(api, tender.id, monkeypatch)
    body = json.dumps(package, ensure_ascii=False)
    assert "bids" not in compiled and "tenderers" not in compiled["tender"]
    assert "numberOfTenderers" not in compiled["tender"]
    for provider in world.providers:  # not even that they bid
        assert provider.legal_name not in body and provider.credit_code not in body
    assert "SECRET-PROPOSAL" not in body and "98" not in json.dumps(compiled["tender"]["value"])

    await world.past_deadline(tender)
    await bids.open_bids(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()
    package, compiled = await assert_valid_and_compiled(api, tender.id, monkeypatch)
    opening = package["releases"][-1]
    assert opening["id"].endswith("-opening") and opening["tag"] == ["tenderUpdate"]
    assert opening["tender"]["numberOfTenderers"] == 3
    assert sorted(b["value"]["amount"] for b in opening["bids"]["details"]) == [115200.0, 117600.0, 120000.0]
    assert {b["status"] for b in opening["bids"]["details"]} == {"valid"}
    assert {s["measure"]: s["value"] for s in opening["bids"]["statistics"]}["validBids"] == 3
    roles = {p["name"]: p["roles"] for p in opening["parties"]}
    assert all(roles[p.legal_name] == ["tenderer"] for p in world.providers)
    assert "SECRET-PROPOSAL" not in json.dumps(package, ensure_ascii=False)


async def test_a_contract_paid_scored_suspended_reinstated_and_terminated(session, api, monkeypatch):
    world = await contract_world.build(session, start_in_days=100)
    contract = world.contract
    now = await clock.now(session)
    session.add(
        Scorecard(
            contract_id=contract.id, period_index=1, version=1, starts_on=contract.start_date,
            ends_on=contract.start_date + dt.timedelta(days=89), verified_units=300, deliveries_recorded=300,
            substantiated_complaints=0, ratings_counted=40, ratings_sum=170, prior_mean=4.0, satisfaction=81.25,
            kpi_score=92.5, audit_score=80.0, composite=85.5, tier=Tier.B, payout_rate=Decimal("1.00"),
            base=Decimal("28800.00"), payout=Decimal("28800.00"), holdback=Decimal("2880.00"),
            details={"kpis": []}, finalized_at=now, reason="period finalised",
        )
    )  # fmt: skip
    session.add(
        Payment(
            contract_id=contract.id, period_index=1, kind=PaymentKind.PERIOD, amount=Decimal("25920.00"),
            status=PaymentStatus.PAID, backend="ledger", created_at=now, approved_at=now, sent_at=now,
            paid_at=now + dt.timedelta(hours=1),
        )
    )  # fmt: skip
    await session.commit()
    for change, reason in (("suspended", "两期E档"), ("reinstated", None), ("terminated", "服务严重不达标")):
        await world.advance(DAY)
        await lifecycle.change_contract_status(
            session=session, actor=world.officer, contract_id=contract.id, change=change, reason=reason
        )
        await session.commit()

    package, compiled = await assert_valid_and_compiled(api, contract.tender_id, monkeypatch)
    suffixes = [r["id"].removeprefix(ocid(contract.tender_id) + "-") for r in package["releases"]]
    assert suffixes[-6:] == ["award", "period-1-v1", "payment-" + suffixes[-4].split("-")[1],
                             "contract-suspended-1", "contract-reinstated-2", "contract-terminated-3"]  # fmt: skip
    assert [r["tag"] for r in package["releases"][-3:]] == [["contractUpdate"]] * 3
    suspended = package["releases"][-3]["contracts"][0]
    assert suspended["status"] == "active" and "SUSPENDED" in suspended["description"]
    (award,) = compiled["awards"]
    assert award["status"] == "active" and award["value"]["amount"] == float(contract.total_value)
    (made,) = compiled["contracts"]
    assert made["status"] == "terminated" and made["awardID"] == award["id"]
    assert [m["observations"][0]["measure"] for m in made["agreedMetrics"]] == [
        k.target for k in await lifecycle_kpis(session, contract.id)
    ]
    implementation = made["implementation"]
    assert implementation["endDate"] == package["releases"][-1]["date"]
    assert [t["value"]["amount"] for t in implementation["transactions"]] == [25920.0]
    assert implementation["finalValue"]["amount"] == 25920.0
    scores = {m["id"]: m["observations"][0]["measure"] for m in implementation["metrics"]}
    assert scores == {"composite": 85.5, "satisfaction": 81.25, "kpiScore": 92.5, "auditScore": 80.0}
    roles = {p["id"]: p["roles"] for p in compiled["parties"]}
    assert roles[award["suppliers"][0]["id"]] == ["tenderer", "supplier", "payee"]


async def lifecycle_kpis(session, contract_id: int):
    from sqlalchemy import select

    from contracts.models import ContractKpi

    statement = (
        select(ContractKpi).where(ContractKpi.contract_id == contract_id).order_by(ContractKpi.position)
    )
    return list(await session.scalars(statement))


async def test_unknown_and_unpublished_tenders_are_404(session, api):
    world = await market_world.build(session, bidders=1)
    draft = await world.draft()
    await session.commit()
    for path in (f"/ocds/tenders/{draft.id}/releases.json", f"/ocds/tenders/{draft.id}/record.json",
                 "/ocds/tenders/999999999/releases.json", "/ocds/tenders/abc/record.json",
                 "/ocds/tenders/99999999999999999999999/releases.json"):  # fmt: skip
        body = await get_json(api, path, 404)
        assert body["errors"][0]["code"] == "NOT_FOUND"


async def test_the_streamed_package_of_a_district_and_dates(session, api, monkeypatch):
    world = await market_world.build(session, bidders=1)
    tender = await world.published()
    await world.advance(3 * DAY)
    other = await market_world.build(session, bidders=1)
    elsewhere = await other.published()
    await session.commit()
    response = await api.client.get(f"/ocds/releases.json?region={world.region.code}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    package = response.json()
    assert validation.schema_errors(package) == []
    assert [r["ocid"] for r in package["releases"]] == [ocid(tender.id)]
    assert package["uri"].endswith(f"/ocds/releases.json?region={world.region.code}")

    zone = get_settings().zone
    day = elsewhere.published_at.astimezone(zone).date().isoformat()
    package = (await api.client.get(f"/ocds/releases.json?from={day}&to={day}")).json()
    assert [r["ocid"] for r in package["releases"]] == [ocid(elsewhere.id)]
    everything = (await api.client.get("/ocds/releases.json")).json()
    assert {r["ocid"] for r in everything["releases"]} == {ocid(tender.id), ocid(elsewhere.id)}
    report = validation.cove(everything, monkeypatch)
    assert report["validation_errors"] == []


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("from=2026-02-30", ["INVALID"]),
        ("to=yesterday", ["INVALID"]),
        ("from=2026-05-02&to=2026-05-01", ["INVALID"]),
        ("from=20260501&to=x", ["INVALID", "INVALID"]),
        ("region=000000", ["NOT_FOUND"]),
        ("region=", ["INVALID"]),
        ("regoin=310101", ["INVALID"]),
    ],
)
async def test_bad_parameters_are_400_with_codes(api, query, codes):
    body = await get_json(api, f"/ocds/releases.json?{query}", 400)
    assert [e["code"] for e in body["errors"]] == codes


async def open_terms(market) -> dict:
    """Terms a tender can be published with now: its deadline ahead, its contract after it."""
    return {"start_date": LATER, "bid_deadline": await market.now() + dt.timedelta(days=20)}


async def test_a_package_takes_the_same_statements_for_many_tenders(session, statements):
    await contract_world.build(session)

    async def count() -> tuple[int, int]:
        selection = packages.Selection()
        with statements as counter:
            chunks = [c async for c in packages.stream(session, selection, uri="http://test/ocds")]
        processes = len({r["ocid"] for r in json.loads(b"".join(chunks))["releases"]})
        return counter.count, processes

    few, processes = await count()
    market = await market_world.build(session, bidders=2)  # its clock: now, after the contract's start
    for _ in range(3):  # more of every kind: amended, opened with bids, cancelled
        amended = await market.published(**await open_terms(market))
        await tenders.amend_tender(session=session, actor=market.officer, tender_id=amended.id,
                                   reason="更正", changes={"quantity": 1300})  # fmt: skip
        await market.opened(["100.00", "99.00"], **await open_terms(market))
        cancelled = await market.published(**await open_terms(market))
        await tenders.cancel_tender(
            session=session, actor=market.officer, tender_id=cancelled.id, reason="撤销"
        )
    await session.commit()
    many, more_processes = await count()
    assert more_processes == processes + 9
    assert many == few <= 15, (few, many)


async def test_a_tender_unsuccessful_after_its_opening(session, api, monkeypatch):
    """流标 at ranking: an abnormally low bid's justification rejected leaves 2 valid bids of the 3 required."""
    world = await market_world.build(session, bidders=3)
    tender = await world.opened(["79.99", "110.00", "110.01"], max_unit_price=Decimal("120.00"))
    low = next(b for b in await world.bids(tender) if b.abnormally_low)
    await world.advance(DAY)
    await evaluation.decide_justification(session=session, actor=world.officer, bid_id=low.id, accept=False)
    await evaluation.rank_bids(session=session, actor=world.officer, tender_id=tender.id)
    await session.commit()

    package, compiled = await assert_valid_and_compiled(api, tender.id, monkeypatch)
    assert [r["id"].rsplit("-", 1)[-1] for r in package["releases"]] == ["v1", "opening", "unsuccessful"]
    opening, closed = package["releases"][1:]
    assert opening["tender"]["status"] == "active" and closed["tender"]["status"] == "unsuccessful"
    assert closed["tag"] == ["tenderUpdate"] and opening["date"] < closed["date"]
    assert closed["tender"]["documents"][-1]["documentType"] == "cancellationDetails"
    statuses = sorted(b["status"] for b in compiled["bids"]["details"])
    assert statuses == ["disqualified", "valid", "valid"]
    assert "awards" not in compiled and "rank" not in json.dumps(compiled["bids"])
