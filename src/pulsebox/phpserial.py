"""Reader for PHP's ``serialize()`` format, as sent by the legacy PHP client and the Node client.

Strings are prefixed with their length in UTF-8 *bytes* and quotes inside them are not escaped
(``s:5:"a"b"c";``), so the reader walks the byte string by length and never searches for quotes.
PHP arrays with keys 0..n-1 become lists; other arrays and objects become dicts.
"""

from __future__ import annotations

import re

MAX_DEPTH = 64
_HEAD = re.compile(rb"a:\d+:\{")


class PhpSerialError(ValueError):
    pass


def looks_serialized(text: str) -> bool:
    return _HEAD.match(text.encode("utf-8", "surrogatepass")[:24]) is not None


def loads(data: bytes | str) -> object:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    value, end = _read(raw, 0, 0)
    if raw[end:].strip():
        raise PhpSerialError(f"trailing data at byte {end}")
    return value


def _read_until(raw: bytes, pos: int, stop: bytes) -> tuple[bytes, int]:
    end = raw.find(stop, pos)
    if end < 0:
        raise PhpSerialError(f"expected {stop!r} after byte {pos}")
    return raw[pos:end], end + 1


def _read(raw: bytes, pos: int, depth: int) -> tuple[object, int]:
    if depth > MAX_DEPTH:
        raise PhpSerialError("nesting too deep")
    if pos >= len(raw):
        raise PhpSerialError("unexpected end of data")
    kind = raw[pos:pos + 1]
    if kind == b"N":
        if raw[pos + 1:pos + 2] != b";":
            raise PhpSerialError(f"bad null at byte {pos}")
        return None, pos + 2
    if raw[pos + 1:pos + 2] != b":":
        raise PhpSerialError(f"bad token at byte {pos}")
    pos += 2
    try:
        if kind == b"b":
            text, pos = _read_until(raw, pos, b";")
            if text not in (b"0", b"1"):  # serialize() writes only b:0; and b:1;
                raise PhpSerialError(f"bad boolean {text!r}")
            return text == b"1", pos
        if kind == b"i":
            text, pos = _read_until(raw, pos, b";")
            return int(text), pos
        if kind == b"d":
            text, pos = _read_until(raw, pos, b";")
            number = float(text)
            return (int(number) if number.is_integer() and b"." not in text and b"E" not in text.upper()
                    else number), pos
        if kind == b"s":
            text, pos = _read_until(raw, pos, b":")
            length = int(text)
            if length < 0 or raw[pos:pos + 1] != b'"' or raw[pos + 1 + length:pos + 3 + length] != b'";':
                raise PhpSerialError(f"bad string at byte {pos}")
            return raw[pos + 1:pos + 1 + length].decode("utf-8"), pos + 3 + length
        if kind in (b"a", b"O"):
            if kind == b"O":  # O:len:"Class":n:{...}: skip the class name, read like an array
                text, pos = _read_until(raw, pos, b":")
                pos += int(text) + 3
            text, pos = _read_until(raw, pos, b":")
            count = int(text)
            if raw[pos:pos + 1] != b"{" or count < 0:
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
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, PhpSerialError):
            raise
        raise PhpSerialError(str(exc)) from exc
    raise PhpSerialError(f"unknown type {kind!r} at byte {pos - 2}")
