"""Composition root: settings -> database -> schema -> Starlette app, and the `market` command."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import sys
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
import market.mutations
import market.queries
import scoring.mutations
import scoring.queries
from core import clock, graphiql, scalars
from core.db import create_engine, create_sessionmaker
from core.error_policy import CachedParsing, ErrorPolicy, log_unexpected
from core.errors import DomainError
from core.http import BodySizeLimit, MarketGraphQL
from core.limits import MAX_TOKENS, QueryShapeRule, TextLiteralsRule, limit_inputs
from core.scalars import datetime_scalar
from core.settings import Settings, base_url_for, get_settings
from market import service as market_service

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("market")

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
    query = merge_types("Query", (market.queries.Query, contracts.queries.Query, scoring.queries.Query))
    mutation = merge_types(
        "Mutation",
        (market.mutations.Mutation, market.mutations.TenderMutation, contracts.mutations.Mutation),
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
            *market.mutations.CONTRACT_TYPES,
            *contracts.mutations.CONTRACT_TYPES,
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
    """`app.schema`: the schema with default settings, built on first use."""
    if name == "schema":
        return build_schema(Settings())
    raise AttributeError(name)


def export_schema() -> str:
    """The SDL checked in as graphql/schema.graphql (built with default settings)."""
    return build_schema(Settings()).as_str() + "\n"


# ---------------------------------------------------------------- HTTP


def create_app(
    settings: Settings | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> Starlette:
    settings = settings or get_settings()
    engine = None
    if sessionmaker is None:
        engine = create_engine(settings.database_url, pool_pre_ping=True)
        sessionmaker = create_sessionmaker(engine)
    graphql_app = MarketGraphQL(
        build_schema(settings),
        sessionmaker=sessionmaker,
        settings=settings,
        load_actor=market_service.load_actor,
    )
    contracts.pages.redact_access_log()

    async def health(_request: Request) -> JSONResponse:
        async with sessionmaker() as session:
            now = await clock.now(session)
        return JSONResponse({"status": "ok", "now": now.astimezone(settings.zone).isoformat()})

    async def home(_request: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

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
            *([graphiql.route()] if settings.introspection_enabled else []),
        ],
        middleware=[Middleware(BodySizeLimit)],
        lifespan=lifespan,
    )


# ---------------------------------------------------------------- command line

cli = typer.Typer(help="Marketplace for government purchase of public services.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
user_cli = typer.Typer(help="Accounts.", no_args_is_help=True)
demo_cli = typer.Typer(help="Demo data.", no_args_is_help=True)
journal_cli = typer.Typer(help="The hash-chained journal.", no_args_is_help=True)
schema_cli = typer.Typer(help="The published GraphQL schema.", no_args_is_help=True)
graphiql_cli = typer.Typer(help="GraphiQL's files, served by the app.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(user_cli, name="user")
cli.add_typer(demo_cli, name="demo")
cli.add_typer(journal_cli, name="journal")
cli.add_typer(schema_cli, name="schema")
cli.add_typer(graphiql_cli, name="graphiql")
notify_cli = typer.Typer(help="The notification outbox.", no_args_is_help=True)
cli.add_typer(notify_cli, name="notify")


def alembic_config(url: str | None = None):
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    if url:
        config.attributes["url"] = url
    return config


@db_cli.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)
    typer.echo(f"database at {revision}: {get_settings().database_url}")


async def _with_session(work):
    settings = get_settings()
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _run(work):
    """Run `work(session)`; a user error ends the command with its code and message, exit status 1."""
    try:
        return asyncio.run(_with_session(work))
    except DomainError as error:
        for problem in error.problems:
            typer.echo(f"error: {problem.code.value}: {problem.message}", err=True)
        raise typer.Exit(1) from None


@user_cli.command("create")
def user_create(
    email: str = typer.Option(...),
    password: str = typer.Option(..., prompt=True, hide_input=True),
    name: str = typer.Option(...),
    role: str = typer.Option(..., help="ADMIN, OFFICER, EVALUATOR, PROVIDER or AUDITOR"),
    department_id: int | None = typer.Option(None),
    provider_id: int | None = typer.Option(None),
    audit_firm_id: int | None = typer.Option(None),
) -> None:
    """Create an account from the command line (the first ADMIN, typically)."""
    from core.auth import Actor, Role

    try:
        role_value = Role(role.upper())
    except ValueError:
        raise typer.BadParameter(f"unknown role {role!r}", param_hint="--role") from None

    async def work(session):
        # The command line acts with the operator's authority, as a system ADMIN.
        operator = Actor(user_id=None, role=Role.ADMIN)
        user = await market_service.create_user(
            session=session,
            actor=operator,
            email=email,
            password=password,
            name=name,
            role=role_value,
            department_id=department_id,
            provider_id=provider_id,
            audit_firm_id=audit_firm_id,
        )
        await session.commit()
        return user

    user = _run(work)
    typer.echo(f"created {user.role.value} {user.email} (id {user.id})")


@demo_cli.command("load")
def demo_load(
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when accounts already exist."),
) -> None:
    """Load the demo marketplace: districts, departments, accounts, providers, packages."""
    from market import demo

    async def work(session):
        if if_empty and not await demo.database_is_empty(session):
            return None
        summary = await demo.load(session)
        await session.commit()
        return summary

    summary = _run(work)
    if summary is None:
        typer.echo("demo data not loaded: the database already has accounts")
    else:
        typer.echo(summary)


@demo_cli.command("ratings")
def demo_ratings(
    count: int = typer.Option(..., "--count", min=1, help="Ratings to generate, with their deliveries."),
    contract_id: int | None = typer.Option(
        None, help="Only this contract; default: every ACTIVE contract whose term has started."
    ),
) -> None:
    """Bulk-generate realistic deliveries and ratings (COPY on PostgreSQL); one journal event per batch."""
    from contracts import bulk

    with typer.progressbar(length=count, label="ratings") as bar:
        result = _run(
            lambda session: bulk.generate_ratings(
                session, contract_id=contract_id, count=count, progress=bar.update
            )
        )
    typer.echo(result.summary())


@journal_cli.command("verify")
def journal_verify() -> None:
    """Check the hash chain; name the first broken link."""
    from sqlalchemy.exc import SQLAlchemyError

    from core import journal

    try:
        result = _run(journal.verify)
    except SQLAlchemyError as error:
        cause = str(getattr(error, "orig", None) or error).splitlines()[0]
        typer.echo(f"error: cannot read the journal: {cause}", err=True)
        raise typer.Exit(1) from None
    if result.ok:
        typer.echo(f"journal intact: {result.checked} events verified")
        return
    typer.echo(f"journal broken: {result.reason}", err=True)
    raise typer.Exit(1)


@notify_cli.command("send")
def notify_send(limit: int = typer.Option(500, help="At most this many messages.")) -> None:
    """Deliver pending messages through NOTIFY_BACKEND (default console: the log); only masks remain."""
    from contracts import service as contracts_service

    logging.basicConfig(level=logging.INFO, format="%(message)s")

    async def work(session):
        result = await contracts_service.send_notifications(
            session=session, backend=contracts_service.backend_from_settings(), limit=limit
        )
        await session.commit()
        return result

    sent, failed = _run(work)
    typer.echo(f"{sent} sent, {failed} failed (left pending for a retry)")


@notify_cli.command("reseal")
def notify_reseal() -> None:
    """Seal pending messages again under the first of OUTBOX_KEYS, so that an older key can be dropped."""
    from contracts import service as contracts_service

    async def work(session):
        result = await contracts_service.reseal_pending(session=session)
        await session.commit()
        return result

    resealed, unreadable = _run(work)
    typer.echo(f"{resealed} resealed, {unreadable} opened by no configured key (left as they are)")
    if unreadable:
        raise typer.Exit(1)


@schema_cli.command("export")
def schema_export(output: Path = typer.Option(ROOT / "graphql" / "schema.graphql")) -> None:
    """Write the SDL of the API to graphql/schema.graphql."""
    output.write_text(export_schema(), encoding="utf-8")
    typer.echo(f"wrote {output}")


@graphiql_cli.command("install")
def graphiql_install(
    force: bool = typer.Option(False, help="Download again even when the files are in place."),
) -> None:
    """Fetch GraphiQL's pinned npm packages (sha512-checked) into static/graphiql/, once."""
    try:
        fetched = graphiql.install(force=force)
    except graphiql.AssetError as error:
        typer.echo(f"error: GraphiQL not installed: {error}", err=True)
        raise typer.Exit(1) from None
    state = "installed" if fetched else "already installed"
    typer.echo(f"GraphiQL {graphiql.GRAPHIQL.version} {state} in {graphiql.ASSETS_DIR}")


@cli.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, help="Worker processes; use PostgreSQL for more than one."),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1",
        help="Proxies trusted for X-Forwarded-For (comma-separated, or *): behind a load balancer, its "
        "address, so that residents' own addresses reach the rating rules.",
    ),
) -> None:
    """Serve the API at http://HOST:PORT/graphql."""
    import uvicorn

    settings = get_settings()
    origin = "PUBLIC_BASE_URL"
    if not settings.public_base_url_set:
        # The residents' links follow the address served, in this process and its workers.
        os.environ["PUBLIC_BASE_URL"] = base_url_for(host, port)
        get_settings.cache_clear()
        settings = get_settings()
        origin = "from --host and --port; set PUBLIC_BASE_URL to change"
    typer.echo(f"residents' links: {settings.public_base_url}/r/… ({origin})", err=True)
    if workers > 1 and settings.database_url.startswith("sqlite"):
        typer.echo("note: several workers on SQLite queue on its single writer lock", err=True)
    uvicorn.run(
        "app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def main() -> None:  # pragma: no cover - `python app.py ...`
    cli()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
