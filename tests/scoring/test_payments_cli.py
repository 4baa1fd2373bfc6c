"""`market payments send`: every sendable payment, each in its own transactions, with a progress bar."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

import app
from core.settings import get_settings


@pytest.fixture
def cli_database(tmp_path, monkeypatch):
    """A database of its own for the command line, which commits for real."""
    url = f"sqlite:///{tmp_path / 'payments.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_market_payments_send(cli_database):
    runner = CliRunner()
    assert runner.invoke(app.cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app.cli, ["demo", "load"]).exit_code == 0
    engine = create_engine(cli_database)
    with engine.begin() as connection:
        contract_id = connection.execute(text("SELECT id FROM contract ORDER BY id LIMIT 1")).scalar_one()
        # Only the payments below: the demo's own (last year's contracts) are left out of the count.
        connection.execute(text("DELETE FROM ledger_entry"))
        connection.execute(text("DELETE FROM payment"))
        for fen, status in [(12345, "APPROVED"), (500, "APPROVED"), (0, "APPROVED"), (999, "CALCULATED")]:
            connection.execute(
                text(
                    "INSERT INTO payment (contract_id, period_index, kind, amount, status, version, attempts, "
                    "created_at) VALUES (:c, 1, 'PERIOD', :a, :s, 1, 0, '2026-11-26 00:00:00')"
                ),
                {"c": contract_id, "a": fen, "s": status},
            )

    first = runner.invoke(app.cli, ["payments", "send", "--limit", "2"])
    assert first.exit_code == 0, first.output
    assert "2 paid, 0 failed, 0 unanswered, 0 held" in first.output and "payments via ledger" in first.output
    rest = runner.invoke(app.cli, ["payments", "send"])
    assert rest.exit_code == 0 and "1 paid" in rest.output
    assert "0 paid" in runner.invoke(app.cli, ["payments", "send"]).output

    with engine.begin() as connection:
        statuses = connection.execute(text("SELECT status, count(*) FROM payment GROUP BY status")).all()
        legs = connection.execute(text("SELECT count(*), sum(debit), sum(credit) FROM ledger_entry")).one()
    assert dict(statuses) == {"PAID": 3, "CALCULATED": 1}
    assert tuple(legs) == (4, 12845, 12845)  # two bookings (the zero payment needs none), balanced
    assert runner.invoke(app.cli, ["journal", "verify"]).exit_code == 0
