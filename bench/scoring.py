"""Scoring benchmark (`make bench-scoring`): a scoring run over 10,000 contracts against one SQL aggregate.

Not a test. On PostgreSQL (`--admin-url`, default the machine's server), a seed database is migrated,
loaded with the demo, and grown by SQL to `--contracts` ACTIVE contracts of the demo's shape (its
tender, bid, KPIs; three monthly cohorts, so two quarterly periods of each have ended), each ended
period with a SUBMITTED audit, and deliveries with their ratings, flags and disputes, up to each
count of `--ratings`. The period rollups are counted in one grouped statement (the app keeps them
current as rows arrive; a bulk load of this size goes around the app) and checked against
`scoring.rollups.recounted` on a sample.

At each ratings count, for each of `--repeats` rounds, a fresh copy of the seed (CREATE DATABASE …
TEMPLATE) is scored twice over, in the same round:

- **baseline**: one hand-written SQL statement that computes every due period's numbers from the raw
  rows (deliveries, ratings, complaints): deliveries, verified units, counted ratings and their sum,
  and the package's counted ratings in the period's dates (the prior); rows fetched.
- **scoring run**: `market scoring run` as its command does it (`plan_run`, `run`, the commit), in
  a child process that reports its time and its peak memory (the high-water mark of its resident
  set, and that mark's rise during the run).

The run's numbers are compared with the baseline's (every period: the same counts, sums and prior).
Reports the ratio run ÷ baseline (goal ≤ 1.5) and the peak memory at each count (goal: flat), and
writes its own section of bench/RESULTS.md, leaving the rest as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN = "<!-- scoring section: written by `make bench-scoring` (python -m bench.scoring); keep it -->"
END = "<!-- end of scoring section -->"
SEED_DB = "bench_scoring_seed"
RUN_DB = "bench_scoring_run"
COHORTS = ((3, 1), (4, 1), (5, 1))
"""Contract start dates (month, day) of this year's cohorts, each 4 quarterly periods."""
PHASES = ("plan", "run", "commit")
UNRATED_SHARE = 10
"""One delivery in this many more is recorded without a rating."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def connect(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))


# ---------------------------------------------------------------- the seed


async def migrate_and_load_demo(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    from alembic import command

    import app
    from core.db import alembic_config, create_engine, create_sessionmaker, unit_of_work
    from core.settings import get_settings
    from demo import marketplace

    get_settings.cache_clear()
    app.install_hooks()
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, unit_of_work(session):
            await marketplace.load(session)
    finally:
        await engine.dispose()


def clone(conn, table: str, template_where: str, overrides: dict[str, str], source: str) -> int:
    """INSERT … SELECT every column of `table` from its template row(s), some columns overridden."""
    from sqlmodel import SQLModel

    import app  # noqa: F401 - every model registered

    columns = [c.name for c in SQLModel.metadata.tables[table].columns if overrides.get(c.name) != "DEFAULT"]
    values = [overrides.get(c, f"t.{c}") for c in columns]
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
        f"FROM {table} t CROSS JOIN {source} WHERE {template_where}"
    )
    return conn.execute(statement).rowcount


def grow_contracts(url: str, count: int, today: dt.date) -> dict:
    """`count` ACTIVE contracts shaped like the demo's, with KPIs, rollup rows and ended periods' audits."""
    from contracts import lifecycle
    from contracts.models import Contract

    with connect(url) as conn:
        template = conn.execute(
            "SELECT id, tender_id, bid_id FROM contract WHERE status = 'ACTIVE' ORDER BY id LIMIT 1"
        ).fetchone()
        contract_id, tender_id, bid_id = template
        audit_template = conn.execute(
            "SELECT id FROM audit WHERE contract_id <> %s AND status = 'SUBMITTED' ORDER BY id LIMIT 1",
            (contract_id,),
        ).fetchone()[0]
        packages = [r[0] for r in conn.execute("SELECT id FROM service_package ORDER BY id")]
        providers = [
            r[0] for r in conn.execute("SELECT id FROM provider WHERE status = 'ACTIVE' ORDER BY id")
        ]
        regions = [r[0] for r in conn.execute("SELECT id FROM region ORDER BY id")]
        auditor = conn.execute("SELECT auditor_id FROM audit WHERE id = %s", (audit_template,)).fetchone()[0]
        base = {
            table: conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
            for table in ("tender", "bid", "contract")
        }
        starts = [dt.date(today.year, month, day) for month, day in COHORTS]
        conn.execute(
            "CREATE TEMP TABLE bench_map (g int PRIMARY KEY, tender_id int, bid_id int, contract_id int, "
            "package_id int, provider_id int, region_id int, start_date date)"
        )
        with conn.cursor().copy("COPY bench_map FROM STDIN") as copy:
            for g in range(1, count + 1):
                copy.write_row(
                    (
                        g, base["tender"] + g, base["bid"] + g, base["contract"] + g,
                        packages[g % len(packages)], providers[g % len(providers)],
                        regions[g % len(regions)], starts[g % len(starts)],
                    )
                )  # fmt: skip
        same = {"package_id": "m.package_id", "region_id": "m.region_id", "start_date": "m.start_date"}
        clone(conn, "tender", f"t.id = {tender_id}",
              {**same, "id": "m.tender_id", "title": "t.title || ' #' || m.g"}, "bench_map m")  # fmt: skip
        clone(conn, "bid", f"t.id = {bid_id}",
              {"id": "m.bid_id", "tender_id": "m.tender_id", "provider_id": "m.provider_id"},
              "bench_map m")  # fmt: skip
        clone(conn, "contract", f"t.id = {contract_id}",
              {**same, "id": "m.contract_id", "tender_id": "m.tender_id", "bid_id": "m.bid_id",
               "provider_id": "m.provider_id", "status": "'ACTIVE'",
               "signed_at": "(m.start_date - 10)::timestamptz"}, "bench_map m")  # fmt: skip
        for table in ("tender", "bid", "contract"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        clone(conn, "contract_kpi", f"t.contract_id = {contract_id}",
              {"id": "DEFAULT", "contract_id": "m.contract_id"}, "bench_map m")  # fmt: skip
        # Rollup rows, one per period, as the app makes them with a contract.
        shape = conn.execute(
            "SELECT periods, period_months FROM contract WHERE id = %s", (contract_id,)
        ).fetchone()
        periods = {
            start: lifecycle.periods_of(Contract(start_date=start, periods=shape[0], period_months=shape[1]))
            for start in starts
        }
        ended = {start: [p.index for p in periods[start] if p.ends_on < today] for start in starts}
        with conn.cursor().copy(
            "COPY period_rollup (contract_id, period_index, starts_on, ends_on, package_id, "
            "deliveries_recorded, verified_units, substantiated_complaints, ratings_given, ratings_count, "
            "ratings_sum, stars_1, stars_2, stars_3, stars_4, stars_5) FROM STDIN"
        ) as copy:
            for g in range(1, count + 1):
                start = starts[g % len(starts)]
                for p in periods[start]:
                    copy.write_row(
                        (base["contract"] + g, p.index, p.starts_on, p.ends_on, packages[g % len(packages)])
                        + (0,) * 11
                    )
        # Each ended period's audit, submitted, with its KPI values and checklist.
        conn.execute(
            "CREATE TEMP TABLE bench_ended AS SELECT m.contract_id, m.start_date, p.index FROM bench_map m "
            "JOIN (VALUES " + ", ".join(f"('{s}'::date, {i})" for s in starts for i in ended[s]) + ") "
            "AS p(start_date, index) ON p.start_date = m.start_date"
        )
        audits = conn.execute(
            "INSERT INTO audit (contract_id, period_index, audit_firm_id, auditor_id, status, created_at, "
            "submitted_at) SELECT e.contract_id, e.index, c.audit_firm_id, %s, 'SUBMITTED', now(), now() "
            "FROM bench_ended e JOIN contract c ON c.id = e.contract_id",
            (auditor,),
        ).rowcount
        conn.execute(
            "INSERT INTO audit_kpi_value (audit_id, kpi_id, value) "
            "SELECT a.id, k.id, round((k.target * (0.8 + random() * 0.35))::numeric, 3) "
            "FROM audit a JOIN contract_kpi k ON k.contract_id = a.contract_id AND k.source = 'AUDIT' "
            "WHERE a.contract_id > %s",
            (base["contract"],),
        )
        conn.execute(
            "INSERT INTO audit_check (audit_id, item, passed, weight, severity, note, evidence, overturned) "
            "SELECT a.id, t.item, random() < 0.85, t.weight, t.severity, NULL, NULL, false "
            "FROM audit_check t CROSS JOIN audit a WHERE t.audit_id = %s AND a.contract_id > %s",
            (audit_template, base["contract"]),
        )
        conn.commit()
    return {"first_contract": base["contract"] + 1, "audits": audits, "starts": starts}


def add_ratings(url: str, first_contract: int, ratings: int, today: dt.date) -> None:
    """`ratings` rated deliveries spread over the new contracts' days so far, and a tenth more unrated;
    2% of deliveries disputed, 3% of ratings flagged (a third of those cleared); the stars lean high."""
    with connect(url) as conn:
        contracts = conn.execute(
            "SELECT count(*) FROM contract WHERE id >= %s", (first_contract,)
        ).fetchone()[0]
        start = conn.execute("SELECT coalesce(max(id), 0) FROM delivery").fetchone()[0]
        deliveries = ratings + ratings // UNRATED_SHARE
        conn.execute(
            "INSERT INTO delivery (id, contract_id, delivered_on, units, phone_hash, token_hash, "
            "token_expires_at, recorded_at, disputed_at, dispute_reason) "
            "SELECT %(start)s + s, c.id, d.day, 1 + (random() < 0.2)::int, md5('phone' || (s %% 5000)), "
            "md5('bench token ' || (%(start)s + s)), d.day + 30, d.day + interval '12 hours', "
            "CASE WHEN random() < 0.02 THEN d.day + interval '2 days' END, "
            "CASE WHEN random() < 0.02 THEN 'bench: not delivered' END "
            "FROM generate_series(1, %(deliveries)s) s "
            "JOIN contract c ON c.id = %(first)s + (s %% %(contracts)s) "
            "CROSS JOIN LATERAL (SELECT c.start_date "
            "+ floor(random() * (%(today)s::date - c.start_date))::int AS day) d",
            {"start": start, "deliveries": deliveries, "first": first_contract, "contracts": contracts,
             "today": today},
        )  # fmt: skip
        conn.execute(
            "UPDATE delivery SET disputed_at = NULL WHERE id > %s AND dispute_reason IS NULL", (start,)
        )
        conn.execute(
            "INSERT INTO rating (delivery_id, contract_id, stars, created_at, updated_at, flag_reason, "
            "flag_cleared_at) SELECT d.id, d.contract_id, "
            "CASE WHEN r < 0.45 THEN 5 WHEN r < 0.80 THEN 4 WHEN r < 0.92 THEN 3 "
            "WHEN r < 0.97 THEN 2 ELSE 1 END, "
            "d.recorded_at + interval '1 day', d.recorded_at + interval '1 day', "
            "CASE WHEN f < 0.03 THEN 'bench: same household rated often' END, "
            "CASE WHEN f < 0.01 THEN d.recorded_at + interval '3 days' END "
            "FROM (SELECT d.*, random() AS r, random() AS f FROM delivery d WHERE d.id > %s "
            "AND (d.id - %s) %% %s <> 0) d",
            (start, start, UNRATED_SHARE + 1),
        )  # fmt: skip
        conn.commit()


ROLLUP_SQL = """
WITH counted AS (
  SELECT r.contract_id, r.period_index,
         count(d.id) AS deliveries_recorded,
         coalesce(sum(d.units) FILTER (WHERE d.disputed_at IS NULL AND d.marked_false_by_audit_id IS NULL), 0)
           AS verified_units,
         count(rt.delivery_id) AS ratings_given,
         count(rt.delivery_id) FILTER (WHERE {counted}) AS ratings_count,
         coalesce(sum(rt.stars) FILTER (WHERE {counted}), 0) AS ratings_sum,
         {stars}
  FROM period_rollup r
  JOIN delivery d ON d.contract_id = r.contract_id AND d.delivered_on BETWEEN r.starts_on AND r.ends_on
  LEFT JOIN rating rt ON rt.delivery_id = d.id
  WHERE r.contract_id >= %(first)s
  GROUP BY r.contract_id, r.period_index
)
UPDATE period_rollup r SET
  deliveries_recorded = c.deliveries_recorded, verified_units = c.verified_units,
  ratings_given = c.ratings_given, ratings_count = c.ratings_count, ratings_sum = c.ratings_sum,
  stars_1 = c.stars_1, stars_2 = c.stars_2, stars_3 = c.stars_3, stars_4 = c.stars_4, stars_5 = c.stars_5
