"""A small stateful Stripe: the part of the API our payouts use, over real HTTP on 127.0.0.1.

Driven by the official SDK exactly as production drives api.stripe.com (form-encoded bodies, bearer
key, Idempotency-Key header). It keeps connected accounts, transfers with their reversals and the
platform balance, and follows Stripe's idempotency rules: a POST with a key seen before and the same
parameters answers the first response again with `Idempotent-Replayed: true`; the same key with
other parameters is a 400 `idempotency_error`. Errors are shaped like Stripe's
(`{"error": {"type", "code", "message", "param"}}`).

Faults, for the tests of exactly-once sending (`fail_next(n, kind)`), each for the next n requests:

- `"500"`, `"429"`: answered at once with that status, nothing done and nothing stored for the key
  (as a failure in front of the API would be);
- `"drop"`: the request is carried out (and stored for its key), then the connection is closed with
  no answer: the client sees a connection error;
- `"timeout"`: carried out, then the answer is held back past the client's timeout.

`event(type, object)` makes a signed webhook delivery (`Stripe-Signature: t=…,v1=HMAC-SHA256`) to
post to our app; `reverse_externally` reverses a transfer as the Stripe dashboard would.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_fake_0123456789"
WEBHOOK_SECRET = "whsec_test_fake_0123456789"
FAULTS = ("500", "429", "drop", "timeout")


class StripeProblem(Exception):
    def __init__(
        self, status: int, type_: str, message: str, *, code: str | None = None, param: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, "code": code, "param": param}}


def form_to_dict(body: str) -> dict:
    """Stripe's form encoding (`metadata[payment_id]=1`) as nested dicts."""
    result: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


