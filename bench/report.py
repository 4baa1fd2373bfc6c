"""bench/RESULTS.md from the measurements of one run (nothing here is typed in by hand but the method)."""

from __future__ import annotations

NAMES = {"submit": "(a) `submitBid`", "page": "(b) `tenders(first: 50)` page"}
SIDES = {"graphql": "GraphQL", "bare": "bare route"}

METHOD = """\
- **Server**: uvicorn {uvicorn}, one worker process, on 127.0.0.1, serving `bench.server:create_bench_app`:
  the real `app.create_app(settings, sessionmaker)` with production settings (`ENVIRONMENT=production`:
  introspection off, all extensions of the app on, real clock), plus two bare Starlette routes added to the
  same router. Both sides use **one engine** (`core.db.create_engine(DATABASE_URL, pool_pre_ping=True)`,
  what `create_app` builds for itself; default pool) and so the same pool and the same SQLite pragmas;
  on SQLite both sides begin writes with `BEGIN IMMEDIATE` and reads with a plain `BEGIN`.
- **Load**: a separate process (`bench/load.py`), an httpx AsyncClient with {concurrency} requests in flight
  on keep-alive connections. Per scenario: {warmup} s of untimed warm-up per side, then {rounds} timed rounds
  of {seconds} s per side in the order GraphQL, bare, then bare, GraphQL, and so on, so that drift weighs on
  both sides alike. Every response is parsed and checked on both sides (a failed request stops the run).
  The figures are the **median of the rounds**; "per-round ratios" pair the rounds of the same index.
  Throughput = responses / time from the first request to the last response of the round; p50/p99 are
  latencies seen by the client.
- **Data**: a fresh database per backend, migrated with Alembic and seeded through the services
  (`bench/seed.py`): one department and its officer, 3 evaluators, {providers} ACTIVE providers each with a
  PROVIDER account, one package, 60 published tenders of which every third had its deadline last month and its
  bids opened (4 bids each); the others close in a year.
- **(a) submitBid.** GraphQL: `mutation submitBid(input: {{tenderId, unitPrice, proposal}})` selecting
  `bid {{ id version unitPrice }} receipt {{ sha256 submittedAt }} errors {{ code message }}`, with the Bearer
  token of one of the {providers} provider accounts (each logged in once before timing). Per request the app
  reads the token, loads the account, loads the provider, locks the tender (`FOR UPDATE` on PostgreSQL),
  checks status, deadline, package price range, locks and amends the provider's bid, adds a `bid_version`
  with its SHA-256 receipt, and at commit appends a hash-chained journal event under the lock of the journal
  head, then checks the deadline again. Bare route (`POST /bare/submit-bid`, JSON with tender, provider and
  user ids, price, proposal; no auth, no checks): in one transaction on the same engine, `SELECT` the bid
  (`FOR UPDATE` on PostgreSQL), `UPDATE` it (or `INSERT` it if absent) with the new version and receipt,
  `INSERT` the `bid_version`, lock the journal head, `INSERT` the journal event with before/after snapshots
  and the chained hash, `UPDATE` the head; it answers the same JSON shape. Every provider already holds a bid
  on each of the {concurrency} bidding tenders (seeded), so every request on both sides amends a live bid;
  worker *w* cycles through all providers on bidding tender *w*, so no two requests in flight touch the same
  bid or tender row; all requests share the journal head. After the run the whole journal chain is verified.
- **(b) tenders page.** GraphQL as the owning officer (Bearer token): `tenders(first: 50) {{ totalCount
  pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id title status bidDeadline maxUnitPrice package
  {{ code name }} region {{ name }} bids {{ unitPrice provider {{ legalName }} }} }} }} }}`. Bare route
  (`POST /bare/tenders` with page size, department and user ids; no auth): three hand-written `SELECT`s
  (count, page joined with package and region, the visible bids of the page's opened tenders joined with
  their providers) and the same JSON built in Python. Before timing, the bench asserts that both responses are
  equal ({page_tenders} tenders, {page_with_bids} of them with bids, {page_bids} bids, {page_bytes} bytes on
  {first_backend}).
- CPU: CPU time of the server process and of the load generator from /proc over each round (100% = one
  core); "rest of machine" = all busy CPU time less those two: the database server (PostgreSQL) and whatever
  else ran on the machine meanwhile.
  Statements: SQL statements the engine sent per request (`before_cursor_execute`, including SQLite's
  `BEGIN`; COMMIT and ROLLBACK are not statements)."""


