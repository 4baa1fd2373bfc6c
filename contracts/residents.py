"""What the platform keeps of a resident (SPEC §5.3, §8): mobile numbers read one way, keyed hashes
instead of numbers and addresses, hashed link tokens, and masks wherever text is shown or logged."""

from __future__ import annotations

import hashlib
import hmac
import re

from core.settings import get_settings

MAX_TEXT = 2000
"""Characters of what a resident writes: a comment, a complaint, a dispute's reason."""

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_TOKEN_IN_LINK = re.compile(r"(/r/)[A-Za-z0-9_\-]+")
# A mainland mobile number however it was written: +86 159-8765-4321, 0086 15987654321, 159 8765 4321.
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:(?:\+|00)?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d){8}(?!\d)")


def normalise_phone(phone: str) -> str | None:
    """A mainland mobile number as 11 digits, or None when it is not one."""
    digits = re.sub(r"[\s\-()]", "", phone)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if _MOBILE.match(digits) else None


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 under a key derived from SECRET_KEY: equal inputs match, the input cannot be read back."""
    key = hashlib.sha256(f"{purpose}:{get_settings().secret_key}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def phone_hash(phone: str) -> str:
    return keyed_hash("phone", phone)


def address_hash(client_address: str) -> str:
    """The keyed hash a rating keeps of the client's address (the many-ratings-per-hour rule)."""
    return keyed_hash("address", client_address)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def mask_links(text: str) -> str:
    """The text with the token of every resident link masked: /r/••••••."""
    return _TOKEN_IN_LINK.sub(r"\1••••••", text)


def mask_personal_data(text: str) -> str:
    """The text with resident links' tokens and mainland mobile numbers masked (logs, stored errors)."""
    return _MOBILE_IN_TEXT.sub(
        lambda m: mask_phone(normalise_phone(m.group()) or m.group()), mask_links(text)
    )