class FakeStripe:
    def __init__(self, *, balance_fen: int = 10**13, hang_seconds: float = 1.0):
        self.lock = threading.RLock()
        self.initial_balance = balance_fen
        self.hang_seconds = hang_seconds
        self.reset()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        with self.lock:
            self.accounts: dict[str, dict] = {}
            self.transfers: dict[str, dict] = {}
            self.stored: dict[str, tuple[str, int, bytes]] = {}
            self.faults: deque[str] = deque()
            self.balance = self.initial_balance
            self.requests = 0
            self.replays = 0
            self.faults_served: dict[str, int] = dict.fromkeys(FAULTS, 0)
            self._ids = itertools.count(1)

    def start(self) -> FakeStripe:
        fake = self

        class Handler(_Handler):
            stripe = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------ controls

    def fail_next(self, n: int, kind: str) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        with self.lock:
            self.faults.extend([kind] * n)

    def create_account(self) -> str:
        with self.lock:
            return self._create_account({})["id"]

    def reverse_externally(self, transfer_id: str, amount: int | None = None) -> dict:
        """A reversal made outside our platform (the dashboard): no metadata of ours."""
        with self.lock:
            transfer = self.transfers[transfer_id]
            left = transfer["amount"] - transfer["amount_reversed"]
            return self._reverse(transfer, {"amount": str(amount if amount is not None else left)})

    def event(self, type_: str, data_object: dict, *, event_id: str | None = None, secret: str = WEBHOOK_SECRET,
              timestamp: int | None = None) -> tuple[bytes, str]:  # fmt: skip
        """A webhook delivery: the JSON body and its `Stripe-Signature` header."""
        payload = json.dumps(
            {
                "id": event_id or self._id("evt"),
                "object": "event",
                "type": type_,
                "api_version": "2026-01-01",
                "created": int(time.time()),
                "livemode": False,
                "data": {"object": data_object},
            }
        ).encode()
        t = int(time.time()) if timestamp is None else timestamp
        signature = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
        return payload, f"t={t},v1={signature}"

    # ------------------------------------------------------------ what tests count

    def transfers_of_payment(self) -> dict[str, list[dict]]:
        """Transfers by the payment ID in their metadata."""
        found: dict[str, list[dict]] = {}
        for transfer in self.transfers.values():
            found.setdefault(transfer["metadata"].get("payment_id", ""), []).append(transfer)
        return found

    def transferred_fen(self) -> int:
        return sum(t["amount"] - t["amount_reversed"] for t in self.transfers.values())

    # ------------------------------------------------------------ the API

    def _id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):012d}"

    def handle(self, method: str, path: str, query: dict, params: dict, key: str | None, auth: str) -> tuple[int, dict, bool]:  # fmt: skip
        """(status, body, replayed) of one request; the caller holds the lock."""
        if auth != f"Bearer {API_KEY}":
            raise StripeProblem(401, "invalid_request_error", "Invalid API Key provided")
        if method == "POST" and key:
            fingerprint = json.dumps([path, params], sort_keys=True)
            if key in self.stored:
                stored_fingerprint, status, body = self.stored[key]
                if stored_fingerprint != fingerprint:
                    raise StripeProblem(
                        400, "idempotency_error",
                        f"Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                    )  # fmt: skip
                self.replays += 1
                return status, json.loads(body), True
            try:
                status, body = 200, self._route(method, path, query, params)
            except StripeProblem as problem:
                status, body = problem.status, problem.body
            self.stored[key] = (fingerprint, status, json.dumps(body).encode())
            return status, body, False
        return 200, self._route(method, path, query, params), False

    def _route(self, method: str, path: str, query: dict, params: dict) -> dict:
        parts = [p for p in path.split("/") if p]
        match method, parts:
            case "POST", ["v1", "accounts"]:
                return self._create_account(params)
            case "GET", ["v1", "accounts", account_id]:
                return self._get(self.accounts, account_id, "account")
            case "POST", ["v1", "transfers"]:
                return self._create_transfer(params)
            case "GET", ["v1", "transfers"]:
                return self._list_transfers(query)
            case "GET", ["v1", "transfers", transfer_id]:
                return self._get(self.transfers, transfer_id, "transfer")
            case "POST", ["v1", "transfers", transfer_id, "reversals"]:
                return self._reverse(self._get(self.transfers, transfer_id, "transfer"), params)
            case "GET", ["v1", "balance"]:
                return {
                    "object": "balance",
                    "livemode": False,
                    "available": [{"amount": self.balance, "currency": "cny"}],
                    "pending": [{"amount": 0, "currency": "cny"}],
                }
        raise StripeProblem(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    @staticmethod
    def _get(table: dict, object_id: str, kind: str) -> dict:
        if object_id not in table:
            raise StripeProblem(404, "invalid_request_error", f"No such {kind}: '{object_id}'", code="resource_missing", param="id")  # fmt: skip
        return table[object_id]

    def _create_account(self, params: dict) -> dict:
        account = {
            "id": self._id("acct"),
            "object": "account",
            "type": params.get("type", "express"),
            "country": params.get("country", "CN"),
            "default_currency": "cny",
            "charges_enabled": True,
            "payouts_enabled": True,
            "metadata": params.get("metadata", {}),
        }
        self.accounts[account["id"]] = account
        return account

    @staticmethod
    def _amount(params: dict) -> int:
        raw = params.get("amount", "")
        if not raw.isdigit() or int(raw) <= 0:
            raise StripeProblem(400, "invalid_request_error", "Invalid positive integer", code="parameter_invalid_integer", param="amount")  # fmt: skip
        return int(raw)

    def _create_transfer(self, params: dict) -> dict:
        amount = self._amount(params)
        if params.get("currency") != "cny":
            raise StripeProblem(400, "invalid_request_error", "Invalid currency", param="currency")
        destination = params.get("destination", "")
        if destination not in self.accounts:
            raise StripeProblem(400, "invalid_request_error", f"No such destination: '{destination}'", code="resource_missing", param="destination")  # fmt: skip
        if amount > self.balance:
            raise StripeProblem(400, "invalid_request_error", "You have insufficient funds in your Stripe account.", code="balance_insufficient")  # fmt: skip
        self.balance -= amount
        transfer_id = self._id("tr")
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "currency": "cny",
            "destination": destination,
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
            "livemode": False,
            "reversed": False,
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
        }
        self.transfers[transfer_id] = transfer
        return transfer

    def _list_transfers(self, query: dict) -> dict:
        rows = [
            t
            for t in self.transfers.values()
            if t["destination"] == query.get("destination", t["destination"])
        ]
        rows.reverse()  # newest first, as Stripe lists
        limit = min(int(query.get("limit", 10)), 100)
        if "starting_after" in query:
            ids = [t["id"] for t in rows]
            rows = rows[ids.index(query["starting_after"]) + 1 :] if query["starting_after"] in ids else []
        return {"object": "list", "url": "/v1/transfers", "data": rows[:limit], "has_more": len(rows) > limit}

    def _reverse(self, transfer: dict, params: dict) -> dict:
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = self._amount(params) if "amount" in params else left
        if amount > left:
            raise StripeProblem(400, "invalid_request_error", f"The reversal amount exceeds what is left ({left})", param="amount")  # fmt: skip
        reversal = {
            "id": self._id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "currency": "cny",
            "transfer": transfer["id"],
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
        }
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].append(reversal)
        self.balance += amount
        return reversal


class _Handler(BaseHTTPRequestHandler):
    stripe: FakeStripe
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, *_args) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        fake = self.stripe
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        with fake.lock:
            fake.requests += 1
            fault = fake.faults.popleft() if fake.faults else None
            if fault:
                fake.faults_served[fault] += 1
            if fault == "500":
                return self._answer(500, {"error": {"type": "api_error", "message": "Injected server error"}})
            if fault == "429":
                return self._answer(429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}})  # fmt: skip
            try:
                status, answer, replayed = fake.handle(
                    method, url.path, dict(parse_qsl(url.query)), form_to_dict(body),
                    self.headers.get("Idempotency-Key"), self.headers.get("Authorization", ""),
                )  # fmt: skip
            except StripeProblem as problem:
                status, answer, replayed = problem.status, problem.body, False
        if fault == "drop":
            self.close_connection = True
            self.connection.close()
            return None
        if fault == "timeout":
            time.sleep(fake.hang_seconds)
            self.close_connection = True
        try:
            return self._answer(status, answer, replayed=replayed)
        except OSError:
            return None  # the client gave up waiting

    def _answer(self, status: int, body: dict, *, replayed: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_fake{time.monotonic_ns()}")
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(data)
