"""GraphQL plumbing shared by the domains: request context, errors, IDs, connections, scalars.

No business rules here: resolvers call a domain's service and map the result.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

import strawberry
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from graphql import GraphQLError
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.util import identity_key
from strawberry import relay
from strawberry.dataloader import DataLoader
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.base import StrawberryObjectDefinition

from core.auth import Actor, Role, require
from core.db import sqlite_writes, unit_of_work
from core.errors import DomainError, ErrorCode, Problem
from core.settings import Settings, get_settings

log = logging.getLogger("market.api")

MAX_PAGE = 100
DEFAULT_PAGE = 20
MAX_PK = 2**31 - 1
"""Primary keys are 32-bit integers in PostgreSQL; a larger number in an ID names nothing."""
MAX_POSITION = 2**31 - 1

ErrorCodeType = strawberry.enum(
    ErrorCode, name="ErrorCode", description="Stable codes of user errors; clients branch on these."
)


@strawberry.type(description="A user mistake: bad input, wrong state or missing permission.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path of the input field at fault, e.g. ["input", "unitPrice"]; '
        "null when not tied to a field."
    )
    code: ErrorCodeType
    message: str = strawberry.field(description="Human-readable explanation, in English.")

    @classmethod
    def from_problem(cls, problem: Problem) -> UserError:
        return cls(
            field=list(problem.field) if problem.field else None,
            code=problem.code,
            message=problem.message,
        )


# ---------------------------------------------------------------- request context


@dataclass
class Context:
    """Per-request state. One session per request, used by one coroutine at a time.

    strawberry resolves sibling fields concurrently, and an AsyncSession allows
    one operation at a time, so every use of the session goes through `db()`,
    which takes the request's lock. A resolver that awaits a DataLoader must not
    hold the lock (the loader's batch takes it).
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    actor: Actor | None = None
    request: Any = None
    response: Any = None
    cache_key: str | None = None
    """Where the answer is kept (core.cache), when the operation may be answered from the cache."""
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _loaders: dict[Any, DataLoader] = field(default_factory=dict)

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self.sessionmaker()
        return self._session

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        async with self._lock:
            yield self.session

    def loader(self, loader_class: Callable[[Context], DataLoader]) -> DataLoader:
        """The request's instance of a DataLoader class (never shared between requests)."""
        if loader_class not in self._loaders:
            self._loaders[loader_class] = loader_class(self)
        return self._loaders[loader_class]

    async def close(self) -> None:
        """End the request's session, whatever state an error left it in."""
        if self._session is None:
            return
        async with self._lock:  # after the last operation of any field still running
            session, self._session = self._session, None
        try:
            await session.close()
        except Exception:
            # A connection broken mid-statement cannot roll back: drop it from the pool instead.
            log.warning("a request's database session did not close cleanly; its connection is discarded",
                        exc_info=True)  # fmt: skip
            with suppress(Exception):
                await session.invalidate()


def context_of(info: Info) -> Context:
    return info.context


# ---------------------------------------------------------------- mutations


class RoleCheck(FieldExtension):
    """Refuses a caller whose role the mutation does not admit, before anything else runs.

    The refusal is the mutation's payload with UNAUTHENTICATED (no token) or PERMISSION_DENIED,
    so an anonymous caller learns nothing of the objects the mutation names.
    """

    def __init__(self, roles: Sequence[Role]):
        self.roles = tuple(roles)

    def apply(self, field) -> None:
        self.payload = field.type

    def _refusal(self, actor: Actor | None):
        try:
            require(actor, *self.roles)
        except DomainError as error:
            return self.payload(errors=[UserError.from_problem(p) for p in error.problems])
        return None

    def resolve(self, next_, source, info: Info, **kwargs):
        return self._refusal(context_of(info).actor) or next_(source, info, **kwargs)

    async def resolve_async(self, next_, source, info: Info, **kwargs):
        if refusal := self._refusal(context_of(info).actor):
            return refusal
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result


def mutation(description: str, *, roles: Sequence[Role] = (), anyone: bool = False) -> Any:
    """Register a mutation with who may call it: checked before its resolver, stated in its description.

    `roles` are the only place a mutation's roles are named; services check what depends on the
    objects (the officer of this tender's department, the provider of this bid).
    """
    if anyone == bool(roles):
        raise TypeError("name the roles that may call the mutation, or say anyone=True")
    who = "Anyone may call it." if anyone else f"Roles: {', '.join(role.value for role in roles)}."
    extensions = [] if anyone else [RoleCheck(roles)]
    return strawberry.mutation(description=f"{description.rstrip()} {who}", extensions=extensions)


T = TypeVar("T")
P = TypeVar("P")


async def mutate(
    info: Info,
    payload: Callable[..., P],
    action: Callable[[AsyncSession, Actor | None], Awaitable[T]],
    present: Callable[[T], dict[str, Any]],
) -> P:
    """Run one mutation in one transaction: commit on success, nothing written on a user error."""
    ctx = context_of(info)
    with sqlite_writes(True):
        async with ctx.db() as session:
            try:
                async with unit_of_work(session):
                    result = await action(session, ctx.actor)
            except DomainError as error:
                return payload(errors=[UserError.from_problem(p) for p in error.problems])
    return payload(errors=[], **present(result))


@contextmanager
def query_errors() -> Iterator[None]:
    """Bad arguments of a query surface as a GraphQL error with the code in `extensions`."""
    try:
        yield
    except DomainError as error:
        problem = error.problems[0]
        raise GraphQLError(
            problem.message,
            extensions={"code": problem.code.value, "field": list(problem.field or ())},
        ) from error


# ---------------------------------------------------------------- global IDs

# A global ID is base64 of "Type:key". For most types the key is the row's primary key. Row
# keys count the rows made before, so a sealed kind (SPEC §4.2: before the opening nobody may
# learn even how many bids exist) keys its IDs instead: the primary key, padded with zeros to
# one AES block, encrypted under a key derived from SECRET_KEY for that type. The result looks
# random, has one length, and cannot be made without the key: any other value of the type reads
# as a row that does not exist.

NO_ROW = 0
"""The primary key an unknown ID of a sealed type decodes to: no row has it."""

_SEALED_TYPES: set[str] = set()
_BLOCK = 16
_PK_BYTES = 8


class SealedNode:
    """Mix in before `relay.Node` to key a type's global IDs (`class Bid(SealedNode, relay.Node)`).

    The class name must be the GraphQL type name. `encode_id` and `decode_id` key the type's IDs,
    and `node(id:)` hands its `resolve_nodes` the primary key (`NO_ROW` for a forged ID).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _SEALED_TYPES.add(cls.__name__)

    @classmethod
    def resolve_id(cls, root: Any, *, info: Info) -> str:
        return _seal(cls.__name__, getattr(root, cls.resolve_id_attr()))


def is_sealed(type_name: str) -> bool:
    return type_name in _SEALED_TYPES


@lru_cache(maxsize=64)
def _cipher(secret_key: str, type_name: str) -> Cipher:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"global-id:{type_name}".encode()
    ).derive(secret_key.encode())
    # ECB on one block is AES used as a keyed permutation of 128-bit values, no chaining needed.
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305


def _seal(type_name: str, pk: int) -> str:
    """The key of a sealed row's global ID: 22 URL-safe base64 characters whatever the row."""
    block = int(pk).to_bytes(_PK_BYTES, "big") + bytes(_BLOCK - _PK_BYTES)
    encryptor = _cipher(get_settings().secret_key, type_name).encryptor()
    sealed = encryptor.update(block) + encryptor.finalize()
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def _unseal(type_name: str, raw: str) -> int:
    """The primary key inside `_seal`'s output; NO_ROW for anything `_seal` did not make."""
    try:
        sealed = base64.b64decode(raw + "==", altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return NO_ROW
    if len(sealed) != _BLOCK or base64.urlsafe_b64encode(sealed).rstrip(b"=").decode() != raw:
        return NO_ROW
    decryptor = _cipher(get_settings().secret_key, type_name).decryptor()
    block = decryptor.update(sealed) + decryptor.finalize()
    if any(block[_PK_BYTES:]):
        return NO_ROW
    return int.from_bytes(block[:_PK_BYTES], "big") or NO_ROW


def encode_id(type_name: str, pk: int | str) -> str:
    if is_sealed(type_name):
        return relay.to_base64(type_name, _seal(type_name, int(pk)))
    return relay.to_base64(type_name, pk)


def decode_id(value: str, type_name: str | Sequence[str], *, field: Sequence[str]) -> int:
    """The primary key inside a global ID of the expected type; a clear error otherwise.

    An ID of a sealed type that its key did not make decodes to `NO_ROW`, so that the service
    answers as it does for any row that is not there.
    """
    names = (type_name,) if isinstance(type_name, str) else tuple(type_name)
    try:
        found_type, raw = relay.from_base64(str(value))
    except (ValueError, TypeError, binascii.Error, relay.GlobalIDValueError) as error:
        raise DomainError(ErrorCode.INVALID, "not a valid ID", field=field) from error
    if found_type not in names:
        raise DomainError(ErrorCode.NOT_FOUND, f"no {names[0]} with this ID", field=field)
    if is_sealed(found_type):
        return _unseal(found_type, raw)
    if not (raw.isascii() and raw.isdigit()):
        raise DomainError(ErrorCode.INVALID, "not a valid ID", field=field)
    pk = parse_pk(raw)
    if pk is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"no {names[0]} with this ID", field=field)
    return pk


def parse_pk(raw: object) -> int | None:
    """The primary key written in an ID, or None when it cannot be one (not digits, out of range)."""
    text = str(raw)
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        return None
    pk = int(text)
    return pk if 0 < pk <= MAX_PK else None


async def resolve_node(info: Info, global_id: str) -> relay.Node | None:
    """`node(id:)`: the type named in the ID loads it, and hides it when the caller may not see it."""
    try:
        type_name, raw = relay.from_base64(str(global_id))
    except (ValueError, TypeError, binascii.Error, relay.GlobalIDValueError):
        return None
    definition = info.schema.get_type_by_name(type_name)
    origin = getattr(definition, "origin", None)
    # Only object types that are nodes: not the Node interface itself, nor other types.
    if not (
        isinstance(definition, StrawberryObjectDefinition)
        and not definition.is_interface
        and isinstance(origin, type)
        and issubclass(origin, relay.Node)
    ):
        return None
    pk = _unseal(type_name, raw) if issubclass(origin, SealedNode) else parse_pk(raw)
    if not pk:
        return None
    nodes = await origin.resolve_nodes(info=info, node_ids=[str(pk)], required=False)
    return next(iter(nodes), None)


def decode_ids(values: Sequence[str], type_name: str, *, field: Sequence[str]) -> list[int]:
    return [decode_id(v, type_name, field=[*field, str(i)]) for i, v in enumerate(values)]


# ---------------------------------------------------------------- connections

NodeT = TypeVar("NodeT")


@strawberry.type(description="One item of a page, with the cursor that points at it.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Pass as `after` to continue after this item.")
    node: NodeT


@strawberry.type(description="A page of a list (Relay connection). `first` is capped at 100.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: relay.PageInfo
    total_count: int = strawberry.field(description="Items matching the filters, over all pages.")


def _cursor(position: int) -> str:
    return base64.b64encode(f"cursor:{position}".encode()).decode()


def _position(cursor: str) -> int:
    try:
        prefix, raw = base64.b64decode(cursor.encode(), validate=True).decode().split(":", 1)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise DomainError(ErrorCode.INVALID, "not a valid cursor", field=["after"]) from error
    if prefix != "cursor" or not (
        raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_POSITION
    ):
        raise DomainError(ErrorCode.INVALID, "not a valid cursor", field=["after"])
    return int(raw)


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"`first` must be between 0 and {MAX_PAGE}", field=["first"])
    return first


@dataclass
class Page(Generic[T]):
    rows: list[T]
    offsets: list[int]
    has_next: bool
    has_previous: bool
    total: int

    @classmethod
    def empty(cls) -> Page:
        return cls(rows=[], offsets=[], has_next=False, has_previous=False, total=0)


def page_start(after: str | None) -> int:
    """The position of the first item after a cursor."""
    return _position(after) + 1 if after else 0


async def paginate(session: AsyncSession, statement: Select, *, first: int | None, after: str | None) -> Page:
    """One page of an ordered SELECT; cursors are positions in that order."""
    size = page_size(first)
    start = page_start(after)
    total = await session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = (await session.scalars(statement.offset(start).limit(size + 1))).all() if size else []
    return Page(
        rows=list(rows[:size]),
        offsets=list(range(start, start + min(size, len(rows)))),
        has_next=len(rows) > size or (size == 0 and start < (total or 0)),
        has_previous=start > 0,
        total=total or 0,
    )


def connection(page: Page, present: Callable[[Any], NodeT]) -> Connection[NodeT]:
    edges = [Edge(cursor=_cursor(o), node=present(r)) for o, r in zip(page.offsets, page.rows, strict=True)]
    return Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
    )


