"""The fields of each section of a configuration file: how a value is read and checked, and its
one canonical form. The export writes exactly these forms, so "unchanged" is plain equality
between the file's entry and the target's own entry read the same way."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

REQUIRED = object()


class FieldProblem(ValueError):
    """The value cannot be used; the message says what is expected."""


@dataclass(frozen=True)
class Field:
    read: Callable[[Any], Any]
    default: Any = REQUIRED


def text(max_length: int, *, blank: bool = True) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        if not isinstance(value, str):
            raise FieldProblem("expected text")
        value = value.strip()
        if not value and not blank:
            raise FieldProblem("must not be empty")
        if len(value) > max_length:
            raise FieldProblem(f"at most {max_length} characters")
        return value

    return read


def optional_text(max_length: int) -> Callable[[Any], str | None]:
    """Text or null (a reference that may be absent: an alert rule's machine)."""
    inner = text(max_length, blank=False)
    return lambda value: None if value is None else inner(value)


def choice(values: list[str]) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        if value not in values:
            raise FieldProblem(f"one of {', '.join(values)}")
        return str(value)

    return read


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldProblem("expected true or false")
    return value


def integer(low: int, high: int) -> Callable[[Any], int]:
    def read(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise FieldProblem(f"a whole number from {low} to {high}")
        return value

    return read


def number(low: float, high: float, *, nullable: bool = False) -> Callable[[Any], float | None]:
    def read(value: Any) -> float | None:
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FieldProblem("expected a number" + (" or null" if nullable else ""))
        if not low <= value <= high:
            raise FieldProblem(f"a number from {low:g} to {high:g}")
        return float(value)

    return read


def decimal(digits: int, places: int, *, signed: bool = False) -> Callable[[Any], str | None]:
    """A money or measured amount, written as text ("120.00") so no digit is lost to binary floats;
    a number is accepted too. Null allowed."""
    limit = Decimal(10) ** (digits - places)

    def read(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FieldProblem("a number (as text, e.g. \"120.50\") or null")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise FieldProblem("a number (as text, e.g. \"120.50\") or null") from exc
        if not amount.is_finite() or abs(amount) >= limit or (amount < 0 and not signed):
            raise FieldProblem(f"{'' if signed else 'a positive number '}below {limit:,}")
        return str(amount.quantize(Decimal(1).scaleb(-places)))

    return read


def day(value: Any) -> str | None:
    """A date as YYYY-MM-DD, or null."""
    if value is None:
        return None
    try:
        parsed = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None or not 1970 <= parsed.year <= 2200:
        raise FieldProblem("a date as YYYY-MM-DD between 1970 and 2200, or null")
    return parsed.isoformat()


def document(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldProblem("expected the machine type's metadata document (an object)")
    return value


def items(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise FieldProblem("expected a list of at least one item")
    return value
