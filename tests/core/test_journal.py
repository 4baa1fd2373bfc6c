"""The hash-chained journal (SPEC §8) and `market journal verify`."""

import pytest
from sqlalchemy import create_engine, delete, select, text, update
from typer.testing import CliRunner

import app
from core import journal
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

    from market import service

    await service.approve_provider(session=session, actor=factories.ADMIN, provider_id=provider.id)
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
    from market import service

    sessionmaker = create_sessionmaker(scratch_engine)

    async def add_region(i):
        async with sessionmaker() as session:
            await service.create_region(
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