# ---------------------------------------------------------------- loaders


class ContextLoader(DataLoader):
    """A DataLoader created per request; its batch runs under the request's session lock."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        super().__init__(load_fn=self._load)

    async def _load(self, keys: list[Any]) -> list[Any]:
        async with self.ctx.db() as session:
            return await self.load_batch(session, keys)

    async def load_batch(self, session: AsyncSession, keys: list[Any]) -> list[Any]:
        raise NotImplementedError


async def rows_by_id(session: AsyncSession, model: type, keys: Sequence[Any]) -> dict[Any, Any]:
    """Rows by primary key, taking those the request already loaded from the session's identity map."""
    found: dict[Any, Any] = {}
    for key in keys:
        row = session.identity_map.get(identity_key(model, key))
        if row is not None:
            found[key] = row
    missing = [key for key in dict.fromkeys(keys) if key not in found]
    if missing:
        for row in (await session.scalars(select(model).where(model.id.in_(missing)))).all():
            found[row.id] = row
    return found


class RowByIdLoader(ContextLoader):
    """Rows of `model` by primary key; subclasses name the model (`RegionByIdLoader`, ...)."""

    model: type

    async def load_batch(self, session: AsyncSession, keys: list[Any]) -> list[Any]:
        rows = await rows_by_id(session, self.model, keys)
        return [rows.get(key) for key in keys]