FROM counted c WHERE c.contract_id = r.contract_id AND c.period_index = r.period_index
"""
COUNTED = (
    "d.disputed_at IS NULL AND d.marked_false_by_audit_id IS NULL "
    "AND (rt.flag_reason IS NULL OR rt.flag_cleared_at IS NOT NULL)"
)


def count_rollups(url: str, first_contract: int) -> None:
    stars = ", ".join(
        f"count(rt.delivery_id) FILTER (WHERE {COUNTED} AND rt.stars = {k}) AS stars_{k}" for k in range(1, 6)
    )
    with connect(url) as conn:
        conn.execute(ROLLUP_SQL.format(counted=COUNTED, stars=stars), {"first": first_contract})
        conn.commit()
    admin(url, "VACUUM ANALYZE")


async def check_rollups(url: str, first_contract: int, sample: int = 50) -> None:
    """The bulk-counted rollups equal what the app's own recount gives, on a sample of contracts."""
    from core.db import create_engine, create_sessionmaker
    from scoring import rollups

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            ids = list(range(first_contract, first_contract + sample))
            if await rollups.recounted(session, ids) != await rollups.stored(session, ids):
                raise SystemExit("bench: the bulk-counted rollups differ from scoring.rollups.recounted")
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- the two contenders

BASELINE_SQL = """
WITH due AS (
  SELECT r.contract_id, r.period_index, r.starts_on, r.ends_on, c.package_id
  FROM period_rollup r JOIN contract c ON c.id = r.contract_id
  WHERE r.ends_on < %(as_of)s
    AND NOT EXISTS (SELECT 1 FROM scorecard s
                    WHERE s.contract_id = r.contract_id AND s.period_index = r.period_index)
),
own AS (
  SELECT due.contract_id, due.period_index,
         count(d.id) AS deliveries_recorded,
         coalesce(sum(d.units) FILTER (WHERE d.disputed_at IS NULL AND d.marked_false_by_audit_id IS NULL), 0)
           AS verified_units,
         count(rt.delivery_id) FILTER (WHERE {counted}) AS ratings_count,
         coalesce(sum(rt.stars) FILTER (WHERE {counted}), 0) AS ratings_sum,
         count(cp.id) FILTER (WHERE cp.status = 'RESOLVED' AND cp.substantiated) AS substantiated_complaints
  FROM due
  JOIN delivery d ON d.contract_id = due.contract_id AND d.delivered_on BETWEEN due.starts_on AND due.ends_on
  LEFT JOIN rating rt ON rt.delivery_id = d.id
  LEFT JOIN complaint cp ON cp.delivery_id = d.id
  GROUP BY due.contract_id, due.period_index
),
ranges AS (SELECT DISTINCT package_id, starts_on, ends_on FROM due),
days AS (
  SELECT c.package_id, d.delivered_on, count(*) AS ratings, sum(rt.stars) AS stars
  FROM rating rt JOIN delivery d ON d.id = rt.delivery_id JOIN contract c ON c.id = d.contract_id
  WHERE {counted}
    AND c.package_id IN (SELECT package_id FROM ranges)
    AND d.delivered_on BETWEEN (SELECT min(starts_on) FROM ranges) AND (SELECT max(ends_on) FROM ranges)
  GROUP BY c.package_id, d.delivered_on
),
prior AS (
  SELECT ranges.package_id, ranges.starts_on, ranges.ends_on,
         sum(days.ratings) AS prior_count, sum(days.stars) AS prior_sum
  FROM ranges JOIN days ON days.package_id = ranges.package_id
   AND days.delivered_on BETWEEN ranges.starts_on AND ranges.ends_on
  GROUP BY ranges.package_id, ranges.starts_on, ranges.ends_on
)
SELECT due.contract_id, due.period_index,
       coalesce(own.deliveries_recorded, 0), coalesce(own.verified_units, 0),
       coalesce(own.substantiated_complaints, 0),
       coalesce(own.ratings_count, 0), coalesce(own.ratings_sum, 0),
       coalesce(prior.prior_count, 0), coalesce(prior.prior_sum, 0),
       CASE WHEN coalesce(prior.prior_count, 0) < 10 THEN 3.0
            ELSE prior.prior_sum::numeric / prior.prior_count END AS prior_mean
FROM due
LEFT JOIN own ON own.contract_id = due.contract_id AND own.period_index = due.period_index
LEFT JOIN prior ON prior.package_id = due.package_id AND prior.starts_on = due.starts_on
 AND prior.ends_on = due.ends_on
ORDER BY due.contract_id, due.period_index
"""


