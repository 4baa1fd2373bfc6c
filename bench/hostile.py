"""Hostile documents against a live server: how long a refusal takes, and whether the event loop stays free.

`make bench-hostile` (`python -m bench.hostile`): one uvicorn worker (app.create_app) on a fresh,
migrated SQLite file. Per round, 1 and then 5 clients send one document as fast as they can while
another polls `/healthz`; the same poll with nothing else running is the baseline. Figures are
ratios within the run, and the worst `/healthz` answer as seen (machines here are noisy).

The documents, each refused before execution:
- fragment bomb: 20 fragments, each spreading the next twice (832 bytes; 2,097,152 aliases once
  expanded). It took 8.3 s and held `/healthz` as long before the limits measured each fragment once;
- nested introspection: `fields { type { ... } }` 6 levels deep inside `__schema { types }`;
- comment flood: a 50 MB body of comments, refused by its size before it is read.
The reference document is `{ now }`, answered normally.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.run import ROOT, serve
from core.db import alembic_config

FRAGMENT_BOMB = "query Bomb { ...F0 }\n" + "\n".join(
    [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(20)]
    + ["fragment F20 on Query { a: now b: now }"]
)
NESTED_INTROSPECTION = "{ __schema { types { " + "fields { type { " * 6 + "name" + " } }" * 6 + " } } }"
COMMENT_FLOOD = "#" + "x" * (50 * 1024 * 1024) + "\n{ now }"
DOCUMENTS = {
    "`{ now }` (reference)": "{ now }",
    "fragment bomb": FRAGMENT_BOMB,
    "nested introspection": NESTED_INTROSPECTION,
    "comment flood (50 MB)": COMMENT_FLOOD,
}


async def _poll_health(client: httpx.AsyncClient, seconds: float) -> list[float]:
    latencies = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        response = await client.get("/healthz")
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200
        await asyncio.sleep(0.01)
    return latencies


async def _flood(client: httpx.AsyncClient, document: str, seconds: float) -> list[float]:
    body = json.dumps({"query": document}).encode()  # encoded once: the client's work is not measured
    headers = {"content-type": "application/json"}
    durations = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            response = await client.post("/graphql", content=body, headers=headers)
        except httpx.TransportError:
            # The server answered 413 and closed the connection while the body was still going out.
            durations.append(time.perf_counter() - started)
            continue
        durations.append(time.perf_counter() - started)
        if document != "{ now }":
            assert response.status_code in (200, 413) and response.json()["errors"], response.text[:200]
    return durations


async def _poll_elsewhere(base: str, seconds: float) -> list[float]:
    """/healthz polled from a process of its own, so that the flooding clients' work does not delay it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.hostile", "--poll", base, "--seconds", str(seconds),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    output, _ = await process.communicate()
    return json.loads(output)


async def measure(base: str, seconds: float, clients: int) -> dict[str, tuple[float, float, float]]:
    """Per document: median answer time, median and worst /healthz latency while it floods."""
    results = {}
    async with httpx.AsyncClient(base_url=base, timeout=120, trust_env=False) as client:
        idle = await _poll_elsewhere(base, seconds)
        results["nothing (baseline)"] = (0.0, statistics.median(idle), max(idle))
        for name, document in DOCUMENTS.items():
            *floods, health = await asyncio.gather(
                *(_flood(client, document, seconds) for _ in range(clients)), _poll_elsewhere(base, seconds)
            )
            answers = [d for flood in floods for d in flood]
            results[name] = (statistics.median(answers), statistics.median(health), max(health))
    return results


async def _poll_and_print(base: str, seconds: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120, trust_env=False) as client:
        print(json.dumps(await _poll_health(client, seconds)))


def report(runs: dict[int, dict[str, tuple[float, float, float]]]) -> str:
    lines = [
        "# Hostile documents",
        "",
        "`python -m bench.hostile`: clients flood one document while another polls `/healthz`; one uvicorn",
        "worker on SQLite. Ratios within this run: answer time against `{ now }`'s, `/healthz` against its",
        "latency with nothing else running. Worst `/healthz` as seen (one sample). With 5 clients the",
        "worker is saturated: compare each line with the `{ now }` line, not with the baseline.",
    ]
    for clients, results in runs.items():
        reference = results["`{ now }` (reference)"][0]
        idle = results["nothing (baseline)"][1]
        lines += [
            "",
            f"## {clients} client{'s' if clients > 1 else ''} flooding",
            "",
            "| flooding with | answer, × `{ now }` | `/healthz` median, × idle | worst `/healthz` |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, (answer, median, worst) in results.items():
            answer_ratio = f"{answer / reference:.1f}" if answer else "–"
            lines.append(f"| {name} | {answer_ratio} | {median / idle:.1f} | {worst * 1000:.0f} ms |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each round")
    parser.add_argument("--clients", default="1,5", help="clients flooding at once, one round each")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "HOSTILE.md")
    parser.add_argument("--poll", metavar="BASE", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.poll:
        asyncio.run(_poll_and_print(options.poll, options.seconds))
        return
    from alembic import command

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/hostile.db"
        command.upgrade(alembic_config(url), "head")
        os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")
        with serve(url, "app:create_app") as (base, _pid):
            runs = {
                clients: asyncio.run(measure(base, options.seconds, clients))
                for clients in (int(c) for c in options.clients.split(","))
            }
    text = report(runs)
    options.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
