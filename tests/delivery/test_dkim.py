"""DKIM signatures made by delivery/dkim.py (OpenSSL does the key step) verified by dkimpy: RSA and
Ed25519 keys, folded headers, whitespace the relaxed canonicalisation must absorb."""

from __future__ import annotations

import base64

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from pulsebox.delivery.dkim import DkimSigner, relaxed_body, relaxed_header

MESSAGE = (b"From: Shop <news@shop.example>\r\n"
           b"To: ann@example.org\r\n"
           b"Subject: a long subject\r\n\tfolded   onto a second line\r\n"
           b"Date: Mon, 23 Nov 2026 10:00:00 -0000\r\n"
           b"Message-ID: <1@shop.example>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"\r\n"
           b"Hello  there \t\r\nsecond line\r\n\r\n\r\n")


def _pem(key) -> bytes:  # noqa: ANN001
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _verify(signed: bytes, record: bytes) -> bool:
    return dkim.verify(signed, dnsfunc=lambda name, timeout=5: record if name == b"s1._domainkey.shop.example." else None)


def test_rsa_signature_verifies_and_breaks_when_tampered():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    signed = DkimSigner({"shop.example": ("s1", _pem(key))}).sign(MESSAGE)
    head = signed.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78  # folded (RFC 6376 section 3.5 FWS)
    assert signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=shop.example; s=s1;")
    assert _verify(signed, record)
    # relaxed canonicalisation absorbs whitespace changes in transit...
    assert _verify(signed.replace(b"Hello  there", b"Hello there"), record)
    # ...but not a changed word or header
    assert not _verify(signed.replace(b"second line", b"second lime"), record)
    assert not _verify(signed.replace(b"To: ann@", b"To: bob@"), record)


def test_ed25519_signature_verifies():
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signed = DkimSigner({"shop.example": ("s1", _pem(key))}).sign(MESSAGE)
    assert b"a=ed25519-sha256" in signed.split(b"\r\n", 1)[0]
    assert _verify(signed, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw))


@pytest.mark.parametrize(("body", "canonical"), [
    (b"", b""),
    (b"\r\n\r\n", b""),
    (b"a \t b  \r\n\r\n", b"a b\r\n"),
    (b"x", b"x\r\n"),
])
def test_relaxed_body(body, canonical):
    assert relaxed_body(body) == canonical  # RFC 6376 section 3.4.4 (and 3.4.5's examples)


def test_relaxed_header():
    assert relaxed_header(b"SubJect ", b" a  b\r\n\tc ") == b"subject:a b c"  # section 3.4.2
