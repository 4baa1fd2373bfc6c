"""The hash-chained journal (SPEC §8) and `market journal verify`."""

import os
from dataclasses import dataclass, field

import pytest
from sqlalchemy import create_engine, delete, select, text, update
from typer.testing import CliRunner

import app
from core import journal
from core.auth import Actor, Role
from core.db import sync_url
from core.models import JournalEvent
from core.settings import get_settings
from market import models as m
from tests import factories


async def _events(session):
    return (await session.scalars(select(JournalEvent).order_by(JournalEvent.seq))).all()


async def test_each_state_change_appends_an_event_in_the_same_transaction(session):
    before = len(await _events(session))
    provider = await factories.provider(session, status=m.ProviderStatus.PENDING)
    await session.commit()
    events = (await _events(session))[before:]
    assert [e.action for e in events][-2:] == ["provider.registered", "user.created"]
    registered = next(e for e in events if e.action == "provider.registered")
    assert registered.entity_type == "Provider" and registered.entity_id == str(provider.id)
    assert "password_hash" not in events[-1].after

    from market import providers

    await providers.approve_provider(session=session, actor=factories.ADMIN, provider_id=provider.id)
    await session.commit()
    approved = (await _events(session))[-1]
    assert approved.action == "provider.approved"
    assert '"status":"PENDING"' in approved.before and '"status":"ACTIVE"' in approved.after
    assert approved.prev_hash == events[-1].hash


async def test_a_rolled_back_change_leaves_no_event(session):
    before = len(await _events(session))
    await factories.region(session)
    await session.rollback()
    assert len(await _events(session)) == before


