"""bench/RESULTS.md from the measurements of one run (nothing here is typed in by hand but the method)."""

from __future__ import annotations

NAMES = {
    "submit": "(a) `submitBid`",
    "page": "(b) `tenders(first: 50)` page",
    "rate": "(c) `rateDelivery`",
}
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
  (`bench/seed.py`): one department and its officer, 3 evaluators, {providers} ACTIVE providers each with
  a PROVIDER account, one package, 60 published tenders of which every third had its deadline last month
  and its bids opened (4 bids each); the others close in a year. Before them (so the newest 50 are the
  same), {contracts} tenders went through the whole purchase five months ago (bids, opening, the panel's
  scores, recommendation, challenge period, award) to ACTIVE contracts whose terms started about 100 days
  ago; for (c), {rating_tokens} deliveries of the last week on the first contract, each with a link token
  the load generator knows, bulk-inserted with `contracts.bulk.generate_deliveries` (one journal event per
  batch of 10,000).
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
- **(c) rateDelivery.** Anonymous, by link token, each request a delivery not rated before (one counter
  over both sides and all rounds, so no request edits a rating), with stars skewed to 4-5, dimensions on
  two in three, a comment on one in seven. GraphQL: `mutation rateDelivery(input: {{token, stars,
  timeliness, attitude, professionalism, comment}})` selecting `delivery {{ serviceName providerName
  deliveredOn units disputed linkValidUntil rating {{ stars timeliness attitude professionalism comment
  flagged }} }} errors {{ code message }}`. Per request the app hashes the token, locks the delivery,
  checks expiry, dispute and an existing rating, loads the contract, checks the abuse rules (the
  resident's phone among the provider's staff phones; ratings from the client address within the hour),
  inserts the rating, appends the hash-chained journal event at commit, and reads provider and package
  names for the answer. Bare route (`POST /bare/rate-delivery`, the same input; no checks): in one
  transaction on the same engine, one `SELECT` of the delivery (`FOR UPDATE OF d` on PostgreSQL) joined
  with contract, provider and package, the keyed hash of the client address, `INSERT` the rating, lock the
  journal head, `INSERT` the `rating.given` event with the rating's columns and the chained hash, `UPDATE`
  the head; the same JSON shape. Client addresses: every request sends its own `X-Forwarded-For`
  (127.1.x.y), which uvicorn honours from 127.0.0.1 as behind a local reverse proxy, so both sides hash
  one address per rating, as residents rating from their own phones, and no rating is flagged (checked on
  every answer). Before timing, one delivery is rated through each side and each answer is compared with
  what GraphQL's `residentDelivery` then shows (equal on both); after the run both `rating.given` journal
  events are checked to hold the same columns ({rating_event_columns}).
- CPU: CPU time of the server process and of the load generator from /proc over each round (100% = one
  core); "rest of machine" = all busy CPU time less those two: the database server (PostgreSQL) and whatever
  else ran on the machine meanwhile.
  Statements: SQL statements the engine sent per request (`before_cursor_execute`, including SQLite's
  `BEGIN`; COMMIT and ROLLBACK are not statements)."""


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
            contracts=options.get("contracts", "–"),
            rating_tokens=f"{options.get('rating_tokens', 0):,}",
            rating_event_columns=", ".join(first.get("rating_event_columns", [])) if first else "–",
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
        f"{run['server']}; seeded in {world['seconds_to_seed']:.0f} s; "
        f"{world.get('ratings_given', 0):,} of the {world.get('rating_tokens', 0):,} seeded deliveries "
        f"rated in the run; {run['journal_events']} journal events verified intact after the run. "
        + load_average(run),
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
    """The ratings section of an existing RESULTS.md, or an empty string."""
    index = text.find(RATINGS_MARK)
    return text[index:].rstrip() + "\n" if index >= 0 else ""


def with_ratings_section(text: str, section: str) -> str:
    """`text` with its ratings section (if any) replaced by `section` (if any), at the end."""
    index = text.find(RATINGS_MARK)
    head = (text[:index] if index >= 0 else text).rstrip() + "\n"
    return head + ("\n" + section if section else "")


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
