"""The published operations (graphql/operations/**/*.graphql) run against the API on the demo data,
and the demo data itself: valid credit codes, the expected counts, one tender in each state, the
awarded tender's contract in delivery with no phone number left in clear, the README's account table.

Every operation file needs a step below: a file without one fails the test, so no operation is
published untested.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse
from sqlalchemy import func, select
from stdnum.cn import uscc

from contracts import audits, lifecycle
from contracts.complaints import light
from contracts.models import (
    Appeal,
    Audit,
    AuditCheck,
    AuditStatus,
    Complaint,
    ComplaintStatus,
    Contract,
    ContractStatus,
    Delivery,
    Light,
    Notification,
    NotificationStatus,
    Rating,
)
from contracts.outbox import ConsoleBackend, send_notifications
from contracts.ratings import is_flagged
from core import clock, journal
from core.api import decode_id
from core.auth import Role
from core.models import JournalEvent
from core.settings import get_settings
from demo import marketplace as demo
from demo import scoring as demo_scoring
from market import accounts
from market.models import (
    Bid,
    BidStatus,
    Provider,
    ProviderStatus,
    Qualification,
    ServicePackage,
    Tender,
    TenderStatus,
    User,
)
from scoring import certification, pages, rollups, scorecards
from scoring.models import Certificate, LedgerEntry, Payment, PaymentKind, PaymentStatus, Scorecard
from scoring.pages import qr_svg

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "graphql" / "operations"
README = ROOT / "README.md"

ACCOUNTS = {a.email: a for a in demo.ACCOUNTS}
OFFICER = ACCOUNTS["officer.huangpu@demo.gov.cn"]
ADMIN = ACCOUNTS["admin@demo.gov.cn"]
EVALUATORS = [ACCOUNTS[email] for email in demo.EVALUATORS]

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


# The tender the walkthrough takes from draft to award. The deadline and start date are dates the
# README tells the reader to choose (a deadline two days ahead); the test takes them from `now`.
NEW_TENDER = {
    "title": "黄浦区高龄老人居家养老上门服务采购项目",
    "quantity": 6000,
    "periods": 4,
    "periodMonths": 3,
    "maxUnitPrice": "120.00",
    "minValidBids": 3,
    "priceWeight": 0.3,
    "qualityWeight": 0.6,
    "recordWeight": 0.1,
    "requiredQualifications": ["养老机构设立许可"],
}
# Bidder login -> (password, unit price, proposal); the third is the provider registered in step 3.
BIDDERS = {
    "yikang@provider.demo.cn": (
        "demo-provider-2026",
        "98.00",
        "片区服务小组上门，持证养老护理员按个人照护计划服务，24小时值班电话。",
    ),
    "leling@provider.demo.cn": (
        "demo-provider-2026",
        "92.00",
        "社工加护理员双人上门，每月回访，投诉24小时内回复。",
    ),
    NEW_PROVIDER["adminEmail"]: (
        NEW_PROVIDER["adminPassword"],
        "88.00",
        "新设服务点，护理员均持证上岗，服务记录家属确认。",
    ),
}
# Evaluator -> quality score per bidder, in BIDDERS order.
SCORES = {
    "evaluator.li@demo.gov.cn": [86, 84, 80],
    "evaluator.zhou@demo.org.cn": [88, 82, 78],
}
BID_DEADLINE_AHEAD = dt.timedelta(days=2)
PAST_DEADLINE_SECONDS = 259200  # 3 days, as the README advances the clock
PAST_CHALLENGE_SECONDS = 1728000  # 20 days
INTO_TERM_SECONDS = 5184000  # 60 days: into period 1 of the new contract

# The contract in delivery: what the README's walkthrough types in after the award.
PROVIDER = ACCOUNTS["yikang@provider.demo.cn"]  # the winner
AUDITOR = ACCOUNTS["auditor@mingjian.demo.cn"]
NEW_DELIVERY = {"units": 1, "residentPhone": "13916285507", "note": "助浴、助洁，服务65分钟"}
NEW_RATING = {
    "stars": 4,
    "timeliness": 3,
    "attitude": 5,
    "professionalism": 4,
    "comment": "护理员很耐心，就是比约定时间晚到了半小时。",
}
NEW_COMPLAINT = {"category": "LATE", "text": "约定上午九点上门，九点半才到，也没有提前打电话。"}
COMPLAINT_RESPONSE = "已核实：护理员前一户服务超时，已向老人致歉并调整排班；今后如有延误提前电话告知。"
AUDIT_KPI = ("按时上门率", 96.5)
NEW_CHECKS = [
    {
        "item": "护理员持证上岗",
        "passed": True,
        "weight": 3,
        "severity": "MAJOR",
        "note": "抽查10人，均持有养老护理员职业技能等级证书。",
    },
    {
        "item": "服务记录由老人或家属签字确认",
        "passed": False,
        "weight": 2,
        "severity": "MINOR",
        "note": "抽查20份服务记录，3份无老人或家属签字。",
        "evidence": "评估底稿 MJ-PG-02 附件1",
    },
]
APPEAL_REASON = "3份记录由老人本人按手印确认（老人不会写字），附照片，请复核。"
APPEAL_DECISION = "按手印确认有效，该项不扣分。"
# Period 1 of the new contract, finalised after the clock passes its end: one visit rated 4 stars
# (the package's only rating in the period's dates, so the prior mean is 3.0), 按时上门率 96.5 of 95,
# 1 of 1500 planned visits, no substantiated complaint, the audit at 100 after the appeal.
PAST_PERIOD_SECONDS = 5184000  # 60 days more
NEW_SCORECARD = {
    "periodIndex": 1,
    "version": 1,
    "ratingsCounted": 1,
    "priorMean": 3.0,
    "satisfaction": 52.27,
    "kpiScore": 60.03,
    "auditScore": 100.0,
    "composite": 64.92,
    "tier": "D",
    "verifiedUnits": 1,
    "base": "98.00",
    "payoutRate": "0.75",
    "payout": "73.50",
    "holdback": "7.35",
}
# `market notify send`, through the console backend: one line per message.
CONSOLE_LINE = re.compile(
    r"^\[sms to (\d{11})\] 【政府购买服务】.*(http://127\.0\.0\.1:8000/r/)(\S+) \(30天内有效\)$"
)
# IDs the README prints, as they are on a freshly loaded demo database (checked on SQLite, whose
# IDs roll back with each test; PostgreSQL's sequences do not).
README_IDS = {
    "huangpu": "UmVnaW9uOjE=",
    "provider": "UHJvdmlkZXI6NQ==",
    "package": "U2VydmljZVBhY2thZ2U6MQ==",
    "evaluator.li@demo.gov.cn": "VXNlcjo4",
    "evaluator.zhou@demo.org.cn": "VXNlcjo5",
    "tender": "VGVuZGVyOjEw",
    "contract": "Q29udHJhY3Q6NA==",
    "demo contract": "Q29udHJhY3Q6Mw==",
    "audit firm": "QXVkaXRGaXJtOjE=",
    "audit kpi": "S3BpOjEw",
    "complaint": "Q29tcGxhaW50OjY=",
    "audit": "QXVkaXQ6MTA=",
    "check:0": "QXVkaXRDaGVjazozOA==",
    "check:1": "QXVkaXRDaGVjazozOQ==",
    "appeal": "QXBwZWFsOjI=",
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

    def __init__(self, api, session, *, fresh_ids: bool):
        self.api, self.session = api, session  # the session: for what the command line does
        self.fresh_ids = fresh_ids  # IDs are those of a freshly loaded database (SQLite)
        self.tokens: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.values: dict[str, object] = {}

    async def run(self, file: str, variables: dict | None = None, *, token: str | None = None) -> dict:
        data = await self.api((OPERATIONS / file).read_text(encoding="utf-8"), variables, token=token)
        no_payload_errors(data)
        return data

    async def login(self, email: str, password: str) -> str:
        """Log in with the walkthrough's login operation; again after the clock moves (tokens expire)."""
        data = await self.run(
            "walkthrough/04_login.graphql", {"input": {"email": email, "password": password}}
        )
        self.tokens[email] = data["login"]["token"]
        return self.tokens[email]

    def note_id(self, key: str, value: str) -> None:
        self.ids[key] = value
        if self.fresh_ids and key in README_IDS:
            assert value == README_IDS[key], (
                f"README shows {README_IDS[key]} for {key}, the API gives {value}"
            )


