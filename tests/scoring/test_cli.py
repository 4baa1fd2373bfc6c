"""`market scoring certify --as-of DATE` on a database of its own (the command line commits for real)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

import app
from core import clock
from core.settings import get_settings


@pytest.fixture
def cli_database(tmp_path, monkeypatch):
    """A database of the suite's kind (SQLite, or PostgreSQL with TEST_DATABASE_URL), demo loaded."""
    from tests.conftest import _create_postgres_database

    base = os.environ.get("TEST_DATABASE_URL")
    url, drop = (
        _create_postgres_database(base) if base else (f"sqlite:///{tmp_path / 'cli.db'}", lambda: None)
    )
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app.cli, ["db", "upgrade"]).exit_code == 0
    loaded = runner.invoke(app.cli, ["demo", "load"])
    assert loaded.exit_code == 0, loaded.output
    yield url
    get_settings.cache_clear()
    drop()


def _certificates(url: str) -> int:
    from core.db import sync_url

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM certificate")).scalar_one()
    finally:
        engine.dispose()


def test_certify_from_the_command_line(cli_database):
    runner = CliRunner()
    today = clock.today(clock.real_now())
    first = runner.invoke(app.cli, ["scoring", "certify", "--as-of", today.isoformat()])
    assert first.exit_code == 0, first.output
    assert "providers" in first.output  # the progress bar's label
    # The demo certified its four approved providers as of the day it was loaded: nothing changed since.
    assert f"certification as of {today.isoformat()}: 0 issued, 0 revoked, 4 unchanged" in first.output
    assert _certificates(cli_database) == 4

    again = runner.invoke(app.cli, ["scoring", "certify", "--as-of", today.isoformat()])
    assert again.exit_code == 0 and "0 issued, 0 revoked, 4 unchanged" in again.output

    future = runner.invoke(
        app.cli, ["scoring", "certify", "--as-of", (today + dt.timedelta(days=1)).isoformat()]
    )
    assert future.exit_code == 1 and "INVALID" in future.output
    backwards = runner.invoke(
        app.cli, ["scoring", "certify", "--as-of", (today - dt.timedelta(days=1)).isoformat()]
    )
    assert backwards.exit_code == 1 and "INVALID_STATE" in backwards.output
    assert runner.invoke(app.cli, ["scoring", "certify", "--as-of", "26/11/2026"]).exit_code == 2
    assert _certificates(cli_database) == 4