CPROFILE = (
    "; cProfile traces every call, which inflates call-heavy code such as graphql-core and strawberry: "
    "`pip install pyinstrument` for a sampling profile"
)


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def render(machine: dict, options: dict, runs: list[dict]) -> str:
    measured = [r for r in runs if "skipped" not in r]
    first = measured[0] if measured else None
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` ({machine['date']}). **These are ratios in one run on a noisy "
        f"{machine['nproc']}-core machine**: the load generator, the server and PostgreSQL share the cores, "
        "so compare GraphQL with the bare route measured in the same run, not absolute numbers across runs.",
        "",
        "## Machine",
        "",
        f"- {machine['nproc']} CPUs (`nproc`), {machine['cpu']}",
        f"- Python {machine['python']}; "
        + ", ".join(f"{name} {version}" for name, version in machine["packages"].items()),
        *[f"- {run['backend']}: {run['server']}" for run in measured],
        "",
        "## Method",
        "",
        METHOD.format(
            uvicorn=machine["packages"]["uvicorn"],
            concurrency=options["concurrency"],
            warmup=options["warmup"],
            rounds=options["rounds"],
            seconds=options["seconds"],
            providers=options["providers"],
            page_tenders=first["page"]["tenders"] if first else "–",
            page_with_bids=first["page"]["with_bids"] if first else "–",
            page_bids=first["page"]["bids"] if first else "–",
            page_bytes=first["page"]["bytes"] if first else "–",
            first_backend=first["backend"] if first else "–",
        ),
        "",
    ]
    for run in runs:
        lines += backend_section(run)
    return "\n".join(lines) + "\n"


def backend_section(run: dict) -> list[str]:
    title = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[run["backend"]]
    if "skipped" in run:
        return [f"## {title}", "", f"Skipped: {run['skipped']}.", ""]
    world = run["world"]
    lines = [
        f"## {title}",
        "",
        f"{run['server']}; seeded in {world['seconds_to_seed']:.0f} s through the services; "
        f"{run['journal_events']} journal events verified intact after the run.",
        "",
        "| scenario | side | requests/s | p50 ms | p99 ms | server CPU | server CPU ms/request | client CPU "
        "| rest of machine | SQL statements/request |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario, outcome in run["summary"].items():
        for side in ("graphql", "bare"):
            s = outcome[side]
            cells = [NAMES[scenario], SIDES[side], f"{s['rps']:.0f}", ms(s["p50_ms"]), ms(s["p99_ms"])]
            cells += [pct(s["server_cpu"]), ms(s["server_cpu_ms_per_request"]), pct(s["client_cpu"])]
            cells += [pct(s["other_cpu"]), f"{s['statements_per_request']:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| scenario | GraphQL / bare throughput | per-round ratios | goal | |",
        "| --- | ---: | --- | ---: | --- |",
    ]
    for scenario, outcome in run["summary"].items():
        rounds = ", ".join(f"{r:.2f}" for r in outcome["round_ratios"])
        verdict = "met" if outcome["met"] else "**missed**"
        ratio, goal = f"**{outcome['ratio']:.2f}**", f"≥ {outcome['goal']:.2f}"
        lines.append(f"| {NAMES[scenario]} | {ratio} | {rounds} | {goal} | {verdict} |")
    lines.append("")
    for scenario, summary in run["profiles"].items():
        lines += profile_section(title, scenario, summary, run["summary"][scenario])
    return lines


def limits(outcome: dict, p: dict) -> str:
    """The measured facts that say what holds GraphQL back, in one paragraph."""
    graphql, bare = outcome["graphql"], outcome["bare"]
    cpu = graphql["server_cpu_ms_per_request"] / bare["server_cpu_ms_per_request"]
    groups = ", ".join(f"{name} {pct(share)}" for name, share in p["groups"][:4])
    steps = ", ".join(f"{name} {pct(share)}" for name, share in p["milestones"] if share >= 0.05)
    return (
        f"What limits it: the server process spent {graphql['server_cpu_ms_per_request']:.1f} ms of CPU per "
        f"GraphQL request against {bare['server_cpu_ms_per_request']:.1f} ms per bare request ({cpu:.1f}×), "
        f"with {graphql['statements_per_request']:.0f} SQL statements against "
        f"{bare['statements_per_request']:.0f} (throughput ratio {outcome['ratio']:.2f}; "
        f"bare/GraphQL CPU per request {1 / cpu:.2f}). Of the GraphQL server's busy time: {groups}"
        + (f"; named steps: {steps}." if steps else ".")
    )


def profile_section(title: str, scenario: str, p: dict, outcome: dict) -> list[str]:
    caveat = CPROFILE if p["profiler"] == "cProfile" else ""
    lines = [
        f"### Profile: GraphQL {NAMES[scenario]} on {title}",
        "",
        limits(outcome, p),
        "",
        f"{p['profiler']} in the server during a {p['wall_s']:.0f} s GraphQL round "
        f"({p['rps_profiled']:.0f} requests/s while profiled{caveat}). The event loop's thread waited in "
        f"epoll {pct(p['idle_s'] / p['wall_s'])} of the time and was busy {pct(p['busy_s'] / p['wall_s'])}; "
        "shares below are of the busy time, C functions charged to the library that called them.",
        "",
        "| library (self time) | share |",
        "| --- | ---: |",
        *[f"| {name} | {pct(share)} |" for name, share in p["groups"][:10] if share >= 0.005],
        "",
        "Named steps, cumulative (time in them and what they called; rows may include one another, "
        "e.g. a commit its flush):",
        "",
        "| step | share |",
        "| --- | ---: |",
        *[f"| {name} | {pct(share)} |" for name, share in p["milestones"]],
        "",
        "Top functions by self time:",
        "",
        "| function | share |",
        "| --- | ---: |",
        *[f"| `{name}` | {100 * share:.1f}% |" for name, share in p["top_self"][:12]],
        "",
        "Project code, cumulative (time in these frames and what they called; nested rows overlap):",
        "",
        "| function | share |",
        "| --- | ---: |",
        *[f"| `{name}` | {pct(share)} |" for name, share in p["top_cumulative_project"][:12]],
        "",
    ]
    return lines
