"""Unit tests of the PHP ``serialize()`` reader (pulsebox.phpserial).

The legacy PHP client (form bodies) and the Node client (JSON bodies) send structured fields as PHP
``serialize()`` strings: string lengths are UTF-8 *byte* counts and quotes inside values are not
escaped, so the reader must walk by length (docs/wire.md, rule 6).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulsebox import phpserial
from pulsebox.phpserial import PhpSerialError, loads, looks_serialized

WIRE_DIR = Path(__file__).resolve().parent / "contract" / "captures"  # the real clients' requests


# ---- a tiny PHP serialize() writer, to check byte-exact round trips ----

def php_serialize(value: object) -> bytes:
    """What PHP's serialize() produces for the JSON-like value (lists -> 0..n-1 keyed arrays)."""
    if value is None:
        return b"N;"
    if isinstance(value, bool):
        return b"b:1;" if value else b"b:0;"
    if isinstance(value, int):
        return b"i:%d;" % value
    if isinstance(value, float):
        return b"d:" + repr(value).encode() + b";"
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return b's:%d:"' % len(raw) + raw + b'";'
    if isinstance(value, list):
        value = dict(enumerate(value))
    if isinstance(value, dict):
        out = b"a:%d:{" % len(value)
        for key, item in value.items():
            key_bytes = php_serialize(int(key)) if isinstance(key, int) or str(key).isdigit() else php_serialize(key)
            out += key_bytes + php_serialize(item)
        return out + b"}"
    raise TypeError(type(value))


# ---- scalars ----

@pytest.mark.parametrize(("data", "expected"), [
    ("i:0;", 0),
    ("i:5;", 5),
    ("i:-42;", -42),
    ("i:9007199254740993;", 9007199254740993),
    ("d:1.5;", 1.5),
    ("d:-0.25;", -0.25),
    ("d:1.0E+25;", 1e25),
    ("b:1;", True),
    ("b:0;", False),
    ("N;", None),
    ('s:0:"";', ""),
    ('s:5:"hello";', "hello"),
])
def test_scalars(data, expected):
    value = loads(data)
    assert value == expected
    assert type(value) is type(expected)


def test_php_whole_float_is_numerically_equal():
    # PHP writes 1.0 as ``d:1;``; any numeric type equal to 1 is acceptable.
    assert loads("d:1;") == 1
    assert loads("d:1.0;") == 1.0


def test_bytes_and_str_input_are_equivalent():
    data = 's:8:"Анна";'
    assert loads(data) == loads(data.encode("utf-8")) == "Анна"


def test_trailing_whitespace_is_tolerated():
    assert loads('s:3:"abc";  \n') == "abc"


# ---- strings: UTF-8 byte lengths and unescaped quotes ----

@pytest.mark.parametrize("text", [
    "Анна",                    # 2-byte Cyrillic
    "Імʼя",                    # Ukrainian with U+02BC (2 bytes)
    "Тема 😀 \"q\"",            # 4-byte emoji and unescaped quotes
    "中文",                     # 3-byte CJK
    'a"b"c',                   # quotes only
    '";}s:1:"x";',             # serialize() syntax inside the value
    "line\nbreak\ttab\r",
    "semi;colon:colon{}",
])
def test_string_length_is_counted_in_utf8_bytes(text):
    raw = text.encode("utf-8")
    data = b's:%d:"' % len(raw) + raw + b'";'
    assert loads(data) == text


def test_unescaped_quotes_inside_value_inside_array():
    data = 'a:2:{s:7:"subject";s:17:"Тема 😀 "q"";s:4:"name";s:5:"a"b"c";}'
    assert loads(data) == {"subject": 'Тема 😀 "q"', "name": 'a"b"c'}


def test_character_count_instead_of_byte_count_is_rejected():
    # "Анна" is 4 characters but 8 bytes: a writer that counted characters is wrong.
    with pytest.raises(PhpSerialError):
        loads('s:4:"Анна";')


def test_length_ending_inside_a_multibyte_character_is_rejected():
    with pytest.raises(PhpSerialError):
        loads(b's:1:"\xd0";')


def test_invalid_utf8_inside_string_is_rejected():
    with pytest.raises(PhpSerialError):
        loads(b's:2:"\xff\xfe";')


# ---- arrays: lists vs dicts ----

def test_sequential_integer_keys_become_a_list():
    assert loads('a:2:{i:0;s:1:"a";i:1;s:1:"b";}') == ["a", "b"]


def test_empty_array_is_an_empty_list():
    assert loads("a:0:{}") == []