Step = Callable[[Walkthrough], Awaitable[None]]


async def browse_catalogue(w: Walkthrough) -> None:
    data = await w.run("walkthrough/01_service_packages.graphql", {"category": "ELDERLY_CARE"})
    packages = [e["node"] for e in data["servicePackages"]["edges"]]
    assert [p["code"] for p in packages] == ["ELDER-HOME-VISIT"]
    kpis = packages[0]["kpis"]
    assert sum(k["weight"] for k in kpis) == pytest.approx(1)
    assert {k["source"]: k["direction"] for k in kpis}["COMPLAINT_RATE"] == "LOWER_IS_BETTER"

    w.note_id("package", packages[0]["id"])

    everything = await w.run("walkthrough/01_service_packages.graphql")
    assert everything["servicePackages"]["totalCount"] == len(demo.PACKAGES)


async def list_regions(w: Walkthrough) -> None:
    data = await w.run("walkthrough/02_regions.graphql")
    regions = {r["code"]: r for r in data["regions"]}
    assert {code: r["kind"] for code, r in regions.items()} == {"310101": "URBAN", "310151": "RURAL"}
    w.note_id("huangpu", regions["310101"]["id"])


async def register_provider(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/03_register_provider.graphql",
        {"input": {**NEW_PROVIDER, "regionIds": [w.ids["huangpu"]]}},
    )
    provider = data["registerProvider"]["provider"]
    assert provider["status"] == "PENDING"
    assert [r["name"] for r in provider["regions"]] == ["上海市黄浦区"]
    w.note_id("provider", provider["id"])


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
    token = await w.login(NEW_PROVIDER["adminEmail"], NEW_PROVIDER["adminPassword"])
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


async def browse_tenders(w: Walkthrough) -> None:
    anonymous = await w.run("walkthrough/09_tenders.graphql")
    public = [e["node"] for e in anonymous["tenders"]["edges"]]
    assert sorted(t["status"] for t in public) == sorted(
        t.status.value for t in demo.TENDERS if t.status != TenderStatus.DRAFT
    )
    assert all(t["panel"] == [] for t in public)
    awarded = next(t for t in public if t["status"] == "AWARDED")
    assert awarded["award"]["contract"]["totalValue"]
    assert next(t for t in public if t["status"] == "AWARD_PENDING")["award"] is None

    data = await w.run("walkthrough/09_tenders.graphql", token=w.tokens["officer"])
    seen = [e["node"] for e in data["tenders"]["edges"]]
    assert [t["status"] for t in seen].count("DRAFT") == 1
    panel = {s["evaluator"]["name"]: s["evaluator"]["id"] for s in seen[0]["panel"]}
    for evaluator in EVALUATORS:
        w.note_id(evaluator.email, panel[evaluator.name])
    w.values["now"] = dt.datetime.fromisoformat(data["now"])


async def create_tender(w: Walkthrough) -> None:
    deadline = w.values["now"] + BID_DEADLINE_AHEAD
    start = (deadline + dt.timedelta(days=40)).date().replace(day=1)
    variables = {
        "input": {
            **NEW_TENDER,
            "packageId": w.ids["package"],
            "regionId": w.ids["huangpu"],
            "bidDeadline": deadline.isoformat(),
            "startDate": start.isoformat(),
            "evaluatorIds": [w.ids[e.email] for e in EVALUATORS],
        }
    }
    data = await w.run("walkthrough/10_create_tender.graphql", variables, token=w.tokens["officer"])
    tender = data["createTender"]["tender"]
    assert tender["status"] == "DRAFT"
    assert (tender["package"]["code"], tender["region"]["name"]) == ("ELDER-HOME-VISIT", "上海市黄浦区")
    assert [k["name"] for k in tender["kpis"]] == [k.name for k in demo.PACKAGES["ELDER-HOME-VISIT"].kpis]
    assert sorted(s["evaluator"]["name"] for s in tender["panel"]) == sorted(e.name for e in EVALUATORS)
    w.note_id("tender", tender["id"])
    w.values["deadline"] = dt.datetime.fromisoformat(tender["bidDeadline"])
    assert w.values["deadline"] == deadline


async def publish_tender(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/11_publish_tender.graphql", {"id": w.ids["tender"]}, token=w.tokens["officer"]
    )
    tender = data["publishTender"]["tender"]
    assert (tender["status"], tender["version"]) == ("PUBLISHED", 1)
    anonymous = await w.run("walkthrough/09_tenders.graphql", {"status": "PUBLISHED"})
    assert w.ids["tender"] in [e["node"]["id"] for e in anonymous["tenders"]["edges"]]


