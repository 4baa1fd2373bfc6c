"""Our tenders as OCDS 1.1 releases (https://standard.open-contracting.org/1.1/).

One contracting process per published tender, ocid `{OCDS_PREFIX}-{tender id}`. Each moment of its
public history is one release, dated by the record that made it and named by it, so that a release's
ID never changes once issued:

- `tender-v1` (tag tender), when published: the notice;
- `tender-v{n}` (tenderAmendment), at correction notice n: the amended terms, the amendments so far;
- `clarification-{id}` (tenderUpdate), when answered: the question and answer as a document;
- `opening` (tenderUpdate), when the bids were opened: tenderers and bids (never before);
- `cancellation` (tenderCancellation) or `unsuccessful` (tenderUpdate), when closed: the reason;
- `award` (award, contract), when the award was finalised: the award and its contract;
- `period-{i}-v{n}` (implementation), when a scorecard was finalised: the period's KPI values, scores;
- `payment-{id}` (implementation), when a payment was PAID: the transaction;
- `contract-{change}-{k}` (contractUpdate), at a status change of the contract (from the journal).

Every release is the whole public state of the process as of its date (terms as amended so far,
documents answered so far...), so each reads on its own and the compiled release is the last state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contracts.lifecycle import add_months, periods_of
from contracts.models import ContractStatus
from core.settings import get_settings
from disclosure.ocds.data import TenderFacts
from market.models import BidStatus, KpiDirection, Provider, TenderStatus

CURRENCY = "CNY"
CREDIT_CODE_SCHEME = "CN-SAIC"
"""The org-id.guide (and IATI) register code for China's State Administration for Industry and Commerce,
whose registration numbers are now the unified social credit codes (统一社会信用代码). Social
organisations and public institutions carry the same kind of code, issued by their own registrars:
we use the one scheme for every provider, so that a party's ID is its code whoever issued it."""
PACKAGE_SCHEME = "X-SERVICE-PACKAGE"
"""Our catalogue of standardised service packages (the item's classification): code and version."""
CATEGORY_SCHEME = "X-SERVICE-CATEGORY"

BID_STATUS = {BidStatus.SUBMITTED: "pending", BidStatus.VALID: "valid", BidStatus.INVALID: "disqualified"}
CONTRACT_STATUS = {
    ContractStatus.ACTIVE: "active",
    ContractStatus.SUSPENDED: "active",
    ContractStatus.COMPLETED: "terminated",
    ContractStatus.TERMINATED: "terminated",
}
SCORES = (
    ("composite", "综合得分 (composite score)", "composite"),
    ("satisfaction", "居民满意度得分 (satisfaction score)", "satisfaction"),
    ("kpiScore", "绩效指标得分 (KPI score)", "kpi_score"),
    ("auditScore", "第三方评估得分 (audit score)", "audit_score"),
)
"""Per-period scores published as metrics: (metric ID, title, scorecard column); each 0-100."""


def ocid(tender_id: int) -> str:
    return f"{get_settings().ocds_prefix}-{tender_id}"


def moment(value: dt.datetime) -> str:
    """An OCDS date-time: UTC, to the second."""
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def day_start(value: dt.date) -> str:
    """The first moment of a calendar day in the deployment's time zone."""
    return dt.datetime.combine(value, dt.time(0, 0), get_settings().zone).isoformat()


def day_end(value: dt.date) -> str:
    return dt.datetime.combine(value, dt.time(23, 59, 59), get_settings().zone).isoformat()


def money(amount: Decimal) -> dict:
    return {"amount": float(amount), "currency": CURRENCY}


# ---------------------------------------------------------------- parties


def _department_id(facts: TenderFacts) -> str:
    return f"department-{facts.department.id}"


def _provider_id(provider: Provider) -> str:
    return f"{CREDIT_CODE_SCHEME}-{provider.credit_code}"


def _reference(party_id: str, name: str) -> dict:
    return {"id": party_id, "name": name}


