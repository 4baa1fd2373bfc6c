"""Composition root: settings -> database -> schema -> Starlette app, and the `market` command."""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import strawberry
import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

import contracts.mutations
import contracts.pages
import contracts.queries
import core.cli
import disclosure.dashboard.pages
import disclosure.dashboard.queries
import disclosure.ocds.routes
import disclosure.pages
import market.mutations
import market.queries
import market.tender_mutations
import scoring.hooks
import scoring.mutations
import scoring.pages
import scoring.payment_mutations
import scoring.queries
import scoring.webhooks
from core import clock, graphiql, scalars
from core.db import create_engine, create_sessionmaker
from core.error_policy import CachedParsing, ErrorPolicy, log_unexpected
from core.http import BodySizeLimit, MarketGraphQL
from core.limits import MAX_TOKENS, QueryShapeRule, TextLiteralsRule, limit_inputs
from core.scalars import datetime_scalar
from core.settings import Settings, get_settings
from market import accounts, evaluation
from scoring import certification

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("market")

# Downstream parts react to upstream changes in the same transaction (core.hooks): scoring keeps the
# period rollups, rescores after appeals and settles holdbacks. Installed on import, so that the
# server, the command line and everything else built on this module have them.
scoring.hooks.install()

CACHE_SIZE = 256


# ---------------------------------------------------------------- schema


class MarketSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        # Failures of ours are logged with their traceback; user mistakes are only answered.
        log_unexpected(errors, execution_context.operation_name if execution_context else None)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or get_settings()
    return _build_schema(settings.introspection_enabled, settings.timezone)


@lru_cache(maxsize=8)
def _build_schema(introspection: bool, timezone: str) -> strawberry.Schema:
    query = merge_types(
        "Query",
        (
            market.queries.Query,
            contracts.queries.Query,
            scoring.queries.Query,
            scoring.queries.PaymentQuery,
            disclosure.dashboard.queries.Query,
        ),
    )
    mutation = merge_types(
        "Mutation",
        (
            market.mutations.Mutation,
            market.tender_mutations.TenderMutation,
            contracts.mutations.Mutation,
            scoring.mutations.Mutation,
            scoring.mutations.CertificationMutation,
            scoring.payment_mutations.PaymentMutation,
        ),
    )
    limit_inputs(query, mutation)
    extensions = [
        # One rule class for every request: the validation cache is keyed by the rule classes.
        lambda: AddValidationRules([QueryShapeRule, TextLiteralsRule]),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: CachedParsing(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        # After the validation cache, so that it sees the validation's result.
        lambda: ErrorPolicy(suggestions=introspection),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return MarketSchema(
        query=query,
        mutation=mutation,
        types=[
            *scoring.mutations.CONTRACT_TYPES,
        ],
        extensions=extensions,
        config=StrawberryConfig(relay_max_results=100, disable_field_suggestions=not introspection),
        scalar_overrides={
            dt.datetime: datetime_scalar(timezone),
            dt.date: scalars.Date,
            Decimal: scalars.Money,
        },
    )


def __getattr__(name: str):
    """`app.schema`: the schema with default settings, built on first use; `app.cli`: the command."""
    if name == "schema":
        return build_schema(Settings())
    if name == "cli":
        return command_line()
    raise AttributeError(name)


def export_schema() -> str:
    """The SDL checked in as graphql/schema.graphql (built with default settings)."""
    return build_schema(Settings()).as_str() + "\n"


# ---------------------------------------------------------------- hooks


def install_hooks() -> None:
    """Rules of a downstream domain that an upstream one applies without importing it: the track-record
    score of a tender (market) reads the star certificates (scoring) in effect at its deadline."""
    evaluation.install_track_record(certification.stars_at)


# ---------------------------------------------------------------- HTTP


def create_app(
    settings: Settings | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> Starlette:
    settings = settings or get_settings()
    install_hooks()
    engine = None
    if sessionmaker is None:
        engine = create_engine(settings.database_url, pool_pre_ping=True)
        sessionmaker = create_sessionmaker(engine)
    graphql_app = MarketGraphQL(
        build_schema(settings),
        sessionmaker=sessionmaker,
        settings=settings,
        load_actor=accounts.load_actor,
    )
    contracts.pages.redact_access_log()

    async def health(_request: Request) -> JSONResponse:
        async with sessionmaker() as session:
            now = await clock.now(session)
        return JSONResponse({"status": "ok", "now": now.astimezone(settings.zone).isoformat()})

    async def home(_request: Request) -> RedirectResponse:
        return RedirectResponse("/portal")

    @asynccontextmanager
    async def lifespan(_app):
        yield
        if engine is not None:
            await engine.dispose()

    return Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", health),
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            *contracts.pages.routes(sessionmaker),
            *scoring.webhooks.routes(sessionmaker, settings),
            *scoring.pages.routes(sessionmaker),
            *disclosure.ocds.routes.routes(sessionmaker),
            *disclosure.dashboard.pages.routes(sessionmaker),
            *disclosure.pages.routes(sessionmaker),
            *([graphiql.route()] if settings.introspection_enabled else []),
        ],
        middleware=[Middleware(BodySizeLimit)],
        lifespan=lifespan,
    )


# ---------------------------------------------------------------- command line


def command_line() -> typer.Typer:
    """The `market` command: the infrastructure's commands and each part's, the demo's included."""
    import contracts.cli
    import demo.cli
    import disclosure.ocds.cli
    import market.cli
    import scoring.cli

    install_hooks()
    cli = core.cli.root()
    cli.add_typer(market.cli.users, name="user")
    cli.add_typer(contracts.cli.outbox, name="notify")
    cli.add_typer(scoring.cli.commands, name="scoring")
    cli.add_typer(demo.cli.commands, name="demo")
    cli.add_typer(scoring.cli.payments_commands, name="payments")
    cli.add_typer(disclosure.ocds.cli.commands, name="ocds")
    schema = core.cli.group("The published GraphQL schema.")
    cli.add_typer(schema, name="schema")

    @schema.command("export")
    def schema_export(output: Path = typer.Option(ROOT / "graphql" / "schema.graphql")) -> None:
        """Write the SDL of the API to graphql/schema.graphql."""
        output.write_text(export_schema(), encoding="utf-8")
        typer.echo(f"wrote {output}")

    return cli


def main() -> None:
    """The `market` console script."""
    command_line()()


if __name__ == "__main__":  # pragma: no cover
    main()
