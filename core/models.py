"""Infrastructure tables: the shared test clock and the hash-chained journal."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime


class ClockOffset(SQLModel, table=True):
    """One row: seconds the test clock runs ahead of real time (MARKET_TEST_CLOCK only)."""

    __tablename__ = "clock_offset"

    id: int = Field(default=1, primary_key=True)
    offset_seconds: int = Field(default=0)


class JournalHead(SQLModel, table=True):
    """One row: the last event's number and hash. Appenders lock it, so the chain never forks."""

    __tablename__ = "journal_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0)
    hash: str = Field(default="0" * 64, max_length=64)


class JournalEvent(SQLModel, table=True):
    """One state change: who, when, what, before → after (SPEC §8)."""

    __tablename__ = "journal_event"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    occurred_at: dt.datetime = Field(sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None)
    action: str = Field(max_length=80, index=True)
    entity_type: str = Field(max_length=80)
    entity_id: str = Field(max_length=80)
    before: str | None = Field(default=None, sa_column=Column(Text))
    after: str | None = Field(default=None, sa_column=Column(Text))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
