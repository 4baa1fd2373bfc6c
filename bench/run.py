"""`python -m bench`: the scenarios on SQLite and on PostgreSQL, written to bench/RESULTS.md.

Per backend: a fresh database, migrated with Alembic and seeded through the
services; uvicorn (two worker processes by default) serving bench.server on
127.0.0.1; logins; checks that every bare route answers what GraphQL answers
(the same JSON for the reads; for the writes, what GraphQL then shows of the
row written and journal events with the same columns); then the load generator
(its own process) runs interleaved rounds: per round, every scenario, with a new
connection per request and with keep-alive, GraphQL and bare route in
alternating order; and, where a goal is missed, a profiled GraphQL round.
Raw results go to bench/out/.

`python -m bench --ratings N` instead fills one contract of a fresh PostgreSQL
database with N ratings (contracts.bulk) in steps and measures, at each step, the
statements and the latency of a contracts page with their ratings counts; it
writes its own section of RESULTS.md and leaves the rest as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import signal
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
# Issue 8: GraphQL at least half the bare route's throughput; server CPU per request about this (ms).
# "-fresh": the same read from the API with its response cache off (/graphql-fresh): what a read
# costs the first time after a state change.
SCENARIOS = ("public", "public-fresh", "page", "page-fresh", "node", "submit", "rate")
GOALS = {"public": 0.5, "public-fresh": 0.5, "page": 0.5, "page-fresh": 0.5, "node": 0.5, "submit": 0.5,
         "rate": 0.5}  # fmt: skip
CPU_GOALS = {"public": 8.0, "public-fresh": 8.0, "page": 8.0, "page-fresh": 8.0, "node": 2.0, "submit": 7.0}
MODES = ("close", "keepalive")
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

    from core.db import alembic_config

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


def worker_pids(master: int) -> list[int]:
    """uvicorn's worker processes (its `spawn_main` children), or the master itself when it has none."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == master and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                workers.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue  # a process that ended meanwhile
    return sorted(workers) or [master]


@contextlib.contextmanager
def serve(url: str, factory: str, *, workers: int = 1, probe_dir: Path | None = None, nagle: bool = False):
    """uvicorn (bench/serve.py) on 127.0.0.1 with `workers` processes; yields (base URL, pid of the master).

    With `probe_dir` (bench.server's factory), it also waits until every worker has built the
    app (its statement counter file is there).
    """
    port = free_port()
    command = [sys.executable, "-m", "bench.serve", factory, "--port", str(port), "--workers", str(workers)]
    if nagle:
        command.append("--nagle")
    environment = os.environ | {"DATABASE_URL": url}
    if probe_dir is not None:
        environment["BENCH_PROBE_DIR"] = str(probe_dir)
    process = subprocess.Popen(command, cwd=ROOT, env=environment)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2, trust_env=False).status_code == 200 and (
                    probe_dir is None or workers_ready(process.pid, workers, probe_dir)
                ):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /healthz with {workers} workers within 60 s")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def workers_ready(master: int, workers: int, probe_dir: Path) -> bool:
    pids = worker_pids(master) if workers > 1 else [master]
    return len(pids) == workers and all((probe_dir / f"statements-{pid}").exists() for pid in pids)


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


