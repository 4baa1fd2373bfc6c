"""The load generator: `python -m bench.load PLAN.json RESULT.json`, a process of its own.

An httpx AsyncClient with a fixed number of workers (each one request in flight,
keep-alive connections to 127.0.0.1 only) runs the plan's steps in order; each
step lasts a fixed time and stops by itself. Every response is parsed and
checked, on both sides alike. Around each step it reads the CPU time of the
server and of itself (/proc) and the server's count of SQL statements.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import math
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

SUBMIT = """mutation SubmitBid($input: SubmitBidInput!) {
  submitBid(input: $input) {
    bid { id version unitPrice }
    receipt { sha256 submittedAt }
    errors { code message }
  }
}"""

PAGE = """query TenderPage($first: Int!) {
  tenders(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id title status bidDeadline maxUnitPrice
        package { code name }
        region { name }
        bids { unitPrice provider { legalName } }
      }
    }
  }
}"""

RATE = """mutation RateDelivery($input: RateDeliveryInput!) {
  rateDelivery(input: $input) {
    delivery {
      serviceName providerName deliveredOn units disputed linkValidUntil
      rating { stars timeliness attitude professionalism comment flagged }
    }
    errors { code message }
  }
}"""

PAGE_SIZE = 50
PROPOSAL = "技术方案：每周两次上门，每次两小时，持证护理员，24小时内响应；附人员名单、培训计划与应急预案。"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def rating_token(n: int) -> str:
    """The link token of the n-th delivery seeded for scenario (c) (bench/seed.py stores its hash)."""
    return "bench-" + hashlib.sha256(f"bench rating token {n}".encode()).hexdigest()[:37]


def resident_address(n: int) -> str:
    """The client address of the n-th rating, sent as X-Forwarded-For (uvicorn trusts it from 127.0.0.1).

    One address per rating, as residents rate from their own phones: no rating reaches the abuse rule
    (a 6th rating from one address within an hour) on either side. Loopback addresses: only a header.
    """
    return str(ipaddress.IPv4Address(0x7F010000 + n))


STARS = (5, 4, 5, 5, 3, 4, 5, 2, 5, 1)
COMMENT = "护理员准时上门，服务耐心细致。"


def rating_input(n: int) -> dict:
    """What the n-th resident says: stars skewed to 4-5, dimensions on two ratings in three, some comments."""
    stars = STARS[n % len(STARS)]
    dimensions = (None, None, None) if n % 3 == 0 else (stars, min(5, stars + 1), max(1, stars - 1))
    return {
        "token": rating_token(n),
        "stars": stars,
        "timeliness": dimensions[0],
        "attitude": dimensions[1],
        "professionalism": dimensions[2],
        "comment": COMMENT if n % 7 == 0 else None,
    }


def price(n: int) -> str:
    """Valid unit prices (the ceiling is 110, the package range 60-120), varying per request."""
    return f"{80 + n % 29}.50"


class Requests:
    """What one request of each scenario and side looks like; the same checks on both sides."""

    def __init__(self, plan: dict):
        self.submit_slots = plan["submit_slots"]
        self.officer = plan["officer"]
        self.turns = [0] * plan["concurrency"]
        # Each rating uses a delivery of its own: one counter over both sides and all steps.
        self.rate_next, self.rate_tokens = plan.get("rate_next", 0), plan.get("rate_tokens", 0)

    def next(self, scenario: str, side: str, worker: int):
        if scenario == "rate":
            return self.next_rating(side)
        n = self.turns[worker]
        self.turns[worker] += 1
        if scenario == "submit":
            slots = self.submit_slots[worker]
            slot = slots[n % len(slots)]
            if side == "graphql":
                variables = {
                    "input": {"tenderId": slot["tender_gid"], "unitPrice": price(n), "proposal": PROPOSAL}
                }
                return (
                    "/graphql",
                    {"query": SUBMIT, "variables": variables},
                    {"Authorization": f"Bearer {slot['token']}"},
                    self.check_submit,
                )
            body = {
                "tenderId": slot["tender_id"],
                "providerId": slot["provider_id"],
                "userId": slot["user_id"],
                "unitPrice": price(n),
                "proposal": PROPOSAL,
            }
            return "/bare/submit-bid", body, {}, self.check_submit
        if side == "graphql":
            return (
                "/graphql",
                {"query": PAGE, "variables": {"first": PAGE_SIZE}},
                {"Authorization": f"Bearer {self.officer['token']}"},
                self.check_page,
            )
        body = {
            "first": PAGE_SIZE,
            "departmentId": self.officer["department_id"],
            "userId": self.officer["user_id"],
        }
        return "/bare/tenders", body, {}, self.check_page

    def next_rating(self, side: str):
        n = self.rate_next
        if n >= self.rate_tokens:
            raise RuntimeError(f"all {self.rate_tokens} seeded deliveries are rated: raise --rating-tokens")
        self.rate_next += 1
        headers = {"X-Forwarded-For": resident_address(n)}
        if side == "graphql":
            return (
                "/graphql",
                {"query": RATE, "variables": {"input": rating_input(n)}},
                headers,
                self.check_rate,
            )
        return "/bare/rate-delivery", rating_input(n), headers, self.check_rate

    @staticmethod
    def check_rate(body: dict) -> bool:
        payload = body["data"]["rateDelivery"] if "errors" not in body else None
        return (
            payload is not None
            and payload["errors"] == []
            and payload["delivery"]["rating"]["flagged"] is False
        )

    @staticmethod
    def check_submit(body: dict) -> bool:
        return "errors" not in body and body["data"]["submitBid"]["errors"] == []

    @staticmethod
    def check_page(body: dict) -> bool:
        return "errors" not in body and len(body["data"]["tenders"]["edges"]) == PAGE_SIZE


async def run_step(client: httpx.AsyncClient, plan: dict, requests: Requests, step: dict) -> dict:
    scenario, side, seconds = step["scenario"], step["side"], step["seconds"]
    latencies: list[float] = []
    failures: list[str] = []
    statements_before = (await client.get("/bench/counters")).json()["statements"]
    server_before, own_before, machine_before = (
        process_cpu(plan["server_pid"]),
        time.process_time(),
        machine_cpu(),
    )
    start = time.perf_counter()
    end = start + seconds

    async def worker(index: int) -> float:
        last = start
        while time.perf_counter() < end:
            path, body, headers, check = requests.next(scenario, side, index)
            sent = time.perf_counter()
            try:
                response = await client.post(path, json=body, headers=headers)
                ok = response.status_code == 200 and check(response.json())
                problem = None if ok else f"{response.status_code} {response.text[:300]}"
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
                problem = repr(error)
            last = time.perf_counter()
            latencies.append(last - sent)
            if problem:
                failures.append(problem)
        return last

    finished = await asyncio.gather(*(worker(i) for i in range(plan["concurrency"])))
    elapsed = max(finished) - start
    server_cpu = process_cpu(plan["server_pid"]) - server_before
    own_cpu = time.process_time() - own_before
    machine_after = machine_cpu()
    machine_busy = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])
    statements = (await client.get("/bench/counters")).json()["statements"] - statements_before
    ordered = sorted(latencies)
    count = len(ordered)
    return {
        **step,
        "requests": count,
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
        "elapsed_s": elapsed,
        "rps": count / elapsed if elapsed else 0.0,
        "p50_ms": 1000 * percentile(ordered, 0.50) if count else None,
        "p99_ms": 1000 * percentile(ordered, 0.99) if count else None,
        "server_cpu": server_cpu / elapsed,
        "client_cpu": own_cpu / elapsed,
        "machine_busy": machine_busy,
        # Everything else on the machine, in cores: the database server (PostgreSQL), and any other work.
        "other_cpu": machine_busy * (os.cpu_count() or 1) - (server_cpu + own_cpu) / elapsed,
        "server_cpu_ms_per_request": 1000 * server_cpu / count if count else None,
        "statements_per_request": statements / count if count else None,
    }


async def run(plan: dict) -> list[dict]:
    if urlsplit(plan["base_url"]).hostname != "127.0.0.1":
        raise SystemExit("the load generator only talks to 127.0.0.1")
    requests = Requests(plan)
    limits = httpx.Limits(max_connections=plan["concurrency"], max_keepalive_connections=plan["concurrency"])
    async with httpx.AsyncClient(
        base_url=plan["base_url"], limits=limits, timeout=60, trust_env=False
    ) as client:
        results = []
        for step in plan["steps"]:
            results.append(await run_step(client, plan, requests, step) | {"rate_next": requests.rate_next})
        return results


def main() -> None:
    plan_path, result_path = sys.argv[1:3]
    plan = json.loads(Path(plan_path).read_text())
    results = asyncio.run(run(plan))
    Path(result_path).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
