"""What a stranger gets back for anything malformed: a clear error with a code, never an internal
one, never an echo of a secret, and nothing written."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

import app
from core import limits
from core.api import encode_id
from core.auth import Role
from core.settings import Settings, get_settings
from tests import factories

SECRET = "S3cret-Pa55word!"
PHONE = "13912345678"
TOKEN = "tok-Zq8sVx3NcLm2Wp9Rt4"

PRODUCTION = Settings(environment="production", secret_key="x" * 40, market_test_clock=False)


def _client(settings: Settings, sessionmaker) -> httpx.AsyncClient:
    asgi = app.create_app(settings=settings, sessionmaker=sessionmaker)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://test")


def _codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


# ---------------------------------------------------------------- every error has a code


@pytest.mark.parametrize(
    ("document", "variables", "code"),
    [
        ("{ now ", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nothingHere }", None, "GRAPHQL_VALIDATION_FAILED"),
        ('{ tenders(status: "PUBLISHED") { totalCount } }', None, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int!) { providers(first: $n) { totalCount } }", {"n": "ten"}, "BAD_USER_INPUT"),
        ("query($n: Int!) { providers(first: $n) { totalCount } }", {}, "BAD_USER_INPUT"),
        ("{ providers(first: 500) { totalCount } }", None, "INVALID"),
        ("query A { now } query B { now }", None, "OPERATION_RESOLUTION_FAILURE"),
        ("{ " + " ".join("now" for _ in range(limits.MAX_TOKENS)) + " }", None, "GRAPHQL_PARSE_FAILED"),
    ],
)
async def test_every_error_carries_a_code(api, document, variables, code):
    body = (await api.raw(document, variables)).json()
    assert _codes(body) == [code] * len(body["errors"]), body


async def test_an_unknown_operation_name_is_an_error_not_the_first_operation(api):
    response = await api.client.post(
        "/graphql", json={"query": "query A { now } query B { now }", "operationName": "C"}
    )
    assert response.status_code == 400 and _codes(response.json()) == ["OPERATION_RESOLUTION_FAILURE"]
    named = await api.client.post(
        "/graphql", json={"query": "query A { now } query B { now }", "operationName": "B"}
    )
    assert named.json()["data"]["now"]


async def test_a_bad_token_is_401_with_a_code(api):
    response = await api.raw("{ now }", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401 and _codes(response.json()) == ["UNAUTHENTICATED"]


async def test_an_internal_error_is_masked_with_a_code_and_logged(api, monkeypatch, caplog):
    from market import directory

    def broken(**_kwargs):
        raise RuntimeError("connection string postgresql://secret@db leaked")

    monkeypatch.setattr(directory, "regions_statement", broken)
    with caplog.at_level(logging.ERROR, logger="market.api"):
        body = (await api.raw("{ regions { code } }")).json()
    assert body["errors"][0] == {
        "message": "Unexpected error.",
        "locations": [{"line": 1, "column": 3}],
        "path": ["regions"],
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }
    assert "RuntimeError" in caplog.text and "regions" in caplog.text


# ---------------------------------------------------------------- no secret in any message

REGISTER = "mutation($i: RegisterProviderInput!) { registerProvider(input: $i) { errors { code } } }"


def _registration(**changes) -> dict:
    values = {
        "legalName": "某某服务中心",
        "creditCode": "91310101MA1FPX1234",
        "kind": "ENTERPRISE",
        "regionIds": [],
        "adminEmail": "a@b.cn",
        "adminPassword": SECRET,
        "adminName": "张三",
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not ...}


SECRET_CASES = [
    pytest.param(REGISTER, {"i": _registration(creditCode=...)}, id="missing field"),
    pytest.param(REGISTER, {"i": _registration(kind="COMPANY")}, id="bad enum"),
    pytest.param(REGISTER, {"i": _registration(regionIds=5.5)}, id="mistyped field"),
    pytest.param(REGISTER, {"i": _registration(nickname="x")}, id="unknown field"),
    pytest.param(REGISTER, {"i": _registration(adminPassword=[SECRET])}, id="password as a list"),
    pytest.param(REGISTER, {"i": {"adminPassword": SECRET}}, id="nearly empty"),
    pytest.param(REGISTER, {"i": SECRET}, id="input as a string"),
    pytest.param(
        'mutation { registerProvider(input: {adminPassword: "' + SECRET + '"}) { errors { code } } }',
        None,
        id="literal, fields missing",
    ),
    pytest.param(
        "mutation { login(input: {email: 5, password: " + json.dumps(SECRET) + "}) { token } }",
        None,
        id="literal, mistyped sibling",
    ),
    pytest.param(
        "mutation { login(input: {email " + json.dumps(SECRET) + "}) { token } }", None, id="syntax error"
    ),
    pytest.param(
        "mutation($i: LoginInput!) { login(input: $i) { token } }",
        {"i": {"email": 1, "password": SECRET}},
        id="login, mistyped email",
    ),
    pytest.param(
        "mutation($i: LoginInput!) { login(input: $i) { token } }",
        {"i": {"email": "a@b.cn", "pasword": SECRET}},
        id="login, misspelt password",
    ),
    pytest.param(
        "mutation($i: RecordDeliveryInput!) { recordDelivery(input: $i) { errors { code } } }",
        {"i": {"residentPhone": PHONE, "units": "many"}},
        id="resident phone",
    ),
    pytest.param(
        "mutation($i: RateDeliveryInput!) { rateDelivery(input: $i) { errors { code } } }",
        {"i": {"token": TOKEN, "stars": "five"}},
        id="resident token",
    ),
    pytest.param(
        "mutation($t: String!) { disputeDelivery(token: $t) { errors { code } } }",
        {"t": TOKEN},
        id="missing argument",
    ),
    pytest.param(
        'mutation($t: Int!) { disputeDelivery(token: $t, reason: "x") { errors { code } } }',
        {"t": TOKEN},
        id="variable of the wrong type",
    ),
]


@pytest.mark.parametrize("settings_name", ["development", "production"])
@pytest.mark.parametrize(("document", "variables"), SECRET_CASES)
async def test_no_error_message_repeats_a_password_phone_or_token(
    sessionmaker, document, variables, settings_name, caplog
):
    settings = get_settings() if settings_name == "development" else PRODUCTION
    async with _client(settings, sessionmaker) as client:
        with caplog.at_level(logging.DEBUG):
            response = await client.post("/graphql", json={"query": document, "variables": variables})
    body = response.json()
    assert body.get("errors"), body
    shown = json.dumps(body, ensure_ascii=False) + caplog.text
    for secret in (SECRET, PHONE, TOKEN):
        assert secret not in shown, shown
    assert all(error["extensions"]["code"] for error in body["errors"])


# ---------------------------------------------------------------- suggestions


SUGGESTED = [
    "{ tenderz { totalCount } }",
    "{ tenders(statsu: PUBLISHED) { totalCount } }",
    "{ tenders(status: PUBLISHD) { totalCount } }",
    "query($s: TenderStatuss) { tenders(status: $s) { totalCount } }",
    'mutation { login(input: {emial: "a", password: "b"}) { token } }',
]


@pytest.mark.parametrize("document", SUGGESTED)
async def test_suggestions_are_left_out_in_production_only(sessionmaker, document):
    async with _client(get_settings(), sessionmaker) as client:
        development = (await client.post("/graphql", json={"query": document})).json()
    async with _client(PRODUCTION, sessionmaker) as client:
        production = (await client.post("/graphql", json={"query": document})).json()
    assert "Did you mean" in json.dumps(development)
    assert "Did you mean" not in json.dumps(production) and production["errors"]


async def test_a_variable_holding_an_unknown_enum_value_gets_no_suggestion_in_production(sessionmaker):
    document = "query($s: TenderStatus) { tenders(status: $s) { totalCount } }"
    async with _client(PRODUCTION, sessionmaker) as client:
        body = (
            await client.post("/graphql", json={"query": document, "variables": {"s": "PUBLISHD"}})
        ).json()
    assert _codes(body) == ["BAD_USER_INPUT"] and "Did you mean" not in json.dumps(body)
    assert "PUBLISHD" not in json.dumps(body)


# ---------------------------------------------------------------- IDs and cursors


@pytest.mark.parametrize(
    "raw",
    [
        "Tender:99999999999999999999",
        "Tender:2147483648",
        "Tender:-1",
        "Tender:0",
        "Node:1",
        "Query:1",
        "Tender:1e3",
    ],
)
async def test_node_of_an_impossible_id_is_null(api, raw):
    import base64

    global_id = base64.b64encode(raw.encode()).decode()
    assert await api("query($id: ID!) { node(id: $id) { id } }", {"id": global_id}) == {"node": None}


@pytest.mark.parametrize("position", ["99999999999999999999", "2147483648", "-1", "1e3", "x"])
async def test_an_impossible_cursor_is_invalid(api, position):
    import base64

    cursor = base64.b64encode(f"cursor:{position}".encode()).decode()
    body = (await api.raw("query($c: String) { tenders(after: $c) { totalCount } }", {"c": cursor})).json()
    assert _codes(body) == ["INVALID"] and body["errors"][0]["extensions"]["field"] == ["after"]


async def test_an_id_too_large_for_a_row_is_not_found_in_a_mutation(api, login_as):
    import base64

    token, _ = await login_as(Role.OFFICER)
    huge = base64.b64encode(b"Tender:99999999999999999999").decode()
    data = await api(
        "mutation($id: ID!) { publishTender(id: $id) { errors { code field } } }", {"id": huge}, token=token
    )
    assert data["publishTender"]["errors"] == [{"code": "NOT_FOUND", "field": ["id"]}]


# ---------------------------------------------------------------- money and dates

PACKAGES = "query($min: Decimal) { servicePackages(first: 1) { totalCount } }"


@pytest.mark.parametrize(
    "amount",
    [
        "NaN",
        "sNaN",
        "Infinity",
        "-Infinity",
        "1e309",
        "1e3",
        "1" * 30,
        "1000.005",
        "",
        " 1",
        "0x10",
        "1,000",
        True,
    ],
)
async def test_money_that_is_not_a_plain_decimal_is_refused(api, amount):
    document = 'mutation($p: Decimal!) { submitBid(input: {tenderId: "x", unitPrice: $p, proposal: "p"}) { errors { code } } }'
    body = (await api.raw(document, {"p": amount})).json()
    assert _codes(body) == ["BAD_USER_INPUT"], body
    assert "Decimal" in body["errors"][0]["message"]


async def test_money_is_answered_in_canonical_form(api, login_as):
    from tests.market.test_catalogue import CREATE, _input

    token, _ = await login_as(Role.OFFICER)
    amounts = [("1000", "1000.00"), ("60.5", "60.50"), (80, "80.00"), (99.9, "99.90")]
    for index, (given, shown) in enumerate(amounts):
        payload = (
            await api(
                CREATE,
                {"i": _input(code=f"P{index}", minUnitPrice=given, maxUnitPrice="2000.00")},
                token=token,
            )
        )["createServicePackage"]
        assert payload["errors"] == [] and payload["servicePackage"]["minUnitPrice"] == shown


async def test_a_json_number_too_large_for_money_is_refused(api):
    response = await api.client.post(
        "/graphql",
        content=b'{"query": "mutation($p: Decimal!) { submitBid(input: {tenderId: \\"x\\", unitPrice: $p, '
        b'proposal: \\"p\\"}) { errors { code } } }", "variables": {"p": 1e+308}}',
        headers={"content-type": "application/json"},
    )
    assert _codes(response.json()) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("Date", ""),
        ("Date", "2026-02-30"),
        ("Date", "0001-01-01"),
        ("Date", "20260101"),
        ("DateTime", "2026-03-01T09:00:00"),
        ("DateTime", ""),
        ("DateTime", "0001-01-01T00:00:00+14:00"),
        ("DateTime", "9999-12-31T23:59:59-12:00"),
    ],
)
async def test_dates_and_times_out_of_shape_get_a_clear_error_as_variables_and_as_literals(api, kind, value):
    argument = "startDate" if kind == "Date" else "bidDeadline"
    document = f'mutation($d: {kind}!) {{ updateTender(id: "x", input: {{{argument}: $d}}) {{ errors {{ code }} }} }}'
    as_variable = (await api.raw(document, {"d": value})).json()
    assert _codes(as_variable) == ["BAD_USER_INPUT"]
    literal = (
        await api.raw(
            f'mutation {{ updateTender(id: "x", input: {{{argument}: {json.dumps(value)}}}) {{ errors {{ code }} }} }}'
        )
    ).json()
    assert _codes(literal) == ["GRAPHQL_VALIDATION_FAILED"], literal
    assert kind in literal["errors"][0]["message"]


async def test_a_datetime_literal_without_offset_says_so(api):
    body = (
        await api.raw(
            'mutation { updateTender(id: "x", input: {bidDeadline: "2026-03-01T09:00:00"}) { errors { code } } }'
        )
    ).json()
    assert "needs a UTC offset" in body["errors"][0]["message"]


# ---------------------------------------------------------------- text and lists


async def test_a_title_over_its_limit_is_refused_in_the_payload_on_both_databases(api, login_as, session):
    token, _ = await login_as(Role.OFFICER)
    document = "mutation($id: ID!, $i: UpdateTenderInput!) { updateTender(id: $id, input: $i) { errors { field code message } } }"
    data = await api(document, {"id": encode_id("Tender", 1), "i": {"title": "标" * 301}}, token=token)
    assert data["updateTender"]["errors"] == [
        {"field": ["input", "title"], "code": "INVALID", "message": "at most 300 characters"}
    ]


async def test_lists_over_their_limit_are_refused_before_anything_is_written(api, session):
    from sqlalchemy import func, select

    from market import models as m

    region = await factories.region(session)
    await session.commit()
    before = await session.scalar(select(func.count()).select_from(m.Provider))
    data = await api(
        REGISTER.replace("errors { code }", "errors { code field message }"),
        {
            "i": _registration(
                regionIds=[encode_id("Region", region.id)] * 51, creditCode="91310101MA1FPX1234"
            )
        },
    )
    assert data["registerProvider"]["errors"] == [
        {"code": "INVALID", "field": ["input", "regionIds"], "message": "at most 50 items"}
    ]
    assert await session.scalar(select(func.count()).select_from(m.Provider)) == before


async def test_text_arguments_of_queries_have_a_limit_too(api):
    body = (
        await api.raw("query($s: String) { providers(search: $s) { totalCount } }", {"s": "x" * 201})
    ).json()
    assert _codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["field"] == ["search"]


def test_every_text_and_list_input_states_its_limit():
    """Declared limits appear in the schema's descriptions; the rest fall under the stated defaults."""
    sdl = app.export_schema()
    assert "At most 300 characters." in sdl and "At most 50 items." in sdl


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"s": "a\x00b"}, "NUL"),
        ({"s": "a\ud800b"}, "surrogate"),
    ],
)
async def test_unstorable_text_in_variables_is_a_400(api, variables, message):
    body = json.dumps(
        {"query": "query($s: String) { providers(search: $s) { totalCount } }", "variables": variables}
    )
    response = await api.client.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and _codes(response.json()) == ["BAD_REQUEST"]
    assert message in response.json()["errors"][0]["message"]