def same_page(client: httpx.Client, plan: dict, path: str = "/graphql") -> dict:
    """Both routes answer the page with the same JSON; returns what the page holds."""
    from bench.load import PAGE, PAGE_SIZE

    officer = plan["officer"]
    graphql = client.post(
        path,
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


def same_public_page(client: httpx.Client, path: str = "/graphql") -> dict:
    """The anonymous page: both routes answer the same JSON."""
    from bench.load import PAGE_SIZE, PUBLIC_PAGE

    graphql = client.post(path, json={"query": PUBLIC_PAGE, "variables": {"first": PAGE_SIZE}})
    bare = client.post("/bare/public-tenders", json={"first": PAGE_SIZE})
    if "errors" in graphql.json():
        raise RuntimeError(f"the GraphQL public page failed: {graphql.json()['errors']}")
    difference = first_difference(graphql.json(), bare.json())
    if difference:
        raise AssertionError(f"the bare public page differs from the GraphQL public page at {difference}")
    edges = graphql.json()["data"]["tenders"]["edges"]
    return {"tenders": len(edges), "bytes": len(graphql.content), "bare_bytes": len(bare.content)}


def same_nodes(client: httpx.Client, plan: dict) -> dict:
    """Every tender the node scenario reads: both routes answer the same JSON, with the answered questions."""
    from bench.load import NODE

    sizes = []
    for gid in plan["node_ids"]:
        graphql = client.post("/graphql", json={"query": NODE, "variables": {"id": gid}})
        bare = client.post("/bare/tender", json={"id": gid})
        body = graphql.json()
        if "errors" in body or body["data"]["node"] is None:
            raise RuntimeError(f"the GraphQL node {gid} failed: {body}")
        if len(body["data"]["node"]["clarifications"]) != plan["answered_per_node"]:
            raise AssertionError(f"node {gid}: {body['data']['node']['clarifications']}")
        difference = first_difference(body, bare.json())
        if difference:
            raise AssertionError(f"the bare tender {gid} differs from the GraphQL node at {difference}")
        sizes.append(len(graphql.content))
    return {"tenders": len(sizes), "clarifications": plan["answered_per_node"], "bytes": max(sizes)}


MY_BID = """query Bid($id: ID!) {
  node(id: $id) { ... on Bid { id version unitPrice receipt { sha256 submittedAt } canonicalContent } }
}"""


def same_submit(client: httpx.Client, plan: dict) -> dict:
    """One amendment of the same bid through each side: each answer is what GraphQL then shows of the bid
    (same ID, consecutive versions, the price, a receipt whose SHA-256 covers the bid's canonical text)."""
    from bench.load import PROPOSAL, SUBMIT

    slot = plan["submit_slots"][0][0]
    headers = {"Authorization": f"Bearer {slot['token']}"}
    answers = {}
    # Each side changes the price and the proposal, so that both events change the same columns.
    for side, price, proposal in (("graphql", "99.50", PROPOSAL + "甲"), ("bare", "98.50", PROPOSAL + "乙")):
        if side == "graphql":
            variables = {"input": {"tenderId": slot["tender_gid"], "unitPrice": price, "proposal": proposal}}
            body = client.post(
                "/graphql", json={"query": SUBMIT, "variables": variables}, headers=headers
            ).json()
        else:
            body = client.post(
                "/bare/submit-bid",
                json={"tenderId": slot["tender_id"], "providerId": slot["provider_id"],
                      "userId": slot["user_id"], "unitPrice": price, "proposal": proposal},
            ).json()  # fmt: skip
        if "errors" in body or body["data"]["submitBid"]["errors"]:
            raise RuntimeError(f"the {side} submitBid failed: {body}")
        answer = body["data"]["submitBid"]
        shown = client.post(
            "/graphql", json={"query": MY_BID, "variables": {"id": answer["bid"]["id"]}}, headers=headers
        ).json()
        if "errors" in shown or shown["data"]["node"] is None:
            raise RuntimeError(f"the bid after the {side} submitBid: {shown}")
        bid = shown["data"]["node"]
        content = bid.pop("canonicalContent")
        receipt = bid.pop("receipt")
        difference = first_difference(
            {"bid": answer["bid"], "receipt": answer["receipt"]}, {"bid": bid, "receipt": receipt}
        )
        if difference:
            raise AssertionError(f"the {side} submitBid answer differs from the bid as shown at {difference}")
        if hashlib.sha256(content.encode()).hexdigest() != receipt["sha256"] or bid["unitPrice"] != price:
            raise AssertionError(f"the {side} submitBid wrote a bid its receipt does not cover: {content}")
        answers[side] = answer["bid"]
    if answers["bare"]["id"] != answers["graphql"]["id"] or (
        answers["bare"]["version"] != answers["graphql"]["version"] + 1
    ):
        raise AssertionError(f"the two submissions are not consecutive versions of one bid: {answers}")
    return {"tender_id": slot["tender_id"], "provider_id": slot["provider_id"],
            "versions": [answers["graphql"]["version"], answers["bare"]["version"]]}  # fmt: skip


async def bid_events(url: str, checked: dict) -> dict:
    """The journal events of the two checked amendments (GraphQL, bare): the same columns before and after."""
    from sqlalchemy import select

    from core.db import create_engine, create_sessionmaker
    from core.models import JournalEvent

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = (
                await session.scalars(
                    select(JournalEvent).where(
                        JournalEvent.action == "bid.amended", JournalEvent.entity_type == "Bid"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    events = {}
    for row in rows:
        after = json.loads(row.after)
        key = (after.get("tender_id"), after.get("provider_id"), after.get("version"))
        if key[:2] == (checked["tender_id"], checked["provider_id"]) and key[2] in checked["versions"]:
            events[key[2]] = (json.loads(row.before), after)
    if len(events) != 2:
        raise AssertionError(f"journal events of the checked bid versions: {sorted(events)}")
    (g_before, g_after), (b_before, b_after) = (events[v] for v in checked["versions"])
    if sorted(g_before) != sorted(b_before) or sorted(g_after) != sorted(b_after):
        raise AssertionError(f"bid journal events differ: {sorted(g_after)} != {sorted(b_after)}")
    changed = {k for k in g_after if g_after[k] != g_before[k]}
    if changed != {k for k in b_after if b_after[k] != b_before[k]}:
        raise AssertionError(f"bid journal events change different columns: {g_after} / {b_after}")
    return {"columns": sorted(g_after), "changed": sorted(changed)}


RESIDENT = """query Resident($token: String!) {
  residentDelivery(token: $token) {
    serviceName providerName deliveredOn units disputed linkValidUntil
    rating { stars timeliness attitude professionalism comment flagged }
  }
}"""


def same_rating(client: httpx.Client, plan: dict) -> None:
    """Seeded deliveries 0 and 1 rated, one through GraphQL, one through the bare route: each answer is
    what GraphQL's `residentDelivery` then shows of that delivery (so the bare route stored the same
    rating). The timed rounds start at delivery 2."""
    from bench.load import RATE, rating_input, rating_token, resident_address

    for n, side in ((0, "graphql"), (1, "bare")):
        headers = {"X-Forwarded-For": resident_address(n)}
        if side == "graphql":
            body = client.post(
                "/graphql", json={"query": RATE, "variables": {"input": rating_input(n)}}, headers=headers
            ).json()
        else:
            body = client.post("/bare/rate-delivery", json=rating_input(n), headers=headers).json()
        if "errors" in body or body["data"]["rateDelivery"]["errors"]:
            raise RuntimeError(f"the {side} rating failed: {body}")
        seen = client.post(
            "/graphql", json={"query": RESIDENT, "variables": {"token": rating_token(n)}}
        ).json()
        if "errors" in seen:
            raise RuntimeError(f"residentDelivery failed: {seen['errors']}")
        difference = first_difference(
            body["data"]["rateDelivery"]["delivery"], seen["data"]["residentDelivery"]
        )
        if difference:
            raise AssertionError(
                f"the {side} rating's answer differs from what the resident sees at {difference}"
            )
    plan["rate_next"] = 2


async def rating_events(url: str) -> dict:
    """The journal events of the two checked ratings (GraphQL, bare): the same columns, the same values."""
    from sqlalchemy import select

    from bench.load import rating_input, rating_token
    from contracts.models import Delivery
    from contracts.residents import token_hash
    from core.db import create_engine, create_sessionmaker
    from core.models import JournalEvent

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            events = {}
            for n, side in ((0, "graphql"), (1, "bare")):
                delivery_id = await session.scalar(
                    select(Delivery.id).where(Delivery.token_hash == token_hash(rating_token(n)))
                )
                event = await session.scalar(
                    select(JournalEvent).where(
                        JournalEvent.action == "rating.given", JournalEvent.entity_id == str(delivery_id)
                    )
                )
                events[side] = (event.entity_type, json.loads(event.after), rating_input(n), delivery_id)
    finally:
        await engine.dispose()
    (g_type, g_after, g_input, g_id), (b_type, b_after, b_input, b_id) = events["graphql"], events["bare"]
    if g_type != b_type or sorted(g_after) != sorted(b_after):
        raise AssertionError(
            f"journal events differ: {g_type} {sorted(g_after)} != {b_type} {sorted(b_after)}"
        )
    for after, given, delivery_id in ((g_after, g_input, g_id), (b_after, b_input, b_id)):
        expected = {k: v for k, v in given.items() if k != "token"} | {"delivery_id": delivery_id}
        if {k: after[k] for k in expected} != expected or after["flag_reason"] is not None:
            raise AssertionError(f"journal event of delivery {delivery_id} does not hold the rating: {after}")
        if not after["client_address"] or after["created_at"] != after["updated_at"]:
            raise AssertionError(f"journal event of delivery {delivery_id}: {after}")
    return {"columns": sorted(g_after)}


def run_load(plan: dict, steps: list[dict], name: str) -> list[dict]:
    OUT.mkdir(exist_ok=True)
    plan_path, result_path = OUT / f"{name}.plan.json", OUT / f"{name}.result.json"
    plan_path.write_text(json.dumps(plan | {"steps": steps}))
    budget = 120 + sum(step["seconds"] for step in steps) * 2
    command = [sys.executable, "-m", "bench.load", str(plan_path), str(result_path)]
    subprocess.run(command, cwd=ROOT, check=True, timeout=budget)  # noqa: S603
    results = json.loads(result_path.read_text())
    if results:
        plan["rate_next"] = results[-1]["rate_next"]  # the next unrated seeded delivery
    for result in results:
        if result["failures"]:
            raise RuntimeError(
                f"{result['failures']} failed requests in {result['scenario']}/{result['side']}"
                f"/{result.get('mode', 'keepalive')}: "
                f"{result['first_failure']}"
            )
    return results


def interleaved(scenarios: list[str], modes: list[str], *, rounds: int, seconds: float, warmup: float):
    """Warm every scenario's sides once, then rounds: in each, every scenario, in each connection mode,
    GraphQL and bare one after the other (A B in even rounds, B A in odd ones), so that drift and the
    neighbours' noise weigh on both sides alike and on every scenario."""
    steps = [
        {"scenario": scenario, "side": side, "mode": "keepalive", "seconds": warmup, "round": None}
        for scenario in scenarios
        for side in ("graphql", "bare")
    ]
    for r in range(rounds):
        sides = ("graphql", "bare") if r % 2 == 0 else ("bare", "graphql")
        order = modes if r % 2 == 0 else modes[::-1]
        steps += [
            {"scenario": scenario, "side": side, "mode": mode, "seconds": seconds, "round": r}
            for scenario in scenarios
            for mode in order
            for side in sides
        ]
    return steps


def summarise(results: list[dict]) -> dict:
    """Per scenario and connection mode: medians over the timed rounds of each side, the ratios, the goals."""
    summary: dict = {}
    for scenario in SCENARIOS:
        for mode in MODES:
            timed = [
                r
                for r in results
                if r["scenario"] == scenario and r["mode"] == mode and r["round"] is not None
            ]
            if not timed:
                continue
            sides = {}
            for side in ("graphql", "bare"):
                rounds = [r for r in timed if r["side"] == side]
                sides[side] = {key: statistics.median(r[key] for r in rounds) for key in MEASURES} | {
                    "rounds": len(rounds),
                    "requests": sum(r["requests"] for r in rounds),
                }
            by_round = {(r["round"], r["side"]): r for r in timed}
            numbers = sorted({r["round"] for r in timed})
            # Each ratio pairs the two sides of one round (the same conditions); the figure is their median.
            pairs = [by_round[(n, "graphql")]["rps"] / by_round[(n, "bare")]["rps"] for n in numbers]
            cpu_pairs = [
                by_round[(n, "graphql")]["server_cpu_ms_per_request"]
                / by_round[(n, "bare")]["server_cpu_ms_per_request"]
                for n in numbers
            ]
            ratio = statistics.median(pairs)
            cpu = sides["graphql"]["server_cpu_ms_per_request"]
            cpu_goal = CPU_GOALS.get(scenario)
            summary.setdefault(scenario, {})[mode] = sides | {
                "ratio": ratio,
                "round_ratios": pairs,
                "cpu_ratio": statistics.median(cpu_pairs),
                "goal": GOALS[scenario],
                "met": ratio >= GOALS[scenario],
                "cpu_goal": cpu_goal,
                "cpu_met": None if cpu_goal is None else cpu <= cpu_goal,
            }
    return summary


def missed(outcome: dict) -> bool:
    """Any goal of the scenario missed, in either connection mode."""
    return any(not o["met"] or o["cpu_met"] is False for o in outcome.values())


def profile(plan: dict, scenario: str, seconds: float, name: str, probe_dir: Path) -> dict:
    """A keep-alive GraphQL round with the profiler on in every worker (SIGUSR1, SIGUSR2: bench/server.py);
    what their event loops spent their time on, added up."""
    from bench import profiling

    pids = plan["server_pids"]
    for stale in probe_dir.glob("profile-*"):
        stale.unlink()
    for pid in pids:
        os.kill(pid, signal.SIGUSR1)
    try:
        timed = {"scenario": scenario, "side": "graphql", "mode": "keepalive", "seconds": seconds}
        step = run_load(plan, [timed | {"round": None}], name)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGUSR2)
        files = [probe_dir / f"profile-{pid}.json" for pid in pids]
        deadline = time.monotonic() + 120
        while not all(f.exists() for f in files):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the workers wrote no profile within 120 s: {files}")
            time.sleep(0.2)
    summary = profiling.summarise([json.loads(f.read_text()) for f in files])
    cpu = step[0]["server_cpu"] * step[0]["elapsed_s"]  # CPU seconds of the workers, all their threads
    return summary | {"rps_profiled": step[0]["rps"], "cpu_s": cpu}


# ---------------------------------------------------------------- one backend


def run_backend(backend: str, options) -> dict:
    from bench import seed

    databases = {"sqlite": sqlite_database, "postgresql": postgres_database}
    scenarios = [s for s in SCENARIOS if s in options.scenarios.split(",")]
    modes = [m for m in MODES if m in options.modes.split(",")]
    load_before = os.getloadavg()[0]
    try:
        with databases[backend]() as url, tempfile.TemporaryDirectory(prefix="market-bench-probe-") as probes:
            probe_dir = Path(probes)
            log(f"{backend}: migrating a fresh database")
            migrate(url)
            log(f"{backend}: seeding through the services")
            started = time.perf_counter()
            world = asyncio.run(
                seed.build(
                    url, providers=options.providers, bidding=options.concurrency,
                    contracts=options.contracts, rating_tokens=options.rating_tokens,
                )
            )  # fmt: skip
            seeded = time.perf_counter() - started
            version = asyncio.run(server_version(url))
            server_options = {"workers": options.workers, "probe_dir": probe_dir, "nagle": options.nagle}
            with (
                serve(url, options.app, **server_options) as (base, pid),
                httpx.Client(base_url=base, timeout=60, trust_env=False) as client,
            ):
                pids = worker_pids(pid) if options.workers > 1 else [pid]
                log(f"{backend}: server up (workers {pids}); logging in {len(world.providers) + 1} accounts")
                plan = build_plan(client, world, base, pids, probe_dir, options.concurrency)
                checks = {
                    "public": same_public_page(client),
                    "public-fresh": same_public_page(client, "/graphql-fresh"),
                    "page": same_page(client, plan),
                    "page-fresh": same_page(client, plan, "/graphql-fresh"),
                    "node": same_nodes(client, plan),
                    "submit": same_submit(client, plan),
                }
                checks["submit"] |= asyncio.run(bid_events(url, checks["submit"]))
                same_rating(client, plan)
                log(f"{backend}: every bare route answers as GraphQL does ({checks}); timing")
                steps = interleaved(
                    scenarios, modes, rounds=options.rounds, seconds=options.seconds, warmup=options.warmup
                )
                results = run_load(plan, steps, f"{backend}-rounds")
                summary = summarise(results)
                profiles = {}
                for scenario, outcome in summary.items():
                    for mode, o in outcome.items():
                        cpu = [o[side]["server_cpu_ms_per_request"] for side in ("graphql", "bare")]
                        log(
                            f"{backend}: {scenario} ({mode}) GraphQL/bare = {o['ratio']:.2f} (goal "
                            f"{o['goal']:.2f}), CPU {cpu[0]:.1f} ms/request against {cpu[1]:.1f} "
                            f"(goal {o['cpu_goal']})"
                        )
                    if missed(outcome) or options.profile_all:
                        log(f"{backend}: profiling GraphQL {scenario}")
                        name = f"{backend}-profile-{scenario}"
                        profiles[scenario] = profile(plan, scenario, options.profile_seconds, name, probe_dir)
            verification = asyncio.run(verify_journal(url))
            if not verification.ok:
                raise RuntimeError(f"{backend}: the journal chain is broken: {verification.reason}")
            events = asyncio.run(rating_events(url))
            return {
                "backend": backend,
                "server": version,
                "workers": len(pids),
                "cpus": os.cpu_count(),
                "nagle": options.nagle,
                "world": {
                    "providers": len(world.providers),
                    "tenders": world.tenders,
                    "opened_tenders": world.opened_tenders,
                    "opened_bids": world.opened_bids,
                    "bidding_tenders": len(world.bidding_tender_ids),
                    "node_tenders": len(world.node_tender_ids),
                    "contracts": len(world.contract_ids),
                    "rating_tokens": world.rating_tokens,
                    "ratings_given": plan["rate_next"],
                    "seconds_to_seed": seeded,
                },
                "rating_event_columns": events["columns"],
                "checks": checks,
                "load_average": [load_before, os.getloadavg()[0]],
                "journal_events": verification.checked,
                "summary": summary,
                "profiles": profiles,
                "results": results,
            }
    except Unreachable as error:
        log(f"{backend}: skipped, server not reachable ({error})")
        return {"backend": backend, "skipped": f"PostgreSQL not reachable at {POSTGRES_URL}: {error}"}


def build_plan(
    client: httpx.Client, world, base: str, pids: list[int], probe_dir: Path, concurrency: int
) -> dict:
    """Tokens of every account (logged in once, before timing) and each worker's own bids to amend.

    Worker w amends the bids of every provider on bidding tender w only, so that no two
    requests in flight touch the same bid or the same tender row (the journal head is shared).
    """
    from bench.seed import QUESTIONS

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
        "server_pids": pids,
        "probe_dir": str(probe_dir),
        "concurrency": concurrency,
        "officer": {
            "token": officer_token,
            "user_id": world.officer.user_id,
            "department_id": world.officer.department_id,
        },
        "submit_slots": slots,
        "node_ids": [base64.b64encode(f"Tender:{t}".encode()).decode() for t in world.node_tender_ids],
        "answered_per_node": QUESTIONS - 1,
        "rate_tokens": world.rating_tokens,
        "rate_next": 0,
    }


# ---------------------------------------------------------------- a million ratings (--ratings N)

CONTRACTS_PAGE = """query ContractsPage {
  contracts(first: 20) {
    edges { node { id status periods { index startsOn endsOn } ratingsCount } }
  }
}"""
OTHER_SHARE = 100  # each other contract gets 1/100 of the main contract's ratings
COUNT_SQL = "SELECT rating.contract_id, count(*)"  # RatingsCountByContractLoader's statement


async def add_ratings(url: str, counts: dict[int, int]) -> dict:
    """Ratings (and their deliveries) added with contracts.bulk, contract by contract; what it wrote."""
    from contracts import bulk
    from core.db import create_engine

    engine = create_engine(url)
    written = {"ratings": 0, "deliveries": 0, "rows": 0, "batches": 0, "seconds": 0.0}
    try:
        for contract_id, count in counts.items():
            if not count:
                continue
            done = [0]

            def progress(n: int, contract_id=contract_id, count=count, done=done) -> None:
                done[0] += n
                if done[0] % 100_000 < n or done[0] == count:
                    log(f"ratings: contract {contract_id}: {done[0]:,} of {count:,}")

            result = await bulk.generate_ratings(
                engine, contract_id=contract_id, count=count, progress=progress
            )
            for key in ("ratings", "deliveries", "rows", "batches", "seconds"):
                written[key] += getattr(result, key)
    finally:
        await engine.dispose()
    return written


def vacuum(url: str) -> None:
    """VACUUM (ANALYZE) the bulk-loaded tables, as autovacuum would soon after a load."""
    from sqlalchemy import create_engine, text

    from core.db import sync_url

    engine = create_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for table in ("delivery", "rating"):
                connection.execute(text(f"VACUUM (ANALYZE) {table}"))
    finally:
        engine.dispose()


def explain_count(url: str, contract_ids: list[int]) -> dict:
    """EXPLAIN ANALYZE (5 runs; the median) of the statement RatingsCountByContractLoader sends."""
    from sqlalchemy import create_engine, func, select, text
    from sqlalchemy.dialects import postgresql

    from contracts.models import Rating
    from core.db import sync_url

    statement = (
        select(Rating.contract_id, func.count())
        .where(Rating.contract_id.in_(contract_ids))
        .group_by(Rating.contract_id)
    )
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    engine = create_engine(sync_url(url))
    runs = []
    try:
        with engine.connect() as connection:
            explain = text("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + sql)
            for _ in range(5):
                runs.append([row[0] for row in connection.execute(explain)])
    finally:
        engine.dispose()

    def executed(lines: list[str]) -> float:
        return float(next(line for line in lines if line.startswith("Execution Time")).split()[2])

    times = sorted(executed(lines) for lines in runs)
    median = times[len(times) // 2]
    plan = next(lines for lines in runs if executed(lines) == median)
    return {"sql": " ".join(sql.split()), "plan": plan, "ms": median, "runs_ms": times}


def measure_page(client: httpx.Client, token: str, expected: dict[str, int], repeats: int) -> dict:
    """The contracts page, one request at a time: latency, statements per request, each statement's time."""
    from bench.load import percentile

    headers = {"Authorization": f"Bearer {token}"}

    def request() -> float:
        sent = time.perf_counter()
        body = client.post("/graphql", json={"query": CONTRACTS_PAGE}, headers=headers).json()
        elapsed = time.perf_counter() - sent
        if "errors" in body:
            raise RuntimeError(f"the contracts page failed: {body['errors']}")
        counts = {e["node"]["id"]: e["node"]["ratingsCount"] for e in body["data"]["contracts"]["edges"]}
        if counts != expected:
            raise AssertionError(f"ratingsCount {counts} != {expected}")
        return elapsed

    for _ in range(3):
        request()
    latencies, statements = [], []
    for _ in range(repeats):
        before = client.get("/bench/counters").json()["statements"]
        latencies.append(request())
        statements.append(client.get("/bench/counters").json()["statements"] - before)
    client.post("/bench/statements/start")
    for _ in range(max(5, repeats // 3)):
        request()
    timings = client.post("/bench/statements/stop").json()["statements"]
    ordered = sorted(latencies)
    count_times = [t for sql, times in timings.items() if sql.startswith(COUNT_SQL) for t in times]
    return {
        "count_statement_ms": 1000 * statistics.median(count_times) if count_times else None,
        "requests": repeats,
        "p50_ms": 1000 * percentile(ordered, 0.5),
        "p99_ms": 1000 * percentile(ordered, 0.99),
        "statements_per_request": sorted(set(statements)),
        "statement_ms": sorted(
            ([sql, 1000 * statistics.median(times), len(times)] for sql, times in timings.items()),
            key=lambda item: -item[1],
        ),
    }


def run_ratings(options) -> dict:
    """1,000,000 ratings on one contract: the page's statements and latency at each step."""
    from bench import seed

    target = options.ratings
    sizes = sorted({int(size) for size in options.ratings_steps.split(",")} | {0, target})
    try:
        with postgres_database() as url:
            log("ratings: migrating a fresh PostgreSQL database")
            migrate(url)
            started = time.perf_counter()
            world = asyncio.run(
                seed.build(
                    url, providers=options.providers, bidding=options.concurrency, contracts=options.contracts
                )
            )
            seeded = time.perf_counter() - started
            main, others = world.contract_ids[0], world.contract_ids[1:]
            load_before = os.getloadavg()[0]
            gid = {c: base64.b64encode(f"Contract:{c}".encode()).decode() for c in world.contract_ids}
            version = asyncio.run(server_version(url))
            steps, current, loads = [], 0, []
            with (
                tempfile.TemporaryDirectory(prefix="market-bench-probe-") as probes,
                serve(url, options.app, probe_dir=Path(probes)) as (base, _pid),
                httpx.Client(base_url=base, timeout=300, trust_env=False) as client,
            ):
                token = login(client, world.officer.email, world.password)
                for size in sizes:
                    if size > current:
                        counts = {main: size - current} | {c: (size - current) // OTHER_SHARE for c in others}
                        log(f"ratings: adding {sum(counts.values()):,} ratings ({counts})")
                        loads.append(asyncio.run(add_ratings(url, counts)) | {"to": size})
                        current = size
                    expected = {gid[main]: size} | {gid[c]: size // OTHER_SHARE for c in others}
                    for state in ("after the load", "after VACUUM (ANALYZE)"):
                        if state != "after the load":
                            vacuum(url)
                        measured = measure_page(client, token, expected, options.ratings_repeats)
                        measured |= {"ratings": size, "all_ratings": sum(expected.values()), "state": state}
                        measured["explain"] = explain_count(url, world.contract_ids)
                        log(
                            f"ratings: {size:,} ({state}): {measured['statements_per_request']} statements, "
                            f"p50 {measured['p50_ms']:.1f} ms, COUNT {measured['explain']['ms']} ms"
                        )
                        steps.append(measured)
            verification = asyncio.run(verify_journal(url))
            if not verification.ok:
                raise RuntimeError(f"ratings: the journal chain is broken: {verification.reason}")
            return {
                "server": version,
                "contracts": len(world.contract_ids),
                "seconds_to_seed": seeded,
                "loads": loads,
                "steps": steps,
                "journal_events": verification.checked,
                "load_average": [load_before, os.getloadavg()[0]],
                "target": target,
            }
    except Unreachable as error:
        log(f"ratings: skipped, PostgreSQL not reachable ({error})")
        return {"skipped": f"PostgreSQL not reachable at {POSTGRES_URL}: {error}", "target": target}


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
    parser.add_argument("--backends", default="postgresql,sqlite", help="of postgresql, sqlite")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds per scenario, connection mode and side"
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a timed round")
    parser.add_argument("--warmup", type=float, default=1.0, help="untimed warm-up per side and scenario")
    parser.add_argument("--concurrency", type=int, default=8, help="clients, each one request in flight")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--nagle",
        action="store_true",
        help="leave TCP_NODELAY off as uvicorn --workers does (each keep-alive response then waits ~40 ms "
        "for the client's delayed ACK; see bench/serve.py)",
    )
    parser.add_argument(
        "--modes", default="close,keepalive", help="of close (a new connection per request), keepalive"
    )
    parser.add_argument("--providers", type=int, default=40, help="provider accounts that bid")
    parser.add_argument("--profile-seconds", type=float, default=3.0)
    parser.add_argument("--profile-all", action="store_true", help="profile even where the goal is met")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="of " + ", ".join(SCENARIOS) + " (in this order)"
    )
    parser.add_argument("--contracts", type=int, default=4, help="contracts made through the services")
    parser.add_argument(
        "--rating-tokens",
        type=int,
        default=30_000,
        help="deliveries seeded for (5) rateDelivery, one per rating",
    )
    parser.add_argument(
        "--ratings", type=int, metavar="N", help="instead: the contracts page at 0, 1,000 and N ratings"
    )
    parser.add_argument("--ratings-steps", default="0,1000", help="with --ratings: sizes measured before N")
    parser.add_argument("--ratings-repeats", type=int, default=30, help="with --ratings: requests per size")
    parser.add_argument(
        "--app",
        default="bench.server:create_bench_app",
        help="app factory to serve, to measure a candidate change with the same harness",
    )
    options = parser.parse_args(argv)
    for name, given, known in (("scenarios", options.scenarios, SCENARIOS), ("modes", options.modes, MODES)):
        unknown = sorted(set(given.split(",")) - set(known))
        if unknown:
            parser.error(f"unknown {name} {', '.join(unknown)}: choose among {', '.join(known)}")

    # Production settings (no introspection, masked errors), the real clock, a throwaway secret.
    os.environ.update({"ENVIRONMENT": "production", "SECRET_KEY": secrets.token_urlsafe(48)})
    for name in ("MARKET_TEST_CLOCK", "GRAPHQL_INTROSPECTION", "DATABASE_URL"):
        os.environ.pop(name, None)

    from bench import report

    started = time.perf_counter()
    previous = options.output.read_text() if options.output.exists() else ""
    OUT.mkdir(exist_ok=True)
    if options.ratings:
        outcome = run_ratings(options)
        (OUT / "ratings.json").write_text(json.dumps(outcome, indent=1, ensure_ascii=False))
        section = report.render_ratings(machine_facts(), outcome)
        options.output.write_text(report.with_ratings_section(previous, section))
    else:
        runs = [run_backend(backend, options) for backend in options.backends.split(",")]
        (OUT / "results.json").write_text(json.dumps(runs, indent=1, ensure_ascii=False))
        main_text = report.render(machine_facts(), vars(options), runs)
        options.output.write_text(report.with_ratings_section(main_text, report.ratings_section_of(previous)))
    log(f"wrote {options.output} in {time.perf_counter() - started:.0f} s")
