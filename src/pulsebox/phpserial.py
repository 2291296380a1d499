"""Reader for PHP's ``serialize()`` format, as sent by the legacy PHP client and the Node client.

Strings are prefixed with their length in UTF-8 *bytes* and quotes inside them are not escaped
(``s:5:"a"b"c";``), so the reader walks the byte string by length and never searches for quotes.
PHP arrays with keys 0..n-1 become lists; other arrays and objects become dicts.

The input is hostile until read: every number is matched by a bounded pattern at its position
(never ``int()`` on free text, which takes ``-17``, ``1_0`` and spaces), every length and count is
checked against what is left of the input before it is used, and the position only moves
forward, so reading costs time linear in the input whatever it holds.
"""

from __future__ import annotations

import math
import re

MAX_DEPTH = 64
_HEAD = re.compile(rb"a:\d+:\{")
_LENGTH = re.compile(rb"(\d{1,10}):")  # a string length or an element count, then ':'
_INT = re.compile(rb"(-?\d{1,19});")  # PHP integers are 64-bit
_FLOAT = re.compile(rb"(-?(?:\d{1,400}(?:\.\d{0,400})?|\.\d{1,400})(?:[eE][+-]?\d{1,4})?);")
_BOOL = re.compile(rb"([01]);")  # serialize() writes only b:0; and b:1;
MIN_ELEMENT = 6  # the shortest key + value pair: ``i:0;N;``


class PhpSerialError(ValueError):
    pass


def looks_serialized(text: str) -> bool:
    return _HEAD.match(text.encode("utf-8", "surrogatepass")[:24]) is not None


def loads(data: bytes | str) -> object:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    value, end = _read(raw, 0, 0)
    if raw[end:].strip():
        raise PhpSerialError(f"trailing data at byte {end}")
    return value


def _match(pattern: re.Pattern[bytes], raw: bytes, pos: int, what: str) -> tuple[bytes, int]:
    found = pattern.match(raw, pos)
    if found is None:
        raise PhpSerialError(f"bad {what} at byte {pos}")
    return found[1], found.end()


def _read(raw: bytes, pos: int, depth: int) -> tuple[object, int]:
    if depth > MAX_DEPTH:
        raise PhpSerialError("nesting too deep")
    kind = raw[pos:pos + 1]
    if not kind:
        raise PhpSerialError("unexpected end of data")
    if kind == b"N":
        if raw[pos + 1:pos + 2] != b";":
            raise PhpSerialError(f"bad null at byte {pos}")
        return None, pos + 2
    if raw[pos + 1:pos + 2] != b":":
        raise PhpSerialError(f"bad token at byte {pos}")
    pos += 2
    if kind == b"b":
        text, pos = _match(_BOOL, raw, pos, "boolean")
        return text == b"1", pos
    if kind == b"i":
        text, pos = _match(_INT, raw, pos, "integer")
        return int(text), pos
    if kind == b"d":
        text, pos = _match(_FLOAT, raw, pos, "float")
        number = float(text)
        if not math.isfinite(number):
            raise PhpSerialError(f"float out of range at byte {pos}")
        exact = number.is_integer() and b"." not in text and b"e" not in text.lower()
        return (int(text) if exact else number), pos
    if kind == b"s":
        return _string(raw, pos)
    if kind in (b"a", b"O"):
        if kind == b"O":  # O:len:"Class":n:{...}: check and skip the class name, read like an array
            _, pos = _string(raw, pos, end=b'":')
        text, pos = _match(_LENGTH, raw, pos, "array")
        count = int(text)
        if raw[pos:pos + 1] != b"{" or count * MIN_ELEMENT > len(raw) - pos:
            raise PhpSerialError(f"bad array at byte {pos}")
        pos += 1
        items: dict[object, object] = {}
        for _ in range(count):
            key, pos = _read(raw, pos, depth + 1)
            if not isinstance(key, (int, str)):
                raise PhpSerialError("array keys must be integers or strings")
            items[key], pos = _read(raw, pos, depth + 1)
        if raw[pos:pos + 1] != b"}":
            raise PhpSerialError(f"expected '}}' at byte {pos}")
        pos += 1
        if list(items) == list(range(len(items))):
            return list(items.values()), pos
        return {str(k): v for k, v in items.items()}, pos
    raise PhpSerialError(f"unknown type {kind!r} at byte {pos - 2}")


def _string(raw: bytes, pos: int, end: bytes = b'";') -> tuple[str, int]:
    """``len:"bytes"`` followed by ``end``: the length is checked against the input first."""
    text, pos = _match(_LENGTH, raw, pos, "string length")
    length = int(text)
    close = pos + 1 + length
    if close + len(end) > len(raw) or raw[pos:pos + 1] != b'"' or raw[close:close + len(end)] != end:
        raise PhpSerialError(f"bad string at byte {pos}")
    try:
        return raw[pos + 1:close].decode("utf-8"), close + len(end)
    except UnicodeDecodeError as exc:
        raise PhpSerialError(f"string at byte {pos} is not UTF-8") from exc
