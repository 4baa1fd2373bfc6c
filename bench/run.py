"""`python -m bench`: both scenarios on SQLite and on PostgreSQL, written to bench/RESULTS.md.

Per backend: a fresh database, migrated with Alembic and seeded through the
services; uvicorn (one worker) serving bench.server on 127.0.0.1; logins; a
check that the GraphQL page and the bare page are the same JSON; then the load
generator (its own process) alternates GraphQL and bare rounds, and, where a
goal is missed, a profiled GraphQL round. Raw results go to bench/out/.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
GOALS = {"submit": 0.5, "page": 1 / 3}
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")
MEASURES = ("rps", "p50_ms", "p99_ms", "server_cpu", "client_cpu", "other_cpu", "machine_busy",
            "server_cpu_ms_per_request", "statements_per_request")  # fmt: skip
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { token errors { code message } } }"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- databases


@contextlib.contextmanager
def sqlite_database():
    with tempfile.TemporaryDirectory(prefix="market-bench-") as folder:
        yield f"sqlite:///{folder}/bench.db"


class Unreachable(Exception):
    pass


@contextlib.contextmanager
def postgres_database():
    """A new database `market_bench_<random>` on the server, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from core.db import sync_url

    url = make_url(POSTGRES_URL)
    admin = create_engine(sync_url(url), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"market_bench_{secrets.token_hex(5)}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except DBAPIError as error:
        admin.dispose()
        raise Unreachable(str(error.orig).strip().splitlines()[0]) from error
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(url: str) -> None:
    from alembic import command

    from app import alembic_config

    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


async def server_version(url: str) -> str:
    from sqlalchemy import text

    from core.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                return "SQLite " + (await connection.execute(text("select sqlite_version()"))).scalar_one()
            return "PostgreSQL " + (await connection.execute(text("show server_version"))).scalar_one()
    finally:
        await engine.dispose()


async def verify_journal(url: str):
    from core import journal
    from core.db import create_engine, create_sessionmaker

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await journal.verify(session)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve(url: str, factory: str):
    """uvicorn, one worker, on 127.0.0.1; yields (base URL, pid)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", factory, "--factory", "--host",
               "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ | {"DATABASE_URL": url})  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def login(client: httpx.Client, email: str, password: str) -> str:
    body = client.post(
        "/graphql", json={"query": LOGIN, "variables": {"i": {"email": email, "password": password}}}
    )
    data = body.json()["data"]["login"]
    if data["errors"]:
        raise RuntimeError(f"login of {email} failed: {data['errors']}")
    return data["token"]


def first_difference(a, b, path="$") -> str | None:
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        return next((d for k in a if (d := first_difference(a[k], b[k], f"{path}.{k}"))), None)
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        return next(
            (
                d
                for i, (x, y) in enumerate(zip(a, b, strict=True))
                if (d := first_difference(x, y, f"{path}[{i}]"))
            ),
            None,
        )
    return None if a == b else f"{path}: {a!r} != {b!r}"


def same_page(client: httpx.Client, plan: dict) -> dict:
    """Both routes answer the page with the same JSON; returns what the page holds."""
    from bench.load import PAGE, PAGE_SIZE

    officer = plan["officer"]
    graphql = client.post(
        "/graphql",
        json={"query": PAGE, "variables": {"first": PAGE_SIZE}},
        headers={"Authorization": f"Bearer {officer['token']}"},
    ).json()
    bare = client.post(
        "/bare/tenders",
        json={"first": PAGE_SIZE, "departmentId": officer["department_id"], "userId": officer["user_id"]},
    ).json()
    if "errors" in graphql:
        raise RuntimeError(f"the GraphQL page failed: {graphql['errors']}")
    difference = first_difference(graphql, bare)
    if difference:
        raise AssertionError(f"the bare page differs from the GraphQL page at {difference}")
    edges = graphql["data"]["tenders"]["edges"]
    return {
        "tenders": len(edges),
        "with_bids": sum(1 for e in edges if e["node"]["bids"]),
        "bids": sum(len(e["node"]["bids"]) for e in edges),
        "bytes": len(json.dumps(graphql, ensure_ascii=False, separators=(",", ":")).encode()),
    }


def run_load(plan: dict, steps: list[dict], name: str) -> list[dict]:
    OUT.mkdir(exist_ok=True)
    plan_path, result_path = OUT / f"{name}.plan.json", OUT / f"{name}.result.json"
    plan_path.write_text(json.dumps(plan | {"steps": steps}))
    budget = 120 + sum(step["seconds"] for step in steps) * 2
    command = [sys.executable, "-m", "bench.load", str(plan_path), str(result_path)]
    subprocess.run(command, cwd=ROOT, check=True, timeout=budget)  # noqa: S603
    results = json.loads(result_path.read_text())
    for result in results:
        if result["failures"]:
            raise RuntimeError(
                f"{result['failures']} failed requests in {result['scenario']}/{result['side']}: "
                f"{result['first_failure']}"
            )
    return results


def interleaved(scenario: str, *, rounds: int, seconds: float, warmup: float) -> list[dict]:
    """Warm both sides, then A B, B A, A B... so that drift weighs on both alike."""
    steps = [
        {"scenario": scenario, "side": side, "seconds": warmup, "round": None} for side in ("graphql", "bare")
    ]
    for r in range(rounds):
        order = ("graphql", "bare") if r % 2 == 0 else ("bare", "graphql")
        steps += [{"scenario": scenario, "side": side, "seconds": seconds, "round": r} for side in order]
    return steps


def summarise(results: list[dict]) -> dict:
    """Medians over the timed rounds of each scenario and side, and the throughput ratios."""
    summary: dict = {}
    for scenario in GOALS:
        timed = [r for r in results if r["scenario"] == scenario and r["round"] is not None]
        if not timed:
            continue
        sides = {}
        for side in ("graphql", "bare"):
            rounds = [r for r in timed if r["side"] == side]
            sides[side] = {key: statistics.median(r[key] for r in rounds) for key in MEASURES} | {
                "rounds": len(rounds),
                "requests": sum(r["requests"] for r in rounds),
            }
        by_round = {(r["round"], r["side"]): r["rps"] for r in timed}
        pairs = [
            by_round[(n, "graphql")] / by_round[(n, "bare")] for n in sorted({r["round"] for r in timed})
        ]
        ratio = sides["graphql"]["rps"] / sides["bare"]["rps"]
        summary[scenario] = sides | {
            "ratio": ratio,
            "round_ratios": pairs,
            "goal": GOALS[scenario],
            "met": ratio >= GOALS[scenario],
        }
    return summary


def profile(client: httpx.Client, plan: dict, scenario: str, seconds: float, name: str) -> dict:
    """A GraphQL round under cProfile in the server; what its event loop spent its time on."""
    client.post("/bench/profile/start")
    try:
        step = run_load(
            plan, [{"scenario": scenario, "side": "graphql", "seconds": seconds, "round": None}], name
        )
    finally:
        summary = client.post("/bench/profile/stop", timeout=120).json()
    return summary | {"rps_profiled": step[0]["rps"]}


# ---------------------------------------------------------------- one backend


def run_backend(backend: str, options) -> dict:
    from bench import seed

    databases = {"sqlite": sqlite_database, "postgresql": postgres_database}
    try:
        with databases[backend]() as url:
            log(f"{backend}: migrating a fresh database")
            migrate(url)
            log(f"{backend}: seeding through the services")
            started = time.perf_counter()
            world = asyncio.run(seed.build(url, providers=options.providers, bidding=options.concurrency))
            seeded = time.perf_counter() - started
            version = asyncio.run(server_version(url))
            with (
                serve(url, options.app) as (base, pid),
                httpx.Client(base_url=base, timeout=60, trust_env=False) as client,
            ):
                log(f"{backend}: server up (pid {pid}); logging in {len(world.providers) + 1} accounts")
                plan = build_plan(client, world, base, pid, options.concurrency)
                page = same_page(client, plan)
                log(f"{backend}: bare page equals the GraphQL page ({page}); timing")
                steps = [
                    *interleaved(
                        "submit", rounds=options.rounds, seconds=options.seconds, warmup=options.warmup
                    ),
                    *interleaved(
                        "page", rounds=options.rounds, seconds=options.seconds, warmup=options.warmup
                    ),
                ]
                results = run_load(plan, steps, f"{backend}-rounds")
                summary = summarise(results)
                profiles = {}
                for scenario, outcome in summary.items():
                    ratio, goal = outcome["ratio"], outcome["goal"]
                    log(f"{backend}: {scenario} GraphQL/bare = {ratio:.2f} (goal {goal:.2f})")
                    if not outcome["met"] or options.profile_all:
                        log(f"{backend}: profiling GraphQL {scenario}")
                        profiles[scenario] = profile(
                            client, plan, scenario, options.profile_seconds, f"{backend}-profile-{scenario}"
                        )
            verification = asyncio.run(verify_journal(url))
            if not verification.ok:
                raise RuntimeError(f"{backend}: the journal chain is broken: {verification.reason}")
            return {
                "backend": backend,
                "server": version,
                "world": {
                    "providers": len(world.providers),
                    "tenders": world.tenders,
                    "opened_tenders": world.opened_tenders,
                    "opened_bids": world.opened_bids,
                    "bidding_tenders": len(world.bidding_tender_ids),
                    "seconds_to_seed": seeded,
                },
                "page": page,
                "journal_events": verification.checked,
                "summary": summary,
                "profiles": profiles,
                "results": results,
            }
    except Unreachable as error:
        log(f"{backend}: skipped, server not reachable ({error})")
        return {"backend": backend, "skipped": f"PostgreSQL not reachable at {POSTGRES_URL}: {error}"}


def build_plan(client: httpx.Client, world, base: str, pid: int, concurrency: int) -> dict:
    """Tokens of every account (logged in once, before timing) and each worker's own bids to amend.

    Worker w amends the bids of every provider on bidding tender w only, so that no two
    requests in flight touch the same bid or the same tender row (the journal head is shared).
    """
    officer_token = login(client, world.officer.email, world.password)
    providers = [
        {"token": login(client, p.email, world.password), "user_id": p.user_id, "provider_id": p.provider_id}
        for p in world.providers
    ]
    slots = []
    for worker in range(concurrency):
        tender_id = world.bidding_tender_ids[worker % len(world.bidding_tender_ids)]
        gid = base64.b64encode(f"Tender:{tender_id}".encode()).decode()
        slots.append([p | {"tender_id": tender_id, "tender_gid": gid} for p in providers])
    return {
        "base_url": base,
        "server_pid": pid,
        "concurrency": concurrency,
        "officer": {
            "token": officer_token,
            "user_id": world.officer.user_id,
            "department_id": world.officer.department_id,
        },
        "submit_slots": slots,
    }


def machine_facts() -> dict:
    from importlib.metadata import version

    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        "unknown",
    )  # fmt: skip
    packages = ["strawberry-graphql", "graphql-core", "starlette", "uvicorn", "h11", "sqlalchemy", "sqlmodel",
                "aiosqlite", "psycopg", "psycopg-binary", "httpx"]  # fmt: skip
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "packages": {name: version(name) for name in packages},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per side and scenario")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a timed round")
    parser.add_argument("--warmup", type=float, default=1.5, help="untimed warm-up per side and scenario")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--providers", type=int, default=40, help="provider accounts that bid")
    parser.add_argument("--profile-seconds", type=float, default=4.0)
    parser.add_argument("--profile-all", action="store_true", help="profile even where the goal is met")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument(
        "--app",
        default="bench.server:create_bench_app",
        help="app factory to serve, to measure a candidate change with the same harness",
    )
    options = parser.parse_args(argv)

    # Production settings (no introspection, masked errors), the real clock, a throwaway secret.
    os.environ.update({"ENVIRONMENT": "production", "SECRET_KEY": secrets.token_urlsafe(48)})
    for name in ("MARKET_TEST_CLOCK", "GRAPHQL_INTROSPECTION", "DATABASE_URL"):
        os.environ.pop(name, None)

    from bench import report

    started = time.perf_counter()
    runs = [run_backend(backend, options) for backend in options.backends.split(",")]
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(runs, indent=1, ensure_ascii=False))
    options.output.write_text(report.render(machine_facts(), vars(options), runs))
    log(f"wrote {options.output} in {time.perf_counter() - started:.0f} s")
