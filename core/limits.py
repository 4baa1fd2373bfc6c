"""Bounds on the work a request may cause, checked before anything runs.

- `QueryShapeRule`: depth, aliases and the estimated number of resolved fields of an
  operation. Each fragment is measured once and its measure reused wherever it is spread,
  so a document of fragments that each spread the next twice costs linear time to refuse.
- Input limits: every text input has a maximum length and every list input a maximum number
  of items, declared where the input is (`text_field`, `text_argument`, `list_field`) or the
  defaults below. Root fields check them before their resolver runs (`InputLimits`).
- `check_json_value`: variables nested too deep, or text holding NUL or lone surrogates,
  refused before GraphQL sees them (PostgreSQL stores neither; SQLite would store both).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    ValidationContext,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from core.api import UserError
from core.db import bad_text
from core.errors import ErrorCode, Problem

MAX_DEPTH = 10
"""Fields nested below a root field."""
MAX_ALIASES = 15
MAX_FIELDS = 20_000
"""Estimated fields resolved by one operation, lists counted by their page size."""
MAX_INTROSPECTION_FIELDS = 100_000
"""The same for introspection; GraphiQL's schema query counts about 52,000 with our schema."""
MAX_TOKENS = 2000
MAX_BODY_BYTES = 256 * 1024
"""A request body; the largest legitimate one (a bid's proposal at its limit) is about 150 KB."""
MAX_JSON_DEPTH = 16

DEFAULT_TEXT = 200
"""Characters of a text input that declares no limit of its own."""
LONG_TEXT = 2000
"""Characters of free text: reasons, notes, comments, complaints."""
DEFAULT_ITEMS = 100
"""Items of a list input that declares no limit of its own."""

# Multipliers of the field estimate: a connection by its `first` (or the most it may be),
# a list of introspection by a typical length.
_PAGE_DEFAULT = 20
_PAGE_MAX = 100
_LIST_GUESS = 10


# ---------------------------------------------------------------- declaring limits


def _described(description: str | None, limit: str) -> str:
    return f"{description.rstrip()} {limit}" if description else limit


def text_field(description: str | None = None, *, max_length: int, **kwargs: Any) -> Any:
    """An input field of text with its maximum length (stated in its description)."""
    return strawberry.field(
        description=_described(description, f"At most {max_length} characters."),
        metadata={"max_length": max_length},
        **kwargs,
    )


def list_field(
    description: str | None = None, *, max_items: int, max_length: int | None = None, **kwargs: Any
) -> Any:
    """An input field of a list with its maximum number of items (and characters of text items)."""
    limit = f"At most {max_items} items" + (f", each at most {max_length} characters." if max_length else ".")
    metadata = {"max_items": max_items} | ({"max_length": max_length} if max_length else {})
    return strawberry.field(description=_described(description, limit), metadata=metadata, **kwargs)


def text_argument(description: str | None = None, *, max_length: int = LONG_TEXT) -> Any:
    """`Annotated[str, text_argument("Why.")]`: an argument of free text with its maximum length."""
    return strawberry.argument(
        description=_described(description, f"At most {max_length} characters."),
        metadata={"max_length": max_length},
    )


LongText = Annotated[str, text_argument()]
"""An argument of free text (a reason, a note, an answer), at most LONG_TEXT characters."""


# ---------------------------------------------------------------- checking inputs


def _input_problems(value: Any, metadata: Any, path: list[str], name_of: Callable) -> Iterator[Problem]:
    if isinstance(value, str):
        limit = (metadata or {}).get("max_length", DEFAULT_TEXT)
        if len(value) > limit:
            yield Problem(ErrorCode.INVALID, f"at most {limit} characters", tuple(path))
    elif isinstance(value, (list, tuple)):
        limit = (metadata or {}).get("max_items", DEFAULT_ITEMS)
        if len(value) > limit:
            yield Problem(ErrorCode.INVALID, f"at most {limit} items", tuple(path))
            return
        for index, item in enumerate(value):
            yield from _input_problems(item, metadata, [*path, str(index)], name_of)
    else:
        definition = getattr(type(value), "__strawberry_definition__", None)
        if not getattr(definition, "is_input", False):
            return
        for field in definition.fields:
            item = getattr(value, field.python_name, None)
            if item is not None:
                yield from _input_problems(item, field.metadata, [*path, name_of(field)], name_of)


