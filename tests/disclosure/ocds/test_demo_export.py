"""`market ocds export` on the demo (a database of its own; the command line reads it for real): the
packages validate with JSON Schema and lib-cove-ocds, ocdskit compiles our releases into our records'
compiled releases, and nothing non-public is in them."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

import app
from core.db import sync_url
from core.settings import get_settings
from tests.disclosure.ocds import validation


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory):
    """A database of the suite's kind (SQLite, or PostgreSQL with TEST_DATABASE_URL), demo loaded."""
    from tests.conftest import _create_postgres_database

    base = os.environ.get("TEST_DATABASE_URL")
    folder = tmp_path_factory.mktemp("ocds")
    url, drop = _create_postgres_database(base) if base else (f"sqlite:///{folder / 'demo.db'}", lambda: None)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(app.cli, ["db", "upgrade"]).exit_code == 0
        loaded = runner.invoke(app.cli, ["demo", "load"])
        assert loaded.exit_code == 0, loaded.output
        yield url, folder
    finally:
        if previous is not None:
            os.environ["DATABASE_URL"] = previous
        get_settings.cache_clear()
        drop()


def export(demo_database, *options: str) -> dict:
    url, folder = demo_database
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    output = folder / "export.json"
    result = CliRunner().invoke(app.cli, ["ocds", "export", *options, "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert "tenders" in result.output  # the progress bar's label (stderr)
    return json.loads(output.read_text(encoding="utf-8"))


def rows(url: str, sql: str) -> list:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def release_package(demo_database) -> dict:
    return export(demo_database)


@pytest.fixture(scope="module")
def record_package(demo_database) -> dict:
    return export(demo_database, "--records")


def test_every_published_tender_is_a_process_and_drafts_are_not(demo_database, release_package):
    url, _folder = demo_database
    published = {r[0] for r in rows(url, "SELECT id FROM tender WHERE published_at IS NOT NULL")}
    drafts = {r[0] for r in rows(url, "SELECT id FROM tender WHERE published_at IS NULL")}
    assert drafts and len(published) == 8
    prefix = get_settings().ocds_prefix
    assert {r["ocid"] for r in release_package["releases"]} == {f"{prefix}-{i}" for i in published}
    ids = [r["id"] for r in release_package["releases"]]
    assert len(ids) == len(set(ids))
    tags = {tag for r in release_package["releases"] for tag in r["tag"]}
    assert tags >= {"tender", "tenderUpdate", "tenderCancellation", "award", "contract", "implementation",
                    "contractUpdate"}  # fmt: skip
    assert release_package["extensions"] == [
        "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/master/extension.json",
        "https://raw.githubusercontent.com/open-contracting-extensions/ocds_metrics_extension/1.1/extension.json",
        "https://raw.githubusercontent.com/open-contracting-extensions/ocds_contract_completion_extension/master/extension.json",
    ]


def test_the_release_package_validates(release_package, monkeypatch):
    assert validation.schema_errors(release_package) == []
    report = validation.cove(release_package, monkeypatch)
    assert report["validation_errors"] == []
    assert report["additional_fields"] == [] and report["deprecated_fields"] == []
    assert report["additional_closed_codelist_values"] == {}
    assert report["extensions"]["is_extended_schema"] is True
    assert all(e.get("failed_urls") in (None, []) for e in [report["extensions"]])
    # Our own classification schemes are the only codes outside the open codelists.
    assert set(report["additional_open_codelist_values"]) <= {
        "releases/tender/items/classification/scheme",
        "releases/tender/items/additionalClassifications/scheme",
    }


def test_the_record_package_validates(record_package, monkeypatch):
    assert validation.schema_errors(record_package) == []
    report = validation.cove(record_package, monkeypatch)
    assert report["validation_errors"] == []
    assert report["additional_closed_codelist_values"] == {}


def test_ocdskit_compiles_our_releases_into_our_compiled_releases(release_package, record_package):
    compiled = validation.compiled_by_ocdskit(release_package)
    ours = {record["ocid"]: record for record in record_package["records"]}
    assert set(compiled) == set(ours)
    for process, record in ours.items():
        assert record["compiledRelease"] == compiled[process]
        assert [r["id"] for r in record["releases"]] == [
            r["id"] for r in release_package["releases"] if r["ocid"] == process
        ]


def test_the_demo_processes_as_published(demo_database, record_package):
    by_title = {
        r["compiledRelease"]["tender"]["title"]: r["compiledRelease"] for r in record_package["records"]
    }
    sealed = next(c for t, c in by_title.items() if "农村高龄独居老人" in t)
    assert sealed["tender"]["status"] == "active" and "bids" not in sealed
    assert "numberOfTenderers" not in sealed["tender"] and "tenderers" not in sealed["tender"]
    assert [p["roles"] for p in sealed["parties"]] == [["buyer", "procuringEntity"]]
    assert sealed["tender"]["documents"][0]["documentType"] == "clarifications"

    pending = next(c for t, c in by_title.items() if "医养结合" in t)  # AWARD_PENDING: no award yet
    assert "awards" not in pending and pending["bids"]["details"]
    assert all("rank" not in bid for bid in pending["bids"]["details"])  # scores: after the award only

    cancelled = next(c for c in by_title.values() if c["tender"]["status"] == "cancelled")
    assert cancelled["tender"]["documents"][-1]["documentType"] == "cancellationDetails"
    unsuccessful = next(c for c in by_title.values() if c["tender"]["status"] == "unsuccessful")
    assert {b["status"] for b in unsuccessful["bids"]["details"]} == {"valid", "disqualified"}

    completed = [
        c for c in by_title.values() if c.get("contracts") and c["contracts"][0]["status"] == "terminated"
    ]
    assert len(completed) == 2
    for process in completed:
        contract = process["contracts"][0]
        implementation = contract["implementation"]
        paid = sum(t["value"]["amount"] for t in implementation["transactions"])
        assert implementation["finalValue"]["amount"] == pytest.approx(paid)
        composite = next(m for m in implementation["metrics"] if m["id"] == "composite")
        assert [o["id"] for o in composite["observations"]] == [
            "period-1",
            "period-2",
            "period-3",
            "period-4",
        ]
        assert {m["id"] for m in contract["agreedMetrics"]} <= {m["id"] for m in implementation["metrics"]}
        award = process["awards"][0]
        assert award["suppliers"][0]["id"].startswith("CN-SAIC-")
        assert process["tender"]["status"] == "complete"
    url, _folder = demo_database
    paid_ids = {str(r[0]) for r in rows(url, "SELECT id FROM payment WHERE status = 'PAID'")}
    exported = {t["id"] for c in completed for t in c["contracts"][0]["implementation"]["transactions"]}
    assert exported == paid_ids and len(paid_ids) == 6


def test_nothing_private_is_exported(demo_database, release_package, record_package):
    """No resident data, no bid texts, no unanswered questions, no accounts: only SPEC §7's public data."""
    url, _folder = demo_database
    private = set()
    for sql in (
        "SELECT proposal FROM bid", "SELECT capacity FROM bid", "SELECT justification FROM bid",
        "SELECT proposal FROM bid_version", "SELECT receipt_sha256 FROM bid",
        "SELECT note FROM delivery", "SELECT dispute_reason FROM delivery", "SELECT phone_hash FROM delivery",
        "SELECT comment FROM rating", "SELECT text FROM complaint", "SELECT response FROM complaint",
        "SELECT reference FROM complaint", "SELECT recipient FROM notification", "SELECT body FROM notification",
        "SELECT email FROM user_account", "SELECT name FROM user_account", "SELECT reason FROM challenge",
        "SELECT question FROM clarification WHERE answer IS NULL", "SELECT payout_account FROM provider",
        "SELECT note FROM audit_check", "SELECT reason FROM appeal", "SELECT code FROM certificate",
    ):  # fmt: skip
        private |= {r[0] for r in rows(url, sql) if r[0] and len(r[0]) >= 4}
    assert len(private) > 50
    for package in (release_package, record_package):
        body = json.dumps(package, ensure_ascii=False)
        leaked = sorted(value for value in private if value in body)
        assert leaked == []


def test_a_district_and_a_date_range(demo_database, release_package):
    chongming = export(demo_database, "--region", "310151")
    assert chongming["releases"] and all(
        r["parties"][0]["address"]["region"] == "上海市崇明区" for r in chongming["releases"]
    )
    assert len(chongming["releases"]) < len(release_package["releases"])
    dates = sorted(r["date"] for r in release_package["releases"])
    day = dates[len(dates) // 2][:10]
    one_day = export(demo_database, "--from", day, "--to", day)
    assert one_day["releases"]
    assert validation.schema_errors(one_day) == []
    for release in one_day["releases"]:
        local = get_settings().zone
        from datetime import datetime

        assert datetime.fromisoformat(release["date"]).astimezone(local).date().isoformat() == day


def test_the_export_goes_to_stdout_without_output(demo_database, release_package):
    url, _folder = demo_database
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    result = CliRunner().invoke(app.cli, ["ocds", "export"])
    assert result.exit_code == 0, result.output
    package = json.loads(result.stdout)
    assert validation.schema_errors(package) == []
    assert [r["id"] for r in package["releases"]] == [r["id"] for r in release_package["releases"]]


def test_bad_options_are_refused(demo_database):
    url, _folder = demo_database
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    runner = CliRunner()
    for options, code in (
        (["--from", "2026-13-01"], "INVALID"),
        (["--from", "2026-05-02", "--to", "2026-05-01"], "INVALID"),
        (["--region", "999999"], "NOT_FOUND"),
    ):
        result = runner.invoke(app.cli, ["ocds", "export", *options])
        assert result.exit_code == 1 and code in result.output, result.output