def test_string_keys_become_a_dict():
    assert loads('a:2:{s:4:"name";s:3:"Ann";s:1:"n";i:5;}') == {"name": "Ann", "n": 5}


def test_non_sequential_integer_keys_become_a_dict_with_string_keys():
    assert loads('a:1:{i:1;s:1:"x";}') == {"1": "x"}
    assert loads('a:2:{i:1;s:1:"x";i:0;s:1:"y";}') == {"1": "x", "0": "y"}
    assert loads('a:2:{i:0;s:1:"x";i:2;s:1:"y";}') == {"0": "x", "2": "y"}


def test_mixed_keys_become_a_dict():
    assert loads('a:2:{i:0;s:1:"x";s:1:"k";s:1:"y";}') == {"0": "x", "k": "y"}


def test_nested_arrays():
    data = ('a:2:{i:0;a:2:{s:5:"email";s:13:"a@example.com";s:9:"variables";a:1:{s:4:"name";s:3:"Ann";}}'
            'i:1;a:2:{s:5:"email";s:13:"b@example.com";s:9:"variables";a:0:{}}}')
    assert loads(data) == [
        {"email": "a@example.com", "variables": {"name": "Ann"}},
        {"email": "b@example.com", "variables": []},
    ]


def test_list_of_lists():
    assert loads("a:2:{i:0;a:1:{i:0;i:1;}i:1;a:0:{}}") == [[1], []]


def test_object_reads_like_an_array():
    assert loads('O:8:"stdClass":2:{s:1:"a";i:1;s:1:"b";a:1:{i:0;N;}}') == {"a": 1, "b": [None]}


def test_nesting_within_the_limit_is_accepted():
    depth = 20
    data = "a:1:{i:0;" * depth + "i:7;" + "}" * depth
    value = loads(data)
    for _ in range(depth):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == 7


# ---- malformed input ----

@pytest.mark.parametrize("data", [
    "",                                   # nothing at all
    "   ",
    "i:5",                                # truncated: no terminator
    "i:",
    's:5:"hello"',                        # truncated string terminator
    's:5:"hel',
    "a:2:{i:0;s:1:\"a\";",                # truncated array
    "a:1:{",
    "a:1:{i:0;",
    "a:1:{i:0;i:1;",                      # missing closing brace
    "N",                                  # null without ;
])
def test_truncated_input_is_rejected(data):
    with pytest.raises(PhpSerialError):
        loads(data)


@pytest.mark.parametrize("data", [
    's:6:"hello";',       # declared length too long
    's:4:"hello";',       # declared length too short
    's:-1:"";',           # negative length
    's:x:"a";',           # non-numeric length
    's:5:hello;',         # missing quotes
    "a:2:{i:0;i:1;}",     # fewer elements than declared
    "a:1:{i:0;i:1;i:1;i:2;}",  # more elements than declared
    "a:-1:{}",            # negative count
    "a:1:[i:0;i:1;]",     # wrong brackets
])
def test_wrong_length_or_count_is_rejected(data):
    with pytest.raises(PhpSerialError):
        loads(data)


@pytest.mark.parametrize("data", [
    "x:1;",               # unknown type letter
    "r:1;",               # PHP references are not supported
    'S:1:"a";',           # escaped-string type is not produced by serialize()
    "i:abc;",             # integer that is not a number
    "i:1.5;",             # float given as integer
    "d:abc;",             # float that is not a number
    "a:1:{d:1.5;i:1;}",   # float key
    "a:1:{N;i:1;}",       # null key
    "a:1:{a:0:{}i:1;}",   # array key
    "i;",                 # missing colon
])
def test_bad_type_is_rejected(data):
    with pytest.raises(PhpSerialError):
        loads(data)


@pytest.mark.parametrize("data", ["b:2;", "b:;", "b:x;"])
def test_malformed_boolean_is_rejected(data):
    with pytest.raises(PhpSerialError):
        loads(data)


def test_trailing_data_is_rejected():
    with pytest.raises(PhpSerialError):
        loads("i:1;i:2;")
    with pytest.raises(PhpSerialError):
        loads('a:0:{}s:1:"x";')


def test_too_deep_nesting_is_rejected():
    depth = phpserial.MAX_DEPTH + 5
    with pytest.raises(PhpSerialError, match="deep"):
        loads("a:1:{i:0;" * depth + "N;" + "}" * depth)


def test_very_deep_nesting_fails_cleanly_not_with_recursion_error():
    depth = 100_000
    with pytest.raises(PhpSerialError):
        loads("a:1:{i:0;" * depth + "N;" + "}" * depth)