def by_key(rows: Sequence[Any], keys: Sequence[Any], key: Callable[[Any], Any]) -> list[Any]:
    index = {key(row): row for row in rows}
    return [index.get(k) for k in keys]


def group_by_key(rows: Sequence[Any], keys: Sequence[Any], key: Callable[[Any], Any]) -> list[list[Any]]:
    groups: dict[Any, list[Any]] = {k: [] for k in keys}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return [groups[k] for k in keys]


# ---------------------------------------------------------------- answering without waiting
#
# graphql-core runs every awaitable field of a list as a task of its own: a page of 50 tenders,
# each with a package, a region and bids, makes hundreds of tasks per request. A list's resolver
# loads, in batches, every relation its query selects (`prefetch`); the relations' resolvers then
# answer at once from the request's loaders (`now_or_later`), and only await what nobody loaded.


@dataclass(frozen=True)
class Relation:
    """How a field reaches related rows: which loader, by which key of the parent row.

    `nested` names the plan of the related type, for relations of relations (a tender's bids'
    providers); it is a callable so that plans may refer to each other.
    """

    loader: type[DataLoader]
    key: Callable[[Any], Any]
    nested: Callable[[], dict[str, Relation]] | None = None
    children: Callable[[Any], Sequence[Any]] | None = None
    """The rows of a loaded value that the nested plan applies to (default: the value, or its items)."""


