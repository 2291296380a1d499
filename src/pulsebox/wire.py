"""Tolerant request decoding: every encoding the real SendPulse clients send becomes a plain dict.

One layer, used by every endpoint (see docs/wire.md for the observed quirks):

- bodies: JSON, ``application/x-www-form-urlencoded``, ``multipart/form-data``; on every verb;
- PHP bracket notation in forms and query strings (``emails[0][variables][name]=...``);
- query strings as ``?limit=10&offset=5`` or as one percent-encoded JSON object (pysendpulse 0.1.8);
- structured fields (``emails``, ``variables``...) given as a JSON string, or a PHP ``serialize()``
  string, inside JSON or a form field;
- a bare list as the whole body (the PHP client's ``getEmailsInfo``) means ``emails``.

Field-level helpers (``as_int``, ``as_list``, ``b64_text``...) convert loosely typed values the way
SendPulse does, so schemas never repeat the tolerance rules.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import re
from urllib.parse import parse_qsl, unquote

import orjson

from pulsebox import phpserial
from pulsebox.errors import ApiError

# Fields whose value is an array or object; a string value for them is decoded again.
STRUCTURED_FIELDS = frozenset({
    "emails", "email", "variables", "attachments", "attachments_binary", "phones", "template",
    "to", "from", "cc", "bcc", "headers", "actions", "list_id", "status", "tags", "stats",
    "filter", "buttons", "icon", "image", "filter_region", "filter_url", "subscription",  # web push
})
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
MAX_DEPTH = 32  # nesting of brackets or JSON objects
MAX_FIELDS = 200_000  # form fields in one body (PHP's max_input_vars idea)


def decode(content_type: str, body: bytes, query_string: bytes) -> dict:
    """Merge the query string and the body into one dict; the body wins on a clash."""
    params = decode_query(query_string)
    params.update(decode_body(content_type, body))
    return params


def decode_query(query_string: bytes) -> dict:
    if not query_string:
        return {}
    text = query_string.decode("latin-1")
    if "=" not in text:
        candidate = unquote(text).strip()
        if candidate.startswith("{"):
            # pysendpulse 0.1.8 sends every GET's parameters as ?<percent-encoded JSON object>
            try:
                value = orjson.loads(candidate)
            except orjson.JSONDecodeError:
                raise ApiError(8, "Query string is neither key=value pairs nor a JSON object") from None
            return _structure(value) if isinstance(value, dict) else {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ApiError(8, "The query string is not valid UTF-8") from None
    top = _unflatten(pairs)
    return _structure(top) if isinstance(top, dict) else {}


def decode_body(content_type: str, body: bytes) -> dict:
    if not body or not body.strip():
        return {}
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        return _form_fields(_unflatten(_multipart_pairs(content_type, body)))
    stripped = body.lstrip()
    if media.endswith("json") or (media != "application/x-www-form-urlencoded" and stripped[:1] in (b"{", b"[", b'"')):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(8, f"Malformed JSON body: {exc}") from None
        if isinstance(value, str):
            value = _parse_string(value)
        if isinstance(value, list):
            return {"emails": _structure(value)}
        if not isinstance(value, dict):
            raise ApiError(8, "The request body must be a JSON object")
        return _structure(value)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(8, "The request body is not valid UTF-8") from None
    try:
        top = _unflatten(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict"))
    except UnicodeDecodeError:
        raise ApiError(8, "A form field is not valid UTF-8 after percent-decoding") from None
    return _form_fields(top)


def _form_fields(top: dict | list) -> dict:
    """Form fields (urlencoded or multipart) as the request's dict."""
    if isinstance(top, list):  # ``0=a@x&1=b@x``: the legacy PHP client's getEmailsInfo
        return {"emails": _structure(top)}
    return _structure(top)


def _multipart_pairs(content_type: str, body: bytes) -> list[tuple[str, str]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiError(8, "Malformed multipart body")
    pairs = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True) or b""
        try:
            pairs.append((str(name), payload.decode(part.get_content_charset() or "utf-8")))
        except (UnicodeDecodeError, LookupError):
            raise ApiError(8, f"Multipart field {name!r} is not valid UTF-8") from None
    return pairs


def _unflatten(pairs: list[tuple[str, str]]) -> dict | list:
    """PHP bracket notation: ``a[0][b]=1&a[]=2`` -> nested dicts, lists where keys are 0..n-1."""
    if len(pairs) > MAX_FIELDS:
        raise ApiError(8, f"More than {MAX_FIELDS} form fields")
    root: dict = {}
    next_index: dict[int, int] = {}  # id(node) -> the index the next ``[]`` gets (no rescans)
    for key, value in pairs:
        first, _, rest = key.partition("[")
        path = [first] + (_BRACKET.findall("[" + rest) if rest else [])
        if len(path) > MAX_DEPTH:
            raise ApiError(8, "A form field is nested too deeply")
        node = root
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if part == "":
                part = str(next_index.get(id(node), 0))
            if (index := _index(part)) is not None:
                next_index[id(node)] = max(next_index.get(id(node), 0), index + 1)
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    return _listify(root)