class _Parties:
    """The parties of one release, each once, its roles gathered in order."""

    def __init__(self) -> None:
        self._parties: dict[str, dict] = {}

    def add(self, party: dict, role: str) -> dict:
        known = self._parties.setdefault(party["id"], {**party, "roles": []})
        if role not in known["roles"]:
            known["roles"].append(role)
        return _reference(party["id"], party["name"])

    def department(self, facts: TenderFacts, role: str) -> dict:
        party = {
            "id": _department_id(facts),
            "name": facts.department.name,
            "address": {"region": facts.region.name, "countryName": "中国"},
        }
        return self.add(party, role)

    def provider(self, provider: Provider, role: str) -> dict:
        party = {
            "id": _provider_id(provider),
            "name": provider.legal_name,
            "identifier": {
                "scheme": CREDIT_CODE_SCHEME,
                "id": provider.credit_code,
                "legalName": provider.legal_name,
            },
        }
        return self.add(party, role)

    def all(self) -> list[dict]:
        return list(self._parties.values())


# ---------------------------------------------------------------- the tender's terms per version


@dataclass(frozen=True)
class Terms:
    """The amendable terms of a tender as one version of it stated them."""

    title: str
    quantity: int
    max_unit_price: Decimal
    bid_deadline: dt.datetime
    start_date: dt.date


_PARSE = {
    "title": ("title", str),
    "quantity": ("quantity", int),
    "maxUnitPrice": ("max_unit_price", Decimal),
    "bidDeadline": ("bid_deadline", dt.datetime.fromisoformat),
    "startDate": ("start_date", dt.date.fromisoformat),
}


def terms_by_version(facts: TenderFacts) -> dict[int, Terms]:
    """Each version's terms: the current ones, and before each amendment its change list's `before`s."""
    t = facts.tender
    current = Terms(t.title, t.quantity, t.max_unit_price, t.bid_deadline, t.start_date)
    versions = {t.version: current}
    for amendment in sorted(facts.amendments, key=lambda a: a.version, reverse=True):
        earlier = dict(current.__dict__)
        for change in amendment.changes:
            if change["field"] in _PARSE:
                name, parse = _PARSE[change["field"]]
                earlier[name] = parse(change["before"])
        current = Terms(**earlier)
        versions[amendment.version - 1] = current
    return versions


# ---------------------------------------------------------------- one release


@dataclass(frozen=True)
class Moment:
    """A release to make: its ID suffix, tags, date and the tender version in force."""

    suffix: str
    tags: tuple[str, ...]
    date: dt.datetime
    version: int


def moments(facts: TenderFacts) -> list[Moment]:
    """Every public moment of the tender's history, in time order."""
    t, found = facts.tender, []
    found.append(Moment("tender-v1", ("tender",), t.published_at, 1))
    for a in facts.amendments:
        found.append(Moment(f"tender-v{a.version}", ("tenderAmendment",), a.created_at, a.version))
    for c in facts.clarifications:
        found.append(Moment(f"clarification-{c.id}", ("tenderUpdate",), c.answered_at, 0))
    if t.opened_at is not None:
        found.append(Moment("opening", ("tenderUpdate",), t.opened_at, 0))
    if t.closed_at is not None and t.closed_at != t.opened_at:
        if t.status == TenderStatus.CANCELLED:
            found.append(Moment("cancellation", ("tenderCancellation",), t.closed_at, 0))
        else:
            found.append(Moment("unsuccessful", ("tenderUpdate",), t.closed_at, 0))
    if t.status == TenderStatus.AWARDED and t.awarded_at is not None and facts.contract is not None:
        found.append(Moment("award", ("award", "contract"), t.awarded_at, 0))
        for s in facts.scorecards:
            found.append(
                Moment(f"period-{s.period_index}-v{s.version}", ("implementation",), s.finalized_at, 0)
            )
        for p in facts.payments:
            found.append(Moment(f"payment-{p.id}", ("implementation",), p.paid_at, 0))
        for k, change in enumerate(facts.changes, start=1):
            name = change.action.removeprefix("contract.")
            found.append(Moment(f"contract-{name}-{k}", ("contractUpdate",), change.occurred_at, 0))
    found.sort(key=lambda m: m.date)  # stable: equal dates keep the order above
    return found


