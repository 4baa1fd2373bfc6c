"""Bids racing the deadline and the opening, with real concurrent transactions (SPEC §4.1, NOTES.md).

Runs on a scratch database of its own (the transactions commit for real): on
PostgreSQL the bids and the opening serialise on the tender row lock; on SQLite
on the database's write lock.
"""

import asyncio
import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import select

from core import clock
from core.db import create_sessionmaker
from core.errors import DomainError, ErrorCode
from market import bids as bidding
from market import models as m
from tests.market import world as w

BIDDERS = 12


async def test_no_bid_gets_in_after_the_deadline_or_past_the_opening(scratch_engine):
    sessionmaker = create_sessionmaker(scratch_engine)
    async with sessionmaker() as session:
        world = await w.build(session, bidders=BIDDERS)
        deadline = clock.real_now() + dt.timedelta(seconds=1.5)
        tender = await world.published(bid_deadline=deadline, min_valid_bids=1)
        await session.commit()
        tender_id, officer, bidders = tender.id, world.officer, world.bidders

    rng = random.Random(20261122)
    outcomes: dict[int, str] = {}
    committed_at: dict[int, dt.datetime] = {}

    async def bid(index: int) -> None:
        # Arrive between 0.6 s before and 0.3 s after the deadline; some transactions are slow to commit.
        start_at = deadline + dt.timedelta(seconds=rng.uniform(-0.6, 0.3))
        think = rng.choice([0, 0, 0.05, 0.4])
        await asyncio.sleep(max(0.0, (start_at - clock.real_now()).total_seconds()))
        async with sessionmaker() as session:
            try:
                await bidding.submit_bid(
                    session=session, actor=bidders[index], tender_id=tender_id,
                    unit_price=Decimal("90.00") + index, proposal=f"bid {index}",
                )  # fmt: skip
                await asyncio.sleep(think)
                await session.commit()
                outcomes[index] = "accepted"
                committed_at[index] = clock.real_now()
            except DomainError as error:
                await session.rollback()
                outcomes[index] = error.problems[0].code.value

    async def open_when_due() -> None:
        # A hair past the deadline: asyncio's timer may wake a little early.
        await asyncio.sleep(max(0.0, (deadline - clock.real_now()).total_seconds()) + 0.002)
        async with sessionmaker() as session:
            await bidding.open_bids(session=session, actor=officer, tender_id=tender_id)
            await session.commit()

    await asyncio.gather(open_when_due(), *(bid(i) for i in range(BIDDERS)))

    async with sessionmaker() as session:
        tender = await session.get(m.Tender, tender_id)
        bids = (await session.scalars(select(m.Bid).where(m.Bid.tender_id == tender_id))).all()
    accepted = {i for i, outcome in outcomes.items() if outcome == "accepted"}
    refused = {outcome for outcome in outcomes.values() if outcome != "accepted"}
    assert len(outcomes) == BIDDERS
    assert refused <= {ErrorCode.DEADLINE_PASSED.value, ErrorCode.INVALID_STATE.value}
    # Every committed bid was committed before the deadline and is in the opening record; nothing else is.
    assert len(bids) == len(accepted)
    assert all(b.submitted_at < deadline for b in bids)
    # A transaction that began before the deadline but committed after it did not get in
    # (allowing the few milliseconds COMMIT itself takes after the last check).
    assert all(at < deadline + dt.timedelta(milliseconds=50) for at in committed_at.values())
    assert sorted(e["bid_id"] for e in tender.opening_record) == sorted(b.id for b in bids)
    assert all(b.status != m.BidStatus.SUBMITTED for b in bids)  # all of them were opened
    # The race really happened: some bids got in, some were too late.
    assert accepted and refused
