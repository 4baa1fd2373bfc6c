"""The evidence of due periods, read in one statement: each period's rollup, and the prior, the
package's counted ratings in the period's dates, summed from per-day totals once per distinct range."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from contracts import deliveries
from contracts.models import Delivery, Rating
from scoring import scorecards
from scoring.models import PeriodRollup
from scoring.rollups import counted_rating_clause
from tests.scoring import world as sw


async def test_the_prior_counts_the_package_ratings_of_each_period_dates_and_no_others(session):
    world = await sw.build(session, on=dt.date(2030, 3, 20))
    # Ratings on both sides of the boundary between periods 1 (to 03-31) and 2 (from 04-01).
    rated = [(dt.date(2030, 3, 1), 5), (dt.date(2030, 3, 31), 4), (dt.date(2030, 3, 31), 2)]
    await sw.move_to(world, dt.date(2030, 4, 2))
    rated += [(dt.date(2030, 4, 1), 1), (dt.date(2030, 4, 2), 3)]
    tokens = []
    for day, stars in rated:
        _, token = await sw.deliver(world, day)
        await sw.rate(world, token, stars)
        tokens.append(token)
    # Not counted: a disputed delivery's rating (03-31, 2 stars).
    await deliveries.dispute_delivery(session=session, token=tokens[2], reason="没有上门")
    await session.commit()

    found = await scorecards.evidence(session, PeriodRollup.contract_id == world.contract.id)

    # By hand: period 1 counts 5 + 4 (the disputed 2 left out), period 2 counts 1 + 3.
    assert {k[1]: (e.prior_count, e.prior_sum) for k, e in found.items()} == {
        1: (2, 9), 2: (2, 4), 3: (0, 0), 4: (0, 0),
    }  # fmt: skip
    # And as a recount of every counted rating of the package within each period's dates.
    rows = (
        await session.execute(
            select(Delivery.delivered_on, Rating.stars)
            .join(Rating, Rating.delivery_id == Delivery.id)
            .where(counted_rating_clause())
        )
    ).all()
    for item in found.values():
        inside = [stars for day, stars in rows if item.starts_on <= day <= item.ends_on]
        assert (item.prior_count, item.prior_sum) == (len(inside), sum(inside))
    # The period's own numbers are its rollup's.
    assert (found[(world.contract.id, 1)].ratings_count, found[(world.contract.id, 1)].ratings_sum) == (2, 9)