async def submit_bids(w: Walkthrough) -> None:
    for email, (password, price, proposal) in BIDDERS.items():
        token = await w.login(email, password)
        data = await w.run(
            "walkthrough/12_submit_bid.graphql",
            {"input": {"tenderId": w.ids["tender"], "unitPrice": price, "proposal": proposal}},
            token=token,
        )
        payload = data["submitBid"]
        assert (payload["bid"]["status"], payload["bid"]["version"]) == ("SUBMITTED", 1)
        assert len(payload["receipt"]["sha256"]) == 64
        w.note_id(f"bid:{email}", payload["bid"]["id"])
        w.values[f"receipt:{email}"] = payload["receipt"]["sha256"]


async def my_bid(w: Walkthrough) -> None:
    variables = {"tenderId": w.ids["tender"]}
    for email, (_password, price, _proposal) in BIDDERS.items():
        data = await w.run("walkthrough/13_my_bid.graphql", variables, token=w.tokens[email])
        tender = data["node"]
        assert tender["bids"] == [], "sealed: not even its own bid is listed before the opening"
        mine = tender["myBid"]
        assert (mine["id"], mine["unitPrice"], mine["status"]) == (w.ids[f"bid:{email}"], price, "SUBMITTED")
        receipt = mine["receipt"]["sha256"]
        assert receipt == w.values[f"receipt:{email}"]
        assert hashlib.sha256(mine["canonicalContent"].encode()).hexdigest() == receipt
    for token in (w.tokens["officer"], None):
        sealed = (await w.run("walkthrough/13_my_bid.graphql", variables, token=token))["node"]
        assert (sealed["myBid"], sealed["bids"]) == (None, [])


async def advance_past_deadline(w: Walkthrough) -> None:
    token = await w.login(ADMIN.email, ADMIN.password)
    data = await w.run(
        "walkthrough/14_advance_clock.graphql", {"seconds": PAST_DEADLINE_SECONDS}, token=token
    )
    assert dt.datetime.fromisoformat(data["advanceClock"]["now"]) > w.values["deadline"]
    # Every token was issued more than 12 hours of platform time ago: log in again.
    response = await w.api.raw("{ me { id } }", headers={"Authorization": f"Bearer {w.tokens['officer']}"})
    assert response.status_code == 401
    w.tokens["officer"] = await w.login(OFFICER.email, OFFICER.password)


async def open_bids(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/15_open_bids.graphql", {"tenderId": w.ids["tender"]}, token=w.tokens["officer"]
    )
    tender = data["openBids"]["tender"]
    assert tender["status"] == "EVALUATING"
    assert sorted(e["unitPrice"] for e in tender["openingRecord"]) == sorted(
        p for _, p, _ in BIDDERS.values()
    )
    assert [b["status"] for b in tender["bids"]] == ["VALID"] * len(BIDDERS)
    assert not any(b["abnormallyLow"] for b in tender["bids"])


async def declare_conflicts(w: Walkthrough) -> None:
    for evaluator in EVALUATORS:
        token = await w.login(evaluator.email, evaluator.password)
        data = await w.run(
            "walkthrough/16_declare_conflicts.graphql",
            {"tenderId": w.ids["tender"], "providerIds": []},
            token=token,
        )
        bids = data["declareConflicts"]["tender"]["bids"]
        assert sorted(b["id"] for b in bids) == sorted(w.ids[f"bid:{email}"] for email in BIDDERS)
        assert all(b["proposal"] for b in bids), "the panel reads the proposals"


async def score_bids(w: Walkthrough) -> None:
    for evaluator in EVALUATORS:
        for email, score in zip(BIDDERS, SCORES[evaluator.email], strict=True):
            data = await w.run(
                "walkthrough/17_score_bid.graphql",
                {"bidId": w.ids[f"bid:{email}"], "score": score},
                token=w.tokens[evaluator.email],
            )
            assert data["scoreBid"]["bid"]["id"] == w.ids[f"bid:{email}"]


async def recommend_award(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/18_recommend_award.graphql", {"tenderId": w.ids["tender"]}, token=w.tokens["officer"]
    )
    tender = data["recommendAward"]["tender"]
    assert tender["status"] == "AWARD_PENDING"
    ranking = sorted(tender["bids"], key=lambda b: b["rank"])
    assert [b["rank"] for b in ranking] == [1, 2, 3]
    # Quality outweighs price: the dearest bid wins.
    assert ranking[0]["provider"]["legalName"] == demo.PROVIDERS[0].legal_name
    assert tender["award"]["bid"]["unitPrice"] == ranking[0]["unitPrice"] == "98.00"
    # The demo's certificates: 颐康's 4 stars give 90 for the track record, 乐龄's 3 stars 80, as no certificate.
    assert [(b["recordScore"], b["totalScore"]) for b in ranking] == [(90, 88.14), (80, 86.5), (80, 85.4)]
    w.values["winner"] = ranking[0]
    w.values["challenge_deadline"] = dt.datetime.fromisoformat(tender["challengeDeadline"])
    pending = await w.run("walkthrough/20_tender_award.graphql", {"tenderId": w.ids["tender"]})
    assert pending["node"]["award"] is None and pending["node"]["bids"] == []


async def finalize_award(w: Walkthrough) -> None:
    token = await w.login(ADMIN.email, ADMIN.password)
    data = await w.run(
        "walkthrough/14_advance_clock.graphql", {"seconds": PAST_CHALLENGE_SECONDS}, token=token
    )
    assert dt.datetime.fromisoformat(data["advanceClock"]["now"]) > w.values["challenge_deadline"]
    w.tokens["officer"] = await w.login(OFFICER.email, OFFICER.password)

    data = await w.run(
        "walkthrough/19_finalize_award.graphql", {"tenderId": w.ids["tender"]}, token=w.tokens["officer"]
    )
    contract = data["finalizeAward"]["contract"]
    winner = w.values["winner"]
    assert contract["tender"]["status"] == "AWARDED"
    assert contract["provider"]["legalName"] == winner["provider"]["legalName"]
    assert contract["unitPrice"] == winner["unitPrice"]
    assert Decimal(contract["totalValue"]) == Decimal(winner["unitPrice"]) * NEW_TENDER["quantity"]
    assert len(contract["periods"]) == NEW_TENDER["periods"]
    w.note_id("contract", contract["id"])
    w.values["period 1"] = contract["periods"][0]


