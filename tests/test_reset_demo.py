"""`make reset-demo`: a fresh demo database, its SQLite -wal and -shm files gone with the old one."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(  # noqa: S603 - a fixed command line
        # -o: the installed environment counts as current (no pip run inside a test).
        ["make", "--no-print-directory", "-o", ".venv/bin/.installed", *args],  # noqa: S607
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("make") is None, reason="no `make` on this machine")
def test_reset_demo_starts_again_from_a_fresh_demo_database(tmp_path):
    database = tmp_path / "market.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE leftover (x)")
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"market.db{suffix}").write_bytes(b"stale pages of the old database")

    done = _make("reset-demo", database_url=f"sqlite:///{database}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"deleted {database}, {database}-wal and {database}-shm" in done.stdout
    assert "demo data loaded" in done.stdout
    for suffix in ("-wal", "-shm"):
        stale = tmp_path / f"market.db{suffix}"
        assert not stale.exists() or b"stale pages" not in stale.read_bytes()
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "leftover" not in tables
        count = connection.execute("SELECT count(*) FROM journal_event").fetchone()[0]
    assert count > 0


@pytest.mark.skipif(shutil.which("make") is None, reason="no `make` on this machine")
def test_reset_demo_leaves_a_postgresql_database_alone():
    refused = _make("reset-demo", database_url="postgresql://postgres@127.0.0.1:9/nothing")
    assert refused.returncode != 0
    assert "reset-demo deletes a SQLite database only" in refused.stderr
