"""What a client sees of an error, and what the log keeps.

Every top-level error carries `extensions.code`:

- GRAPHQL_PARSE_FAILED: the document is not GraphQL (or longer than the token limit);
- GRAPHQL_VALIDATION_FAILED: it does not fit the schema or the limits (depth, aliases, size);
- BAD_USER_INPUT: a variable's value does not fit its type, or an argument breaks a limit;
- OPERATION_RESOLUTION_FAILURE: which operation to run is unclear;
- the domain's own codes (NOT_FOUND, INVALID, ...) for bad arguments of a query;
- INTERNAL_SERVER_ERROR: anything unexpected, masked as "Unexpected error." and logged.

Messages never repeat an input value (it may be a password typed into the wrong field), and
"Did you mean ...?" hints are left out where introspection is off (production).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import suppress

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import ParserCache, SchemaExtension

from core.errors import DomainError

log = logging.getLogger("market.api")

MASKED_MESSAGE = "Unexpected error."

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
OPERATION_UNCLEAR = "OPERATION_RESOLUTION_FAILURE"
INTERNAL = "INTERNAL_SERVER_ERROR"

# Where graphql-core's messages print the value at fault: after "found:", after "value:", or
# as a quoted enum value or string token.
_FOUND = re.compile(r"(?s)[,.]?\s*found:\s.*$", re.IGNORECASE)
_VALUE = re.compile(r"(?s)^(.*?\bvalue):\s.*$")
_ENUM_VALUE = re.compile(r"^Value '.*' does not exist in ('[^']*' enum)\.", re.DOTALL)
_STRING_TOKEN = re.compile(r"""(?s)\b(Block)?String ['"].*['"]""")
_VARIABLE = re.compile(r"(?s)^(Variable '\$[_A-Za-z0-9]+' has invalid (?:default )?value[^:]*):\s(.*)$")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_values(message: str) -> str:
    """A graphql-core message with the input value it quotes left out."""
    if variable := _VARIABLE.match(message):
        return f"{variable.group(1)}: {without_values(variable.group(2))}"
    if _FOUND.search(message):
        shortened = _FOUND.sub("", message).rstrip()
        return shortened if shortened.endswith((".", "?")) else shortened + "."
    if enum := _ENUM_VALUE.match(message):
        return f"The value does not exist in {enum.group(1)}." + message[enum.end() :]
    if value := _VALUE.match(message):
        return f"{value.group(1)}."
    return _STRING_TOKEN.sub(lambda m: f"{m.group(1) or ''}String", message)


def without_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)


def user_error_code(error: GraphQLError) -> str | None:
    """The code of an error raised on purpose while resolving (a user error), or None."""
    original = error.original_error
    if isinstance(original, DomainError):
        return original.problems[0].code.value
    if isinstance(original, GraphQLError):
        return (error.extensions or {}).get("code") or (original.extensions or {}).get("code")
    return None


def is_unexpected(error: GraphQLError) -> bool:
    """A failure of ours while resolving: anything but a user error (a null in a non-null field too)."""
    return error.path is not None and user_error_code(error) is None


class CachedParsing(ParserCache):
    """strawberry's parser cache, except that a document that fails to parse is left to strawberry.

    strawberry then parses it again inside its own error handling, so that the syntax error is
    answered like any other error (with its code), instead of escaping the operation's hooks.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        yield


class ErrorPolicy(SchemaExtension):
    """Gives every error its code and a message safe to show; checks which operation to run."""

    def __init__(self, *, suggestions: bool):
        self.suggestions = suggestions
        self.phase = "execute"

    def on_parse(self) -> Iterator[None]:
        yield
        if self.execution_context.graphql_document is None:
            self.phase = "parse"

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        # Validation (cached) ran before this hook; an unclear operation is refused here,
        # where strawberry would otherwise run the first one.
        if not context.pre_execution_errors and (problem := self._operation_problem()):
            context.pre_execution_errors = [problem]
            self.phase = "operation"
        yield
        if context.pre_execution_errors and self.phase == "execute":
            self.phase = "validate"

    def _operation_problem(self) -> GraphQLError | None:
        context = self.execution_context
        operations = [
            d for d in context.graphql_document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        wanted = context._provided_operation_name
        if wanted is None:
            if len(operations) > 1:
                return GraphQLError("The document holds several operations: name one with `operationName`.")
            return None
        if not any(op.name and op.name.value == wanted for op in operations):
            return GraphQLError("`operationName` names no operation of the document.")
        return None

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [self.present(error) for error in result.errors]

    def code_of(self, error: GraphQLError) -> str:
        if self.phase == "parse":
            return PARSE_FAILED
        if self.phase == "validate":
            return VALIDATION_FAILED
        if self.phase == "operation":
            return OPERATION_UNCLEAR
        if error.path is None:
            return BAD_USER_INPUT  # variables that do not fit their types
        return user_error_code(error) or INTERNAL

    def present(self, error: GraphQLError) -> GraphQLError:
        if is_unexpected(error):
            return GraphQLError(MASKED_MESSAGE, error.nodes, path=error.path, extensions={"code": INTERNAL})
        message = error.message if error.path is not None else without_values(error.message)
        if not self.suggestions:
            message = without_suggestions(message)
        extensions = {**(error.extensions or {}), "code": self.code_of(error)}
        return GraphQLError(
            message, error.nodes, error.source, error.positions, error.path, extensions=extensions
        )


def log_unexpected(errors: list[GraphQLError], operation_name: str | None) -> None:
    """Log failures of ours with their traceback; user mistakes are answered, not logged.

    The query's text is not logged: its literals may hold passwords or residents' numbers.
    """
    for error in errors:
        if is_unexpected(error):
            original = error.original_error
            log.error(
                "unexpected error in %s at %s: %s",
                operation_name or "an anonymous operation",
                ".".join(str(p) for p in error.path),
                type(original).__name__ if original else error.message,
                exc_info=(type(original), original, original.__traceback__) if original else None,
            )
