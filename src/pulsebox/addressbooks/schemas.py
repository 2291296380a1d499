"""Request and answer shapes for mailing lists and contacts (document 004 field names)."""

from __future__ import annotations

import math
import re
from datetime import date

from pulsebox import addresses, filters
from pulsebox.errors import ApiError
from pulsebox.wire import as_bool, as_id, as_list, as_text

MAX_NAME = 255
MAX_VALUE = 10_000
MAX_DELETE = 100  # document 004: "up to 100 email addresses to delete in one request"
DOI_LANGS = ("en", "ru", "ua", "tr", "es", "pt")

BOOK_STATUS = {
    0: "Active",
    1: "Deleted",
    3: "Awaiting user's reply to the moderator's clarification question",
    4: "Blocked by the service",
    5: "Blocked while its addresses are moved into a campaign",
}
CONTACT_STATUS = {
    0: "New", 1: "Active", 2: "Confirmation requested", 3: "Activation requested", 4: "Unsubscribed",
    5: "Rejected by the admin", 6: "Unsubscribed from all newsletters", 7: "Activation is requested",
    8: "Blocked", 9: "Sending error", 10: "Blocked", 11: "Blocked", 12: "Blocked",
    13: "Deleted by the user", 14: "Temporarily unavailable",
}
ACTIVE_STATUSES = (0, 1)  # the ``active`` filter: "Active and New statuses"
NEW, ACTIVE, CONFIRMATION_REQUESTED, UNSUBSCRIBED = 0, 1, 2, 4
UNSUBSCRIBED_EVERYWHERE, SENDING_ERROR = 6, 9  # a complaint; a hard bounce that is the address's fault

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_LIMIT = 2 ** 63  # numbers are kept exactly: integers in signed 64 bits, finite floats below 2**63


# ---- requests ----

def book_id(call_path: dict) -> int:
    return as_id(call_path.get("id"), code=213, field="mailing list id")


def book_name(params: dict, *keys: str) -> str:
    for key in keys:
        value = params.get(key)
        if value is not None:
            break
    name = as_text(value) if value is not None else None
    if not name:
        raise ApiError(201)
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise ApiError(800, f"Mailing list name must be at most {MAX_NAME} printable characters")
    return name


def email_list(params: dict, *, required: bool = True) -> list[str]:
    """``emails`` as a list of addresses (plain strings or {"email": ...} objects), validated."""
    raw = as_list(params.get("emails"))
    if not raw and required:
        raise ApiError(8, "emails is required")
    out = []
    for item in raw:
        value = item.get("email") if isinstance(item, dict) else item
        out.append(addresses.require(value))
    return list(dict.fromkeys(out))


def search_text(path: dict) -> str:
    """``searchValue`` of ``GET /addressbooks/{id}/variables/{name}/{value}``: required (document 004)."""
    value = path.get("value") or ""
    if not value:
        raise ApiError(8, "searchValue is required: /addressbooks/{id}/variables/{variableName}/{searchValue}")
    return value


def variable_name(value: object) -> str:
    name = as_text(value)
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise ApiError(800, f"Variable names must be 1-{MAX_NAME} printable characters")
    return name


def exact_number(value: int | float) -> bool:
    """A number a variable keeps exactly: an integer that fits in signed 64 bits, or a finite float
    below 2**63 in magnitude. Past that a decoded JSON number may be an integer that has already
    lost digits (orjson reads 2**200 as the float 1.6e+60), so it is refused, not stored rounded."""
    if isinstance(value, int):
        return -_LIMIT <= value < _LIMIT
    return math.isfinite(value) and abs(value) < _LIMIT  # float(-2**63 - 1) == -2**63: refused too


def _refuse_inexact(name: str, value: object) -> ApiError:
    return ApiError(800, f"Variable {name!r}: {str(value)[:50]!r} cannot be kept exactly; numbers must be "
                         "integers of at most 64 bits (signed) or finite numbers below 2**63 in magnitude")