def baseline(url: str, as_of: dt.date) -> tuple[float, dict]:
    """The hand-written aggregate, timed with its rows fetched: (seconds, (contract, period) → numbers)."""
    with connect(url) as conn:
        started = time.perf_counter()
        rows = conn.execute(BASELINE_SQL.format(counted=COUNTED), {"as_of": as_of}).fetchall()
        seconds = time.perf_counter() - started
    return seconds, {(r[0], r[1]): tuple(int(v) for v in r[2:9]) for r in rows}


def scoring_run(url: str, as_of: dt.date) -> dict:
    """`market scoring run --as-of`, in a child process (its time excludes start-up and imports)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.scoring", "--child", as_of.isoformat()],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"bench: the scoring run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(as_of: str) -> None:
    """The child: what `market scoring run` does (one unit of work), timed by phase, with its peak memory."""
    import app
    from core.db import create_engine, create_sessionmaker, unit_of_work
    from core.settings import get_settings
    from scoring import scorecards

    app.install_hooks()
    day = dt.date.fromisoformat(as_of)
    # The kernel's high-water mark of this process's resident set (VmHWM: unlike ru_maxrss, not
    # carried over from the parent across exec), reset once the imports are done.
    Path("/proc/self/clear_refs").write_text("5")
    resident_before = memory_kib("VmRSS")
    phases = {}

    async def work():
        engine = create_engine(get_settings().database_url)
        try:
            started = time.perf_counter()
            async with create_sessionmaker(engine)() as session, unit_of_work(session):
                plan = await scorecards.plan_run(session, as_of=day)
                planned = time.perf_counter()
                report = await scorecards.run(session, plan)
                ran = time.perf_counter()
            committed = time.perf_counter()
        finally:
            await engine.dispose()
        phases.update(plan=planned - started, run=ran - planned, commit=committed - ran)
        return report, committed - started

    report, seconds = asyncio.run(work())
    peak = memory_kib("VmHWM")
    print(
        json.dumps(
            {
                "seconds": seconds,
                "phases": phases,
                "finalized": len(report.finalized),
                "skipped": len(report.skipped),
                "peak_kib": peak,
                "rise_kib": peak - resident_before,
            }
        )
    )


def memory_kib(field: str) -> int:
    """A line of /proc/self/status, in KiB (VmRSS: resident now; VmHWM: its high-water mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"bench: no {field} in /proc/self/status")


