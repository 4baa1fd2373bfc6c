"""Project conventions: graphql-core is not shadowed, the exported schema is current and keeps the contract."""

import os
from pathlib import Path

import graphql
import pytest
from graphql import build_schema, find_breaking_changes

import app

ROOT = Path(__file__).resolve().parents[2]
# The API contract lives in the shared material beside the clone (../shared), as in CI; a lone clone
# has none, and its tests skip (except in CI, where a missing contract is a failure).
CONTRACT = ROOT.parent / "shared" / "api" / "contract.graphql"


@pytest.fixture
def contract():
    """The contract's schema, or a skip (a failure when CI=true) when ../shared is not beside the clone."""
    if not CONTRACT.is_file():
        message = f"no API contract at {CONTRACT}: the shared material (../shared) is not beside this clone"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return build_schema(CONTRACT.read_text(encoding="utf-8"))


def test_graphql_import_is_graphql_core_not_the_project_folder():
    assert not Path(graphql.__file__).resolve().is_relative_to(ROOT / "graphql")
    assert "site-packages" in graphql.__file__


def test_graphql_folder_holds_no_python():
    assert not list((ROOT / "graphql").rglob("*.py"))


def test_exported_schema_is_current():
    checked_in = (ROOT / "graphql" / "schema.graphql").read_text(encoding="utf-8")
    assert checked_in == app.export_schema(), "run `make schema` and commit graphql/schema.graphql"


def test_schema_keeps_the_contract(contract):
    exported = build_schema((ROOT / "graphql" / "schema.graphql").read_text(encoding="utf-8"))
    breaking = find_breaking_changes(contract, exported)
    assert breaking == [], [c.description for c in breaking]


def test_every_contract_type_and_query_exists(contract):
    exported = app.build_schema().as_str()
    schema = build_schema(exported)
    assert set(contract.type_map) <= set(schema.type_map)
    assert set(contract.query_type.fields) <= set(schema.query_type.fields)
