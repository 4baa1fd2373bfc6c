"""Answers to repeated reads, kept until the data changes.

Every state change appends an event to the journal in its own transaction (SPEC §8), so the
journal head's number is the version of the data: an answer stored under one version is served
again only while the head has not moved (and the test clock has not been moved). The key also
holds who asks (anonymous, or the account: what a caller may see depends on nothing else), the
document, the operation's name and the variables, so one caller is never served what another may
see.

Only queries whose answer depends on nothing but the data are kept: a field whose value follows
the clock (a complaint's light, `now`, a resident's link that expires) is declared `volatile`
(`volatile_field`), and an operation that selects one, or any mutation, is answered afresh each
time. So a deadline passing cannot leave a stale answer behind: every field that a passing
deadline changes is volatile, and visibility follows stored states (a tender is opened, awarded),
which the journal versions.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    visit,
)
from graphql.error import GraphQLError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.models import ClockOffset, JournalHead

_BACKREF = "strawberry-definition"


def volatile_field(description: str | None = None, **kwargs: Any) -> Any:
    """A field whose value follows the clock: an operation selecting it is never answered from the cache."""
    return strawberry.field(description=description, metadata={"volatile": True}, **kwargs)


class _Volatility(Visitor):
    def __init__(self, type_info: TypeInfo):
        super().__init__()
        self.type_info = type_info
        self.volatile = False

    def enter_field(self, node: FieldNode, *_args) -> Any:
        definition = self.type_info.get_field_def()
        if definition is not None and (definition.extensions or {}).get(_BACKREF) is not None:
            metadata = getattr(definition.extensions[_BACKREF], "metadata", None) or {}
            if metadata.get("volatile"):
                self.volatile = True
                return self.BREAK
        return None


@lru_cache(maxsize=512)
def cacheable(schema: GraphQLSchema, query: str, operation_name: str | None) -> bool:
    """Whether the operation is a query selecting no volatile field (decided once per document)."""
    try:
        document: DocumentNode = parse(query, max_tokens=2000)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return False
    type_info = TypeInfo(schema)
    volatility = _Volatility(type_info)
    # The whole document: fragments of the operation included (others cost nothing to visit).
    visit(document, TypeInfoVisitor(type_info, volatility))
    return not volatility.volatile


async def data_version(session: AsyncSession) -> tuple[int, int]:
    """The journal head's number and the test clock's offset, in one statement."""
    row = (
        await session.execute(
            select(
                JournalHead.seq,
                select(ClockOffset.offset_seconds).where(ClockOffset.id == 1).scalar_subquery(),
            ).where(JournalHead.id == 1)
        )
    ).first()
    if row is None:
        seq, offset = 0, await session.scalar(select(ClockOffset.offset_seconds).where(ClockOffset.id == 1))
    else:
        seq, offset = row
    clock.remember_offset(session, offset or 0)  # the request's clock needs no statement of its own
    return seq, offset or 0


def cache_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class ResponseCache:
    """Encoded answers by key, least recently used first out, bounded in entries and bytes."""

    def __init__(self, *, max_entries: int = 1024, max_bytes: int = 64 * 1024 * 1024):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    def get(self, key: str) -> bytes | None:
        body = self._entries.get(key)
        if body is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:
            return
        if key in self._entries:
            self._bytes -= len(self._entries.pop(key))
        self._entries[key] = body
        self._bytes += len(body)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped)