async def test_a_nul_written_as_an_escape_in_the_document_is_refused(api):
    body = (await api.raw('{ providers(search: "a\\u0000b") { totalCount } }')).json()
    assert _codes(body) == ["GRAPHQL_VALIDATION_FAILED"] and "NUL" in body["errors"][0]["message"]


async def test_storage_refuses_over_long_text_alike_on_both_databases(session):
    """The last line of defence, for a path that skips the API's limits."""
    from core.errors import DomainError

    region = await factories.region(session)
    region.name = "区" * 101
    with pytest.raises(DomainError) as refused:
        await session.flush()
    assert refused.value.problems[0].field == ("name",)
    await session.rollback()


# ---------------------------------------------------------------- the request itself


@pytest.mark.parametrize(
    "raw",
    [
        b"null",
        b"5",
        b'"x"',
        b"true",
        b"[]",
        b"\xff\xfe{}",
        b"{",
        b'{"query": "{ now }", "variables": {"a": NaN}}',
    ],
)
async def test_a_body_that_is_not_one_graphql_request_is_a_400(api, raw):
    response = await api.client.post("/graphql", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert _codes(response.json()) == ["BAD_REQUEST"]


async def test_variables_nested_too_deep_are_a_400(api):
    body = '{"query": "{ now }", "variables": {"v": ' + '{"a": ' * 1000 + '"x"' + "}" * 1000 + "}}"
    response = await api.client.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "nested" in response.json()["errors"][0]["message"]


async def test_a_body_over_the_limit_is_a_413_whether_or_not_it_says_its_length(api):
    comment = b"#" + b"x" * (limits.MAX_BODY_BYTES + 10) + b"\n{ now }"
    body = json.dumps({"query": comment.decode()}).encode()
    declared = await api.client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and _codes(declared.json()) == ["PAYLOAD_TOO_LARGE"]

    async def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    streamed = await api.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_a_registration_with_a_million_regions_is_refused_and_registers_nothing(api, session):
    from sqlalchemy import func, select

    from market import models as m

    before = await session.scalar(select(func.count()).select_from(m.Provider))
    response = await api.raw(REGISTER, {"i": _registration(regionIds=["UmVnaW9uOjE="] * 1_000_000)})
    assert response.status_code == 413
    assert await session.scalar(select(func.count()).select_from(m.Provider)) == before


# ---------------------------------------------------------------- hostile documents


def _fragment_bomb(levels: int = 20) -> str:
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ a: now b: now }}")
    return "query Bomb { ...F0 }\n" + "\n".join(fragments)


