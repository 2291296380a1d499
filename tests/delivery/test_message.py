"""MIME building: what we assemble by hand must parse back identically with the stdlib parser."""

from __future__ import annotations

import binascii
from email import message_from_bytes
from email.policy import default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulsebox.delivery.message import Address, Attachment, HeaderInjection, Mail, build, check, qp, text_from_html


def parse(raw: bytes):
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    return message_from_bytes(raw, policy=default)


def content(part) -> str:
    """Text content in Python's line-end convention (MIME text is CRLF on the wire)."""
    return part.get_content().replace("\r\n", "\n")


def test_text_only():
    message = parse(build(Mail(Address("from@example.com"), [Address("to@example.com")], "Hi", text="Line 1\nLine 2\n")))
    assert message.get_content_type() == "text/plain"
    assert content(message) == "Line 1\nLine 2\n"
    assert message["Message-ID"].startswith("<") and message["Date"] and message["MIME-Version"] == "1.0"


def test_html_and_text_alternatives_with_non_ascii_everywhere():
    html = "<html><head><style>p{}</style></head><body><p>Привіт, <b>Zoë</b>!</p><p><a href='https://example.com/x'>Go</a></p></body></html>"
    raw = build(Mail(sender=Address("news@example.com", "Новини «Київ»"), to=[Address("zoe@example.com", 'Zoë "Zo" Ünal')],
                     cc=[Address("boss@bücher.example", "Boss")], reply_to=Address("reply@example.com", "Reply, Desk"),
                     subject="Тема 😀 " + "довга " * 20, html=html, text="Plain Привіт\n"))
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert str(message["Subject"]) == "Тема 😀 " + "довга " * 20
    assert message["From"].addresses[0].display_name == "Новини «Київ»"
    assert message["To"].addresses[0].display_name == 'Zoë "Zo" Ünal'
    assert message["Cc"].addresses[0].addr_spec == "boss@xn--bcher-kva.example"
    assert message["Reply-To"].addresses[0].display_name == "Reply, Desk"
    assert content(message.get_body(("plain",))) == "Plain Привіт\n"
    assert content(message.get_body(("html",))) == html
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_text_is_derived_from_html_when_missing():
    message = parse(build(Mail(Address("f@example.com"), [Address("t@example.com")], "S",
                               html="<h1>Title</h1><p>Hello&nbsp;<a href='https://example.com/'>there</a></p>")))
    plain = content(message.get_body(("plain",)))
    assert "Title" in plain and "Hello" in plain and "there (https://example.com/)" in plain and "<" not in plain
    assert text_from_html("<script>x()</script><p>a</p>") == "a\n"


def test_attachments_round_trip():
    binary = bytes(range(256)) * 40
    raw = build(Mail(Address("f@example.com"), [Address("t@example.com")], "Files", html="<p>see files</p>",
                     attachments=[Attachment("report.pdf", binary, "application/pdf"),
                                  Attachment("звіт «1».txt", "текст".encode(), "text/plain")]))
    message = parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(files) == {"report.pdf", "звіт «1».txt"}
    assert files["report.pdf"].get_content() == binary
    assert files["звіт «1».txt"].get_payload(decode=True) == "текст".encode()
    assert content(message.get_body(("html",))) == "<p>see files</p>"


def test_bcc_is_envelope_only_and_custom_headers():
    mail = Mail(Address("f@example.com"), [Address("t@example.com")], "S", text="x",
                bcc=[Address("hidden@example.com")], headers={"X-Campaign": "Осінь"})
    raw = build(mail)
    assert b"hidden@example.com" not in raw
    assert mail.recipients() == ["t@example.com", "hidden@example.com"]
    assert str(parse(raw)["X-Campaign"]) == "Осінь"


@pytest.mark.parametrize("mail", [
    Mail(Address("f@example.com"), [Address("t@example.com")], "Hi\r\nBcc: victim@example.com", text="x"),
    Mail(Address("f@example.com", "Eve\nBcc: x@example.com"), [Address("t@example.com")], "S", text="x"),
    Mail(Address("f@example.com"), [Address("t@example.com\r\nX: y")], "S", text="x"),
    Mail(Address("f@example.com"), [Address("t@example.com")], "S", text="x", headers={"X-A": "1\r\nBcc: v@x.com"}),
    Mail(Address("f@example.com"), [Address("t@example.com")], "S", text="x",
         attachments=[Attachment("a\r\nb.txt", b"x")]),
])
def test_header_injection_is_refused(mail):
    with pytest.raises(HeaderInjection):
        build(mail)


def test_reserved_or_malformed_custom_headers_are_refused():
    for name in ("Bcc", "Content-Type", "Bad Header", "X:Y"):
        with pytest.raises(ValueError):
            build(Mail(Address("f@example.com"), [Address("t@example.com")], "S", text="x", headers={name: "v"}))


def test_long_headers_are_folded_and_parse_back_whole():
    subject = "A subject of many words " * 12
    unsubscribe = "<https://pulsebox.example/t/u/1f.0123456789abcdef01234567>, <mailto:unsubscribe+1f.0123456789abcdef01234567@pulsebox.example>"
    raw = build(Mail(Address("f@example.com"), [Address("t@example.com")], subject, text="x",
                     headers={"List-Unsubscribe": unsubscribe}))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78  # RFC 5322 section 2.1.1's "should"
    message = message_from_bytes(raw, policy=default)
    # trailing blanks are dropped: after a fold they would make a line of only whitespace
    assert message["Subject"] == subject.rstrip() and message["List-Unsubscribe"] == unsubscribe


def test_a_word_longer_than_a_line_is_refused():
    with pytest.raises(ValueError):
        check(Mail(Address("f@example.com"), [Address("t@example.com")], "x" * 1000, text="x"))
    with pytest.raises(ValueError):  # a non-ASCII local part needs SMTPUTF8, which Pulsebox does not speak
        check(Mail(Address("f@example.com"), [Address("üser@example.com")], "s", text="x"))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .=\t\r\n~!é\x7f"), max_size=90) | st.sampled_from([".", "", " ", "x" * 76]))
def test_quoted_printable_short_cut_encodes_as_binascii_does(text):
    """Text that stands for itself in quoted-printable is returned as it is; the result is always
    what binascii makes of it (CRLF line ends)."""
    expected = binascii.b2a_qp(text.replace("\r\n", "\n").replace("\r", "\n").encode(), quotetabs=False, istext=True,
                               header=False).replace(b"\n", b"\r\n")
    assert qp(text) == expected