def input_problems(info: Info, field, arguments: dict[str, Any]) -> list[Problem]:
    """Every text too long and list too long in a root field's arguments, with its path."""
    converter = info.schema.config.name_converter
    problems: list[Problem] = []
    for argument in field.arguments:
        value = arguments.get(argument.python_name)
        if value is not None:
            path = [converter.from_argument(argument)]
            problems.extend(_input_problems(value, argument.metadata, path, converter.get_graphql_name))
    return problems


class InputLimits(FieldExtension):
    """Refuses a root field whose text or list inputs exceed their limits, before its resolver runs.

    A mutation answers with its payload's `errors` (code INVALID, the input's path), as for any
    other user mistake; a query raises a GraphQL error with code BAD_USER_INPUT.
    """

    def apply(self, field) -> None:
        self.field = field
        payload = field.type
        fields = getattr(getattr(payload, "__strawberry_definition__", None), "fields", ())
        self.payload = payload if any(f.python_name == "errors" for f in fields) else None

    def _refusal(self, problems: list[Problem]):
        if self.payload is not None:
            return self.payload(errors=[UserError.from_problem(p) for p in problems])
        problem = problems[0]
        raise GraphQLError(
            f"{'.'.join(problem.field)}: {problem.message}",
            extensions={"code": "BAD_USER_INPUT", "field": list(problem.field)},
        )

    def resolve(self, next_, source, info: Info, **kwargs):
        if problems := input_problems(info, self.field, kwargs):
            return self._refusal(problems)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_, source, info: Info, **kwargs):
        if problems := input_problems(info, self.field, kwargs):
            return self._refusal(problems)
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result


def limit_inputs(*root_types: type) -> None:
    """Give every field of the root types (Query, Mutation) that takes arguments the input check."""
    for root in root_types:
        for field in root.__strawberry_definition__.fields:
            if field.arguments and not any(isinstance(e, InputLimits) for e in field.extensions):
                # Innermost: a role check declared with the field runs before it.
                field.extensions.insert(0, InputLimits())


# ---------------------------------------------------------------- JSON request values


class RequestRefused(Exception):
    """A request the API does not read: too large, not JSON, nested too deep, bad text."""

    def __init__(self, message: str, *, status: int = 400, code: str = "BAD_REQUEST"):
        super().__init__(message)
        self.status, self.code = status, code