async def test_a_fragment_bomb_is_refused_measuring_each_fragment_once(api, monkeypatch):
    measured: list[str] = []
    original = limits._Measure.fragment

    def counting(self, name):
        if name not in self.measured:
            measured.append(name)
        return original(self, name)

    monkeypatch.setattr(limits._Measure, "fragment", counting)
    body = (await api.raw(_fragment_bomb())).json()
    assert _codes(body)[0] == "GRAPHQL_VALIDATION_FAILED"
    assert "aliases" in json.dumps(body) and "fields" in json.dumps(body)
    assert sorted(measured) == sorted(f"F{i}" for i in range(21)), "each fragment measured once"


def test_the_shape_of_an_operation_counts_fragments_where_they_are_spread():
    from graphql import parse

    schema = app.build_schema()._schema
    document = parse(_fragment_bomb(3))
    shape = limits.operation_shape(schema, document, document.definitions[0])
    assert (shape.aliases, shape.fields) == (2 * 2**3, 2 * 2**3)
    pages = parse("{ tenders(first: 50) { edges { node { title bids { rank } } } } }")
    shape = limits.operation_shape(schema, pages, pages.definitions[0])
    assert shape.fields == 1 + 50 * (1 + 1 + 1 + 1 + 1) and shape.depth == 3


