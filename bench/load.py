"""The load generator: `python -m bench.load PLAN.json RESULT.json`, a process of its own.

A fixed number of clients (asyncio tasks, each one request in flight: a closed
loop) on httpx AsyncClients to 127.0.0.1 only run the plan's steps in order;
each step lasts a fixed time and stops by itself. A step's `mode` is `keepalive`
(each client keeps its connection) or `close` (a new TCP connection per request:
`Connection: close`, nothing kept in the pool). Every response is parsed and
checked, on both sides alike. Around each step it reads the CPU time of the
server's worker processes and of itself (/proc) and the workers' count of SQL
statements (the files of the server's probe folder).
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
from collections import Counter
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

# The public notice list, anonymous: what a notice board shows of each tender.
PUBLIC_PAGE = """query PublicTenders($first: Int!) {
  tenders(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id title status version quantity periods periodMonths startDate maxUnitPrice bidDeadline
        publishedAt openedAt
        package { id code name unit category tier }
        region { id code name }
        department { id name }
      }
    }
  }
}"""

# One public notice, anonymous, with its package, region and the answered questions.
NODE = """query Tender($id: ID!) {
  node(id: $id) {
    ... on Tender {
      id title status version quantity periods periodMonths startDate maxUnitPrice bidDeadline
      minValidBids priceWeight qualityWeight recordWeight requiredQualifications
      paymentTiers { tier minScore payoutRate }
      publishedAt
      package { id code version name unit standard minUnitPrice maxUnitPrice }
      region { id code name }
      clarifications { id question askedAt answer answeredAt }
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
    """User + system CPU seconds of a process (all its threads: aiosqlite's too)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def workers_cpu(pids: list[int]) -> float:
    """CPU seconds of the server's worker processes; a worker that died or was replaced stops the run."""
    try:
        return sum(process_cpu(pid) for pid in pids)
    except FileNotFoundError as error:
        raise RuntimeError(f"a server worker of {pids} is gone: {error}") from error


def statement_count(probe_dir: str) -> int:
    """SQL statements sent so far by all the server's workers (see bench/server.py Probe)."""
    return sum(
        int.from_bytes(path.read_bytes()[:8] or b"\0", "little")
        for path in Path(probe_dir).glob("statements-*")
    )


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
        self.node_ids = plan["node_ids"]
        self.answered = plan["answered_per_node"]
        self.turns = [0] * plan["concurrency"]
        # Each rating uses a delivery of its own: one counter over both sides and all steps.
        self.rate_next, self.rate_tokens = plan.get("rate_next", 0), plan.get("rate_tokens", 0)

    def next(self, scenario: str, side: str, worker: int):
        if scenario.endswith("-fresh"):
            # The same read against the API with its response cache off (bench.server).
            path, body, headers, check = self.next(scenario.removesuffix("-fresh"), side, worker)
            return ("/graphql-fresh" if path == "/graphql" else path), body, headers, check
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
        if scenario == "public":
            if side == "graphql":
                body = {"query": PUBLIC_PAGE, "variables": {"first": PAGE_SIZE}}
                return "/graphql", body, {}, self.check_page
            return "/bare/public-tenders", {"first": PAGE_SIZE}, {}, self.check_page
        if scenario == "node":
            gid = self.node_ids[(worker + n) % len(self.node_ids)]
            if side == "graphql":
                return "/graphql", {"query": NODE, "variables": {"id": gid}}, {}, self.check_node
            return "/bare/tender", {"id": gid}, {}, self.check_node
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

    def check_node(self, body: dict) -> bool:
        node = body["data"]["node"] if "errors" not in body else None
        return node is not None and len(node["clarifications"]) == self.answered

    @staticmethod
    def check_page(body: dict) -> bool:
        return "errors" not in body and len(body["data"]["tenders"]["edges"]) == PAGE_SIZE


class KeepAlive:
    """One client per simulated user, each with one keep-alive connection, spread evenly over the workers.

    uvicorn's workers accept from one shared socket, and whichever wakes first takes every connection
    waiting, so a burst of 8 connections often lands 6 to 2 or 8 to 0, and one worker's core caps the
    round. Before each keep-alive step every client asks `/bench/pid` which worker holds its connection;
    a connection on a worker holding more than its share is replaced by a new one until none is.
    """

    def __init__(self, base_url: str, count: int):
        self.base_url = base_url
        self.clients = [self.new_client() for _ in range(count)]

    def new_client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=60, trust_env=False)

    @staticmethod
    async def holder(client: httpx.AsyncClient) -> int:
        return (await client.get("/bench/pid")).json()["pid"]

    async def balance(self, workers: int) -> list[int]:
        """Connections per worker once balanced (or after a bounded number of tries)."""
        holders = [await self.holder(client) for client in self.clients]
        share = math.ceil(len(self.clients) / workers)
        for _ in range(50 * len(self.clients)):
            counts = Counter(holders)
            crowded = [i for i, pid in enumerate(holders) if counts[pid] > share]
            if not crowded:
                break
            index = crowded[0]
            await self.clients[index].aclose()
            self.clients[index] = self.new_client()
            holders[index] = await self.holder(self.clients[index])
        return sorted(Counter(holders).values(), reverse=True)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


async def run_step(
    close: httpx.AsyncClient, keepalive: KeepAlive, plan: dict, requests: Requests, step: dict
) -> dict:
    scenario, side, seconds, mode = step["scenario"], step["side"], step["seconds"], step["mode"]
    pids, probe_dir = plan["server_pids"], plan["probe_dir"]
    if mode == "keepalive":
        spread = await keepalive.balance(len(pids))
        clients, extra = keepalive.clients, {}
    else:
        spread = None
        clients, extra = [close] * plan["concurrency"], {"Connection": "close"}
    latencies: list[float] = []
    failures: list[str] = []
    statements_before = statement_count(probe_dir)
    workers_before = [workers_cpu([pid]) for pid in pids]
    own_before, machine_before = time.process_time(), machine_cpu()
    start = time.perf_counter()
    end = start + seconds

    async def worker(index: int) -> float:
        client = clients[index]
        last = start
        while time.perf_counter() < end:
            path, body, headers, check = requests.next(scenario, side, index)
            sent = time.perf_counter()
            try:
                response = await client.post(path, json=body, headers=headers | extra)
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
    per_worker = [workers_cpu([pid]) - before for pid, before in zip(pids, workers_before, strict=True)]
    server_cpu = sum(per_worker)
    own_cpu = time.process_time() - own_before
    machine_after = machine_cpu()
    machine_busy = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])
    statements = statement_count(probe_dir) - statements_before
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
        # In cores (1.0 = one core busy), all worker processes together, and each.
        "server_cpu": server_cpu / elapsed,
        "worker_cpu": [cpu / elapsed for cpu in per_worker],
        "connections_per_worker": spread,
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
    concurrency = plan["concurrency"]
    # A new connection per request: nothing kept in the pool, and `Connection: close` on each request.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    close = httpx.AsyncClient(base_url=plan["base_url"], limits=limits, timeout=60, trust_env=False)
    keepalive = KeepAlive(plan["base_url"], concurrency)
    try:
        results = []
        for step in plan["steps"]:
            result = await run_step(close, keepalive, plan, requests, step)
            results.append(result | {"rate_next": requests.rate_next})
        return results
    finally:
        await close.aclose()
        await keepalive.aclose()


def main() -> None:
    plan_path, result_path = sys.argv[1:3]
    plan = json.loads(Path(plan_path).read_text())
    results = asyncio.run(run(plan))
    Path(result_path).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
