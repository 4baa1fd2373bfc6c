"""The API's scalars: money as exact decimal CNY, dates and times with bounds and clear errors.

Input errors never repeat the value: an error message may be logged or shown, and the value may
be somebody's secret typed into the wrong field.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import dateutil.parser
import strawberry

from core.db import CENT

MONEY_MAX = Decimal("999999999999.99")
"""The largest amount of CNY the API takes or gives (just under a trillion)."""

# A plain decimal: optional minus, digits, at most two decimals. No exponent, no NaN, no spaces.
_MONEY = re.compile(r"-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?")
_MONEY_HELP = 'a plain decimal amount of CNY such as "1000.00", at most 2 decimals'

EARLIEST_YEAR, LATEST_YEAR = 1900, 2199
"""Dates outside these years are refused: no service is bought for them, and date arithmetic
near year 1 or 9999 would overflow."""


def parse_money(value: object) -> Decimal:
    """A money input: a string ("1000.5") or a JSON number (1000.5), canonical to the fen."""
    if isinstance(value, bool):
        raise ValueError(f"Decimal must be {_MONEY_HELP}")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        # A JSON number arrives as a float; its shortest repr is what the client wrote.
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"Decimal must be {_MONEY_HELP}")
    if not _MONEY.fullmatch(text):
        raise ValueError(f"Decimal must be {_MONEY_HELP}, at most {MONEY_MAX} in absolute value")
    amount = Decimal(text).quantize(CENT)
    return amount if amount else Decimal("0.00")  # no "-0.00"


def serialize_money(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT))


Money = strawberry.scalar(
    name="Decimal",
    description='An amount of CNY as a plain decimal string such as "1000.5": at most 2 decimals, no '
    f"exponent, at most {MONEY_MAX} in absolute value; a JSON number is accepted too. Always answered "
    'with two decimals, e.g. "1000.50".',
    serialize=serialize_money,
    parse_value=parse_money,
)


def _check_year(year: int, name: str) -> None:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"{name} must lie in the years {EARLIEST_YEAR} to {LATEST_YEAR}")


def parse_date(value: object) -> dt.date:
    if not isinstance(value, str):
        raise ValueError("Date must be a string YYYY-MM-DD, e.g. 2026-03-01")
    try:
        parsed = dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError("Date must be YYYY-MM-DD, e.g. 2026-03-01")
    _check_year(parsed.year, "Date")
    return parsed


Date = strawberry.scalar(
    name="Date",
    description=f"A calendar date, YYYY-MM-DD, in the years {EARLIEST_YEAR} to {LATEST_YEAR}.",
    serialize=lambda value: value.isoformat(),
    parse_value=parse_date,
)


def datetime_scalar(timezone: str):
    """DateTime shown in the deployment's time zone, with its offset; inputs need an offset."""
    zone = ZoneInfo(timezone)
    example = "2026-03-01T09:00:00+08:00"

    def serialize(value: dt.datetime) -> str:
        return value.astimezone(zone).isoformat()

    def parse(value: object) -> dt.datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(f"DateTime must be an ISO 8601 string with a UTC offset, e.g. {example}")
        try:
            parsed = dateutil.parser.isoparse(value)
        except (ValueError, OverflowError):
            raise ValueError(f"DateTime must be ISO 8601 with a UTC offset, e.g. {example}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"DateTime needs a UTC offset, e.g. {example}")
        _check_year(parsed.year, "DateTime")
        return parsed.astimezone(dt.UTC)

    return strawberry.scalar(
        name="DateTime",
        description="An ISO 8601 date and time with its UTC offset, shown in the deployment's time zone; "
        f"inputs need the offset and lie in the years {EARLIEST_YEAR} to {LATEST_YEAR}.",
        serialize=serialize,
        parse_value=parse,
    )
