"""bench/RESULTS.md from the measurements of one run (nothing here is typed in by hand but the method)."""

from __future__ import annotations

NAMES = {
    "public": "(1) public `tenders(first: 50)`",
    "public-fresh": "(1′) public page, cache off",
    "page": "(2) officer's `tenders(first: 50)`",
    "page-fresh": "(2′) officer's page, cache off",
    "node": "(3) one tender by `node(id:)`",
    "submit": "(4) `submitBid`",
    "rate": "(5) `rateDelivery`",
}
SIDES = {"graphql": "GraphQL", "bare": "bare route"}
MODES = {"close": "new connection", "keepalive": "keep-alive"}

METHOD = """\
- **Server**: uvicorn {uvicorn} with **{workers} worker processes** (`--workers {workers}`, started by
  `bench/serve.py`), on 127.0.0.1, serving `bench.server:create_bench_app`: the real
  `app.create_app(settings, sessionmaker)` with production settings (`ENVIRONMENT=production`:
  introspection off, all extensions of the app on, real clock), plus bare Starlette routes added to the
  same router. In each worker both sides use **one engine** (`core.db.create_engine(DATABASE_URL,
  pool_pre_ping=True)`, what `create_app` builds for itself; default pool) and so the same pool and the
  same SQLite pragmas; on SQLite both sides begin writes with `BEGIN IMMEDIATE` and reads with a plain
  `BEGIN`. {nodelay}
- **Load**: a separate process (`bench/load.py`): {concurrency} clients in a closed loop (each sends its
  next request when the last answer is in), on httpx, in two connection modes: **new connection** per
  request (`Connection: close`, nothing pooled: each request pays TCP set-up and uvicorn's new-connection
  work, as in the peer comparison of issue 8) and **keep-alive** (each client its own connection, reused;
  before each keep-alive round the clients ask `/bench/pid` which worker holds their connection and
  reconnect until each worker holds an equal share, since uvicorn's workers accept from one socket and the
  first to wake takes a whole burst of connections, which would leave one worker's core to serve all).
  First {warmup} s of untimed warm-up per scenario and side, then {rounds} rounds; in each round every
  scenario, in both modes, GraphQL and bare route one after the other ({seconds} s each, GraphQL first in
  even rounds, bare first in odd ones), so that drift and the neighbours' noise weigh on both sides and on
  every scenario alike. Every response is parsed and checked on both sides (a failed request stops the
  run). The figures of each side are the **median of its rounds**; a GraphQL / bare ratio is the **median
  of the per-round ratios**, each pairing the two sides of one round.
  Throughput = responses / time from the first request to the last response of the round; p50/p99 are
  latencies seen by the client.
- **Server CPU per request**: user + system CPU time of the uvicorn worker processes (all their threads,
  aiosqlite's included; `/proc/<pid>/stat` of the master's `spawn_main` children) over the round, divided
  by the responses of the round. "server CPU" is the same time per second of the round (100% = one core);
  "client CPU" the load generator's; "rest of machine" = all busy CPU time less those two: the database
  server (PostgreSQL) and whatever else ran on the machine meanwhile. Statements: SQL statements the
  engines of all workers sent per request (`before_cursor_execute`, counted in a memory-mapped file per
  worker; including SQLite's `BEGIN`; COMMIT and ROLLBACK are not statements).
- **Goals** (issue 8): GraphQL at **≥ 0.5× the bare route's throughput** in every scenario; server CPU per
  GraphQL request of about **8 ms for a page, 2 ms for a node, 7 ms for `submitBid`**. Where a goal is
  missed in either mode, a further {profile_seconds} s keep-alive GraphQL round of that scenario runs with
  pyinstrument in every worker (started and stopped by SIGUSR1/SIGUSR2), and its section below says what
  limits it.
- **Data**: a fresh database per backend, migrated with Alembic and seeded through the services
  (`bench/seed.py`): one department and its officer, 3 evaluators, {providers} ACTIVE providers each with
  a PROVIDER account, one package, 60 published tenders of which every third had its deadline last month
  and its bids opened (4 bids each); the others close in a year; {node_tenders} of those hold 4
  questions from providers each, 3 of them answered by the officer. Before them (so the newest 50 are the
  same), {contracts} tenders went through the whole purchase five months ago (bids, opening, the panel's
  scores, recommendation, challenge period, award) to ACTIVE contracts whose terms started about 100 days
  ago; for (5), {rating_tokens} deliveries of the last week on the first contract, each with a link token
  the load generator knows, bulk-inserted with `contracts.bulk.generate_deliveries`.
- **Equality before timing.** Every bare route is checked against GraphQL on the live server first: the
  reads (1)-(3) answer the **same JSON** (compared value by value; for (3) every tender the scenario reads);
  the writes (4) and (5), whose answers hold times and versions, answer what GraphQL's own reads then show
  of the row written, and their journal events hold the same columns. Sizes of the GraphQL answers on
  {first_backend}: (1) {public_bytes} bytes, (2) {page_bytes} bytes ({page_with_bids} of 50 tenders with
  bids, {page_bids} bids), (3) up to {node_bytes} bytes.
- **(1) public page.** Anonymous: `tenders(first: 50) {{ totalCount pageInfo {{ hasNextPage endCursor }}
  edges {{ node {{ id title status version quantity periods periodMonths startDate maxUnitPrice bidDeadline
  publishedAt openedAt package {{ id code name unit category tier }} region {{ id code name }} department
  {{ id name }} }} }} }}`. Bare route (`POST /bare/public-tenders`): a `count(*)` and one `SELECT` of the
  page joined with package, region and department, the same JSON built in Python.
- **(2) officer's page.** As the owning officer (Bearer token): `tenders(first: 50) {{ totalCount
  pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id title status bidDeadline maxUnitPrice package
  {{ code name }} region {{ name }} bids {{ unitPrice provider {{ legalName }} }} }} }} }}` (drafts of the
  department included; the opened bids the officer may see). Bare route (`POST /bare/tenders` with page
  size, department and user ids; no auth): three `SELECT`s (count, page joined with package and region,
  the visible bids of the page's opened tenders joined with their providers).
- **(1′), (2′) the same pages, cache off.** (1) and (2) repeat one query while the data stays the same,
  so after each worker's first answer GraphQL serves them from its response cache (`core/cache.py`; what
  a disclosure platform's repeated public reads get). (1′) and (2′) send the same requests to
  `/graphql-fresh`, the same app built with `RESPONSE_CACHE=0` on the same engine (bench.server): every
  request executed, as the first read after a state change is; the bare routes are the same.
- **(3) one tender by `node`.** Anonymous, cycling over the {node_tenders} tenders with questions: `node(id:
  $id) {{ ... on Tender {{ id title status version quantity periods periodMonths startDate maxUnitPrice
  bidDeadline minValidBids priceWeight qualityWeight recordWeight requiredQualifications paymentTiers {{ tier
  minScore payoutRate }} publishedAt package {{ id code version name unit standard minUnitPrice maxUnitPrice
  }} region {{ id code name }} clarifications {{ id question askedAt answer answeredAt }} }} }}` (anonymous
  callers see the 3 answered questions). Bare route (`POST /bare/tender` with the global ID): one `SELECT`
  of the tender joined with package and region, one of its answered questions. After the first read of
  each tender in a worker, GraphQL answers from its response cache, as in (1).
- **(4) submitBid.** `mutation submitBid(input: {{tenderId, unitPrice, proposal}})` selecting `bid {{ id
  version unitPrice }} receipt {{ sha256 submittedAt }} errors {{ code message }}`, with the Bearer token of
  one of the {providers} provider accounts (each logged in once before timing). Per request the app reads the
  token, loads the account, loads the provider, locks the tender (`FOR UPDATE` on PostgreSQL), checks
  status, deadline, package price range, locks and amends the provider's bid, adds a `bid_version` with
  its SHA-256 receipt, and at commit appends a hash-chained journal event under the lock of the journal
  head, then checks the deadline again. Bare route (`POST /bare/submit-bid`, JSON with tender, provider
  and user ids, price, proposal; no auth, no checks): in one transaction, `SELECT` the bid (`FOR UPDATE`
  on PostgreSQL), `UPDATE` it with the new version and receipt, `INSERT` the `bid_version`, lock the
  journal head, `INSERT` the journal event with before/after snapshots and the chained hash, `UPDATE` the
  head. Every provider already holds a bid on each of the {concurrency} bidding tenders (seeded), so
  every request amends a live bid; client *w* cycles through all providers on bidding tender *w*, so no
  two requests in flight touch the same bid or tender row; all share the journal head. Checked before
  timing: one amendment through each side of the same bid, each answer equal to what `node(id:)` then
  shows of the bid (consecutive versions), its receipt the SHA-256 of the bid's `canonicalContent`, and
  the two `bid.amended` journal events with the same columns ({bid_event_columns} columns; changed:
  {bid_event_changed}).
- **(5) rateDelivery** (as before issue 8). Anonymous, by link token, each request a delivery not rated
  before (one counter over both sides and all rounds), stars skewed to 4-5, dimensions on two in three, a
  comment on one in seven, each request with its own `X-Forwarded-For` (127.1.x.y; uvicorn honours it from
  127.0.0.1) so that the abuse rule flags nothing (checked on every answer). GraphQL: `rateDelivery`
  selecting the delivery as the resident sees it; the app locks the delivery, checks expiry, dispute, an
  existing rating, the abuse rules, inserts the rating, appends the journal event, reads the names for
  the answer. Bare route (`POST /bare/rate-delivery`): one `SELECT` of the delivery (`FOR UPDATE OF d` on
  PostgreSQL) joined with contract, provider and package, `INSERT` the rating, the journal append. Checked
  before timing: each side's answer equals what `residentDelivery` then shows, and after the run both
  `rating.given` events hold the same columns ({rating_event_columns})."""


