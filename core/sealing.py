"""Authenticated encryption for personal data the platform must hold for a while.

A pending text holds the resident's phone number and the link with its token until it is
sent. Sealed with Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`), neither reaches
the database file, its WAL or a SQL parameter in clear, and an altered value is refused.

The keys come from OUTBOX_KEYS (comma-separated secrets) or, by default, from SECRET_KEY; each
secret is stretched to a Fernet key with HKDF-SHA256. The first key seals and every key opens
(MultiFernet), so a key is rotated by putting the new one first, resealing what is pending
(`market notify reseal`), then dropping the old one.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.settings import get_settings

# Domain separation: the same SECRET_KEY also signs login tokens and keys the phone hashes.
_PURPOSE = b"public-services-market outbox v1"


class Unreadable(Exception):
    """Sealed under none of the configured keys, or altered since."""


def fernet_key(secret: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


@lru_cache(maxsize=8)
def _keyring(secrets: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(fernet_key(secret)) for secret in secrets])


def keyring() -> MultiFernet:
    return _keyring(tuple(get_settings().outbox_secrets))


def seal(values: dict[str, str]) -> str:
    """The values as one authenticated, encrypted ASCII string (under the first key)."""
    return keyring().encrypt(json.dumps(values, ensure_ascii=False).encode()).decode("ascii")


def unseal(sealed: str) -> dict[str, str]:
    try:
        return json.loads(keyring().decrypt(sealed.encode("ascii")))
    except (InvalidToken, UnicodeEncodeError) as error:
        raise Unreadable(
            "the sealed message cannot be opened with the configured OUTBOX_KEYS (a key was removed "
            "or the value was altered)"
        ) from error


def reseal(sealed: str) -> str:
    """The same values sealed under the first key (key rotation)."""
    try:
        return keyring().rotate(sealed.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError) as error:
        raise Unreadable("the sealed message cannot be opened with the configured OUTBOX_KEYS") from error
