"""Unit tests of pulsebox.wire: every encoding real SendPulse clients send becomes a plain dict
(docs/wire.md), and the loose field helpers behave like SendPulse."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulsebox import wire
from pulsebox.errors import ApiError
from pulsebox.wire import as_bool, as_int, as_list, as_text, b64_text, decode, decode_body, decode_query, paging

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def multipart(fields: list[tuple], boundary: str = "------------------------0a2141d1444f9206") -> tuple[str, bytes]:
    """A real multipart/form-data body (the curl layout the legacy PHP client sends).

    ``fields`` items are (name, value) or (name, value, extra header lines)."""
    body = b""
    for field in fields:
        name, value = field[0], field[1]
        extra = field[2] if len(field) > 2 else b""
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        body += (b"--" + boundary.encode() + b"\r\n"
                 + b'Content-Disposition: form-data; name="' + name.encode() + b'"' + extra + b"\r\n\r\n"
                 + raw + b"\r\n")
    body += b"--" + boundary.encode() + b"--\r\n"
    return f"multipart/form-data; boundary={boundary}", body


def api_error(code: int = 8):
    """``pytest.raises`` for an ApiError, checking its code and that it is a 4xx."""
    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(ApiError)
            self.info = self._ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self._ctx.__exit__(*exc)
            assert self.info.value.code == code, self.info.value
            assert 400 <= self.info.value.status < 500
            body = self.info.value.body()
            assert body["is_error"] is True and body["error_code"] == code and body["message"]
            return handled
    return _Check()


# ============================================================================================== #
# JSON bodies
# ============================================================================================== #

def test_json_object():
    assert decode_body(JSON, b'{"bookName":"Book","n":1,"f":1.5,"b":true,"z":null}') == {
        "bookName": "Book", "n": 1, "f": 1.5, "b": True, "z": None}


def test_json_with_charset_and_whitespace():
    assert decode_body("application/json; charset=UTF-8", b'  \n{"a": "\xd0\x90"}\n ') == {"a": "А"}


def test_json_unicode_escapes():
    body = b'{"emails":[{"email":"c@example.com","variables":{"\\u0418\\u043c\\u044f":"\\u0410\\u043d\\u043d\\u0430"}}]}'
    assert decode_body(JSON, body) == {"emails": [{"email": "c@example.com", "variables": {"Имя": "Анна"}}]}


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/octet-stream"])
def test_json_is_sniffed_without_a_json_content_type(content_type):
    assert decode_body(content_type, b'{"a":1}') == {"a": 1}


def test_vendor_json_media_type():
    assert decode_body("application/vnd.api+json", b'{"a":1}') == {"a": 1}


@pytest.mark.parametrize("body", [b'{"a":1', b"{a:1}", b"{'a':1}", b'{"a":1,}', b"[1,", b"nope", b'{"a":1}}'])
def test_malformed_json_is_error_8(body):
    with api_error(8):
        decode_body(JSON, body)


@pytest.mark.parametrize("body", [b"5", b"true", b"null", b'"just text"'])
def test_json_scalar_body_is_error_8(body):
    with api_error(8):
        decode_body(JSON, body)


def test_json_body_that_is_a_string_of_json():
    # a body double-encoded by a client: "{\"a\":1}"
    assert decode_body(JSON, json.dumps(json.dumps({"a": 1})).encode()) == {"a": 1}


def test_json_invalid_utf8_is_error_8():
    with api_error(8):
        decode_body(JSON, b'{"a":"\xff\xfe"}')


def test_json_too_deep_is_error_8():
    value: dict = {}
    node = value
    for _ in range(60):
        node["a"] = {}
        node = node["a"]
    with api_error(8):
        decode_body(JSON, json.dumps(value).encode())


def test_json_moderately_nested_is_fine():
    value = {"a": {"b": {"c": [{"d": [1, 2]}]}}}
    assert decode_body(JSON, json.dumps(value).encode()) == value


# ============================================================================================== #
# empty bodies
# ============================================================================================== #

@pytest.mark.parametrize("content_type", [JSON, FORM, "", "multipart/form-data; boundary=x"])
@pytest.mark.parametrize("body", [b"", b"   ", b"\r\n", b"\n\t "])
def test_empty_body_is_empty_dict(content_type, body):
    assert decode_body(content_type, body) == {}


def test_empty_json_object_and_list():
    assert decode_body(JSON, b"{}") == {}
    assert decode_body(JSON, b"[]") == {"emails": []}


# ============================================================================================== #
# bare lists become ``emails``
# ============================================================================================== #

def test_bare_json_list_becomes_emails():
    # php-rest-api 2.0.1.2 getEmailsInfo: POST /emails with ["a@example.com","b@example.com"]
    assert decode_body(JSON, b'["a@example.com","b@example.com"]') == {"emails": ["a@example.com", "b@example.com"]}


def test_bare_json_list_of_objects_becomes_emails():
    assert decode_body(JSON, b'[{"email":"a@example.com","variables":"{\\"k\\":1}"}]') == {
        "emails": [{"email": "a@example.com", "variables": {"k": 1}}]}


def test_bare_form_list_becomes_emails():
    # php-rest-api 1.0.27 getEmailsInfo: POST /emails with 0=a%40example.com&1=b%40example.com
    assert decode_body(FORM, b"0=a%40example.com&1=b%40example.com") == {
        "emails": ["a@example.com", "b@example.com"]}


def test_form_with_numeric_keys_out_of_order_still_a_list():
    assert decode_body(FORM, b"1=b%40x.com&0=a%40x.com") == {"emails": ["a@x.com", "b@x.com"]}


def test_form_with_non_contiguous_numeric_keys_is_not_a_list():
    assert decode_body(FORM, b"0=a&2=b") == {"0": "a", "2": "b"}


# ============================================================================================== #
# form bodies
# ============================================================================================== #

def test_form_plain_fields():
    assert decode_body(FORM, b"bookName=Book") == {"bookName": "Book"}
    assert decode_body(FORM, b"sender_name=From+Name&sender_email=from%40example.com&name=&type=") == {
        "sender_name": "From Name", "sender_email": "from@example.com", "name": "", "type": ""}


def test_form_percent_encoded_utf8():
    assert decode_body(FORM, urlencode({"bookName": "Книга 😀"}).encode()) == {"bookName": "Книга 😀"}


def test_form_without_content_type():
    assert decode_body("", b"a=1&b=2") == {"a": "1", "b": "2"}


def test_form_raw_invalid_utf8_is_error_8():
    with api_error(8):
        decode_body(FORM, b"a=\xff\xfe")


def test_form_percent_encoded_invalid_utf8_is_error_8():
    with api_error(8):
        decode_body(FORM, b"bookName=%FF%FE")


def test_form_value_keeps_special_characters():
    assert decode_body(FORM, b"x=a%3Db%26c%3Bd") == {"x": "a=b&c;d"}


# ---- PHP bracket notation ----

def test_bracket_notation_nested_contacts():
    body = ("emails[0][email]=a%40example.com&emails[0][variables][name]=Ann"
            "&emails[0][variables][Phone]=%2B380501234567&emails[1][email]=b%40example.com").encode()
    assert decode_body(FORM, body) == {"emails": [
        {"email": "a@example.com", "variables": {"name": "Ann", "Phone": "+380501234567"}},
        {"email": "b@example.com"},
    ]}


def test_bracket_notation_percent_encoded_brackets():
    # php-rest-api 1.0.27 updateEmailVariables, verbatim
    body = (b"email=a%40example.com&variables%5B0%5D%5Bname%5D=name&variables%5B0%5D%5Bvalue%5D=Ann"
            b"&variables%5B1%5D%5Bname%5D=age&variables%5B1%5D%5Bvalue%5D=30")
    assert decode_body(FORM, body) == {
        "email": "a@example.com",
        "variables": [{"name": "name", "value": "Ann"}, {"name": "age", "value": "30"}],
    }


def test_bracket_notation_append():
    assert decode_body(FORM, b"a[]=1&a[]=2") == {"a": ["1", "2"]}
    assert decode_body(FORM, b"emails[]=a%40x.com&emails[]=b%40x.com") == {"emails": ["a@x.com", "b@x.com"]}


def test_bracket_notation_nested_append():
    assert decode_body(FORM, b"b[x][]=3&b[x][]=4") == {"b": {"x": ["3", "4"]}}


def test_bracket_notation_string_keys_stay_a_dict():
    # php-rest-api 1.0.27 createCampaign attachments
    assert decode_body(FORM, b"attachments%5Bfile.txt%5D=content") == {"attachments": {"file.txt": "content"}}


def test_bracket_notation_non_sequential_indexes_stay_a_dict():
    assert decode_body(FORM, b"a[0]=x&a[2]=y") == {"a": {"0": "x", "2": "y"}}
    assert decode_body(FORM, b"a[1]=x&a[0]=y") == {"a": ["y", "x"]}


def test_bracket_notation_in_query():
    assert decode_query(b"emails[0][variables][name]=Ann&emails[0][email]=a%40x.com") == {
        "emails": [{"variables": {"name": "Ann"}, "email": "a@x.com"}]}
    assert decode_query(b"a[]=1&a[]=2") == {"a": ["1", "2"]}
    assert decode_query(b"a%5B%5D=1&a%5B%5D=2") == {"a": ["1", "2"]}


# ---- structured fields as strings, in forms ----

def test_json_string_in_form_field():
    # pysendpulse 0.1.5 add_emails_to_addressbook, verbatim
    body = (b"emails=%5B%7B%22email%22%3A+%22a%40example.com%22%2C+%22variables%22%3A+%7B%22name%22%3A+%22Ann%22"
            b"%2C+%22Phone%22%3A+%22%2B380501234567%22%7D%7D%2C+%7B%22email%22%3A+%22b%40example.com%22%7D%5D")
    assert decode_body(FORM, body) == {"emails": [
        {"email": "a@example.com", "variables": {"name": "Ann", "Phone": "+380501234567"}},
        {"email": "b@example.com"},
    ]}


def test_empty_json_object_string_in_form_field():
    assert decode_body(FORM, b"attachments=%7B%7D") == {"attachments": {}}


def test_php_serialize_in_form_field():
    # php-rest-api 1.0.27 removeEmails, verbatim
    body = b"emails=a%3A2%3A%7Bi%3A0%3Bs%3A13%3A%22a%40example.com%22%3Bi%3A1%3Bs%3A13%3A%22b%40example.com%22%3B%7D"
    assert decode_body(FORM, body) == {"emails": ["a@example.com", "b@example.com"]}


def test_php_serialize_with_multibyte_and_quotes_in_form_field():
    serialized = 'a:1:{s:7:"subject";s:17:"Тема 😀 "q"";}'
    assert decode_body(FORM, urlencode({"email": serialized}).encode()) == {"email": {"subject": 'Тема 😀 "q"'}}


def test_phones_json_string_in_form_field():
    assert decode_body(FORM, b"addressBookId=4242&phones=%5B%22380501234567%22%5D") == {
        "addressBookId": "4242", "phones": ["380501234567"]}


# ============================================================================================== #
# structured fields as strings, in JSON
# ============================================================================================== #

def test_json_string_in_json_field():
    body = b'{"emails": "[{\\"email\\": \\"a@example.com\\", \\"variables\\": {\\"name\\": \\"Ann\\"}}, {\\"email\\": \\"b@example.com\\"}]"}'
    assert decode_body(JSON, body) == {"emails": [
        {"email": "a@example.com", "variables": {"name": "Ann"}}, {"email": "b@example.com"}]}


def test_json_string_in_json_field_nested_template():
    # pysendpulse 0.1.8 smtp_send_mail_with_template: email is a JSON string with a nested template
    email = {"subject": "S", "template": {"id": 123, "variables": {"name": "Ann"}},
             "from": {"name": "Me", "email": "f@example.com"}, "to": [{"email": "t@example.com"}],
             "html": None, "text": None}
    assert decode_body(JSON, json.dumps({"email": json.dumps(email)}).encode()) == {"email": email}


def test_structured_strings_are_decoded_at_every_level():
    body = json.dumps({"emails": [{"email": "a@x.com", "variables": json.dumps({"k": 1})}]}).encode()
    assert decode_body(JSON, body) == {"emails": [{"email": "a@x.com", "variables": {"k": 1}}]}


def test_template_variables_as_string_inside_email_string():
    inner = {"id": 1, "variables": json.dumps({"name": "Ann"})}
    body = json.dumps({"email": json.dumps({"template": json.dumps(inner)})}).encode()
    assert decode_body(JSON, body) == {"email": {"template": {"id": 1, "variables": {"name": "Ann"}}}}


def test_php_serialize_in_json_field():
    # sendpulse-api (Node) 1.1.7 addEmails, verbatim
    body = (b'{"emails":"a:2:{i:0;a:2:{s:5:\\"email\\";s:13:\\"a@example.com\\";s:9:\\"variables\\";a:2:{s:4:\\"name\\";'
            b's:3:\\"Ann\\";s:5:\\"Phone\\";s:13:\\"+380501234567\\";}}i:1;a:2:{s:5:\\"email\\";s:13:\\"b@example.com\\";'
            b's:9:\\"variables\\";a:0:{}}}"}')
    assert decode_body(JSON, body) == {"emails": [
        {"email": "a@example.com", "variables": {"name": "Ann", "Phone": "+380501234567"}},
        {"email": "b@example.com", "variables": []},
    ]}


def test_php_serialize_with_unicode_types_in_json_field():
    serialized = ('a:1:{i:0;a:2:{s:5:"email";s:13:"a@example.com";s:9:"variables";a:4:{s:8:"Імʼя";s:8:"Анна";'
                  's:1:"n";i:5;s:1:"f";d:1.5;s:1:"b";b:1;}}}')
    assert decode_body(JSON, json.dumps({"emails": serialized}, ensure_ascii=False).encode()) == {
        "emails": [{"email": "a@example.com", "variables": {"Імʼя": "Анна", "n": 5, "f": 1.5, "b": True}}]}


@pytest.mark.parametrize("field", sorted(wire.STRUCTURED_FIELDS))
def test_every_structured_field_accepts_a_json_string(field):
    assert decode_body(JSON, json.dumps({field: '{"x": [1]}'}).encode()) == {field: {"x": [1]}}


def test_unstructured_fields_keep_their_string():
    body = json.dumps({"name": "[1]", "subject": '{"a":1}', "body": 'a:1:{i:0;i:1;}'}).encode()
    assert decode_body(JSON, body) == {"name": "[1]", "subject": '{"a":1}', "body": "a:1:{i:0;i:1;}"}


def test_structured_field_with_plain_text_keeps_it():
    assert decode_body(JSON, b'{"emails":"eEBleGFtcGxlLmNvbQ=="}') == {"emails": "eEBleGFtcGxlLmNvbQ=="}
    assert decode_body(JSON, b'{"emails":"a@x.com,b@x.com"}') == {"emails": "a@x.com,b@x.com"}
    assert decode_body(JSON, b'{"attachments":""}') == {"attachments": ""}


def test_structured_field_with_malformed_json_string_is_error_8():
    with api_error(8):
        decode_body(JSON, b'{"emails":"[\\"a@x.com\\""}')
    with api_error(8):
        decode_body(FORM, b"emails=%7Bbroken")


def test_structured_field_with_malformed_php_serialize_is_error_8():
    with api_error(8):
        decode_body(JSON, b'{"emails":"a:2:{i:0;s:7:\\"a@x.com\\";"}')
    with api_error(8):
        decode_body(JSON, b'{"emails":"a:1:{i:0;s:99:\\"a@x.com\\";}"}')
    with api_error(8):
        decode_body(FORM, b"emails=" + quote('a:1:{i:0;s:4:"Анна";}').encode())


# ============================================================================================== #
# multipart bodies
# ============================================================================================== #

def test_multipart_token_request_verbatim():
    # php-rest-api 1.0.16 getToken, verbatim
    content_type, body = multipart([("grant_type", "client_credentials"), ("client_id", "my-client-id"),
                                    ("client_secret", "my-client-secret")])
    assert len(body) == 391
    assert decode_body(content_type, body) == {
        "grant_type": "client_credentials", "client_id": "my-client-id", "client_secret": "my-client-secret"}


def test_multipart_json_string_field():
    content_type, body = multipart([("emails", '[{"email":"a@example.com"}]')], "------------------------59cc6ba3ef6c7cff")
    assert len(body) == 168
    assert decode_body(content_type, body) == {"emails": [{"email": "a@example.com"}]}


def test_multipart_php_serialize_field():
    content_type, body = multipart([("emails", 'a:1:{i:0;a:1:{s:5:"email";s:8:"Я@x.com";}}')])
    assert decode_body(content_type, body) == {"emails": [{"email": "Я@x.com"}]}


def test_multipart_bracket_names_and_utf8():
    content_type, body = multipart([("emails[0][email]", "a@x.com"), ("emails[0][variables][name]", "Анна 😀"),
                                    ("emails[1][email]", "b@x.com")])
    assert decode_body(content_type, body) == {"emails": [
        {"email": "a@x.com", "variables": {"name": "Анна 😀"}}, {"email": "b@x.com"}]}


def test_multipart_numbered_fields_are_emails_like_a_form():
    """Fields named 0..n-1 make a list, read as ``emails`` as in a form body (the fuzzer found a 500:
    the list reached ``dict.update``)."""
    content_type, body = multipart([("0", "a@x.com"), ("1", "b@x.com")])
    assert decode_body(content_type, body) == {"emails": ["a@x.com", "b@x.com"]}
    content_type, body = multipart([("0", "")])
    assert decode(content_type, body, b"limit=5") == {"limit": "5", "emails": [""]}


def test_multipart_quoted_boundary_and_upper_case_media_type():
    _, body = multipart([("a", "1")], "XyZ")
    assert decode_body('MULTIPART/FORM-DATA; boundary="XyZ"', body) == {"a": "1"}


def test_multipart_keeps_line_breaks_and_empty_values():
    content_type, body = multipart([("text", "line1\r\nline2"), ("empty", "")])
    assert decode_body(content_type, body) == {"text": "line1\r\nline2", "empty": ""}


def test_multipart_file_part_is_read_by_name():
    content_type, body = multipart([("file", "hello", b'; filename="a.txt"\r\nContent-Type: text/plain')])
    assert decode_body(content_type, body) == {"file": "hello"}


def test_multipart_declared_charset_is_honoured():
    content_type, body = multipart([("x", "é".encode("latin-1"), b"\r\nContent-Type: text/plain; charset=latin-1")])
    assert decode_body(content_type, body) == {"x": "é"}


def test_multipart_invalid_utf8_is_error_8():
    content_type, body = multipart([("x", b"\xff\xfe")])
    with api_error(8):
        decode_body(content_type, body)


@pytest.mark.parametrize(("content_type", "body"), [
    ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"),
    ("multipart/form-data; boundary=XyZ", b"this is not multipart at all"),
])
def test_malformed_multipart_is_error_8(content_type, body):
    with api_error(8):
        decode_body(content_type, body)


# ============================================================================================== #
# query strings
# ============================================================================================== #

def test_query_key_value_pairs():
    assert decode_query(b"limit=10&offset=5") == {"limit": "10", "offset": "5"}


def test_query_empty():
    assert decode_query(b"") == {}


def test_query_percent_encoded_json_object():
    # pysendpulse 0.1.8, verbatim
    assert decode_query(b"%7B%22limit%22:%2010,%20%22offset%22:%205%7D") == {"limit": 10, "offset": 5}
    assert decode_query(b"%7B%22limit%22:%2010%7D") == {"limit": 10}


def test_query_percent_encoded_empty_json_object():
    assert decode_query(b"%7B%7D") == {}


def test_query_json_object_with_nulls_and_strings():
    query = (b"%7B%22limit%22:%2010,%20%22offset%22:%200,%20%22from%22:%20%222024-01-01%22,%20%22to%22:%20null,"
             b"%20%22sender%22:%20null,%20%22recipient%22:%20%22to@example.com%22%7D")
    assert decode_query(query) == {"limit": 10, "offset": 0, "from": "2024-01-01", "to": None, "sender": None,
                                   "recipient": "to@example.com"}


def test_query_json_object_structured_fields_are_decoded():
    assert decode_query(quote(json.dumps({"emails": '["a@x.com"]'})).encode()) == {"emails": ["a@x.com"]}


def test_query_malformed_json_is_error_8():
    with api_error(8):
        decode_query(b"%7B%22limit%22:%2010")


def test_query_json_that_is_not_an_object_is_ignored():
    assert decode_query(b"%5B1,2%5D") == {}


def test_query_percent_encoded_utf8():
    assert decode_query(quote("name=Анна", safe="=").encode()) == {"name": "Анна"}


def test_query_invalid_utf8_is_error_8():
    with api_error(8):
        decode_query(b"name=%FF%FE")


def test_query_flag_without_value():
    assert decode_query(b"active") == {"active": ""}


# ============================================================================================== #
# decode: query + body
# ============================================================================================== #

def test_decode_merges_query_and_body_body_wins():
    assert decode(JSON, b'{"limit":3,"x":1}', b"limit=10&offset=5") == {"limit": 3, "offset": "5", "x": 1}


def test_decode_get_with_json_body_only():
    # the Node client sends limit/offset only in a GET's JSON body
    assert decode(JSON, b'{"limit":10,"offset":5}', b"") == {"limit": 10, "offset": 5}


def test_decode_get_with_json_query_and_empty_body():
    assert decode(JSON, b"", b"%7B%22limit%22:%2010,%20%22offset%22:%205%7D") == {"limit": 10, "offset": 5}


def test_decode_nothing():
    assert decode("", b"", b"") == {}
    assert decode(FORM, b"", b"") == {}


def test_decode_bare_list_with_query():
    assert decode(JSON, b'["a@x.com"]', b"limit=1") == {"limit": "1", "emails": ["a@x.com"]}


def test_decode_errors_are_api_errors():
    with api_error(8):
        decode(JSON, b"{", b"")
    with api_error(8):
        decode(JSON, b"{}", b"%7Bbroken")


# ============================================================================================== #
# field helpers
# ============================================================================================== #

@pytest.mark.parametrize(("value", "expected"), [
    (5, 5), (0, 0), (-3, -3), ("5", 5), (" 42 ", 42), ("-7", -7), ("+8", 8), (5.0, 5), ("007", 7),
    ("999999999999999999", 999999999999999999),
])
def test_as_int_accepts(value, expected):
    result = as_int(value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [True, False, None, "", " ", "abc", "1.5", "1e3", 1.5, float("nan"), [], {}, "0x10",
                                   "1 2", "9999999999999999999", 2 ** 63, -2 ** 63 - 1, 10 ** 18, 1e300, float("inf")])
def test_as_int_rejects(value):
    with api_error(8):
        as_int(value)


def test_as_int_custom_code_and_field():
    with api_error(213) as info:
        as_int("x", code=213, field="mailing list id")
    assert "mailing list id" in info.value.message


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), (" yes ", True), ("on", True), (True, True), (1, True),
    ("0", False), ("false", False), ("no", False), ("off", False), ("", False), ("maybe", False),
    (False, False), (0, False), (None, False),
])
def test_as_bool(value, expected):
    assert as_bool(value) is expected


@pytest.mark.parametrize(("value", "expected"), [
    (None, []), ("", []), ([], []), ([1, 2], [1, 2]), ({"a": 1, "b": 2}, [1, 2]), ("x", ["x"]), (5, [5]),
])
def test_as_list(value, expected):
    assert as_list(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (" a ", "a"), ("", ""), (5, "5"), (1.5, "1.5"), (True, None), ([], None), ({}, None),
])
def test_as_text(value, expected):
    assert as_text(value) == expected


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("text", ["hello", "x@example.com,y@example.com", "<p>Hi {{name}}</p>", "Привіт 😀",
                                  "<p>line1</p>\n<p>line2</p>\r\n\t<b>x</b>"])
def test_b64_text_decodes(text):
    assert b64_text(_b64(text)) == text
    assert b64_text(_b64(text), strict=True) == text


def test_b64_text_captured_values():
    assert b64_text("eEBleGFtcGxlLmNvbSx5QGV4YW1wbGUuY29t") == "x@example.com,y@example.com"
    assert b64_text("PHA+SGkge3tuYW1lfX08L3A+") == "<p>Hi {{name}}</p>"
    assert b64_text("PHA+0J/RgNC40LLRltGCIPCfmIA8L3A+") == "<p>Привіт 😀</p>"
    assert b64_text("aGVsbG8=") == "hello"


def test_b64_text_tolerates_missing_padding_and_line_breaks():
    encoded = _b64("hello world, a longer text to wrap")
    assert b64_text(encoded.rstrip("=")) == "hello world, a longer text to wrap"
    wrapped = "\n".join(encoded[i:i + 8] for i in range(0, len(encoded), 8))
    assert b64_text(wrapped) == "hello world, a longer text to wrap"


@pytest.mark.parametrize("text", ["Hi", "spam", "plain text, not base64!", "a@example.com", "<p>Hi</p>", "Привіт"])
def test_b64_text_plain_text_passes_through(text):
    assert b64_text(text) == text


def test_b64_text_binary_payload_is_not_taken_for_text():
    binary = base64.b64encode(b"\x00\x01\x02\xff\xfe").decode()
    assert b64_text(binary) == binary


@pytest.mark.parametrize("value", ["not base64!", "@@@@", base64.b64encode(b"\xff\xfe\xfd").decode()])
def test_b64_text_strict_rejects(value):
    with api_error(8):
        b64_text(value, strict=True)


# ---- paging ----

@pytest.mark.parametrize(("params", "expected"), [
    ({}, (100, 0)),
    ({"limit": 10, "offset": 5}, (10, 5)),
    ({"limit": "10", "offset": "5"}, (10, 5)),
    ({"limit": "", "offset": ""}, (100, 0)),
    ({"limit": None, "offset": None}, (100, 0)),
    ({"limit": 100}, (100, 0)),
    ({"limit": 101}, (100, 0)),
    ({"limit": 100000}, (100, 0)),
    ({"limit": 1}, (1, 0)),
    ({"offset": 1000000}, (100, 1000000)),
    ({"limit": 10.0}, (10, 0)),
])
def test_paging(params, expected):
    assert paging(params) == expected


def test_paging_zero_limit_means_default():
    assert paging({"limit": 0}) == (100, 0)


@pytest.mark.parametrize("params", [{"limit": -1}, {"offset": -1}, {"limit": "abc"}, {"offset": "1.5"},
                                    {"limit": True}, {"limit": [10]}])
def test_paging_rejects(params):
    with api_error(8):
        paging(params)


def test_paging_custom_limits():
    assert paging({}, default_limit=1000, max_limit=1000) == (1000, 0)
    assert paging({"limit": 5000}, default_limit=1000, max_limit=1000) == (1000, 0)
    assert paging({"limit": 50}, default_limit=10, max_limit=20) == (20, 0)


def test_paging_from_decoded_requests():
    assert paging(decode(JSON, b"", b"%7B%22limit%22:%2010,%20%22offset%22:%205%7D")) == (10, 5)
    assert paging(decode(JSON, b'{"limit":10,"offset":5}', b"")) == (10, 5)
    assert paging(decode("", b"", b"limit=500&offset=5")) == (100, 5)


def test_many_bracket_fields_decode_in_linear_time():
    import time

    body = ("a[]=1&" * 50_000).encode()
    start = time.perf_counter()
    assert len(wire.decode_body("application/x-www-form-urlencoded", body)["a"]) == 50_000
    assert time.perf_counter() - start < 2.0


def test_deeply_nested_brackets_are_error_8():
    body = ("a" + "[x]" * 3000 + "=1").encode()
    with pytest.raises(ApiError) as error:
        wire.decode_body("application/x-www-form-urlencoded", body)
    assert error.value.code == 8


@pytest.mark.parametrize("body", ["a[\u00b2]=1", "\u00b2=x", "a[" + "9" * 5000 + "]=1", "a[00]=x&a[1]=y"])
def test_bracket_keys_that_only_look_like_indexes_stay_names(body):
    decoded = wire.decode_body("application/x-www-form-urlencoded", body.encode())
    assert isinstance(decoded, dict)


# ---- fuzzing: any bytes in any encoding become a dict or a SendPulse error (a 4xx), quickly; never a 500 ----

CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
                 "text/plain", ""]
_PIECES = st.sampled_from([b"emails", b"=", b"&", b"[", b"]", b"[]", b"{", b"}", b'"', b":", b",", b"a:1:{",
                           b"i:0;", b"s:-1:", b"O:-17:", b"%", b"%FF", b"%00", b"--b\r\n", b"\r\n", b"1e999",
                           b"variables", b"x", b"0", b"null", b"[[[[", b";"])


def _decodes_or_refuses(content_type: str, body: bytes, query: bytes) -> None:
    started = time.perf_counter()
    try:
        assert isinstance(wire.decode(content_type, body, query), dict)
    except ApiError as error:
        assert 400 <= error.status < 500
    assert time.perf_counter() - started < 0.5


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CONTENT_TYPES), st.lists(_PIECES, max_size=40), st.lists(_PIECES, max_size=20))
def test_wire_shaped_noise(content_type, body, query):
    _decodes_or_refuses(content_type, b"".join(body), b"".join(query))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CONTENT_TYPES), st.binary(max_size=200), st.binary(max_size=100))
def test_any_bytes(content_type, body, query):
    _decodes_or_refuses(content_type, body, query)
