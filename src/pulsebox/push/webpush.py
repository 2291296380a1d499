"""The Web Push protocol, as an application server speaks it: one encrypted message to one
subscription's endpoint. Knows no area and no database.

- RFC 8030 (Generic Event Delivery Using HTTP Push) §5: a POST to the endpoint; ``TTL`` (§5.2, seconds
  the push service keeps an undelivered message), ``Urgency`` (§5.3), ``Topic`` (§5.4: a newer message
  of the same topic replaces one not yet delivered). A 201 means accepted; 404/410 mean the
  subscription is gone (§7.3), 429 asks to wait (``Retry-After``), 413 means too large.
- RFC 8291 (Message Encryption for Web Push) with RFC 8188's ``aes128gcm`` coding: a fresh ECDH key and
  salt for every message (http_ece); one record of at most 4,096 bytes, so at most ``MAX_PLAINTEXT``
  of payload (4,096 - 86 bytes of header - 1 delimiter - 16 of tag).
- RFC 8292 (VAPID): ``Authorization: vapid t=<JWT>, k=<public key>``, the JWT signed ES256 by the
  website's key, its ``aud`` the endpoint's origin. A JWT is made once per (key, origin) and reused
  until an hour before it expires (``Signer``): signing is a tenth of a message's cost otherwise.
"""

from __future__ import annotations

import base64
import os
import threading
import time
import urllib.parse

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

MAX_PLAINTEXT = 3993  # RFC 8291 §4: 4,096 bytes of record, less header (86), delimiter (1) and tag (16)
JWT_LIFETIME = 12 * 3600  # RFC 8292 §2: at most 24 hours; 12 leaves room for clocks that disagree
JWT_RENEW = 3600  # a cached JWT is replaced when less than this is left


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Browsers give keys unpadded (PushSubscription.toJSON); padded input is accepted too."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_pair() -> tuple[str, str]:
    """A website's VAPID key pair: (private key as PEM, public key as base64url of its uncompressed point,
    the ``applicationServerKey`` browsers subscribe with)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, public_key(key)


def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))


def check_keys(p256dh: str, auth: str) -> None:
    """Raises ValueError unless ``p256dh`` is a P-256 point and ``auth`` 16 bytes (RFC 8291 §2)."""
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(p256dh))
    if len(b64url_decode(auth)) != 16:
        raise ValueError("auth must be 16 bytes")


def encrypt(plaintext: bytes, p256dh: str, auth: str) -> bytes:
    """The message body for one subscription (RFC 8291 §3.4, one aes128gcm record)."""
    if len(plaintext) > MAX_PLAINTEXT:
        raise ValueError(f"a push message holds at most {MAX_PLAINTEXT} bytes")
    return http_ece.encrypt(plaintext, salt=os.urandom(16), private_key=ec.generate_private_key(ec.SECP256R1()),
                            dh=b64url_decode(p256dh), auth_secret=b64url_decode(auth), version="aes128gcm")


def origin(endpoint: str) -> str:
    parts = urllib.parse.urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class Signer:
    """VAPID ``Authorization`` headers, one JWT per (website key, push service origin) while it is fresh."""

    def __init__(self, subject: str) -> None:
        self.subject = subject  # RFC 8292 §2.1: a contact for the push service's operator
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._keys: dict[str, Vapid02] = {}
        self._lock = threading.Lock()

    def authorization(self, private_pem: str, endpoint: str) -> str:
        audience, now = origin(endpoint), time.time()
        with self._lock:
            cached = self._cache.get((private_pem, audience))
            if cached is not None and cached[0] - now > JWT_RENEW:
                return cached[1]
            vapid = self._keys.get(private_pem)
            if vapid is None:
                vapid = self._keys[private_pem] = Vapid02.from_pem(private_pem.encode())
        expires = int(now) + JWT_LIFETIME
        header = vapid.sign({"aud": audience, "exp": expires, "sub": self.subject})["Authorization"]
        with self._lock:
            self._cache[(private_pem, audience)] = (expires, header)
        return header


def headers(authorization: str, ttl: int, *, urgency: str = "normal", topic: str | None = None) -> dict[str, str]:
    out = {"TTL": str(ttl), "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
           "Urgency": urgency, "Authorization": authorization}
    if topic:
        out["Topic"] = topic
    return out
