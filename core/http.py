"""The HTTP side of the API: the GraphQL endpoint and the limits on what a request may carry.

Whatever a client sends, it gets JSON back with `errors[].extensions.code`: 400 for a body
that is not one GraphQL request, 401 for a bad token, 413 for a body over the limit, and 500
(masked and logged) only for a failure of ours.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http import process_result as strawberry_process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types import ExecutionResult
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from core import clock, graphiql
from core.api import Context
from core.auth import Actor, TokenRefused, read_token
from core.cache import ResponseCache, cache_key, cacheable, data_version
from core.db import sqlite_writes
from core.error_policy import MASKED_MESSAGE, OPERATION_UNCLEAR
from core.limits import MAX_BODY_BYTES, RequestRefused, check_json_value
from core.settings import Settings

log = logging.getLogger("market.api")

ActorLoader = Callable[..., Awaitable[Actor | None]]


def error_response(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def _refuse_constant(name: str) -> Any:
    raise RequestRefused(f"the body is not valid JSON: {name} is not a JSON number")


def decode_json_object(data: str | bytes, *, what: str) -> dict[str, Any]:
    """Strict JSON (UTF-8, no NaN or Infinity), an object, nested within the limit, storable text."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestRefused(f"{what} is not valid UTF-8") from None
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise RequestRefused(f"{what} is not valid JSON: {error.msg} at position {error.pos}") from None
    except RecursionError:
        raise RequestRefused(f"{what} is nested too deeply") from None
    if not isinstance(value, dict):
        raise RequestRefused(f'{what} must be a JSON object such as {{"query": "{{ now }}"}}')
    check_json_value(value, where=what)
    return value


@dataclass
class _Cached(ExecutionResult):
    """An answer from the cache, already encoded."""

    body: bytes = b""


class MarketGraphQL(GraphQL):
    """strawberry's ASGI view with our request context: one session, the caller, per-request loaders."""

    def __init__(self, schema, *, sessionmaker, settings: Settings, load_actor: ActorLoader):
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.introspection_enabled else None,
            subscription_protocols=(),
        )
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.load_actor = load_actor
        self.cache = ResponseCache() if settings.response_cache else None

    async def render_graphql_ide(self, request):
        # Ours, over files this server serves: strawberry's page loads them from unpkg.com.
        return graphiql.page()

    def encode_json(self, data) -> bytes:
        # An answer encoded already (by process_result, or kept in the cache) goes out as it is.
        return data if isinstance(data, bytes) else orjson.dumps(data)

    async def execute_operation(
        self, request, request_adapter, request_data, context, root_value, sub_response
    ):
        """A query answered before with the same data version, for the same caller, comes from the cache."""
        if self._may_cache(request_data):
            async with context.db() as session:
                version = await data_version(session)
            actor = context.actor
            context.cache_key = cache_key(
                version,
                actor.user_id if actor else None,
                request_data.query,
                request_data.operation_name,
                request_data.variables or {},
            )
            if (body := self.cache.get(context.cache_key)) is not None:
                return _Cached(data=None, errors=None, body=body)
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    def _may_cache(self, request_data) -> bool:
        return (
            self.cache is not None
            and isinstance(request_data, GraphQLRequestData)
            and bool(request_data.query)
            and cacheable(self.schema._schema, request_data.query, request_data.operation_name)
        )

    async def process_result(self, request, result) -> bytes:
        ctx = request.scope.get("market.context")
        if isinstance(result, _Cached):
            body = result.body
        else:
            body = orjson.dumps(strawberry_process_result(result))
            if self.cache is not None and ctx is not None and ctx.cache_key and not result.errors:
                self.cache.put(ctx.cache_key, body)
        if ctx is not None and ctx.cache_key:
            # Revalidation by ETag: the same caller, document and data version answer the same bytes.
            ctx.response.headers["ETag"] = f'"{ctx.cache_key[:32]}"'
            ctx.response.headers["Cache-Control"] = "private, no-cache" if ctx.actor else "public, no-cache"
            if request.headers.get("if-none-match") == ctx.response.headers["ETag"]:
                ctx.response.status_code = 304
                return b""
        return body

    def decode_json(self, data: str | bytes) -> object:
        return decode_json_object(data, what="the request body")

    def parse_query_params(self, params) -> dict[str, Any]:
        values = dict(params)
        check_json_value(values, where="the query parameters")
        for key in ("variables", "extensions"):
            if values.get(key):
                values[key] = decode_json_object(values[key], what=f"the `{key}` parameter")
        return values

    async def parse_http_body(self, request):
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            raise RequestRefused("send one operation per request (batching is off)")
        if data.operation_name is not None and not isinstance(data.operation_name, str):
            raise RequestRefused("`operationName` must be a string or null")
        return data

    async def get_context(self, request, response) -> Context:
        ctx = Context(
            sessionmaker=self.sessionmaker, settings=self.settings, request=request, response=response
        )
        request.scope["market.context"] = ctx
        header = request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise TokenRefused("use `Authorization: Bearer <token>`")
            async with ctx.db() as session:
                user_id = read_token(token, secret_key=self.settings.secret_key, now=await clock.now(session))
                ctx.actor = await self.load_actor(session=session, user_id=user_id)
                await session.rollback()
            if ctx.actor is None:
                raise TokenRefused("the account of this token no longer exists or is deactivated")
        return ctx

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        try:
            # Queries only read; `mutate` declares its writes (see core.db.sqlite_writes).
            with sqlite_writes(False):
                response = await self.run(Request(scope=scope, receive=receive))
        except TokenRefused as refused:
            response = error_response(401, str(refused), "UNAUTHENTICATED", {"WWW-Authenticate": "Bearer"})
        except RequestRefused as refused:
            response = error_response(refused.status, str(refused), refused.code)
        except HTTPException as refused:
            response = error_response(refused.status_code, refused.reason, _http_code(refused))
        except Exception:
            log.exception("unexpected error answering a GraphQL request")
            response = error_response(500, MASKED_MESSAGE, "INTERNAL_SERVER_ERROR")
        finally:
            ctx = scope.get("market.context")
            if ctx is not None:
                await ctx.close()
        await response(scope, receive, send)


def _http_code(refused: HTTPException) -> str:
    if isinstance(refused.__cause__, CannotGetOperationTypeError):
        return OPERATION_UNCLEAR  # `operationName` names no operation of the document
    return "METHOD_NOT_ALLOWED" if refused.status_code == 405 else "BAD_REQUEST"


class BodySizeLimit:
    """Refuses request bodies over `max_bytes` with 413, whether or not they declare their length."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> JSONResponse:
        # Closing the connection stops the rest of the body from being received at all.
        return error_response(
            413,
            f"the request body is larger than {self.max_bytes} bytes",
            "PAYLOAD_TOO_LARGE",
            {"Connection": "close"},
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._too_large()(scope, receive, send)
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if not started:
                await self._too_large()(scope, receive, send)


class _BodyTooLarge(RequestRefused):
    def __init__(self):
        super().__init__("the request body is too large", status=413, code="PAYLOAD_TOO_LARGE")


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol with TCP_NODELAY on each connection.

    With several workers uvicorn binds the listening socket itself with `proto` 0, and asyncio
    then leaves Nagle's algorithm on for accepted sockets (Kludex/uvicorn#3149): every keep-alive
    response would wait about 40 ms for the client's delayed ACK. `market serve` uses this one.
    """

    def connection_made(self, transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