async def award_notice(w: Walkthrough) -> None:
    bidder = await w.login(NEW_PROVIDER["adminEmail"], NEW_PROVIDER["adminPassword"])
    for token in (None, bidder, w.tokens["officer"]):
        data = await w.run("walkthrough/20_tender_award.graphql", {"tenderId": w.ids["tender"]}, token=token)
        tender = data["node"]
        assert tender["status"] == "AWARDED"
        award = tender["award"]
        assert award["finalizedAt"] is not None
        assert award["contract"]["id"] == w.ids["contract"]
        assert Decimal(award["contract"]["totalValue"]) == Decimal("98.00") * NEW_TENDER["quantity"]
        assert sorted(b["rank"] for b in tender["bids"]) == [1, 2, 3]
        assert all(b["totalScore"] is not None for b in tender["bids"])


async def my_contracts(w: Walkthrough) -> None:
    # The admin moves the clock into period 1 of the new contract.
    token = await w.login(ADMIN.email, ADMIN.password)
    data = await w.run("walkthrough/14_advance_clock.graphql", {"seconds": INTO_TERM_SECONDS}, token=token)
    today = dt.datetime.fromisoformat(data["advanceClock"]["now"]).date()
    period = w.values["period 1"]
    assert period["startsOn"] <= today.isoformat() <= period["endsOn"], (today, period)
    w.values["today"] = today

    w.tokens["officer"] = await w.login(OFFICER.email, OFFICER.password)
    data = await w.run("walkthrough/21_my_contracts.graphql", token=w.tokens["officer"])
    assert data["now"].startswith(today.isoformat())
    assert [f["name"] for f in data["auditFirms"]] == [demo.AUDIT_FIRM_NAME]
    w.note_id("audit firm", data["auditFirms"][0]["id"])
    new, old, last_year = (e["node"] for e in data["contracts"]["edges"])  # the department's, newest first
    assert (new["id"], new["auditFirm"], new["ratingsCount"]) == (w.ids["contract"], None, 0)
    assert old["auditFirm"]["name"] == demo.AUDIT_FIRM_NAME
    assert old["ratingsCount"] == sum(1 for d in demo.DELIVERIES if d.rating)
    w.note_id("demo contract", old["id"])
    assert (last_year["status"], last_year["auditFirm"]["name"]) == ("COMPLETED", demo.AUDIT_FIRM_NAME)
    assert last_year["ratingsCount"] >= demo.PAST_CONTRACTS[0].ratings
    w.note_id("last year's contract", last_year["id"])
    audited = [k for k in new["kpis"] if k["source"] == "AUDIT"]
    assert [k["name"] for k in audited] == [AUDIT_KPI[0]]
    w.note_id("audit kpi", audited[0]["id"])

    # The auditor sees only its firm's contracts: not yet the new one.
    auditor = await w.login(AUDITOR.email, AUDITOR.password)
    seen = [
        e["node"]
        for e in (await w.run("walkthrough/21_my_contracts.graphql", token=auditor))["contracts"]["edges"]
    ]
    assert [c["id"] for c in seen[:1]] == [old["id"]]
    assert [c["status"] for c in seen[1:]] == ["COMPLETED"] * len(demo.PAST_CONTRACTS)


async def assign_audit_firm(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/22_assign_audit_firm.graphql",
        {"contractId": w.ids["contract"], "auditFirmId": w.ids["audit firm"]},
        token=w.tokens["officer"],
    )
    contract = data["assignAuditFirm"]["contract"]
    assert (contract["status"], contract["auditFirm"]["name"]) == ("ACTIVE", demo.AUDIT_FIRM_NAME)


async def record_delivery(w: Walkthrough) -> None:
    token = await w.login(PROVIDER.email, PROVIDER.password)
    variables = {
        "input": {
            "contractId": w.ids["contract"],
            "deliveredOn": w.values["today"].isoformat(),
            **NEW_DELIVERY,
        }
    }
    data = await w.run("walkthrough/23_record_delivery.graphql", variables, token=token)
    delivery = data["recordDelivery"]["delivery"]
    assert (delivery["deliveredOn"], delivery["units"], delivery["verified"]) == (
        w.values["today"].isoformat(),
        NEW_DELIVERY["units"],
        True,
    )

    # `market notify send` in a terminal: the console backend writes the text, with the link.
    lines: list[str] = []
    sent = await send_notifications(session=w.session, backend=ConsoleBackend(lines.append))
    await w.session.commit()
    assert sent == (1, 0), "the demo's messages were sent when it loaded; only this one was pending"
    match = CONSOLE_LINE.match(lines[0])
    assert match, lines[0]
    assert match[1] == NEW_DELIVERY["residentPhone"]
    assert PROVIDER.works_for in lines[0]
    w.values["link token"] = match[3]

    # Once sent, the outbox keeps neither the number nor the token.
    admin = await w.login(ADMIN.email, ADMIN.password)
    outbox = await w.api("{ notifications(first: 1) { status recipient body } }", token=admin)
    message = outbox["notifications"][0]
    assert message["status"] == "SENT" and message["recipient"] == "139****5507"
    assert match[3] not in message["body"] and "/r/••••••" in message["body"]


async def resident_delivery(w: Walkthrough) -> None:
    data = await w.run("walkthrough/24_resident_delivery.graphql", {"token": w.values["link token"]})
    view = data["residentDelivery"]
    assert (view["providerName"], view["serviceName"]) == (PROVIDER.works_for, "居家养老上门服务")
    assert (view["deliveredOn"], view["disputed"], view["rating"]) == (
        w.values["today"].isoformat(),
        False,
        None,
    )


async def rate_delivery(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/25_rate_delivery.graphql", {"input": {"token": w.values["link token"], **NEW_RATING}}
    )
    view = data["rateDelivery"]["delivery"]
    assert view["rating"] == {**NEW_RATING, "flagged": False}
    assert view["ratingEditableUntil"] is not None
    stored = await w.run("walkthrough/24_resident_delivery.graphql", {"token": w.values["link token"]})
    assert stored["residentDelivery"]["rating"] == {k: NEW_RATING[k] for k in ("stars", "comment")}


async def file_complaint(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/26_file_complaint.graphql", {"input": {"token": w.values["link token"], **NEW_COMPLAINT}}
    )
    complaint = data["fileComplaint"]["complaint"]
    assert (complaint["status"], complaint["light"]) == ("OPEN", "GREEN")
    assert re.fullmatch(r"\d{4}-\d{4}-\d{4}", complaint["reference"])
    w.note_id("complaint", complaint["id"])


