"""Secrets stored encrypted (webhook signing secrets, web push VAPID private keys): Fernet, under a
key derived from the server's signing key with HKDF, one derived key per purpose. The database alone
then lets no one sign webhook events or push messages, and the secrets can still be shown to their
owner (a hash could not be)."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@lru_cache(maxsize=8)
def _box(key: bytes, purpose: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(key: bytes, purpose: bytes, secret: str) -> str:
    return _box(key, purpose).encrypt(secret.encode()).decode()


def unseal(key: bytes, purpose: bytes, sealed: str) -> str:
    """The secret, or "" when it was sealed under another key (``PULSEBOX_SECRET_KEY`` changed)."""
    try:
        return _box(key, purpose).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return ""