# ---- hostile input: every length and count is bounded by the input, the reader only moves forward ----

HOSTILE = [
    "a:1000000000000000:{i:0;a:0:{}i:1;O:-17:}",  # a negative class-name length jumped backwards for ever
    'a:1:{i:0;O:-5:"x":0:{}}',
    'a:1:{i:0;s:-1:"";}',
    "a:99999999:{i:0;N;}",  # a count the input cannot hold
    's:999999999:"x";',
    "i:1_000;",  # int() takes underscores and spaces; serialize() never writes them
    "i: 5;",
    "i:" + "9" * 5000 + ";",
    "d:nan;",
    "d:1e999;",
    'O:4:"Evil"',
]


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_input_is_refused_at_once(data):
    def refused_in() -> float:
        started = time.perf_counter()
        with pytest.raises(PhpSerialError):
            loads(data)
        return time.perf_counter() - started

    # the best of three: one run can be stretched by a machine busy with other tests (they run side by
    # side); a reader that loops or backtracks takes far longer every time
    assert min(refused_in() for _ in range(3)) < 0.05


def _finishes(data: bytes) -> None:
    started = time.perf_counter()
    try:
        loads(data)
    except PhpSerialError:
        pass
    assert time.perf_counter() - started < 0.5, data


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_read_or_refused_quickly(data):
    _finishes(data)


_TOKENS = st.sampled_from([b"a:", b"O:", b"s:", b"i:", b"d:", b"b:", b"N;", b"{", b"}", b";", b":", b'"',
                           b"-1", b"-17", b"0", b"1", b"2", b"99999999999", b"1e999", b"nan", b"x"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_TOKENS, max_size=60))
def test_serialize_shaped_noise_read_or_refused_quickly(tokens):
    _finishes(b"".join(tokens))


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text("abc_", max_size=5), inner, max_size=4),
                    max_leaves=20),
       st.data())
def test_mutated_serializations_read_or_refused_quickly(value, data):
    raw = bytearray(php_serialize(value))
    for _ in range(data.draw(st.integers(0, 4))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.sampled_from(b"-0123456789:;{}\"xsaOiN"))
    _finishes(bytes(raw))


def _timed_loads(count: int) -> float:
    data = b"a:%d:{" % count + b"".join(b"i:%d;i:%d;" % (i, i) for i in range(count)) + b"}"
    started = time.perf_counter()
    assert loads(data) == list(range(count))
    return time.perf_counter() - started


def test_large_input_reads_in_linear_time():
    """Ten times the input costs about ten times the time (a quadratic reader: a hundred), whatever
    else the machine is doing; the best of two runs of each size is compared."""
    small = min(_timed_loads(10_000) for _ in range(2))
    large = min(_timed_loads(100_000) for _ in range(2))
    assert large < 30 * small + 0.05, (small, large)


def test_error_is_a_value_error():
    assert issubclass(PhpSerialError, ValueError)


# ---- looks_serialized ----

@pytest.mark.parametrize(("text", "expected"), [
    ("a:0:{}", True),
    ('a:1:{i:0;s:1:"x";}', True),
    ("a:12:{", True),
    ('["a"]', False),
    ('{"a":1}', False),
    ("a@example.com", False),
    ("a:b", False),
    ("", False),
    ('s:1:"x";', False),  # only arrays are structured values
])
def test_looks_serialized(text, expected):
    assert looks_serialized(text) is expected


# ---- the exact strings seen in the captures ----

# The /smtp/emails message both the Node client (in JSON) and the legacy PHP client (in a form) send.
SMTP_MESSAGE_PHP = ('a:5:{s:4:"html";s:24:"PHA+SGkge3tuYW1lfX08L3A+";s:4:"text";s:2:"Hi";s:7:"subject";s:5:"Hello";'
                    's:4:"from";a:2:{s:4:"name";s:2:"Me";s:5:"email";s:16:"from@example.com";}'
                    's:2:"to";a:1:{i:0;a:2:{s:4:"name";s:3:"You";s:5:"email";s:14:"to@example.com";}}}')
SMTP_MESSAGE = {"html": "PHA+SGkge3tuYW1lfX08L3A+", "text": "Hi", "subject": "Hello",
                "from": {"name": "Me", "email": "from@example.com"},
                "to": [{"name": "You", "email": "to@example.com"}]}