def _selected(selections: Sequence[Any]) -> dict[str, list[Any]]:
    """Field name -> its sub-selections, fragments merged in."""
    fields: dict[str, list[Any]] = {}
    for selection in selections:
        name = getattr(selection, "name", None)
        if hasattr(selection, "arguments"):  # a field
            fields.setdefault(name, []).extend(selection.selections)
        else:  # a fragment
            for field_name, sub in _selected(selection.selections).items():
                fields.setdefault(field_name, []).extend(sub)
    return fields


def node_selections(info: Info) -> list[Any]:
    """What the query selects on the nodes of the connection this resolver returns."""
    connection_fields = _selected(info.selected_fields[0].selections) if info.selected_fields else {}
    edges = _selected(connection_fields.get("edges", []))
    return edges.get("node", [])


async def prefetch(
    info: Info, rows: Sequence[Any], plan: dict[str, Relation], selections: Sequence[Any]
) -> None:
    """Load in batches the relations of `rows` that `selections` asks for, relations of those too."""
    if not rows:
        return
    ctx = context_of(info)
    for name, sub_selections in _selected(selections).items():
        relation = plan.get(name)
        if relation is None:
            continue
        keys = list(dict.fromkeys(key for row in rows if (key := relation.key(row)) is not None))
        values = await ctx.loader(relation.loader).load_many(keys)
        if relation.nested is not None:
            rows_of = relation.children or (lambda value: value if isinstance(value, list) else [value])
            children = [child for value in values if value is not None for child in rows_of(value)]
            await prefetch(info, [c for c in children if c is not None], relation.nested(), sub_selections)


def now_or_later(info: Info, loader_class: type[DataLoader], key: Any, present: Callable[[Any], T]) -> Any:
    """`present(value)` at once when the request's loader holds the value, else an awaitable of it."""
    loader = context_of(info).loader(loader_class)
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return present(future.result())

    async def later() -> T:
        return present(await loader.load(key))

    return later()