def check_json_value(value: Any, *, where: str, depth: int = 0) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH and text that no database stores faithfully."""
    if depth > MAX_JSON_DEPTH:
        raise RequestRefused(f"{where} are nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, str):
        if reason := bad_text(value):
            raise RequestRefused(f"{where}: {reason}")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json_value(key, where=where, depth=depth + 1)
            check_json_value(item, where=where, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json_value(item, where=where, depth=depth + 1)


# ---------------------------------------------------------------- the shape of an operation


@dataclass(frozen=True)
class Shape:
    depth: int
    aliases: int
    fields: int
    introspection_fields: int = 0


_EMPTY = Shape(0, 0, 0)
_INTROSPECTION_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}


class _Measure:
    """Measures selection sets; a named fragment is measured once per document."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode):
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, Shape] = {}
        self.measuring: set[str] = set()

    def fragment(self, name: str) -> Shape:
        if name in self.measured:
            return self.measured[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.measuring:
            return _EMPTY  # unknown fragments and cycles are reported by graphql-core's own rules
        self.measuring.add(name)
        shape = self.selections(
            definition.selection_set, self.schema.get_type(definition.type_condition.name.value)
        )
        self.measuring.discard(name)
        self.measured[name] = shape
        return shape

    def selections(self, selection_set: SelectionSetNode | None, parent) -> Shape:
        depth = aliases = fields = introspection_fields = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                shape = self.field(selection, parent)
                depth = max(depth, shape.depth)
            elif isinstance(selection, FragmentSpreadNode):
                shape = self.fragment(selection.name.value)
                depth = max(depth, shape.depth)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                shape = self.selections(selection.selection_set, inner)
                depth = max(depth, shape.depth)
            else:  # pragma: no cover - the grammar has no other selections
                continue
            aliases += shape.aliases
            fields += shape.fields
            introspection_fields += shape.introspection_fields
        return Shape(depth, aliases, fields, introspection_fields)

    def field(self, node: FieldNode, parent) -> Shape:
        name = node.name.value
        definition = _INTROSPECTION_FIELDS.get(name) or (
            getattr(parent, "fields", {}).get(name) if parent is not None else None
        )
        own_alias = 1 if node.alias else 0
        # Introspection is as deep as the type system (GraphiQL's query nests `ofType` 8 times):
        # its depth is not counted; its fields are, on their own account.
        meta = name.startswith("__") or getattr(parent, "name", "").startswith("__")
        if node.selection_set is None:
            return Shape(0, own_alias, 0, 1) if meta else Shape(0, own_alias, 1)
        child_type = get_named_type(definition.type) if definition else None
        inner = self.selections(node.selection_set, child_type)
        times = self.multiplier(node, definition, meta)
        if meta:
            return Shape(
                0, own_alias + inner.aliases, 0, 1 + times * (inner.fields + inner.introspection_fields)
            )
        return Shape(
            inner.depth + 1,
            own_alias + inner.aliases,
            1 + times * inner.fields,
            times * inner.introspection_fields,
        )

    @staticmethod
    def multiplier(node: FieldNode, definition, meta: bool) -> int:
        if definition is None:
            return 1
        if "first" in definition.args:
            for argument in node.arguments or ():
                if argument.name.value == "first":
                    if isinstance(argument.value, IntValueNode):
                        return max(1, min(int(argument.value.value), _PAGE_MAX))
                    return _PAGE_MAX  # a variable: assume the most it may be
            return _PAGE_DEFAULT
        # Lists that can grow are connections; the others are short by nature (a tender's bids, a
        # contract's periods), except the type system's own lists.
        return _LIST_GUESS if meta and is_list_type(get_nullable_type(definition.type)) else 1


def operation_shape(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> Shape:
    measure = _Measure(schema, document)
    root = schema.get_root_type(operation.operation)
    shape = measure.selections(operation.selection_set, root)
    # Depth counts levels below the root fields.
    return Shape(max(shape.depth - 1, 0), shape.aliases, shape.fields, shape.introspection_fields)


class QueryShapeRule(ValidationRule):
    """Refuses operations too deep, with too many aliases, or resolving too many fields."""

    def enter_document(self, node: DocumentNode, *_args) -> Any:
        context: ValidationContext = self.context
        for operation in node.definitions:
            if not isinstance(operation, OperationDefinitionNode):
                continue
            shape = operation_shape(context.schema, node, operation)
            name = operation.name.value if operation.name else "anonymous"
            if shape.depth > MAX_DEPTH:
                context.report_error(
                    GraphQLError(f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}", operation)
                )
            if shape.aliases > MAX_ALIASES:
                context.report_error(
                    GraphQLError(
                        f"'{name}' has {shape.aliases} aliases (fragments counted where spread); "
                        f"allowed: {MAX_ALIASES}",
                        operation,
                    )
                )
            if shape.introspection_fields > MAX_INTROSPECTION_FIELDS:
                context.report_error(
                    GraphQLError(
                        f"'{name}' would resolve about {shape.introspection_fields} fields of introspection; "
                        f"allowed: {MAX_INTROSPECTION_FIELDS}",
                        operation,
                    )
                )
            if shape.fields > MAX_FIELDS:
                context.report_error(
                    GraphQLError(
                        f"'{name}' would resolve about {shape.fields} fields (lists counted by their "
                        f"page size, fragments where spread); allowed: {MAX_FIELDS}. Ask for fewer "
                        "fields or smaller pages.",
                        operation,
                    )
                )
        return self.SKIP


class TextLiteralsRule(ValidationRule):
    """Refuses string literals that no database stores faithfully (NUL written as `\\u0000`)."""

    def enter_string_value(self, node, *_args) -> None:
        if reason := bad_text(node.value):
            self.report_error(GraphQLError(f"A string in the document is refused: {reason}.", node))
