"""verify_signature: Loop's known answers, tampering, fail-closed headers, a constant-time comparison."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from loop_async.webhooks import verify_signature
from tests.webhooks._support import BODY, LITERAL_SIGNATURE, SECRET, reference_signature

# -- verify_signature ----------------------------------------------------------------------


def test_literal_known_answer_vector() -> None:
    assert verify_signature(SECRET, BODY, LITERAL_SIGNATURE)
    assert verify_signature(SECRET.encode(), BODY, LITERAL_SIGNATURE.encode())


@pytest.mark.parametrize(
    ("secret", "body"),
    [
        (b"whsec_test", b""),
        (b"s3cr3t", '{"topic":"giftcard","amount":"12.50","note":"caf\u00e9 \u2713"}'.encode()),
        (bytes(range(64)), bytes(range(256)) * 4),
    ],
)
def test_computed_known_answer_vectors(secret: bytes, body: bytes) -> None:
    assert verify_signature(secret, body, reference_signature(secret, body))
    assert verify_signature(secret, bytearray(body), reference_signature(secret, body))


def test_tampered_body_is_rejected() -> None:
    assert not verify_signature(SECRET, BODY.replace(b'"id":1', b'"id":2'), LITERAL_SIGNATURE)
    assert not verify_signature(SECRET, BODY + b" ", LITERAL_SIGNATURE)


def test_wrong_secret_is_rejected() -> None:
    assert not verify_signature("whsec_other", BODY, LITERAL_SIGNATURE)
    assert not verify_signature("", BODY, reference_signature(b"", BODY))


@pytest.mark.parametrize("header", [None, "", b""])
def test_missing_header_is_rejected(header: str | bytes | None) -> None:
    assert not verify_signature(SECRET, BODY, header)


@pytest.mark.parametrize(
    "header",
    [
        " " + LITERAL_SIGNATURE,
        LITERAL_SIGNATURE + " ",
        LITERAL_SIGNATURE + "\n",
        LITERAL_SIGNATURE[:20] + " " + LITERAL_SIGNATURE[20:],
        "\t" + LITERAL_SIGNATURE,
    ],
)
def test_header_with_whitespace_is_rejected(header: str) -> None:
    assert not verify_signature(SECRET, BODY, header)


@pytest.mark.parametrize(
    "header",
    [
        LITERAL_SIGNATURE.rstrip("="),  # padding dropped
        LITERAL_SIGNATURE[:-2] + "Z=",  # non-canonical: differs only in padding bits, decodes to the same bytes
        base64.urlsafe_b64encode(b"\xfb" * 32).decode(),  # other alphabet
        hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest(),  # hex, not base64
        "sha256=" + LITERAL_SIGNATURE,
        "!!!!",
        "caf\u00e9",  # not ASCII
        LITERAL_SIGNATURE[:-4],
    ],
)
def test_wrong_base64_is_rejected(header: str) -> None:
    assert not verify_signature(SECRET, BODY, header)


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert verify_signature(SECRET, BODY, LITERAL_SIGNATURE)
    assert not verify_signature(SECRET, BODY, "A" * 44)
    assert len(calls) == 2


def test_a_str_body_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="raw request bytes"):
        verify_signature(SECRET, BODY.decode(), LITERAL_SIGNATURE)  # type: ignore[arg-type]