async def list_complaints(w: Walkthrough) -> None:
    data = await w.run("walkthrough/27_complaints.graphql", token=w.tokens["officer"])
    listed = [e["node"] for e in data["complaints"]["edges"]]
    ours = listed[-1]  # oldest first
    assert (ours["id"], ours["light"], ours["channel"]) == (w.ids["complaint"], "GREEN", "LINK")
    # The demo's open complaints are long overdue on the moved clock.
    assert [c["light"] for c in listed[:-1]] == ["RED"] * sum(1 for c in demo.COMPLAINTS if not c.closed)
    green = await w.run("walkthrough/27_complaints.graphql", {"light": "GREEN"}, token=w.tokens["officer"])
    assert [e["node"]["id"] for e in green["complaints"]["edges"]] == [w.ids["complaint"]]


async def respond_complaint(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/28_respond_complaint.graphql",
        {"id": w.ids["complaint"], "text": COMPLAINT_RESPONSE},
        token=w.tokens[PROVIDER.email],
    )
    complaint = data["respondComplaint"]["complaint"]
    assert (complaint["status"], complaint["light"], complaint["response"]) == (
        "RESPONDED",
        "GREEN",
        COMPLAINT_RESPONSE,
    )


async def create_audit(w: Walkthrough) -> None:
    token = await w.login(AUDITOR.email, AUDITOR.password)
    seen = await w.run("walkthrough/21_my_contracts.graphql", token=token)
    assert [e["node"]["id"] for e in seen["contracts"]["edges"]][:2] == [
        w.ids["contract"],
        w.ids["demo contract"],
    ]
    data = await w.run(
        "walkthrough/29_create_audit.graphql",
        {"contractId": w.ids["contract"], "periodIndex": 1},
        token=token,
    )
    audit = data["createAudit"]["audit"]
    assert (audit["status"], audit["periodIndex"], audit["contract"]["id"]) == ("DRAFT", 1, w.ids["contract"])
    w.note_id("audit", audit["id"])


async def record_kpi_value(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/30_record_kpi_value.graphql",
        {"auditId": w.ids["audit"], "kpiId": w.ids["audit kpi"], "value": AUDIT_KPI[1]},
        token=w.tokens[AUDITOR.email],
    )
    assert data["recordKpiValue"]["audit"]["kpiValues"] == [
        {"kpi": {"name": AUDIT_KPI[0], "target": 95.0}, "value": AUDIT_KPI[1]}
    ]


async def add_audit_checks(w: Walkthrough) -> None:
    for i, check in enumerate(NEW_CHECKS):
        data = await w.run(
            "walkthrough/31_add_audit_check.graphql",
            {"auditId": w.ids["audit"], "input": check},
            token=w.tokens[AUDITOR.email],
        )
        audit = data["addAuditCheck"]["audit"]
        assert [c["item"] for c in audit["checks"]] == [c["item"] for c in NEW_CHECKS[: i + 1]]
        w.note_id(f"check:{i}", audit["checks"][i]["id"])
    assert audit["score"] == pytest.approx(60.0)  # 3 of 5 weight passed


async def submit_audit(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/32_submit_audit.graphql", {"auditId": w.ids["audit"]}, token=w.tokens[AUDITOR.email]
    )
    audit = data["submitAudit"]["audit"]
    assert audit["status"] == "SUBMITTED" and audit["submittedAt"] is not None
    assert audit["score"] == pytest.approx(60.0)


async def appeal_audit(w: Walkthrough) -> None:
    failed = w.ids["check:1"]
    data = await w.run(
        "walkthrough/33_appeal_audit.graphql",
        {"auditId": w.ids["audit"], "checkIds": [failed], "reason": APPEAL_REASON},
        token=w.tokens[PROVIDER.email],
    )
    appeal = data["appealAudit"]["appeal"]
    assert (appeal["checkIds"], appeal["decided"], appeal["reason"]) == ([failed], False, APPEAL_REASON)
    w.note_id("appeal", appeal["id"])


async def decide_appeal(w: Walkthrough) -> None:
    failed = w.ids["check:1"]
    decisions = [{"checkId": failed, "upheld": False, "note": APPEAL_DECISION}]
    data = await w.run(
        "walkthrough/34_decide_appeal.graphql",
        {"id": w.ids["appeal"], "decisions": decisions},
        token=w.tokens["officer"],
    )
    appeal = data["decideAppeal"]["appeal"]
    assert appeal["decided"] and appeal["decisions"] == decisions
    audit = appeal["audit"]
    assert {c["id"]: c["overturned"] for c in audit["checks"]} == {w.ids["check:0"]: False, failed: True}
    assert (audit["status"], audit["score"]) == ("SUBMITTED", pytest.approx(100.0))


async def finalize_period(w: Walkthrough) -> None:
    # The admin moves the clock past the end of the new contract's period 1.
    token = await w.login(ADMIN.email, ADMIN.password)
    data = await w.run("walkthrough/14_advance_clock.graphql", {"seconds": PAST_PERIOD_SECONDS}, token=token)
    today = dt.datetime.fromisoformat(data["advanceClock"]["now"]).date()
    assert today.isoformat() > w.values["period 1"]["endsOn"], (today, w.values["period 1"])
    w.values["today"] = today
    w.tokens["officer"] = await w.login(OFFICER.email, OFFICER.password)

    variables = {"contractId": w.ids["contract"], "periodIndex": 1}
    data = await w.run("walkthrough/35_finalize_period.graphql", variables, token=w.tokens["officer"])
    card, payment = data["finalizePeriod"]["scorecard"], data["finalizePeriod"]["payment"]
    assert card == NEW_SCORECARD, card
    assert (payment["kind"], payment["status"], payment["amount"]) == ("PERIOD", "CALCULATED", "66.15")
    w.note_id("payment", payment["id"])
    again = await w.run("walkthrough/35_finalize_period.graphql", variables, token=w.tokens["officer"])
    assert again["finalizePeriod"]["scorecard"] == card, "finalising again answers the same scorecard"

    # The demo's contract has its first period ready too (ended, audited, the appeal decided).
    demo_period = {"contractId": w.ids["demo contract"], "periodIndex": 1}
    data = await w.run("walkthrough/35_finalize_period.graphql", demo_period, token=w.tokens["officer"])
    demo_card = data["finalizePeriod"]["scorecard"]
    assert (demo_card["version"], demo_card["auditScore"]) == (1, 80.0)
    assert demo_card["ratingsCounted"] > 0 and data["finalizePeriod"]["payment"]["status"] == "CALCULATED"