def _version_at(facts: TenderFacts, when: dt.datetime) -> int:
    return 1 + sum(1 for a in facts.amendments if a.created_at <= when)


def _tender_status(facts: TenderFacts, when: dt.datetime) -> tuple[str, str | None]:
    t = facts.tender
    if t.closed_at is not None and t.closed_at <= when:
        reason = t.closed_reason
        return ("cancelled", reason) if t.status == TenderStatus.CANCELLED else ("unsuccessful", reason)
    if t.status == TenderStatus.AWARDED and t.awarded_at is not None and t.awarded_at <= when:
        return "complete", None
    return "active", None


def _tender(facts: TenderFacts, when: dt.datetime, release_ids: dict[int, str], parties: _Parties) -> dict:
    t, package = facts.tender, facts.package
    version = _version_at(facts, when)
    terms = terms_by_version(facts)[version]
    status, details = _tender_status(facts, when)
    buyer = parties.department(facts, "procuringEntity")
    tender: dict[str, Any] = {
        "id": str(t.id),
        "title": terms.title,
        "status": status,
        "procuringEntity": buyer,
        "items": [
            {
                "id": "1",
                "description": package.name,
                "classification": {
                    "scheme": PACKAGE_SCHEME,
                    "id": f"{package.code}-v{package.version}",
                    "description": package.name,
                },
                "additionalClassifications": [
                    {"scheme": CATEGORY_SCHEME, "id": facts.category.code, "description": facts.category.name}
                ],
                "quantity": terms.quantity,
                "unit": {"name": package.unit, "value": money(terms.max_unit_price)},
            }
        ],
        "value": money(terms.max_unit_price * terms.quantity),
        "procurementMethod": "open",
        "procurementMethodDetails": "公开招标 · 综合评分法",
        "mainProcurementCategory": "services",
        "awardCriteria": "ratedCriteria",
        "awardCriteriaDetails": (
            f"price {t.price_weight:.0%}, quality {t.quality_weight:.0%}, track record {t.record_weight:.0%}"
        ),
        "submissionMethod": ["electronicSubmission"],
        "tenderPeriod": {"startDate": moment(t.published_at), "endDate": moment(terms.bid_deadline)},
        "contractPeriod": {
            "startDate": day_start(terms.start_date),
            "endDate": day_end(_last_day(terms.start_date, t.periods, t.period_months)),
        },
        "hasEnquiries": bool(facts.clarifications),
    }
    if facts.tender_kpis:
        tender["targets"] = _targets(facts.tender_kpis)
    amendments = [a for a in facts.amendments if a.created_at <= when]
    if amendments:
        tender["amendments"] = [
            {
                "id": str(a.version),
                "date": moment(a.created_at),
                "rationale": a.reason,
                "description": "; ".join(f"{c['field']}: {c['before']} → {c['after']}" for c in a.changes),
                "amendsReleaseID": release_ids[a.version - 1],
                "releaseID": release_ids[a.version],
            }
            for a in amendments
        ]
    answered = [c for c in facts.clarifications if c.answered_at <= when]
    if answered:
        tender["documents"] = [
            {
                "id": f"clarification-{c.id}",
                "documentType": "clarifications",
                "title": f"答疑 {n}",
                "description": f"问：{c.question}\n答：{c.answer}",
                "datePublished": moment(c.answered_at),
                "language": "zh",
            }
            for n, c in enumerate(answered, start=1)
        ]
    if details:
        # OCDS 1.1 has no statusDetails: why the tender closed is a document of its own.
        tender.setdefault("documents", []).append(
            {
                "id": "closure",
                "documentType": "cancellationDetails",
                "title": "终止公告" if status == "cancelled" else "流标公告",
                "description": details,
                "datePublished": moment(t.closed_at),
                "language": "zh",
            }
        )
    if t.opened_at is not None and t.opened_at <= when:
        tender["numberOfTenderers"] = len({b.provider_id for b in facts.bids})
        tender["tenderers"] = [
            parties.provider(facts.providers[b.provider_id], "tenderer") for b in facts.bids
        ]
    return tender


def _last_day(start: dt.date, periods: int, months: int) -> dt.date:
    return add_months(start, periods * months) - dt.timedelta(days=1)