CAPTURED: list[tuple[str, str, object]] = [
    # (capture file, serialized string, decoded value)
    ("sendpulse-api-node-1.1.7-unicode.jsonl",
     'a:1:{i:0;a:2:{s:5:"email";s:13:"a@example.com";s:9:"variables";a:4:{s:8:"Імʼя";s:8:"Анна";'
     's:1:"n";i:5;s:1:"f";d:1.5;s:1:"b";b:1;}}}',
     [{"email": "a@example.com", "variables": {"Імʼя": "Анна", "n": 5, "f": 1.5, "b": True}}]),
    ("sendpulse-api-node-1.1.7-unicode.jsonl",
     'a:5:{s:4:"html";s:32:"PHA+0J/RgNC40LLRltGCIPCfmIA8L3A+";s:7:"subject";s:17:"Тема 😀 "q"";'
     's:4:"from";a:2:{s:4:"name";s:2:"Я";s:5:"email";s:16:"from@example.com";}'
     's:2:"to";a:1:{i:0;a:1:{s:5:"email";s:14:"to@example.com";}}'
     's:11:"attachments";a:1:{s:5:"a.txt";s:5:"hello";}}',
     {"html": "PHA+0J/RgNC40LLRltGCIPCfmIA8L3A+", "subject": 'Тема 😀 "q"',
      "from": {"name": "Я", "email": "from@example.com"}, "to": [{"email": "to@example.com"}],
      "attachments": {"a.txt": "hello"}}),
    ("sendpulse-api-node-1.1.7.jsonl",
     'a:2:{i:0;a:2:{s:5:"email";s:13:"a@example.com";s:9:"variables";a:2:{s:4:"name";s:3:"Ann";'
     's:5:"Phone";s:13:"+380501234567";}}i:1;a:2:{s:5:"email";s:13:"b@example.com";s:9:"variables";a:0:{}}}',
     [{"email": "a@example.com", "variables": {"name": "Ann", "Phone": "+380501234567"}},
      {"email": "b@example.com", "variables": []}]),
    ("sendpulse-api-node-1.1.7.jsonl",
     'a:2:{i:0;s:13:"a@example.com";i:1;s:13:"b@example.com";}',
     ["a@example.com", "b@example.com"]),
    ("sendpulse-api-node-1.1.7.jsonl",
     SMTP_MESSAGE_PHP, SMTP_MESSAGE),
    ("php-rest-api-1.0.27.jsonl",
     'a:2:{i:0;s:13:"a@example.com";i:1;s:13:"b@example.com";}',
     ["a@example.com", "b@example.com"]),
    ("php-rest-api-1.0.27.jsonl",  # the same /smtp/emails message as the Node client's, in a form field
     SMTP_MESSAGE_PHP, SMTP_MESSAGE),
    ("php-rest-api-1.0.27-more.jsonl",
     'a:1:{i:0;a:2:{s:5:"email";s:13:"u@example.com";s:7:"comment";s:1:"c";}}',
     [{"email": "u@example.com", "comment": "c"}]),
]


@pytest.mark.parametrize(("capture", "data", "expected"), CAPTURED,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CAPTURED)])
def test_captured_strings_decode(capture, data, expected):
    assert loads(data) == expected
    assert looks_serialized(data)


@pytest.mark.parametrize(("capture", "data", "expected"), CAPTURED,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CAPTURED)])
def test_captured_strings_round_trip_byte_exact(capture, data, expected):
    assert php_serialize(loads(data)) == data.encode("utf-8")
    assert loads(php_serialize(expected)) == expected


def _serialized_fields_in(capture: Path) -> list[str]:
    """Every PHP-serialized field value in a capture's bodies (JSON or form)."""
    found = []
    for line in capture.read_text().splitlines():
        record = json.loads(line)
        body = base64.b64decode(record["body_b64"])
        head = record["head"].lower()
        if "application/json" in head and body.strip().startswith(b"{"):
            values = json.loads(body).values()
        elif "x-www-form-urlencoded" in head:
            values = [v for _, v in parse_qsl(body.decode("utf-8"), keep_blank_values=True)]
        else:
            continue
        found += [v for v in values if isinstance(v, str) and looks_serialized(v)]
    return found


def test_the_strings_above_are_the_ones_in_the_captures():
    """Guards the literal table: each serialized field on the wire is listed above, verbatim."""
    listed = {(capture, data) for capture, data, _ in CAPTURED}
    on_wire = {(p.name, s) for p in sorted(WIRE_DIR.glob("*.jsonl")) for s in _serialized_fields_in(p)}
    assert on_wire, "no serialized strings found in the captures"
    assert on_wire == listed