async def run_numbers(url: str) -> dict:
    """The finalised scorecards' numbers, as the baseline gives them, to compare."""
    from sqlalchemy import select

    from core.db import create_engine, create_sessionmaker
    from scoring.models import Scorecard

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            cards = (await session.scalars(select(Scorecard).where(Scorecard.version == 1))).all()
            return {
                (c.contract_id, c.period_index): (
                    c.deliveries_recorded, c.verified_units, c.substantiated_complaints, c.ratings_counted,
                    c.ratings_sum, c.details["satisfaction"]["package_ratings_in_dates"],
                    c.details["satisfaction"]["package_ratings_sum"],
                )
                for c in cards
            }  # fmt: skip
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- the benchmark


def measure(admin_url: str, seed_url: str, run_url: str, as_of: dt.date, repeats: int) -> dict:
    rounds = []
    for round_ in range(repeats):
        admin(admin_url, f"DROP DATABASE IF EXISTS {RUN_DB}", f"CREATE DATABASE {RUN_DB} TEMPLATE {SEED_DB}")
        admin(run_url, "VACUUM ANALYZE")
        base_seconds, expected = baseline(run_url, as_of)
        child_result = scoring_run(run_url, as_of)
        if round_ == 0:
            got = asyncio.run(run_numbers(run_url))
            missing = [key for key in expected if key not in got]
            wrong = [key for key in expected if key in got and got[key] != expected[key]]
            if len(missing) != child_result["skipped"] or wrong:
                raise SystemExit(
                    f"bench: the run's numbers differ from the baseline's: {len(missing)} periods missing, "
                    f"{len(wrong)} with other numbers (first: {wrong[:3]})"
                )
        rounds.append(
            {"baseline": base_seconds, **child_result, "ratio": child_result["seconds"] / base_seconds}
        )
        log(
            f"round {round_ + 1}: baseline {base_seconds:.2f} s, run {child_result['seconds']:.2f} s "
            f"({child_result['finalized']:,} periods), ratio {rounds[-1]['ratio']:.2f}, "
            f"peak {child_result['peak_kib'] / 1024:.0f} MiB"
        )
    return {"rounds": rounds, "periods": rounds[0]["finalized"]}


