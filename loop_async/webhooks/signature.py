"""Loop's webhook signature: ``X-Loop-Signature`` = base64(HMAC-SHA256(secret, raw body)).

Sans-I/O: bytes in, a string or a bool out, for any web framework. It must not parse the body
(the signature covers the raw bytes exactly as received).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

__all__ = ["SIGNATURE_HEADER", "compute_signature", "secret_bytes", "verify_signature"]

#: The header that carries Loop's signature.
SIGNATURE_HEADER: Final = "X-Loop-Signature"


def secret_bytes(secret: str | bytes) -> bytes:
    """The webhook secret as the bytes the HMAC is keyed with (UTF-8 for a string)."""
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def compute_signature(secret: str | bytes, raw_body: bytes | bytearray | memoryview) -> str:
    """The signature Loop sends for ``raw_body``: base64(HMAC-SHA256(secret, raw_body))."""
    digest = hmac.new(secret_bytes(secret), bytes(raw_body), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    secret: str | bytes, raw_body: bytes | bytearray | memoryview, header_value: str | bytes | None
) -> bool:
    """Whether ``header_value`` is Loop's signature of ``raw_body`` under ``secret``.

    ``raw_body`` must be the bytes exactly as received (not re-encoded JSON). Fails closed: a
    missing, empty or non-ASCII header, any whitespace or non-canonical base64, or an empty
    secret gives ``False``. The comparison is constant-time (:func:`hmac.compare_digest`).
    """
    if not isinstance(raw_body, bytes | bytearray | memoryview):
        raise TypeError(f"raw_body must be the raw request bytes, got {type(raw_body).__name__}")
    if not secret or not header_value:
        return False
    try:
        provided = header_value.encode("ascii") if isinstance(header_value, str) else bytes(header_value)
    except UnicodeEncodeError:
        return False
    # Comparing the canonical encoding rejects whitespace, other alphabets and odd padding too.
    expected = compute_signature(secret, bytes(raw_body)).encode("ascii")
    return hmac.compare_digest(expected, provided)