NODELAY = """Every accepted connection gets `TCP_NODELAY` (`bench/serve.py`): uvicorn
  leaves it off when it binds the socket for several workers (Kludex/uvicorn#3149, as `market serve
  --workers 2` runs today), and each keep-alive response then waits about 40 ms for the client's delayed
  ACK, whatever the route (0.6 ms against 44 ms per sequential keep-alive request to a route that does
  nothing, measured on this machine); the keep-alive rounds would measure that timer, not the routes."""
NAGLE = """Run with `--nagle`: uvicorn as it is, `TCP_NODELAY` off (Kludex/uvicorn#3149), so
  each keep-alive response waits for the client's delayed ACK (about 40 ms)."""


CPROFILE = (
    "; cProfile traces every call, which inflates call-heavy code such as graphql-core and strawberry: "
    "`pip install pyinstrument` for a sampling profile"
)


def load_average(run: dict) -> str:
    """How busy the machine was with other work: the 1-minute load average before and after."""
    if "load_average" not in run:
        return ""
    before, after = run["load_average"]
    return f"Load average (1 min) {before:.1f} before, {after:.1f} after (2 cores; other work counts too)."


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def render(machine: dict, options: dict, runs: list[dict]) -> str:
    measured = [r for r in runs if "skipped" not in r]
    first = measured[0] if measured else {}
    checks = first.get("checks", {})

    def check(scenario: str, key: str):
        return checks.get(scenario, {}).get(key, "–")

    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` ({machine['date']}). **Compare GraphQL with the bare route measured in the "
        f"same run**: the load generator, the server and PostgreSQL share {machine['nproc']} noisy cores, so "
        "absolute numbers do not transfer across runs; ratios within a run do.",
        "",
        "## Summary",
        "",
    ]
    for run in runs:
        lines += headline(run)
    lines += [
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
            workers=options.get("workers", 1),
            nodelay=NAGLE if options.get("nagle") else NODELAY,
            concurrency=options["concurrency"],
            warmup=options["warmup"],
            rounds=options["rounds"],
            seconds=options["seconds"],
            profile_seconds=options["profile_seconds"],
            providers=options["providers"],
            node_tenders=first.get("world", {}).get("node_tenders", "–"),
            contracts=options.get("contracts", "–"),
            rating_tokens=f"{options.get('rating_tokens', 0):,}",
            first_backend=first.get("backend", "–"),
            public_bytes=check("public", "bytes"),
            page_bytes=check("page", "bytes"),
            page_with_bids=check("page", "with_bids"),
            page_bids=check("page", "bids"),
            node_bytes=check("node", "bytes"),
            bid_event_columns=len(check("submit", "columns")) if "submit" in checks else "–",
            bid_event_changed=", ".join(check("submit", "changed")) if "submit" in checks else "–",
            rating_event_columns=", ".join(first.get("rating_event_columns", [])) or "–",
        ),
        "",
    ]
    for run in runs:
        lines += backend_section(run)
    return "\n".join(lines) + "\n"


def verdict(met: bool | None) -> str:
    return "–" if met is None else ("met" if met else "**missed**")


def headline(run: dict) -> list[str]:
    """GraphQL and the bare route side by side, with the goals: the table issue 8 asks for."""
    title = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[run["backend"]]
    if "skipped" in run:
        return [f"### {title}: skipped", "", f"{run['skipped']}.", ""]
    lines = [
        f"### {run['server']}, {run.get('workers', 1)} uvicorn workers",
        "",
        "| scenario | connections | GraphQL req/s | bare req/s | GraphQL / bare | goal ≥ | | GraphQL CPU "
        "ms/req | bare CPU ms/req | GraphQL / bare CPU | goal ≤ ms | |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for scenario, outcome in run["summary"].items():
        for mode, o in outcome.items():
            g, b = o["graphql"], o["bare"]
            cells = [
                NAMES[scenario],
                MODES[mode],
                f"{g['rps']:.0f}",
                f"{b['rps']:.0f}",
                f"**{o['ratio']:.2f}**",
            ]
            cells += [f"{o['goal']:.2f}", verdict(o["met"]), f"**{ms(g['server_cpu_ms_per_request'])}**"]
            cells += [ms(b["server_cpu_ms_per_request"]), f"{o['cpu_ratio']:.1f}×"]
            cells += [ms(o["cpu_goal"]), verdict(o["cpu_met"])]
            lines.append("| " + " | ".join(cells) + " |")
    timed = [r for r in run["results"] if r["round"] is not None]
    others = sorted(r["other_cpu"] for r in timed)
    lines += [
        "",
        f"Medians of {len({r['round'] for r in timed})} interleaved rounds. Other work on the machine (the "
        f"database server and everything else) used {others[len(others) // 2]:.1f} of the "
        f"{run.get('cpus', 2)} cores in the median round. {load_average(run)} Details, profiles and what "
        f"limits each missed goal: [{title}](#details-{title.lower()}) below.",
        "",
    ]
    return lines


def backend_section(run: dict) -> list[str]:
    title = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[run["backend"]]
    if "skipped" in run:
        return [f"## Details: {title}", "", f"Skipped: {run['skipped']}.", ""]
    world = run["world"]
    lines = [
        f"## Details: {title}",
        "",
        f"{run['server']}; {run.get('workers', 1)} uvicorn workers; "
        f"seeded in {world['seconds_to_seed']:.0f} s; "
        f"{world.get('ratings_given', 0):,} of the {world.get('rating_tokens', 0):,} seeded deliveries "
        f"rated in the run; {run['journal_events']} journal events verified intact after the run. "
        + load_average(run),
        "",
        "| scenario | connections | side | requests/s | p50 ms | p99 ms | server CPU | server CPU ms/request "
        "| client CPU | rest of machine | SQL statements/request |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario, outcome in run["summary"].items():
        for mode, o in outcome.items():
            for side in ("graphql", "bare"):
                s = o[side]
                cells = [NAMES[scenario], MODES[mode], SIDES[side], f"{s['rps']:.0f}", ms(s["p50_ms"])]
                cells += [ms(s["p99_ms"]), pct(s["server_cpu"]), ms(s["server_cpu_ms_per_request"])]
                cells += [pct(s["client_cpu"]), pct(s["other_cpu"]), f"{s['statements_per_request']:.1f}"]
                lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| scenario | connections | GraphQL / bare throughput | per-round ratios |",
        "| --- | --- | ---: | --- |",
    ]
    for scenario, outcome in run["summary"].items():
        for mode, o in outcome.items():
            rounds = ", ".join(f"{r:.2f}" for r in o["round_ratios"])
            lines.append(f"| {NAMES[scenario]} | {MODES[mode]} | **{o['ratio']:.2f}** | {rounds} |")
    lines.append("")
    for scenario, summary in run["profiles"].items():
        lines += profile_section(title, scenario, summary, run["summary"][scenario])
    return lines


def limits(outcome: dict, p: dict) -> str:
    """The measured facts that say what holds GraphQL back, in one paragraph (keep-alive figures)."""
    mode = "keepalive" if "keepalive" in outcome else next(iter(outcome))
    o = outcome[mode]
    graphql, bare = o["graphql"], o["bare"]
    cpu = o["cpu_ratio"]
    groups = ", ".join(f"{name} {pct(share)}" for name, share in p["groups"][:4])
    steps = ", ".join(f"{name} {pct(share)}" for name, share in p["milestones"] if share >= 0.05)
    goal = f" (goal about {o['cpu_goal']:.0f} ms)" if o["cpu_goal"] else ""
    spent = f"{graphql['server_cpu_ms_per_request']:.1f} ms of CPU per GraphQL request{goal}"
    against = f"{bare['server_cpu_ms_per_request']:.1f} ms per bare request ({cpu:.1f}×)"
    statements = (graphql["statements_per_request"], bare["statements_per_request"])
    return (
        f"What limits it ({MODES[mode]}): the worker processes spent {spent} against {against}, with "
        f"{statements[0]:.0f} SQL statements against {statements[1]:.0f} (throughput ratio "
        f"{o['ratio']:.2f}). Of the GraphQL workers' busy time: {groups}"
        + (f"; named steps: {steps}." if steps else ".")
    )


def waiting(p: dict) -> str:
    """The sampled busy time against the CPU time the workers used: samples are wall-clock time."""
    if "cpu_s" not in p:
        return ""
    text = (
        f" The samples are wall-clock time: {p['busy_s']:.1f} s busy against {p['cpu_s']:.1f} s of CPU the "
        "workers used in the round (all their threads)"
    )
    if p["busy_s"] > 1.15 * p["cpu_s"]:
        text += (
            "; the difference is time a worker waited for a core on this shared machine, charged to where it "
            "gave way, often right after handing work to another process (psycopg's `_execute_send`, "
            "`socket.send`, aiosqlite's queue)"
        )
    return text + "."


def profile_section(title: str, scenario: str, p: dict, outcome: dict) -> list[str]:
    caveat = CPROFILE if p["profiler"] == "cProfile" else ""
    threads_wall = p.get("threads_wall_s", p["wall_s"])
    lines = [
        f"### Profile: GraphQL {NAMES[scenario]} on {title}",
        "",
        limits(outcome, p),
        "",
        f"{p['profiler']} in each of the {p.get('workers', 1)} workers during a {p['wall_s']:.0f} s "
        f"keep-alive GraphQL round ({p['rps_profiled']:.0f} requests/s while profiled{caveat}). The event "
        f"loops' threads waited in epoll {pct(p['idle_s'] / threads_wall)} of the time and were busy "
        f"{pct(p['busy_s'] / threads_wall)}; shares below are of the busy time of all workers, C functions "
        "charged to the library that called them." + waiting(p),
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


# ---------------------------------------------------------------- python -m bench --ratings N

RATINGS_MARK = "<!-- ratings section: written by `python -m bench --ratings N`; `make bench` keeps it -->"

ROLLUP = """\
**Proposal (not implemented here).** NOTES.md: "Large aggregates (ratings) are computed in SQL over a
period, or kept in a rollup table (count, sum, histogram) filled in batches with `INSERT … ON CONFLICT DO
UPDATE`; never AVG over millions of rows per request." For `ratingsCount` (and the satisfaction score built
on the same rows): a table `contract_rating_rollup (contract_id, period_index, ratings, stars_sum, stars_1 …
stars_5, flagged)`, primary key `(contract_id, period_index)`, in the contracts domain with its Alembic
migration (backfilled by one `INSERT … SELECT … GROUP BY`). `rate_delivery` adds to it in the rating's own
transaction (`INSERT … ON CONFLICT (contract_id, period_index) DO UPDATE SET ratings = ratings + 1,
stars_sum = stars_sum + :stars, stars_N = stars_N + 1`), a changed rating moves its star between buckets, a
flag and its clearing move it in and out of `flagged`, and `contracts.bulk` adds one upsert per batch.
`RatingsCountByContractLoader` then reads at most `periods` rows per contract on the page instead of
counting every rating: its cost no longer grows with the ratings. The per-contract row is a hot spot only at
hundreds of ratings per second on one contract, far above what residents of one district produce."""


def ratings_section_of(text: str) -> str:
    """The sections of an existing RESULTS.md that other benchmarks wrote (the ratings section and
    those after it, each opening with a `<!-- ... -->` mark), or an empty string: `make bench`
    keeps them."""
    index = text.find(RATINGS_MARK)
    if index < 0:
        index = text.find("\n<!-- ")
    return text[index:].strip() + "\n" if index >= 0 else ""


def with_ratings_section(text: str, section: str) -> str:
    """`text` with its ratings section (if any) replaced by `section` (if any); the sections other
    benchmarks write after it (each opening with its own `<!-- ... -->` mark) stay as they are."""
    index = text.find(RATINGS_MARK)
    head = (text[:index] if index >= 0 else text).rstrip() + "\n"
    others = ""
    if index >= 0:
        following = text.find("\n<!-- ", index + len(RATINGS_MARK))
        others = text[following:].strip() + "\n" if following >= 0 else ""
    return head + ("\n" + section.rstrip() + "\n" if section else "") + ("\n" + others if others else "")


def render_ratings(machine: dict, run: dict) -> str:
    target = f"{run['target']:,}"
    lines = [RATINGS_MARK, "", f"## {target} ratings: a contracts page in PostgreSQL", ""]
    if "skipped" in run:
        return "\n".join([*lines, f"Skipped: {run['skipped']}.", ""])
    steps = run["steps"]
    counts = sorted({n for step in steps for n in step["statements_per_request"]})
    constant = len(counts) == 1
    load = max(run["loads"], key=lambda entry: entry["ratings"], default=None)
    lines += [
        f"Written by `python -m bench --ratings {run['target']}` (`make bench-ratings`; {machine['date']}), "
        f"{run['server']}, the same noisy {machine['nproc']}-core machine. A fresh database seeded as "
        f"above (`bench/seed.py`, {run['contracts']} ACTIVE contracts of the officer's department, made "
        "through the services), then ratings added with `contracts.bulk.generate_ratings` (COPY; each "
        "batch of 10,000 ratings with its deliveries one transaction and one journal event) to the first "
        "contract, and a hundredth as many to each of the others. At each size the officer (Bearer token, "
        "so `ratingsCount` is visible) asks, one request at a time, over HTTP to the bench server:",
        "",
        "```graphql",
        "contracts(first: 20) {",
        "  edges { node { id status periods { index startsOn endsOn } ratingsCount } }",
        "}",
        "```",
        "",
        f"{steps[0]['requests']} timed requests per row after 3 untimed; every answer's `ratingsCount` "
        "checked against the ratings written. Statements: the server engine's `before_cursor_execute` count "
        "per request. COUNT: the time of the loader's statement (`"
        + steps[-1]["explain"]["sql"]
        + "`), in the requests (median, from the engine's cursor events in a further pass of requests) "
        "and in `EXPLAIN (ANALYZE, TIMING OFF)` on the same data (median of 5), with its plan.",
        "",
    ]
    if load:
        rate = load["rows"] / load["seconds"] if load["seconds"] else 0
        lines += [
            f"Bulk load to {load['to']:,}: {load['ratings']:,} ratings and {load['deliveries']:,} "
            f"deliveries ({load['rows']:,} rows) in {load['batches']} batches, {load['seconds']:.0f} s = "
            f"**{rate:,.0f} rows/s** (generation in Python and COPY overlap). Journal verified intact "
            f"afterwards: {run['journal_events']:,} events. " + load_average(run),
            "",
        ]
    lines += [
        "| ratings on the contract | ratings in all | table state | SQL statements / request | p50 ms "
        "| p99 ms | COUNT in the request, ms | COUNT in EXPLAIN ANALYZE, ms | plan of the COUNT |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for step in steps:
        plan = next((line.strip() for line in step["explain"]["plan"] if "Scan" in line), "")
        plan = plan.split("  (")[0].replace("->", "").strip()
        lines.append(
            f"| {step['ratings']:,} | {step['all_ratings']:,} | {step['state']} | "
            f"{', '.join(str(n) for n in step['statements_per_request'])} | {step['p50_ms']:.1f} | "
            f"{step['p99_ms']:.1f} | {ms(step['count_statement_ms'])} | {step['explain']['ms']:.1f} "
            f"| {plan} |"
        )
    first, last = steps[0], steps[-1]
    growth = last["p50_ms"] / first["p50_ms"] if first["p50_ms"] else 0
    lines += [
        "",
        (
            f"**The statement count is constant: {counts[0]} per request at every size** (the caller, the "
            "page and its total, one `COUNT … GROUP BY` for all contracts on the page; periods are computed)."
            if constant
            else f"**The statement count is NOT constant: {counts} across sizes.**"
        ),
        "",
        f"Latency: p50 {first['p50_ms']:.1f} ms at 0 ratings, {last['p50_ms']:.1f} ms at {last['ratings']:,} "
        f"({growth:.1f}×); the COUNT alone takes {ms(last['count_statement_ms'])} ms of the request at "
        f"{last['ratings']:,} ({last['explain']['ms']:.1f} ms in EXPLAIN ANALYZE).",
        "",
        "Slowest statements of a request at the largest size (median ms over the timing pass):",
        "",
        "| statement | ms | times |",
        "| --- | ---: | ---: |",
        *[
            f"| `{sql[:150]}{'…' if len(sql) > 150 else ''}` | {ms:.2f} | {times} |"
            for sql, ms, times in last["statement_ms"][:4]
        ],
        "",
    ]
    if growth >= 2 or (last["count_statement_ms"] or 0) >= 20:
        lines += [
            f"**The latency grows with the ratings**: the request is {growth:.1f}× slower at "
            f"{last['ratings']:,} ratings, because the loader counts every rating of the page's contracts on "
            "every request (the number of statements stays the same; the work of one of them does not).",
            "",
            ROLLUP,
            "",
        ]
    return "\n".join(lines) + "\n"
