"""Payouts benchmark (`make bench-payouts`): 10,000 approved payments sent through each backend.

Not a test. A fresh database (SQLite in a temporary folder, or `--database-url`) is migrated and
loaded with the demo; for each backend, N APPROVED payments are added to the demo's contract and
sent by `scoring.payments.send_batch`, as `market payments send` does: each payment its claim
committed, then the backend's call under the row lock and the result committed. `stripe` goes over
HTTP to the fake Stripe server of the tests (tests/scoring/fake_stripe.py) on 127.0.0.1, through the
official SDK. Reports payments per second and duplicates (payments with more than one transfer or
booking: must be 0), and writes its own section of bench/RESULTS.md, leaving the rest as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN = "<!-- payouts section: written by `make bench-payouts` (python -m bench.payouts); keep it -->"
END = "<!-- end of payouts section -->"


async def run(database_url: str, count: int, backends: list[str]) -> list[dict]:
    import os

    os.environ["DATABASE_URL"] = database_url
    from alembic import command

    from contracts.models import Contract
    from core.auth import Actor, Role
    from core.db import alembic_config, create_engine, create_sessionmaker, unit_of_work
    from core.settings import get_settings
    from demo import marketplace
    from market.models import Provider
    from scoring import payments
    from scoring.models import LedgerEntry, Payment, PaymentKind, PaymentStatus
    from scoring.payouts.ledger import LedgerBackend
    from scoring.payouts.stripe import stripe_backend
    from tests.scoring.fake_stripe import API_KEY, FakeStripe

    get_settings.cache_clear()
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, unit_of_work(session):
        await marketplace.load(session)
    fake = FakeStripe().start()
    operator = Actor(user_id=None, role=Role.ADMIN)
    rng = random.Random(10_000)
    results = []
    try:
        for name in backends:
            async with sessionmaker() as session, unit_of_work(session):
                contract = await session.scalar(select(Contract).order_by(Contract.id).limit(1))
                provider = await session.get(Provider, contract.provider_id)
                provider.payout_account = fake.create_account()
                first_id = (await session.scalar(select(func.max(Payment.id)))) or 0
                now = dt.datetime.now(dt.UTC)
                rows = [
                    {
                        "contract_id": contract.id,
                        "period_index": i % contract.periods + 1,
                        "kind": PaymentKind.PERIOD,
                        "amount": Decimal(rng.randint(1, 5_000_000)) / 100,
                        "status": PaymentStatus.APPROVED,
                        "version": 1,
                        "attempts": 0,
                        "created_at": now,
                    }
                    for i in range(count)
                ]
                await session.execute(insert(Payment), rows)
            expected = sum(row["amount"] for row in rows)
            backend = (
                LedgerBackend()
                if name == "ledger"
                else stripe_backend(api_key=API_KEY, api_base=fake.url, timeout=10.0)
            )
            started, cpu = time.perf_counter(), time.process_time()
            result = await payments.send_batch(sessionmaker=sessionmaker, actor=operator, backend=backend)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            async with sessionmaker() as session:
                ours = Payment.id > first_id
                paid = await session.scalar(
                    select(func.count()).where(ours, Payment.status == PaymentStatus.PAID)
                )
                if name == "ledger":
                    per_payment = (
                        select(
                            LedgerEntry.payment_id,
                            func.count(func.distinct(LedgerEntry.transaction)).label("n"),
                        )
                        .where(LedgerEntry.payment_id > first_id)
                        .group_by(LedgerEntry.payment_id)
                        .subquery()
                    )
                    duplicates = await session.scalar(select(func.count()).where(per_payment.c.n > 1))
                    moved = await session.scalar(
                        select(func.sum(LedgerEntry.credit)).where(
                            LedgerEntry.payment_id > first_id, LedgerEntry.account.like("provider:%:payout")
                        )
                    )
                else:
                    transfers = {k: v for k, v in fake.transfers_of_payment().items() if int(k) > first_id}
                    duplicates = sum(1 for v in transfers.values() if len(v) > 1)
                    moved = Decimal(sum(t["amount"] for v in transfers.values() for t in v)) / 100
            results.append(
                {
                    "backend": name,
                    "count": count,
                    "paid": paid,
                    "duplicates": duplicates,
                    "seconds": elapsed,
                    "per_second": count / elapsed,
                    "cpu_ms": cpu * 1000 / count,
                    "moved_ok": Decimal(moved or 0) == expected,
                    "summary": result.summary(),
                }
            )
            print(
                f"{name}: {count} payments in {elapsed:.1f} s, {count / elapsed:.0f}/s, "
                f"{duplicates} duplicates, {result.summary()}",
                flush=True,
            )
    finally:
        fake.stop()
        await engine.dispose()
    return results


def section(results: list[dict], database: str) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        "",
        "## Payouts: sending approved payments",
        "",
        f"Written by `make bench-payouts` ({when}), {database}, Python {platform.python_version()}, the same "
        "noisy 2-core machine. For each backend, APPROVED payments on the demo's contract are sent one after "
        "the other by `scoring.payments.send_batch` (what `market payments send` runs): per payment the "
        "claim committed, then the backend's call under the payment's row lock and its result committed, "
        "each step journaled. `stripe` is the official SDK over HTTP to the fake Stripe server of the tests "
        "on 127.0.0.1 (in the same process, a thread). One sender: the figures are latency-bound, not a "
        "capacity limit. Duplicates: payments with more than one transfer (Stripe) or ledger transaction.",
        "",
        "| backend | payments | paid | duplicates | amounts moved = approved | seconds | payments/s "
        "| CPU ms/payment |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['count']:,} | {r['paid']:,} | **{r['duplicates']}** | "
            f"{'yes' if r['moved_ok'] else '**no**'} | {r['seconds']:.1f} | {r['per_second']:.0f} "
            f"| {r['cpu_ms']:.2f} |"
        )
    lines += ["", END, ""]
    return "\n".join(lines)


def write_section(text: str) -> None:
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        updated = head + text.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(updated, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="payments per backend")
    parser.add_argument("--backend", action="append", choices=["ledger", "stripe"], help="default: both")
    parser.add_argument("--database-url", help="default: a new SQLite file in a temporary folder")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as folder:
        url = options.database_url or f"sqlite:///{folder}/payouts.db"
        results = asyncio.run(run(url, options.count, options.backend or ["ledger", "stripe"]))
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite (WAL)"
    if not options.no_write:
        write_section(section(results, database))
        print(f"wrote the payouts section of {RESULTS}")
    if any(r["duplicates"] or r["paid"] != r["count"] or not r["moved_ok"] for r in results):
        raise SystemExit("duplicates or unpaid payments: see above")


if __name__ == "__main__":
    main()