def _bids(facts: TenderFacts, when: dt.datetime, parties: _Parties) -> dict:
    """The opened bids (bids extension): each one's status, total value and bidder; counts. Their ranks
    only once the award is final (SPEC §7: the award notice publishes the scores)."""
    t, bids = facts.tender, facts.bids
    ranked = t.status == TenderStatus.AWARDED and t.awarded_at is not None and t.awarded_at <= when
    quantity = terms_by_version(facts)[t.version].quantity
    details = [
        {
            "id": str(b.id),
            "date": moment(b.submitted_at),
            "status": BID_STATUS[b.status],
            "tenderers": [parties.provider(facts.providers[b.provider_id], "tenderer")],
            "value": money(b.unit_price * quantity),
            **({"hasRank": True, "rank": b.rank} if ranked and b.rank is not None else {}),
        }
        for b in bids
    ]
    valid = [b for b in bids if b.status == BidStatus.VALID]
    statistics = [
        {"id": "bids", "measure": "bids", "value": len(bids)},
        {"id": "validBids", "measure": "validBids", "value": len(valid)},
        {
            "id": "disqualifiedBids",
            "measure": "disqualifiedBids",
            "value": sum(1 for b in bids if b.status == BidStatus.INVALID),
        },
    ]
    if valid:
        low, high = min(b.unit_price for b in valid), max(b.unit_price for b in valid)
        statistics += [
            {"id": "lowestValidBidValue", "measure": "lowestValidBidValue",
             "value": float(low * quantity), "currency": CURRENCY},
            {"id": "highestValidBidValue", "measure": "highestValidBidValue",
             "value": float(high * quantity), "currency": CURRENCY},
        ]  # fmt: skip
    for statistic in statistics:
        statistic["date"] = moment(t.opened_at)
    return {"statistics": statistics, "details": details}


def _kpi_metric_id(position: int) -> str:
    return f"kpi-{position}"


def _targets(kpis) -> list[dict]:
    """KPIs with their targets (metrics extension): the tender's `targets`, the contract's `agreedMetrics`."""
    return [
        {
            "id": _kpi_metric_id(k.position),
            "title": k.name,
            "description": (
                f"{'higher' if k.direction == KpiDirection.HIGHER_IS_BETTER else 'lower'} is better; "
                f"weight {k.weight:g}; measured by {k.source.value}"
            ),
            "observations": [{"id": "target", "measure": k.target, "unit": {"name": k.unit}}],
        }
        for k in kpis
    ]


def _observed_metrics(facts: TenderFacts, when: dt.datetime) -> list[dict]:
    """Per period, the KPI values and the scores of its current scorecard as of `when`."""
    current: dict[int, Any] = {}
    for scorecard in facts.scorecards:  # ordered by period, then version
        if scorecard.finalized_at <= when:
            current[scorecard.period_index] = scorecard
    if not current:
        return []
    periods = {p.index: p for p in periods_of(facts.contract)}
    by_kpi = {k.id: k for k in facts.kpis}
    metrics: dict[str, dict] = {}

    def observe(metric_id: str, title: str, index: int, measure: float, unit: str) -> None:
        period = periods[index]
        metric = metrics.setdefault(metric_id, {"id": metric_id, "title": title, "observations": []})
        metric["observations"].append(
            {
                "id": f"period-{index}",
                "period": {"startDate": day_start(period.starts_on), "endDate": day_end(period.ends_on)},
                "measure": measure,
                "unit": {"name": unit},
            }
        )

    for index, scorecard in sorted(current.items()):
        for kpi in scorecard.details.get("kpis", []):
            known = by_kpi.get(kpi["kpi_id"])
            if known is not None and kpi.get("value") is not None:
                observe(_kpi_metric_id(known.position), known.name, index, float(kpi["value"]), known.unit)
        for metric_id, title, column in SCORES:
            observe(metric_id, title, index, round(getattr(scorecard, column), 2), "分 (0-100)")
    return list(metrics.values())


