"""Variable filters: SendPulse's push ``filter`` (document 002, "Web Push": ``variable_name``,
``operator`` and/or, ``conditions`` of ``equal``, ``notequal``, ``greaterthan``, ``lessthan``,
``startwith``, ``endwith``, ``likewith`` (contains), ``notlikewith``), which segments of a mailing
list use too, several at once joined by ``and`` or ``or``.

Comparisons follow the variable's type: numbers as numbers (``"10" > "9"``), dates as dates, text
without regard to case. A contact without the variable matches only ``notequal`` and
``notlikewith`` (it is not equal to anything, and contains nothing). Evaluated in Python over a
batch of contacts: linear in the batch, whatever the filter holds (at most ``MAX_CONDITIONS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from pulsebox.errors import ApiError

OPERATORS = ("equal", "notequal", "greaterthan", "lessthan", "startwith", "endwith", "likewith", "notlikewith")
MAX_CONDITIONS = 20  # per filter, and filters per segment
MAX_VALUE = 1000


@dataclass(frozen=True)
class Condition:
    operator: str
    value: str


@dataclass(frozen=True)
class Filter:
    variable: str
    join: str  # and | or
    conditions: tuple[Condition, ...]


def _text(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ApiError(8, f"{what} must be a string or a number")
    text = str(value)
    if len(text) > MAX_VALUE:
        raise ApiError(8, f"{what} must be at most {MAX_VALUE} characters")
    return text


def _join(value: object) -> str:
    join = str(value or "and").strip().lower()
    if join not in ("and", "or"):
        raise ApiError(8, "operator must be 'and' or 'or'")
    return join


def parse_filter(value: object) -> Filter:
    """One filter as document 002 writes it: ``{variable_name, operator, conditions: [{condition, value}]}``."""
    if not isinstance(value, dict):
        raise ApiError(8, "a filter must be an object {variable_name, operator, conditions}")
    variable = _text(value.get("variable_name"), "variable_name").strip()
    if not variable:
        raise ApiError(8, "variable_name is required")
    raw = value.get("conditions")
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_CONDITIONS:
        raise ApiError(8, f"conditions must be a list of 1 to {MAX_CONDITIONS} conditions")
    conditions = []
    for item in raw:
        if not isinstance(item, dict):
            raise ApiError(8, "each condition must be an object {condition, value}")
        operator = str(item.get("condition") or "").strip().lower()
        if operator not in OPERATORS:
            raise ApiError(8, f"condition must be one of {', '.join(OPERATORS)}")
        conditions.append(Condition(operator, _text(item.get("value", ""), "value")))
    return Filter(variable, _join(value.get("operator")), tuple(conditions))


def to_json(f: Filter) -> dict:
    return {"variable_name": f.variable, "operator": f.join,
            "conditions": [{"condition": c.operator, "value": c.value} for c in f.conditions]}


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _holds(c: Condition, kind: str, value: object) -> bool:
    if value is None or value == "":
        return c.operator in ("notequal", "notlikewith")
    if c.operator in ("startwith", "endwith", "likewith", "notlikewith"):
        have, want = str(value).casefold(), c.value.casefold()
        if c.operator == "startwith":
            return have.startswith(want)
        if c.operator == "endwith":
            return have.endswith(want)
        return (want in have) == (c.operator == "likewith")
    convert = _number if kind == "number" else _date if kind == "date" else (lambda v: str(v).casefold())
    have, want = convert(value), convert(c.value)
    if have is None or want is None:  # not comparable as the variable's type: equal to nothing
        return c.operator == "notequal"
    if c.operator == "equal":
        return have == want
    if c.operator == "notequal":
        return have != want
    return have > want if c.operator == "greaterthan" else have < want


def matches(f: Filter, variables: Mapping[str, object], kind: str = "string") -> bool:
    """Whether a contact's ``variables`` pass ``f`` (``kind``: the variable's type in its book)."""
    value = variables.get(f.variable)
    results = (_holds(c, kind, value) for c in f.conditions)
    return all(results) if f.join == "and" else any(results)