def parse_number(text: str) -> int | float | None:
    """A number variable's value written as text: ``30`` (an exact int), ``30.5``, ``3e1`` (floats);
    None when the text is not a number at all (``NaN``, ``Infinity``, ``1,5`` are not)."""
    text = text.strip()
    if _INTEGER.fullmatch(text):
        # past 19 digits it cannot fit anyway; int() would refuse 4300+ digits with a ValueError
        return int(text) if len(text.lstrip("+-").lstrip("0")) <= 19 else float(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    return None


def variable_value(name: str, value: object) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        if not exact_number(value):
            raise _refuse_inexact(name, value)
        return value
    if isinstance(value, str):
        if len(value) > MAX_VALUE:
            raise ApiError(800, f"Variable {name!r} is longer than {MAX_VALUE} characters")
        return value
    raise ApiError(800, f"Variable {name!r} must be a string or a number")


def variables_map(value: object) -> dict[str, object]:
    """``variables`` as {name: value}; accepts a dict, or a list of {"name", "value"} pairs."""
    if value is None or value == "" or value == []:
        return {}
    pairs: list[tuple[object, object]]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        pairs = [(v["name"], v.get("value")) for v in value]
    else:
        raise ApiError(800, "variables must be an object of name: value pairs")
    out: dict[str, object] = {}
    for name, val in pairs:
        clean = variable_name(name)
        out[clean] = variable_value(clean, val)
    return out


def phone(value: object) -> str:
    text = as_text(value) or ""
    digits = re.sub(r"[\s\-().]", "", text).lstrip("+")
    if not digits.isdigit() or not 5 <= len(digits) <= 20:
        raise ApiError(800, f"Phone number must be 5-20 digits, got {text[:40]!r}")
    return digits


def contacts_to_add(params: dict) -> list[tuple[str, dict, str | None]]:
    """(email, variables, phone) for every contact of an add request; the ``Phone`` variable is the
    contact's phone number (document 004), every other variable stays a variable."""
    raw = as_list(params.get("emails"))
    if not raw:
        raise ApiError(8, "emails is required")
    contacts: dict[str, tuple[str, dict, str | None]] = {}
    for item in raw:
        if isinstance(item, dict):
            address = addresses.require(item.get("email"))
            variables = variables_map(item.get("variables"))
        else:
            address, variables = addresses.require(item), {}
        phone_value = None
        for key in [k for k in variables if k.lower() == "phone"]:
            value = variables.pop(key)
            if value not in ("", None):
                phone_value = phone(value)
        if address in contacts:  # the same address twice: the later variables win, merged
            _, earlier, earlier_phone = contacts[address]
            variables = {**earlier, **variables}
            phone_value = phone_value or earlier_phone
        contacts[address] = (address, variables, phone_value)
    return list(contacts.values())


def double_opt_in(params: dict) -> dict | None:
    """The double-opt-in parameters, validated, or None for single opt-in."""
    confirmation = as_text(params.get("confirmation"))
    if not confirmation:
        return None
    if confirmation != "force":
        raise ApiError(800, "confirmation must be 'force' (double opt-in) or absent")
    sender = addresses.require(params.get("sender_email"), missing=10)
    lang = (as_text(params.get("message_lang")) or "en").lower()  # documented as required; we default to en
    if lang not in DOI_LANGS:
        raise ApiError(800, f"message_lang must be one of {', '.join(DOI_LANGS)}")
    template_id = as_text(params.get("template_id"))
    return {"sender_email": sender, "message_lang": lang, "template_id": template_id or None}


def list_filter(params: dict) -> tuple[int, ...] | None:
    """``active`` -> New and Active contacts; ``not_active`` -> every other status."""
    if as_bool(params.get("active", False)):
        return ACTIVE_STATUSES
    if as_bool(params.get("not_active", False)):
        return tuple(s for s in CONTACT_STATUS if s not in ACTIVE_STATUSES)
    return None


def coerce_to_type(name: str, var_type: str, value: object) -> object:
    """Document 004: number accepts only numbers; date only YYYY-MM-DD; string also accepts
    numbers and dates (so anything printable)."""
    if var_type == "number":
        number = value if isinstance(value, (int, float)) else parse_number(value) if isinstance(value, str) else None
        if number is None:
            raise ApiError(800, f"Variable {name!r} is a number; {str(value)[:50]!r} is not")
        if not exact_number(number):
            raise _refuse_inexact(name, value)
        return number
    if var_type == "date":
        if isinstance(value, str) and _DATE.fullmatch(value.strip()):
            try:
                date.fromisoformat(value.strip())
                return value.strip()
            except ValueError:
                pass
        raise ApiError(800, f"Variable {name!r} is a date (YYYY-MM-DD); {str(value)[:50]!r} is not")
    return value if isinstance(value, str) else str(value)


def search_value(var_type: str, text: str) -> str | int | float | None:
    """The value a search by variable looks for, as the variable's type holds it; None when no
    value of that type can be equal to ``text`` (``abc``, ``nan``, ``1e999`` for a number; not a
    real YYYY-MM-DD date for a date), so the search finds nothing without asking the database."""
    if var_type == "number":
        number = parse_number(text)
        return number if number is not None and exact_number(number) else None
    if var_type == "date":
        try:
            return text if _DATE.fullmatch(text) and date.fromisoformat(text) else None
        except ValueError:
            return None
    return text


def infer_type(value: object) -> str:
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return "date"
        except ValueError:
            return "string"
    return "string"


# ---- answers ----

def _stamp(value) -> str:  # noqa: ANN001
    return value.strftime("%Y-%m-%d %H:%M:%S")


def book_out(row: dict, *, with_new_phones: bool = True) -> dict:
    out = {
        "id": row["id"],
        "name": row["name"],
        "all_email_qty": row["all_email_qty"],
        "active_email_qty": row["active_email_qty"],
        "inactive_email_qty": row["all_email_qty"] - row["active_email_qty"],
    }
    if with_new_phones:
        out["new_phones_quantity"] = row["new_phones_qty"]
    out.update({
        "active_phones_quantity": row["active_phones_qty"],
        "exc_phones_quantity": row["exc_phones_qty"],
        "creationdate": _stamp(row["created_at"]),
        "status": row["status"],
        "status_explain": BOOK_STATUS.get(row["status"], "Active"),
    })
    return out


def contact_in_list(row: dict) -> dict:
    out = {"email": row["email"], "status": row["status"],
           "status_explain": CONTACT_STATUS.get(row["status"], ""), "variables": row["variables"] or {}}
    if row["phone"]:
        out["phone"] = row["phone"]
    return out


def typed_variables(values: dict, types: dict[str, str]) -> list[dict]:
    return [{"name": name, "type": types.get(name, "string"), "value": value} for name, value in values.items()]


def contact_info(row: dict, types: dict[str, str]) -> dict:
    return {
        "email": row["email"],
        "abook_id": row["book_id"],
        "phone": row["phone"] or "",
        "status": row["status"],
        "status_explain": CONTACT_STATUS.get(row["status"], ""),
        "variables": typed_variables(row["variables"] or {}, types),
    }


def contact_brief(row: dict) -> dict:
    return {"email": row["email"], "status": row["status"], "status_explain": CONTACT_STATUS.get(row["status"], "")}


# ---- segments (ours) ----

def segment_id(call_path: dict) -> int:
    return as_id(call_path.get("segment_id"), code=703, field="segment id")


def segment_request(params: dict) -> tuple[str, str, list[filters.Filter]]:
    """``{name, operator: and|or, filters: [push filter, ...]}`` (or one ``filter``)."""
    name = (as_text(params.get("name")) or "").strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise ApiError(8, f"name is required: at most {MAX_NAME} printable characters")
    raw = params.get("filters", params.get("filter"))
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not 0 < len(items) <= filters.MAX_CONDITIONS:
        raise ApiError(8, f"filters must be 1 to {filters.MAX_CONDITIONS} filters "
                          "{variable_name, operator, conditions: [{condition, value}]}")
    join = str(params.get("operator") or "and").strip().lower()
    if join not in ("and", "or"):
        raise ApiError(8, "operator must be 'and' or 'or'")
    return name, join, [filters.parse_filter(f) for f in items]


def segment_out(row: dict) -> dict:
    return {"id": row["id"], "book_id": row["book_id"], "name": row["name"], "operator": row["join"],
            "filters": row["filters"], "created_at": row["created_at"].strftime("%Y-%m-%d %H:%M:%S")}