def _award_and_contract(facts: TenderFacts, when: dt.datetime, parties: _Parties) -> tuple[dict, dict]:
    contract, t = facts.contract, facts.tender
    supplier = parties.provider(facts.providers[contract.provider_id], "supplier")
    award_id = f"award-{t.id}"
    first, last = periods_of(contract)[0].starts_on, periods_of(contract)[-1].ends_on
    period = {"startDate": day_start(first), "endDate": day_end(last)}
    award = {
        "id": award_id,
        "title": t.title,
        "status": "active",
        "date": moment(t.awarded_at),
        "value": money(contract.total_value),
        "suppliers": [supplier],
        "items": [{"id": "1", "description": facts.package.name, "quantity": contract.quantity,
                   "unit": {"name": facts.package.unit, "value": money(contract.unit_price)}}],
        "contractPeriod": period,
        "relatedBids": [str(contract.bid_id)],
    }  # fmt: skip
    status = "active"
    status_details = None
    ended = None
    for change in facts.changes:
        if change.occurred_at <= when:
            name = change.action.removeprefix("contract.")
            status = "terminated" if name in ("completed", "terminated") else "active"
            status_details = {"suspended": "SUSPENDED", "reinstated": "ACTIVE", "completed": "COMPLETED",
                              "terminated": "TERMINATED"}[name]  # fmt: skip
            ended = change.occurred_at if name in ("completed", "terminated") else None
    contract_release = {
        "id": f"contract-{contract.id}",
        "awardID": award_id,
        "title": t.title,
        "status": status,
        "period": period,
        "value": money(contract.total_value),
        "dateSigned": moment(contract.signed_at),
        "items": award["items"],
        "relatedBids": [str(contract.bid_id)],
    }
    if status_details:
        contract_release["description"] = f"合同状态 (contract status): {status_details}"
    agreed = _targets(facts.kpis)
    if agreed:
        contract_release["agreedMetrics"] = agreed
    implementation: dict[str, Any] = {}
    paid = [p for p in facts.payments if p.paid_at <= when]
    if paid:
        payer = parties.department(facts, "payer")
        payee = parties.provider(facts.providers[contract.provider_id], "payee")
        implementation["transactions"] = [
            {
                "id": str(p.id),
                "date": moment(p.paid_at),
                "value": money(p.amount),
                "payer": payer,
                "payee": payee,
            }
            for p in paid
        ]
    observed = _observed_metrics(facts, when)
    if observed:
        implementation["metrics"] = observed
    if ended is not None:
        implementation["endDate"] = moment(ended)
        implementation["finalValue"] = money(sum((p.amount for p in paid), Decimal("0.00")))
        implementation["finalValueDetails"] = (
            "the payments PAID so far (later ones are added as they are paid)"
        )
    if implementation:
        contract_release["implementation"] = implementation
    return award, contract_release


def release(facts: TenderFacts, at: Moment, release_ids: dict[int, str]) -> dict:
    """The release of one moment: the process's public state as of its date."""
    process = ocid(facts.tender.id)
    parties = _Parties()
    buyer = parties.department(facts, "buyer")
    tender = _tender(facts, at.date, release_ids, parties)
    out: dict[str, Any] = {
        "ocid": process,
        "id": f"{process}-{at.suffix}",
        "date": moment(at.date),
        "tag": list(at.tags),
        "initiationType": "tender",
        "language": "zh",
        "parties": [],
        "buyer": buyer,
        "tender": tender,
    }
    t = facts.tender
    if t.opened_at is not None and t.opened_at <= at.date and facts.bids:
        out["bids"] = _bids(facts, at.date, parties)
    if (
        t.status == TenderStatus.AWARDED
        and facts.contract is not None
        and t.awarded_at is not None
        and t.awarded_at <= at.date
    ):
        award, contract = _award_and_contract(facts, at.date, parties)
        out["awards"], out["contracts"] = [award], [contract]
    out["parties"] = parties.all()
    return out


def releases(facts: TenderFacts) -> list[dict]:
    """Every release of one published tender, oldest first."""
    process = ocid(facts.tender.id)
    release_ids = {1: f"{process}-tender-v1"} | {
        a.version: f"{process}-tender-v{a.version}" for a in facts.amendments
    }
    return [release(facts, at, release_ids) for at in moments(facts)]
