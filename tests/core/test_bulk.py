"""core.bulk: rows written around the ORM read back as the ORM would have written them (money in fen,
enums, JSON, UTC times, NULLs), with IDs reserved beforehand, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from core import bulk
from scoring.models import Payment, PaymentKind, PaymentStatus
from tests.scoring import world as sw


async def test_rows_written_in_bulk_read_back_as_written(session):
    world = await sw.build(session)
    now = dt.datetime(2030, 3, 20, 2, 0, 0, 123456, tzinfo=dt.UTC)
    ids = await bulk.reserve_ids(session, Payment.__table__, 3)
    assert ids == sorted(ids) and len(set(ids)) == 3
    rows = [
        {
            **bulk.field_defaults(Payment),
            "id": payment_id,
            "contract_id": world.contract.id,
            "period_index": index + 1,
            "kind": PaymentKind.PERIOD,
            "amount": amount,
            "status": PaymentStatus.CALCULATED,
            "created_at": now,
        }
        for index, (payment_id, amount) in enumerate(zip(ids, ["0.01", "12345.67", "-3.50"], strict=True))
    ]
    await bulk.insert_rows(session, Payment.__table__, rows)

    read = (await session.scalars(select(Payment).where(Payment.id.in_(ids)).order_by(Payment.id))).all()
    assert [(p.amount, p.kind, p.status, p.created_at, p.version, p.sent_at) for p in read] == [
        (Decimal(a), PaymentKind.PERIOD, PaymentStatus.CALCULATED, now, 1, None)
        for a in ["0.01", "12345.67", "-3.50"]
    ]
    # The next IDs come after the reserved ones.
    assert min(await bulk.reserve_ids(session, Payment.__table__, 1)) > max(ids)
    assert await session.scalar(select(func.count()).select_from(Payment)) == 3