def counts(url: str, first_contract: int) -> dict:
    with connect(url) as conn:
        return {
            "contracts": conn.execute(
                "SELECT count(*) FROM contract WHERE id >= %s", (first_contract,)
            ).fetchone()[0],
            "deliveries": conn.execute("SELECT count(*) FROM delivery").fetchone()[0],
            "ratings": conn.execute("SELECT count(*) FROM rating").fetchone()[0],
        }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring", description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL database to create the benchmark's databases from")  # fmt: skip
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument(
        "--ratings", default="100000,1000000", help="ratings counts, ascending, comma-separated"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        return child(options.child)
    steps = [int(n) for n in options.ratings.split(",")]
    seed_url = with_db(options.admin_url, SEED_DB)
    run_url = with_db(options.admin_url, RUN_DB)
    today = dt.date.today()
    admin(options.admin_url, f"DROP DATABASE IF EXISTS {RUN_DB}", f"DROP DATABASE IF EXISTS {SEED_DB}",
          f"CREATE DATABASE {SEED_DB}")  # fmt: skip
    results = []
    try:
        log("seed: migrate, demo")
        asyncio.run(migrate_and_load_demo(seed_url))
        log(f"seed: {options.contracts:,} contracts")
        grown = grow_contracts(seed_url, options.contracts, today)
        have = 0
        for target in steps:
            log(f"seed: ratings up to {target:,}")
            add_ratings(seed_url, grown["first_contract"], target - have, today)
            have = target
            count_rollups(seed_url, grown["first_contract"])
            asyncio.run(check_rollups(seed_url, grown["first_contract"]))
            measured = measure(options.admin_url, seed_url, run_url, today, options.repeats)
            results.append({"ratings": target, **counts(seed_url, grown["first_contract"]), **measured})
    finally:
        admin(options.admin_url, f"DROP DATABASE IF EXISTS {RUN_DB}")
    report = render(results, options, today)
    print(report)
    if not options.no_write:
        write_section(report)


def render(results: list[dict], options, today: dt.date) -> str:
    lines = [
        BEGIN,
        "## Scoring run against one SQL aggregate (`make bench-scoring`)",
        "",
        f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')}, PostgreSQL, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; {options.contracts:,} contracts of 4 quarterly periods (three cohorts "
        f"starting {', '.join(f'{m:02d}-{d:02d}' for m, d in COHORTS)} of {today.year}), the periods ended "
        f"before {today} due, each with a submitted audit; {options.repeats} rounds per ratings count, "
        "each on a fresh copy of the seed.",
        "",
        "| ratings in the database | deliveries | periods finalised | baseline aggregate (s) "
        "| scoring run (s): plan + scoring and writes + commit | run ÷ baseline "
        "| peak memory of the run (MiB) | rise during the run (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for item in results:
        rounds = item["rounds"]
        lines.append(
            f"| {item['ratings']:,} | {item['deliveries']:,} | {item['periods']:,} "
            f"| {statistics.median(r['baseline'] for r in rounds):.2f} "
            f"| {statistics.median(r['seconds'] for r in rounds):.2f}: "
            + " + ".join(f"{statistics.median(r['phases'][k] for r in rounds):.2f}" for k in PHASES)
            + " "
            f"| **{statistics.median(r['ratio'] for r in rounds):.2f}** "
            f"({min(r['ratio'] for r in rounds):.2f}–{max(r['ratio'] for r in rounds):.2f}) "
            f"| {max(r['peak_kib'] for r in rounds) / 1024:.0f} "
            f"| {max(r['rise_kib'] for r in rounds) / 1024:.0f} |"
        )
    lines += [
        "",
        "Medians of the rounds, the ratio's range in brackets. Goal: the run ≤ 1.5 × the aggregate, and the "
        "same peak memory at every ratings count. In the first round, each finalised period's "
        "numbers (deliveries, verified units, substantiated complaints, counted ratings and their sum, "
        "the package's ratings in its dates and their sum) equal the aggregate's.",
        END,
    ]
    return "\n".join(lines)


def write_section(report: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + report + after
    else:
        text = text.rstrip("\n") + "\n\n" + report + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