def _index(key: str) -> int | None:
    """A list index in bracket notation: canonical ASCII digits only ("²" is a digit to
    str.isdigit, and "007" is a name, not index 7)."""
    if key.isascii() and key.isdigit() and len(key) < 10 and (key == "0" or key[0] != "0"):
        return int(key)
    return None


def _listify(node: object) -> object:
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        indexes = [_index(k) for k in node]
        if node and None not in indexes and sorted(indexes) == list(range(len(node))):
            return [node[str(i)] for i in range(len(node))]
    return node


def _parse_string(value: str) -> object:
    """A structured field sent as a string: JSON text or PHP serialize(); else the string itself."""
    text = value.strip()
    if text[:1] in ("[", "{"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ApiError(8, "A structured field holds malformed JSON") from None
    if phpserial.looks_serialized(text):
        try:
            return phpserial.loads(text)
        except phpserial.PhpSerialError as exc:
            raise ApiError(8, f"A structured field holds malformed PHP serialize() data: {exc}") from None
    return value


def _structure(node: object, depth: int = 0) -> object:
    """Decode structured fields given as strings, at every level; refuse NUL characters, which no
    field of this API can hold (and PostgreSQL cannot store in text)."""
    if depth > MAX_DEPTH:
        raise ApiError(8, "The request is nested too deeply")
    if isinstance(node, str):
        if "\x00" in node:
            raise ApiError(8, "Text must not contain NUL characters")
        return node
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            key = str(key)
            if "\x00" in key:
                raise ApiError(8, "Text must not contain NUL characters")
            if key in STRUCTURED_FIELDS and isinstance(value, str):
                value = _parse_string(value)
            out[key] = _structure(value, depth + 1)
        return out
    if isinstance(node, list):
        return [_structure(v, depth + 1) for v in node]
    return node


# ---- field helpers: SendPulse's loose typing, in one place ----

INT_DIGITS = 18  # an integer field holds at most 18 digits, written as text or as a JSON number
_INT_TEXT = re.compile(rf"\s*[+-]?\d{{1,{INT_DIGITS}}}\s*")


def as_int(value: object, *, code: int = 8, field: str = "value") -> int:
    if isinstance(value, bool):
        raise ApiError(code, f"{field} must be an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):  # bounded like the text form: 2**63 would overflow the database's bigint
        if -10**INT_DIGITS < value < 10**INT_DIGITS:
            return value
        raise ApiError(code, f"{field} must be an integer of at most {INT_DIGITS} digits")
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        return int(value)
    raise ApiError(code, f"{field} must be an integer")


MAX_ID = 2**31 - 1  # ids are 32-bit integer columns


def as_id(value: object, *, code: int, field: str = "id") -> int:
    """A record id: a positive 32-bit integer; anything else names no record (error ``code``)."""
    try:
        number = as_int(value, code=code, field=field)
    except ApiError:
        raise ApiError(code) from None
    if not 0 < number <= MAX_ID:
        raise ApiError(code)
    return number


def as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def as_list(value: object) -> list:
    """A list field; a dict with 0..n-1 keys was already listified, any other dict is its values."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip()
    return None


def b64_text(value: str, *, strict: bool = False) -> str:
    """Decode a base64 field to text; with ``strict=False`` plain text passes through unchanged
    (older clients send some documented-base64 fields in clear)."""
    compact = "".join(value.split())
    try:
        text = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True).decode("utf-8")
        if "\x00" in text:
            if strict:
                raise ApiError(8, "Text must not contain NUL characters")
            return value
        if strict or text.replace("\n", "").replace("\r", "").replace("\t", "").isprintable():
            return text
    except (binascii.Error, ValueError, UnicodeDecodeError):
        if strict:
            raise ApiError(8, "A base64 field is not valid base64 of UTF-8 text") from None
    return value


def paging(params: dict, *, default_limit: int = 100, max_limit: int = 100) -> tuple[int, int]:
    """``limit``/``offset`` as documented: at most 100 records per page."""
    limit = params.get("limit")
    offset = params.get("offset")
    limit = default_limit if limit in (None, "") else as_int(limit, field="limit")
    offset = 0 if offset in (None, "") else as_int(offset, field="offset")
    if limit < 0 or offset < 0:
        raise ApiError(8, "limit and offset must not be negative")
    return min(limit or default_limit, max_limit), offset