async def test_graphiql_introspection_query_fits_the_limits(api):
    from graphql import get_introspection_query

    body = (await api.raw(get_introspection_query(descriptions=True, input_value_deprecation=True))).json()
    assert "errors" not in body


async def test_nested_introspection_is_refused(api):
    nested = "fields { type { " * 6 + "name" + " } }" * 6
    body = (await api.raw("{ __schema { types { " + nested + " } } }")).json()
    assert set(_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "fields of introspection" in body["errors"][0]["message"]


# ---------------------------------------------------------------- after an internal error


async def test_a_session_that_cannot_close_is_discarded_and_the_next_request_works(api, monkeypatch, caplog):
    from sqlalchemy.ext.asyncio import AsyncSession

    original = AsyncSession.close
    invalidated: list[bool] = []

    async def failing_close(self):
        raise RuntimeError("the connection is closed")

    async def invalidate(self):
        invalidated.append(True)

    monkeypatch.setattr(AsyncSession, "close", failing_close)
    monkeypatch.setattr(AsyncSession, "invalidate", invalidate)
    with caplog.at_level(logging.WARNING, logger="market.api"):
        response = await api.raw("{ regions { code } }")
    assert response.status_code == 200 and response.json()["data"] == {"regions": []}
    assert invalidated and "did not close cleanly" in caplog.text
    monkeypatch.setattr(AsyncSession, "close", original)
    assert (await api.raw("{ regions { code } }")).json() == {"data": {"regions": []}}


async def test_a_field_cancelled_in_the_middle_of_a_query_leaves_the_session_sound(scratch_engine, caplog):
    """graphql-core cancels the siblings of a failing field: their queries finish first, then the
    session closes normally and the connection serves the next request (on SQLite a query cut off
    halfway kept the write lock: "database is locked")."""
    import asyncio

    from sqlalchemy import text

    from core.api import Context
    from core.db import create_sessionmaker

    sessionmaker = create_sessionmaker(scratch_engine)
    slow = (
        "SELECT pg_sleep(0.3)"
        if scratch_engine.dialect.name == "postgresql"
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) "
        "SELECT count(*) FROM c"
    )
    with caplog.at_level(logging.WARNING, logger="market.api"):
        for _ in range(3):
            ctx = Context(sessionmaker=sessionmaker, settings=get_settings())

            async def field(ctx=ctx):
                async with ctx.db() as session:
                    await session.execute(text(slow))

            task = asyncio.ensure_future(field())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await ctx.close()
            async with sessionmaker() as session:
                await session.execute(text("SELECT 1"))
                await session.commit()
    assert "did not close cleanly" not in caplog.text


async def test_a_long_login_email_is_invalid_alike_on_both_databases(api):
    """SQLite would store what PostgreSQL refuses; the limit answers first on both."""
    data = await api(
        "mutation($i: LoginInput!) { login(input: $i) { token errors { field code message } } }",
        {"i": {"email": "a" * 100_000 + "@demo.gov.cn", "password": SECRET}},
    )
    assert data["login"] == {
        "token": None,
        "errors": [{"field": ["input", "email"], "code": "INVALID", "message": "at most 254 characters"}],
    }