async def contract_periods(w: Walkthrough) -> None:
    variables = {"id": w.ids["contract"]}
    data = await w.run("walkthrough/36_contract_periods.graphql", variables, token=w.tokens["officer"])
    first, *later = data["node"]["periods"]
    assert first["scorecard"] == {
        k: NEW_SCORECARD[k] for k in ("version", "composite", "tier", "ratingsCounted")
    }
    assert first["payment"] == {"id": w.ids["payment"], "status": "CALCULATED", "amount": "66.15"}
    assert all(p["scorecard"] is None and p["payment"] is None for p in later)
    # The scorecard is public with the contract; the payment is not.
    anonymous = (await w.run("walkthrough/36_contract_periods.graphql", variables))["node"]["periods"][0]
    assert anonymous["scorecard"] == first["scorecard"] and anonymous["payment"] is None


async def approve_payment(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/37_approve_payment.graphql", {"id": w.ids["payment"]}, token=w.tokens["officer"]
    )
    assert data["approvePayment"]["payment"] == {
        "id": w.ids["payment"],
        "status": "APPROVED",
        "amount": "66.15",
    }


async def send_payment(w: Walkthrough) -> None:
    data = await w.run(
        "walkthrough/38_send_payment.graphql", {"id": w.ids["payment"]}, token=w.tokens["officer"]
    )
    payment = data["sendPayment"]["payment"]
    payment_key = decode_id(w.ids["payment"], "Payment", field=["id"])
    assert (payment["status"], payment["reference"], payment["attempts"]) == (
        "PAID",
        f"ledger-{payment_key}-v1",
        1,
    )
    # Sent once: sending it again is refused, and nothing is paid twice.
    operation = (OPERATIONS / "walkthrough/38_send_payment.graphql").read_text(encoding="utf-8")
    again = await w.api(operation, {"id": w.ids["payment"]}, token=w.tokens["officer"])
    assert [e["code"] for e in again["sendPayment"]["errors"]] == ["INVALID_STATE"]


async def run_certification(w: Walkthrough) -> None:
    token = await w.login(ADMIN.email, ADMIN.password)
    variables = {"asOf": w.values["today"].isoformat()}
    data = await w.run("walkthrough/39_run_certification.graphql", variables, token=token)
    run = data["runCertification"]
    assert (run["issued"], run["revoked"], run["unchanged"]) == (len(demo.PROVIDERS) + 1, 0, 0)
    certified = {p["legalName"]: p["certification"] for p in run["providers"]}
    yikang, leling = certified[demo.PROVIDERS[0].legal_name], certified[demo.PROVIDERS[1].legal_name]
    assert (yikang["rated"], yikang["stars"]) == (True, 4)
    # 乐龄's failed CRITICAL item (its second quarter last year) has left the 12 months: no star off now.
    assert (leling["rated"], leling["stars"]) == (True, 4)
    assert certified[NEW_PROVIDER["legalName"]]["rated"] is False
    w.values["certificate"] = yikang["code"]


async def certificate(w: Walkthrough) -> None:
    code = w.values["certificate"]
    typed = code.lower().replace("-", " ")  # as read from paper: any case, spaces
    data = await w.run("walkthrough/40_certificate.graphql", {"code": typed})
    found = data["certificate"]
    assert (found["code"], found["status"], found["stars"], found["rated"]) == (code, "VALID", 4, True)
    assert found["provider"]["legalName"] == demo.PROVIDERS[0].legal_name
    assert found["periodsCounted"] == len(found["evidence"]) >= 2 and found["ratingsCounted"] >= 30
    assert found["issuedOn"] == w.values["today"].isoformat()
    assert found["verificationUrl"] == certification.verification_url(code)

    # Its public page, with the QR code of its own address.
    page = await w.api.client.get(f"/certificates/{code}")
    assert page.status_code == 200
    assert demo.PROVIDERS[0].legal_name in page.text and code in page.text
    assert str(qr_svg(found["verificationUrl"], pages.TEXT["zh"]["qr_title"])) in page.text


# One step per operation file, run in the files' sorted order; a step may reuse other files.
STEPS: dict[str, Step] = {
    "walkthrough/01_service_packages.graphql": browse_catalogue,
    "walkthrough/02_regions.graphql": list_regions,
    "walkthrough/03_register_provider.graphql": register_provider,
    "walkthrough/04_login.graphql": log_in_officer,
    "walkthrough/05_me.graphql": me,
    "walkthrough/06_pending_providers.graphql": pending_providers,
    "walkthrough/07_approve_provider.graphql": approve_provider,
    "walkthrough/08_add_qualification.graphql": add_qualification,
    "walkthrough/09_tenders.graphql": browse_tenders,
    "walkthrough/10_create_tender.graphql": create_tender,
    "walkthrough/11_publish_tender.graphql": publish_tender,
    "walkthrough/12_submit_bid.graphql": submit_bids,
    "walkthrough/13_my_bid.graphql": my_bid,
    "walkthrough/14_advance_clock.graphql": advance_past_deadline,
    "walkthrough/15_open_bids.graphql": open_bids,
    "walkthrough/16_declare_conflicts.graphql": declare_conflicts,
    "walkthrough/17_score_bid.graphql": score_bids,
    "walkthrough/18_recommend_award.graphql": recommend_award,
    "walkthrough/19_finalize_award.graphql": finalize_award,
    "walkthrough/20_tender_award.graphql": award_notice,
    "walkthrough/21_my_contracts.graphql": my_contracts,
    "walkthrough/22_assign_audit_firm.graphql": assign_audit_firm,
    "walkthrough/23_record_delivery.graphql": record_delivery,
    "walkthrough/24_resident_delivery.graphql": resident_delivery,
    "walkthrough/25_rate_delivery.graphql": rate_delivery,
    "walkthrough/26_file_complaint.graphql": file_complaint,
    "walkthrough/27_complaints.graphql": list_complaints,
    "walkthrough/28_respond_complaint.graphql": respond_complaint,
    "walkthrough/29_create_audit.graphql": create_audit,
    "walkthrough/30_record_kpi_value.graphql": record_kpi_value,
    "walkthrough/31_add_audit_check.graphql": add_audit_checks,
    "walkthrough/32_submit_audit.graphql": submit_audit,
    "walkthrough/33_appeal_audit.graphql": appeal_audit,
    "walkthrough/34_decide_appeal.graphql": decide_appeal,
    "walkthrough/35_finalize_period.graphql": finalize_period,
    "walkthrough/36_contract_periods.graphql": contract_periods,
    "walkthrough/37_approve_payment.graphql": approve_payment,
    "walkthrough/38_send_payment.graphql": send_payment,
    "walkthrough/39_run_certification.graphql": run_certification,
    "walkthrough/40_certificate.graphql": certificate,
}


