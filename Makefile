# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
AXE := tests/browser/node_modules/axe-core/axe.min.js
HOST ?= 127.0.0.1
PORT ?= 8000
export DATABASE_URL ?= sqlite:///var/market.db

.PHONY: install run test test-sqlite test-postgres fuzz lint check schema bench bench-hostile bench-ratings bench-payouts bench-scoring reset-demo clean

install: $(BIN)/.installed $(AXE)

# Installed once, again whenever pyproject.toml or GraphiQL's pins change: the Python packages, then
# GraphiQL's files (pinned npm tarballs, sha512-checked, into static/graphiql/; no CDN at run time).
$(BIN)/.installed: pyproject.toml core/graphiql.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/market graphiql install
	touch $@

# axe-core for the browser tests' accessibility checks (tests/browser_checks.py): the version of
# tests/browser/package-lock.json, with `npm ci`. Without npm the checks are skipped (say so, go on).
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: axe-core not installed, the accessibility tests will be skipped (apt-get install npm)"; fi

run: $(BIN)/.installed
	$(BIN)/market db upgrade
	$(BIN)/market demo load --if-empty
	$(BIN)/market serve --host $(HOST) --port $(PORT)

# Start again from a fresh demo database: deletes the SQLite file of DATABASE_URL with its -wal and -shm
# (stop `make run` first), then migrates it and loads the demo. PostgreSQL: drop and create it yourself.
reset-demo: $(BIN)/.installed
	@case "$$DATABASE_URL" in \
	  sqlite*:///*) db="$${DATABASE_URL#*:///}"; db="$${db%%\?*}"; \
	    rm -f "$$db" "$$db-wal" "$$db-shm" "$$db-journal" && echo "deleted $$db, $$db-wal and $$db-shm";; \
	  *) echo "reset-demo deletes a SQLite database only; drop and create $$DATABASE_URL, then make run" >&2; \
	    exit 1;; \
	esac
	$(BIN)/market db upgrade
	$(BIN)/market demo load

# The whole suite on SQLite, then on PostgreSQL when TEST_DATABASE_URL is set.
test: $(BIN)/.installed $(AXE) test-sqlite
	@if [ -n "$$TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "TEST_DATABASE_URL not set: PostgreSQL run skipped"; fi

test-sqlite: $(BIN)/.installed $(AXE)
	env -u TEST_DATABASE_URL $(BIN)/pytest -q

test-postgres: $(BIN)/.installed $(AXE)
	$(BIN)/pytest -q

# Generated queries and mutations over the whole schema, thousands of them (make test runs a few hundred);
# on PostgreSQL too when TEST_DATABASE_URL is set.
FUZZ_EXAMPLES ?= 1000
fuzz: $(BIN)/.installed
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) env -u TEST_DATABASE_URL $(BIN)/pytest -q tests/core/test_fuzz.py
	@if [ -n "$$TEST_DATABASE_URL" ]; then FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q tests/core/test_fuzz.py; fi

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Models and migrations agree (run against DATABASE_URL after upgrading it).
check: $(BIN)/.installed
	$(BIN)/market db upgrade
	$(BIN)/alembic check

schema: $(BIN)/.installed
	$(BIN)/market schema export

# Issue 8's scenarios, GraphQL against bare routes doing the same SQL, 2 uvicorn workers, new connection
# per request and keep-alive, on PostgreSQL and SQLite (about 8 minutes); writes bench/RESULTS.md.
# Options (scenarios, backends, rounds...): .venv/bin/python -m bench --help
bench: $(BIN)/.installed
	$(BIN)/python -m bench

# Hostile documents against a live server: refusal time and /healthz meanwhile; writes bench/HOSTILE.md.
bench-hostile: $(BIN)/.installed
	$(BIN)/python -m bench.hostile

# Only when asked (minutes): a contracts page at 0, 1,000 and RATINGS ratings in PostgreSQL;
# writes its own section of bench/RESULTS.md.
RATINGS ?= 1000000
bench-ratings: $(BIN)/.installed
	$(BIN)/python -m bench --ratings $(RATINGS)

# 10,000 approved payments sent through each payout backend (stripe: the tests' fake server on 127.0.0.1),
# throughput and duplicates (must be 0); writes its own section of bench/RESULTS.md (a few minutes).
PAYMENTS ?= 10000
bench-payouts: $(BIN)/.installed
	$(BIN)/python -m bench.payouts --count $(PAYMENTS)

# A scoring run over 10,000 contracts at 100,000 and 1,000,000 ratings on PostgreSQL, against one
# hand-written SQL aggregate of the same period numbers: time ratio and peak memory; writes its own
# section of bench/RESULTS.md (about 10 minutes). Options: .venv/bin/python -m bench.scoring --help
bench-scoring: $(BIN)/.installed
	$(BIN)/python -m bench.scoring

clean:
	rm -rf $(VENV) var static/graphiql .pytest_cache .ruff_cache tests/browser/node_modules