async def test_verify_passes_and_names_an_edited_event(session):
    await factories.provider(session)
    await session.commit()
    assert (await journal.verify(session)).ok
    events = await _events(session)
    target = events[len(events) // 2]
    await session.execute(
        update(JournalEvent).where(JournalEvent.seq == target.seq).values(after='{"forged":true}')
    )
    result = await journal.verify(session)
    assert not result.ok and result.broken_seq == target.seq
    assert f"event #{target.seq}" in result.reason and "altered" in result.reason


async def test_verify_names_a_deleted_event(session):
    await factories.provider(session)
    await session.commit()
    events = await _events(session)
    target = events[1]
    await session.execute(delete(JournalEvent).where(JournalEvent.seq == target.seq))
    result = await journal.verify(session)
    assert not result.ok and result.broken_seq == target.seq
    assert "missing" in result.reason


async def test_verify_notices_the_last_event_deleted(session):
    await factories.provider(session)
    await session.commit()
    last = (await _events(session))[-1]
    await session.execute(delete(JournalEvent).where(JournalEvent.seq == last.seq))
    result = await journal.verify(session)
    assert not result.ok and result.broken_seq == last.seq


@pytest.fixture
def journal_database(tmp_path, monkeypatch):
    """A database of its own for the command line, which commits for real."""
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_market_journal_verify_command(journal_database):
    runner = CliRunner()
    assert runner.invoke(app.cli, ["db", "upgrade"]).exit_code == 0
    for role in ("ADMIN", "OFFICER"):
        args = [
            "user",
            "create",
            "--email",
            f"{role.lower()}@example.org",
            "--password",
            "long-password",
            "--name",
            role,
            "--role",
            role,
        ]
        if role == "OFFICER":
            result = runner.invoke(app.cli, args)
            assert result.exit_code == 1 and "departmentId" in result.output
        else:
            assert runner.invoke(app.cli, args).exit_code == 0
    loaded = runner.invoke(app.cli, ["demo", "load"])
    assert loaded.exit_code == 0, loaded.output

    intact = runner.invoke(app.cli, ["journal", "verify"])
    assert intact.exit_code == 0 and "journal intact" in intact.output

    engine = create_engine(journal_database)
    with engine.begin() as connection:
        connection.execute(text("UPDATE journal_event SET actor_id = 42 WHERE seq = 3"))
    edited = runner.invoke(app.cli, ["journal", "verify"])
    assert edited.exit_code == 1 and "event #3" in edited.output

    with engine.begin() as connection:
        connection.execute(text("UPDATE journal_event SET actor_id = NULL WHERE seq = 3"))
    assert runner.invoke(app.cli, ["journal", "verify"]).exit_code == 0
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM journal_event WHERE seq = 5"))
    deleted = runner.invoke(app.cli, ["journal", "verify"])
    assert deleted.exit_code == 1 and "event #5 is missing" in deleted.output
    engine.dispose()


async def test_concurrent_writers_never_fork_the_chain(scratch_engine):
    import asyncio

    from core.db import create_sessionmaker
    from market import directory

    sessionmaker = create_sessionmaker(scratch_engine)

    async def add_region(i):
        async with sessionmaker() as session:
            await directory.create_region(
                session=session, actor=factories.ADMIN, code=f"C{i:03d}", name=f"Region {i}",
                kind=m.RegionKind.URBAN, population=1000,
            )  # fmt: skip
            await session.commit()

    await asyncio.gather(*(add_region(i) for i in range(20)))
    async with sessionmaker() as session:
        result = await journal.verify(session)
        seqs = [e.seq for e in await _events(session)]
    assert result.ok, result.reason
    assert seqs == list(range(1, 21))


def test_demo_load_twice_fails_cleanly_and_if_empty_skips(journal_database):
    runner = CliRunner()
    assert runner.invoke(app.cli, ["db", "upgrade", "head"]).exit_code == 0
    assert runner.invoke(app.cli, ["demo", "load"]).exit_code == 0
    again = runner.invoke(app.cli, ["demo", "load"])
    assert again.exit_code == 1 and "ALREADY_EXISTS" in again.output
    skipped = runner.invoke(app.cli, ["demo", "load", "--if-empty"])
    assert skipped.exit_code == 0 and "not loaded" in skipped.output


# ---------------------------------------------------------------- tampering: any value a raw UPDATE can write

BOTH, SQLITE, POSTGRES = {"sqlite", "postgresql"}, {"sqlite"}, {"postgresql"}
# The suite's database (see conftest): each case runs where its value can be written.
DIALECT = "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"
NOT_UTF8 = "CAST(x'ff' AS TEXT)"  # SQLite keeps it as text; the driver cannot decode it


@dataclass(frozen=True)
class Tamper:
    """SET clause for one event (`:seq`) or the head; `value` is bound as :value when given."""

    name: str
    assignment: str
    dialects: set[str] = field(default_factory=lambda: BOTH)
    value: object = None
    broken: str = "same"  # "same": the tampered event is named; "zero"/"negative": its new number
    says: str = ""


EVENT_TAMPERING = [
    Tamper(
        "occurred_at another time",
        "occurred_at = '2020-01-01 00:00:00.000000'",
        says="was altered: its content",
    ),
    Tamper(
        "occurred_at garbage",
        "occurred_at = 'not a time'",
        SQLITE,
        says="its occurred_at holds the text 'not a time', not a time",
    ),
    Tamper("occurred_at empty", "occurred_at = ''", SQLITE, says="its occurred_at holds the text ''"),
    Tamper(
        "occurred_at integer", "occurred_at = 12345", SQLITE, says="its occurred_at holds the value 12345"
    ),
    Tamper("occurred_at real", "occurred_at = 1.5", SQLITE, says="its occurred_at holds the value 1.5"),
    Tamper("occurred_at bytes", "occurred_at = x'00ff'", SQLITE, says="2 bytes of binary data"),
    Tamper("occurred_at not UTF-8", f"occurred_at = {NOT_UTF8}", SQLITE, says="not UTF-8"),
    Tamper("occurred_at with a suffix", "occurred_at = occurred_at || 'Z'", SQLITE, says="its occurred_at"),
    Tamper(
        "occurred_at ISO T", "occurred_at = replace(occurred_at, ' ', 'T')", SQLITE, says="its occurred_at"
    ),
    Tamper(
        "occurred_at month 13", "occurred_at = '2026-13-01 00:00:00.000000'", SQLITE, says="its occurred_at"
    ),
    Tamper(
        "occurred_at no microseconds",
        "occurred_at = substr(occurred_at, 1, 19)",
        SQLITE,
        says="its occurred_at",
    ),
    Tamper(
        "occurred_at infinity",
        "occurred_at = 'infinity'",
        POSTGRES,
        says="its occurred_at holds the value Decimal('Infinity')",
    ),
    Tamper("occurred_at -infinity", "occurred_at = '-infinity'", POSTGRES, says="its occurred_at"),
    Tamper("occurred_at BC", "occurred_at = '4713-01-01 00:00:00+00 BC'", POSTGRES, says="its occurred_at"),
    Tamper(
        "occurred_at year 20000", "occurred_at = '20000-01-01 00:00:00+00'", POSTGRES, says="its occurred_at"
    ),
    Tamper(
        "occurred_at plus 1 µs",
        "occurred_at = occurred_at + interval '1 microsecond'",
        POSTGRES,
        says="was altered: its content",
    ),
    Tamper(
        "actor_id toggled", "actor_id = CASE WHEN actor_id IS NULL THEN 42 ELSE NULL END", says="its content"
    ),
    Tamper("actor_id largest", "actor_id = 2147483647", says="its content"),
    Tamper(
        "actor_id text",
        "actor_id = 'abc'",
        SQLITE,
        says="its actor_id holds the text 'abc', not a whole number",
    ),
    Tamper("actor_id real", "actor_id = 2.5", SQLITE, says="its actor_id holds the value 2.5"),
    Tamper("actor_id bytes", "actor_id = x'01'", SQLITE, says="its actor_id holds 1 bytes of binary data"),
    Tamper("action", "action = 'forged'", says="(forged "),
    Tamper("action with a line break", "action = :value", value="line\nbreak", says="('line\\nbreak' "),
    Tamper("action empty", "action = ''", says="its content"),
    Tamper("action number", "action = 42", SQLITE, says="(42 "),
    Tamper(
        "action bytes", "action = x'00'", SQLITE, says="its action holds 1 bytes of binary data, not text"
    ),
    Tamper(
        "action not UTF-8",
        f"action = {NOT_UTF8}",
        SQLITE,
        says="its action holds 1 bytes of text that is not UTF-8",
    ),
    Tamper("entity_type", "entity_type = 'Forged'", says="its content"),
    Tamper("entity_id", "entity_id = '999999'", says="its content"),
    Tamper(
        "before toggled",
        '"before" = CASE WHEN "before" IS NULL THEN \'{}\' ELSE NULL END',
        says="its content",
    ),
    Tamper(
        "after toggled", '"after" = CASE WHEN "after" IS NULL THEN \'{}\' ELSE NULL END', says="its content"
    ),
    Tamper("after empty", "\"after\" = ''", says="its content"),
    Tamper("after bytes", "\"after\" = x'7b7d'", SQLITE, says="its after holds 2 bytes of binary data"),
    Tamper("after not UTF-8", f'"after" = {NOT_UTF8}', SQLITE, says="its after holds 1 bytes of text"),
    Tamper("prev_hash", "prev_hash = :value", value="f" * 64, says="does not follow"),
    Tamper("prev_hash empty", "prev_hash = ''", says="does not follow"),
    Tamper("prev_hash bytes", "prev_hash = x'00'", SQLITE, says="its prev_hash holds 1 bytes"),
    Tamper("hash", "hash = :value", value="e" * 64, says="its content does not match its hash"),
    # PostgreSQL drops spaces past a VARCHAR(64)'s length: only SQLite keeps this one.
    Tamper("hash with a space", "hash = hash || ' '", SQLITE, says="its content does not match its hash"),
    Tamper("hash in capitals", "hash = upper(hash)", says="its content does not match its hash"),
    Tamper("hash bytes", "hash = x'00'", SQLITE, says="its hash holds 1 bytes"),
    Tamper("seq far ahead", "seq = seq + 1000", says="is missing (next is #"),
    Tamper("seq zero", "seq = 0", broken="zero", says="event #0 is out of sequence"),
    Tamper("seq negative", "seq = -7", broken="negative", says="event #-7 is out of sequence"),
]

HEAD_TAMPERING = [
    Tamper("head seq raised", "seq = seq + 1", says="the journal head was altered: it counts"),
    Tamper("head seq lowered", "seq = seq - 1", says="the journal head counts"),
    Tamper("head seq zero", "seq = 0", says="the journal head counts 0 events and matches none"),
    Tamper("head seq negative", "seq = -1", says="the journal head's seq is -1"),
    Tamper("head seq far ahead", "seq = seq + 1000", says="the journal head was altered"),
    Tamper(
        "head seq text",
        "seq = 'abc'",
        SQLITE,
        says="the journal head's seq holds the text 'abc', not a whole number",
    ),
    Tamper("head seq real", "seq = 3.5", SQLITE, says="the journal head's seq holds the value 3.5"),
    Tamper("head seq bytes", "seq = x'00'", SQLITE, says="the journal head's seq holds 1 bytes"),
    Tamper("head seq not UTF-8", f"seq = {NOT_UTF8}", SQLITE, says="not UTF-8"),
    Tamper(
        "head hash", "hash = :value", value="d" * 64, says="the journal head's hash is not that of event #"
    ),
    Tamper("head hash empty", "hash = ''", says="the journal head's hash is not that of event #"),
    Tamper("head hash bytes", "hash = x'00'", SQLITE, says="the journal head's hash holds 1 bytes"),
    Tamper("head hash not UTF-8", f"hash = {NOT_UTF8}", SQLITE, says="the journal head's hash holds"),
    Tamper(
        "head hash of the previous event",
        "hash = (SELECT prev_hash FROM journal_event WHERE seq = journal_head.seq)",
        says="the journal head's hash is not that of event #",
    ),
    Tamper("head id", "id = 2", says="the journal head's id holds the value 2, not 1"),
    Tamper(
        "head set back",
        "seq = seq - 1, hash = (SELECT prev_hash FROM journal_event WHERE seq = journal_head.seq)",
        says="the journal head was set back: it ends at event #",
    ),
]


async def _chain(session) -> list[int]:
    """A few events, some with an actor and a `before`; their numbers."""
    await factories.region(session)
    admin = await factories.user(session, Role.ADMIN)
    from market import directory

    await directory.create_region(
        session=session, actor=Actor(user_id=admin.id, role=Role.ADMIN), code="T00001", name="Tampered",
        kind=m.RegionKind.RURAL, population=10,
    )  # fmt: skip
    await factories.provider(session)
    await session.commit()
    seqs = [e.seq for e in await _events(session)]
    assert len(seqs) >= 6 and (await journal.verify(session)).ok
    return seqs


def _dialect(session) -> str:
    return session.bind.dialect.name


def _cases(cases, targets):
    return [
        pytest.param(case, target, id=f"{case.name} ({target})" if target else case.name)
        for case in cases
        if DIALECT in case.dialects
        for target in targets
    ]


def _assert_named(result, expected_seq=None, *, at_head=False, says=""):
    assert not result.ok
    assert result.reason and "\n" not in result.reason and "\r" not in result.reason, result.reason
    assert says in result.reason, result.reason
    if at_head:
        assert result.at_head and result.broken_seq is None, result
        assert "journal head" in result.reason
    else:
        assert not result.at_head and result.broken_seq == expected_seq, result
        assert f"event #{expected_seq}" in result.reason, result.reason


@pytest.mark.parametrize(("case", "target"), _cases(EVENT_TAMPERING, ["first", "middle", "last"]))
async def test_verify_names_an_event_tampered_with_any_value(session, case, target):
    assert _dialect(session) == DIALECT
    seqs = await _chain(session)
    seq = {"first": seqs[0], "middle": seqs[len(seqs) // 2], "last": seqs[-1]}[target]
    params = {"seq": seq} | ({"value": case.value} if case.value is not None else {})
    await session.execute(text(f"UPDATE journal_event SET {case.assignment} WHERE seq = :seq"), params)  # noqa: S608
    expected = {"same": seq, "zero": 0, "negative": -7}[case.broken]
    _assert_named(await journal.verify(session), expected, says=case.says)


@pytest.mark.parametrize(("case", "target"), _cases(HEAD_TAMPERING, [None]))
async def test_verify_names_the_head_tampered_with_any_value(session, case, target):
    assert _dialect(session) == DIALECT
    await _chain(session)
    params = {"value": case.value} if case.value is not None else {}
    await session.execute(text(f"UPDATE journal_head SET {case.assignment}"), params)  # noqa: S608
    _assert_named(await journal.verify(session), at_head=True, says=case.says)


async def test_verify_names_a_deleted_or_extra_head_row(session):
    await _chain(session)
    await session.execute(
        text("INSERT INTO journal_head (id, seq, hash) SELECT 2, seq, hash FROM journal_head")
    )
    _assert_named(await journal.verify(session), at_head=True, says="has 2 rows in journal_head")
    await session.execute(text("DELETE FROM journal_head"))
    _assert_named(await journal.verify(session), at_head=True, says="the journal head is missing")


async def test_verify_names_the_head_when_an_event_is_appended_behind_its_back(session):
    """A well-formed event after the head's last (a raw INSERT): the head no longer ends the chain."""
    seqs = await _chain(session)
    last = (await _events(session))[-1]
    forged = JournalEvent(
        seq=last.seq + 1, occurred_at=last.occurred_at, actor_id=None, action="forged", entity_type="X",
        entity_id="1", before=None, after="{}", prev_hash=last.hash, hash="",
    )  # fmt: skip
    forged.hash = journal.event_hash(last.hash, forged)
    session.add(forged)
    await session.flush()
    _assert_named(
        await journal.verify(session), at_head=True, says=f"ends at event #{seqs[-1]}, but the chain goes on"
    )


async def test_verify_reads_the_chain_in_batches(session):
    seqs = await _chain(session)
    assert (await journal.verify(session, batch_size=2)).checked == len(seqs)
    await session.execute(
        text("UPDATE journal_event SET occurred_at = '2020-01-01 00:00:00' WHERE seq = :s"), {"s": seqs[-2]}
    )
    _assert_named(await journal.verify(session, batch_size=2), seqs[-2], says="")


# ---------------------------------------------------------------- the same through `market journal verify`


@pytest.fixture
def cli_database(tmp_path, monkeypatch):
    """A database of the suite's kind (SQLite, or PostgreSQL with TEST_DATABASE_URL) for the command line."""
    from tests.conftest import _create_postgres_database

    base = os.environ.get("TEST_DATABASE_URL")
    url, drop = (
        _create_postgres_database(base) if base else (f"sqlite:///{tmp_path / 'cli.db'}", lambda: None)
    )
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    drop()


def test_market_journal_verify_names_tampering_in_one_line(cli_database):
    runner = CliRunner()
    assert runner.invoke(app.cli, ["db", "upgrade"]).exit_code == 0
    for n in range(5):
        created = runner.invoke(
            app.cli,
            ["user", "create", "--email", f"admin{n}@example.org", "--password", "long-password",
             "--name", f"Admin {n}", "--role", "ADMIN"],
        )  # fmt: skip
        assert created.exit_code == 0, created.output
    engine = create_engine(sync_url(cli_database))
    dialect = engine.dialect.name
    with engine.connect() as connection:
        events = connection.execute(text("SELECT * FROM journal_event")).mappings().all()
        head = connection.execute(text("SELECT * FROM journal_head")).mappings().all()
        seqs = sorted(e["seq"] for e in events)

    columns = list(events[0])
    insert_events = text(
        f"INSERT INTO journal_event ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(f':{c}' for c in columns)})"
    )

    def restore():
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM journal_event"))
            connection.execute(text("DELETE FROM journal_head"))
            connection.execute(insert_events, [dict(e) for e in events])
            connection.execute(
                text("INSERT INTO journal_head (id, seq, hash) VALUES (:id, :seq, :hash)"), head
            )

    def verify(sql, params=None):
        with engine.begin() as connection:
            connection.execute(text(sql), params or {})
        result = runner.invoke(app.cli, ["journal", "verify"])
        restore()
        assert runner.invoke(app.cli, ["journal", "verify"]).exit_code == 0, "restored intact"
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        lines = result.output.splitlines()
        assert len(lines) == 1 and lines[0].startswith("journal broken: "), result.output
        return lines[0]

    unparseable = "'not a time'" if dialect == "sqlite" else "'infinity'"
    for seq in (seqs[0], seqs[len(seqs) // 2], seqs[-1]):
        line = verify(f"UPDATE journal_event SET occurred_at = {unparseable} WHERE seq = :seq", {"seq": seq})  # noqa: S608
        assert f"event #{seq} was altered: its occurred_at holds" in line
        line = verify("UPDATE journal_event SET action = :v WHERE seq = :seq", {"v": "a\nb", "seq": seq})
        assert f"event #{seq} ('a\\nb' " in line
    assert "the journal head counts" in verify("UPDATE journal_head SET seq = seq - 1")
    assert "the journal head was altered" in verify("UPDATE journal_head SET seq = seq + 1")
    assert "the journal head's hash" in verify("UPDATE journal_head SET hash = :h", {"h": "0" * 64})
    assert "2 rows" in verify("INSERT INTO journal_head (id, seq, hash) VALUES (2, 0, 'x')")
    if dialect == "sqlite":
        not_utf8 = f"UPDATE journal_event SET after = {NOT_UTF8} WHERE seq = :seq"  # noqa: S608
        assert f"event #{seqs[1]} was altered: its after holds" in verify(not_utf8, {"seq": seqs[1]})
        assert "the journal head's seq holds the text 'x'" in verify("UPDATE journal_head SET seq = 'x'")
    engine.dispose()


def test_market_journal_verify_without_a_journal_fails_in_one_line(journal_database):
    runner = CliRunner()
    result = runner.invoke(app.cli, ["journal", "verify"])  # never upgraded: no tables
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot read the journal: ") and result.output.count("\n") == 1


async def test_verify_names_the_head_of_an_empty_chain(session):
    assert (await _events(session)) == []
    assert (await journal.verify(session)).ok
    await session.execute(text("UPDATE journal_head SET seq = 1"))
    _assert_named(
        await journal.verify(session), at_head=True, says="counts 1 event, but its hash is the genesis"
    )
    await session.execute(text("UPDATE journal_head SET seq = 0, hash = 'x'"))
    _assert_named(await journal.verify(session), at_head=True, says="hash is not the genesis hash")