async def test_every_operation_runs_on_the_demo_data(session, api):
    # Given the demo marketplace
    await demo.load(session)
    await session.commit()
    walkthrough = Walkthrough(api, session, fresh_ids=session.bind.dialect.name == "sqlite")

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
    for value in (*NEW_PROVIDER.values(), *NEW_QUALIFICATION.values(), *README_IDS.values()):
        assert value in readme, value
    for key, value in NEW_TENDER.items():
        assert f'"{key}": {json.dumps(value, ensure_ascii=False)}' in readme, key
    for email, (password, price, proposal) in BIDDERS.items():
        assert all(v in readme for v in (email, password, price, proposal)), email
    for email, scores in SCORES.items():
        assert email in readme and all(f'"score": {s}' in readme for s in scores), email
    for seconds in (PAST_DEADLINE_SECONDS, PAST_CHALLENGE_SECONDS, INTO_TERM_SECONDS):
        assert f'{{"seconds": {seconds}}}' in readme, seconds
    assert "MARKET_TEST_CLOCK=1 make run" in readme
    for inputs in (NEW_DELIVERY, NEW_RATING, NEW_COMPLAINT, *NEW_CHECKS, {"value": AUDIT_KPI[1]}):
        for key, value in inputs.items():
            assert f'"{key}": {json.dumps(value, ensure_ascii=False)}' in readme, key
    for text in (COMPLAINT_RESPONSE, APPEAL_REASON, APPEAL_DECISION, AUDITOR.email, AUDITOR.password):
        assert text in readme, text
    # The console output of `market notify send`, the token to copy shown as <token>.
    shown = [line for line in readme.splitlines() if line.startswith("[sms to ")]
    assert shown and all(CONSOLE_LINE.match(line) for line in shown), shown
    assert f"[sms to {NEW_DELIVERY['residentPhone']}]" in shown[0] and "/r/<token> " in shown[0]
    assert "market notify send" in readme


def test_readme_tells_the_demo_contract_as_loaded():
    readme = README.read_text(encoding="utf-8")
    ratings = sum(1 for d in demo.DELIVERIES if d.rating)
    assert f"{len(demo.DELIVERIES)} home visits" in readme
    assert f"{ratings} rated through the link" in readme
    assert f"按时上门率 {demo.AUDIT_KPI_VALUES['按时上门率']}" in readme


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
    assert f"{len(demo.TENDERS)} tenders" in summary and "1 contract in delivery" in summary
    assert "2 completed contracts" in summary
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
        result = await accounts.login(
            session=session,
            email=account.email,
            password=account.password,
            secret_key=get_settings().secret_key,
        )
        assert result.user.role == account.role


async def test_load_makes_one_tender_in_each_state_through_the_services(session):
    # Given an empty database, when the demo loads and commits
    await demo.load(session)
    await session.commit()

    # Then there is one tender in each state, and last year's two more AWARDED, each with its contract
    tenders = (await session.scalars(select(Tender).order_by(Tender.id))).all()
    assert Counter(t.status for t in tenders) == dict.fromkeys(TenderStatus, 1) | {TenderStatus.AWARDED: 3}
    by_status = {t.status: t for t in tenders}  # the newest of each state
    contracts = (await session.scalars(select(Contract).order_by(Contract.id))).all()
    assert [c.tender_id for c in contracts] == [t.id for t in tenders if t.status == TenderStatus.AWARDED]
    for contract in contracts:
        winner = await session.get(Bid, contract.bid_id)
        tender = await session.get(Tender, contract.tender_id)
        assert contract.total_value == winner.unit_price * tender.quantity

    # and its history lies where the README says, relative to now
    now = dt.datetime.now(dt.UTC)
    assert by_status[TenderStatus.PUBLISHED].bid_deadline > now + dt.timedelta(days=19)
    bidders = (
        await session.scalars(select(Bid).where(Bid.tender_id == by_status[TenderStatus.PUBLISHED].id))
    ).all()
    assert len({b.provider_id for b in bidders}) == 2
    assert by_status[TenderStatus.EVALUATING].opened_at < now
    assert by_status[TenderStatus.AWARD_PENDING].challenge_deadline > now
    assert (
        by_status[TenderStatus.AWARDED].challenge_deadline < by_status[TenderStatus.AWARDED].awarded_at < now
    )
    assert by_status[TenderStatus.CANCELLED].closed_reason
    unsuccessful = by_status[TenderStatus.UNSUCCESSFUL]
    valid = await session.scalar(
        select(func.count())
        .select_from(Bid)
        .where(Bid.tender_id == unsuccessful.id, Bid.status == BidStatus.VALID)
    )
    assert valid < unsuccessful.min_valid_bids

    # and the clock is no longer pinned, and the journal's chain holds
    assert abs(await clock.now(session) - now) < dt.timedelta(minutes=5)
    verification = await journal.verify(session)
    assert verification.ok, verification.reason


PHONE_NUMBER = re.compile(r"(?<!\w)1[3-9]\d{9}(?!\w)")


async def test_load_puts_the_awarded_contract_in_delivery(session):
    # Given an empty database, when the demo loads and commits
    await demo.load(session)
    await session.commit()
    now = await clock.now(session)
    today = clock.today(now)

    # Then the awarded tender's contract has the demo's audit firm, and its term started weeks ago
    contract = await session.scalar(select(Contract).where(Contract.status == ContractStatus.ACTIVE))
    assert contract.audit_firm_id is not None
    start, _end = lifecycle.contract_term(contract)
    assert start <= today - dt.timedelta(days=100)
    period_1 = lifecycle.periods(start_date=start, count=contract.periods, months=contract.period_months)[0]
    assert period_1.ends_on < today

    # and a few dozen deliveries over the past weeks, most rated, one disputed, one found false
    deliveries = (await session.scalars(select(Delivery).where(Delivery.contract_id == contract.id))).all()
    assert len(deliveries) == len(demo.DELIVERIES) >= 24
    assert all(today - dt.timedelta(weeks=11) <= d.delivered_on < today for d in deliveries)
    assert sum(d.disputed_at is not None for d in deliveries) == 1
    assert sum(d.marked_false_by_audit_id is not None for d in deliveries) == 1
    ratings = (await session.scalars(select(Rating).where(Rating.contract_id == contract.id))).all()
    assert len(ratings) == sum(1 for d in demo.DELIVERIES if d.rating) >= len(deliveries) * 2 // 3
    assert [r.flag_reason for r in ratings if is_flagged(r)] == [
        "the resident's phone is registered to the provider's own staff"
    ]
    stars = Counter(r.stars for r in ratings)
    assert stars[4] + stars[5] >= 3 * (stars[1] + stars[2] + stars[3]) > 0, stars  # mostly good

    # and complaints in each status, the open ones in more than one light
    complaints = (await session.scalars(select(Complaint))).all()  # last year's contracts have none
    assert {c.status for c in complaints} == set(ComplaintStatus)
    assert [c.substantiated for c in complaints if c.status == ComplaintStatus.RESOLVED] == [True]
    lights = Counter(light(c, now) for c in complaints)
    assert lights == {Light.GREEN: 1, Light.YELLOW: 1, Light.RED: 1, None: 2}

    # and a submitted audit of period 1 whose appeal overturned one item and upheld another
    audit = await session.scalar(select(Audit).where(Audit.contract_id == contract.id))
    assert (audit.contract_id, audit.period_index, audit.status) == (contract.id, 1, AuditStatus.SUBMITTED)
    assert audit.submitted_at.date() > period_1.ends_on
    checks = (
        await session.scalars(
            select(AuditCheck).where(AuditCheck.audit_id == audit.id).order_by(AuditCheck.id)
        )
    ).all()
    assert len(checks) == len(demo.AUDIT_CHECKS)
    appeal = await session.scalar(select(Appeal))
    assert appeal.decided_at is not None and len(appeal.decisions) == 2
    assert [c.item for c in checks if c.overturned] == ["异常情况24小时内报告社区"]
    assert audits.audit_score(checks) == pytest.approx(100 * 8 / 10)

    # and every resident's text was sent: no phone number or link token is left in clear
    outbox = (await session.scalars(select(Notification))).all()
    assert len(outbox) == len(deliveries)  # bulk imports text nobody
    assert {m.status for m in outbox} == {NotificationStatus.SENT}
    for message in outbox:
        assert not re.search(r"\d{11}", message.recipient + message.body), message.recipient
        assert "/r/••••••" in message.body
    events = (await session.scalars(select(JournalEvent))).all()
    assert not any(PHONE_NUMBER.search(f"{e.before} {e.after}") for e in events)
    verification = await journal.verify(session)
    assert verification.ok, verification.reason


async def test_load_scores_pays_and_certifies_last_years_contracts(session):
    # Given an empty database, when the demo loads and commits
    summary = await demo.load(session)
    await session.commit()
    today = clock.today(await clock.now(session))

    # Then last year's two contracts are COMPLETED, every period finalised from its submitted audit
    past = (
        await session.scalars(
            select(Contract).where(Contract.status == ContractStatus.COMPLETED).order_by(Contract.id)
        )
    ).all()
    assert len(past) == len(demo.PAST_CONTRACTS) == 2
    for contract in past:
        cards = (await session.scalars(select(Scorecard).where(Scorecard.contract_id == contract.id))).all()
        assert sorted(c.period_index for c in cards) == [1, 2, 3, 4] and {c.version for c in cards} == {1}
        assert all(c.ratings_counted >= 300 for c in cards)
    # and the rollups the scorecards read agree with the rows the bulk import wrote
    ids = [c.id for c in past]
    assert await rollups.recounted(session, ids) == await rollups.stored(session, ids)

    # and their period payments of periods 1-3 were approved and paid through the ledger, once each;
    # period 4's and the released holdbacks are CALCULATED
    rows = (await session.scalars(select(Payment).where(Payment.contract_id.in_(ids)))).all()
    period = {(p.contract_id, p.period_index): p for p in rows if p.kind == PaymentKind.PERIOD}
    for (_contract, index), payment in period.items():
        expected = PaymentStatus.PAID if index in demo_scoring.PAID_PERIODS else PaymentStatus.CALCULATED
        assert payment.status == expected, (index, payment.status)
        if expected == PaymentStatus.PAID:
            assert payment.reference == f"ledger-{payment.id}-v1" and payment.attempts == 1
    releases = [p for p in rows if p.kind == PaymentKind.HOLDBACK_RELEASE]
    assert len(releases) == 2 and {p.status for p in releases} == {PaymentStatus.CALCULATED}
    booked = Counter((await session.scalars(select(LedgerEntry.payment_id))).all())
    assert booked == {p.id: 2 for p in period.values() if p.status == PaymentStatus.PAID}

    # and the demo contract's first period is left ready for the walkthrough to finalise
    contract = await session.scalar(select(Contract).where(Contract.status == ContractStatus.ACTIVE))
    assert await session.scalar(select(func.count()).where(Scorecard.contract_id == contract.id)) == 0
    officer = accounts.actor_of(await session.scalar(select(User).where(User.email == OFFICER.email)))
    done = await scorecards.finalize_period(
        session=session, actor=officer, contract_id=contract.id, period_index=1
    )
    assert done.created and done.payment.status == PaymentStatus.CALCULATED
    await session.rollback()

    # and every provider holds a certificate as of today: 颐康 and 乐龄 rated with stars (乐龄 one off
    # for its CRITICAL item), the two without contracts UNRATED
    assert f"certificates as of {today.isoformat()}: 4 stars, 3 stars, UNRATED, UNRATED" in summary
    certificates = {
        c.provider_id: c for c in (await session.scalars(select(Certificate).order_by(Certificate.id))).all()
    }
    names = dict((await session.execute(select(Provider.id, Provider.legal_name))).all())
    by_name = {names[i]: c for i, c in certificates.items()}
    yikang, leling = (by_name[p.legal_name] for p in demo.PROVIDERS[:2])
    assert (yikang.rated, yikang.stars, yikang.critical_upheld) == (True, 4, False)
    assert (leling.rated, leling.stars, leling.critical_upheld) == (True, 3, True)
    for rated in (yikang, leling):
        assert rated.periods_counted >= 2 and rated.ratings_counted >= 30 and rated.as_of == today
    assert [by_name[p.legal_name].rated for p in demo.PROVIDERS[2:]] == [False, False]
    verification = await journal.verify(session)
    assert verification.ok, verification.reason
