"""The Redactor: each secret in any case, URL-encoded, base64 at any alignment, hex, and partial echoes."""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

import pytest

from casebridge.providers.certn.client import CertnClient
from casebridge.providers.errors import InvalidRequest
from casebridge.providers.http import Redactor
from casebridge.sandbox.certn.app import SANDBOX_API_KEY, error_body
from tests.support import FAST_POLICY, Emulators

KEY = "ck_live_7Fq2Zr9Lw3Xb8Tn4"  # 24 characters
SHORT = "a1b2c3d4e5"  # 10: encodings, but no partial echoes
CLEAN = "Jane Example v. County of Springfield, filed 2019-03-04; 12 documents, status open. " * 120


def encodings(secret: str) -> list[str]:
    raw = secret.encode()
    b64, url64 = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    return [
        secret,
        secret.upper(),
        secret.lower(),
        secret.swapcase(),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote(secret, safe="").lower(),
        b64,
        b64.rstrip("="),
        url64,
        url64.rstrip("="),
        raw.hex(),
        raw.hex().upper(),
    ]


@pytest.mark.parametrize("secret", [KEY, SHORT, "p@ss w/rd+?&=x"])
def test_every_encoding_of_a_secret_is_redacted(secret: str) -> None:
    redact = Redactor([secret])
    for form in encodings(secret):
        out = redact(f"answer: {form}; end")
        assert out == "answer: [redacted]; end", (form, out)


@pytest.mark.parametrize("before", [b"", b"u", b"us", b"use"])
@pytest.mark.parametrize("after", [b"", b"!", b"!?"])
def test_base64_inside_a_longer_text_at_any_alignment(before: bytes, after: bytes) -> None:
    redact = Redactor([KEY])
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(before + b":" + KEY.encode() + after).decode()
        out = redact(f"Basic {text}")
        assert "[redacted]" in out
        # What is left are the few characters that mix the secret's bits with its neighbours'.
        assert len(out.replace("Basic ", "").replace("[redacted]", "")) <= 10, out


def test_partial_echoes_of_a_long_secret_are_redacted_in_any_case() -> None:
    redact = Redactor([KEY])
    for start in range(len(KEY) - 7):
        for end in range(start + 8, len(KEY) + 1):
            for part in (KEY[start:end], KEY[start:end].upper()):
                out = redact(f"x {part} y")
                assert out == "x [redacted] y", (part, out)


def test_runs_shorter_than_8_and_short_secrets_are_left_alone() -> None:
    assert Redactor([KEY])(f"x {KEY[:7]} y") == f"x {KEY[:7]} y"
    assert Redactor([SHORT])(f"x {SHORT[:9]} y") == f"x {SHORT[:9]} y"  # under 12: exact forms only
    assert Redactor(["abcd1234", None, "xy"])("token abcd1234 and xy") == "token [redacted] and xy"


def test_public_words_inside_a_secret_are_not_redacted() -> None:
    redact = Redactor(["sandbox-commcare-key", "me@example.org:sandbox-commcare-key"], public=["me@example.org"])
    text = "commcare:1a2b for jane@example.org in casebridge"
    assert redact(text) == text
    assert redact("the key sandbox-commcare-key") == "the key [redacted]"


def test_clean_text_comes_back_unchanged() -> None:
    redact = Redactor([KEY, SHORT, "other-secret-value-99"], public=["someone@example.org"])
    assert redact(CLEAN) is CLEAN
    assert Redactor([])(CLEAN) is CLEAN


def test_text_whose_lower_case_is_longer_is_still_redacted() -> None:
    # "İ".lower() is two characters: the fast path's positions would not line up.
    assert Redactor([KEY])(f"İİ {KEY.upper()} İ") == "İİ [redacted] İ"


def test_value_redacts_every_string_of_a_json_like_value() -> None:
    redact = Redactor([KEY])
    data = {"a": [KEY, {"b": f"x{KEY}x", KEY: 1}], "c": (quote(KEY),), "n": 5, "none": None}
    assert redact.value(data) == {
        "a": ["[redacted]", {"b": "x[redacted]x", "[redacted]": 1}],
        "c": ("[redacted]",),
        "n": 5,
        "none": None,
    }


async def test_certn_attr_and_detail_are_redacted(emulators: Emulators) -> None:
    """The known hole: Certn's ``attr`` reached results as ``field 'Api-Key <key>'``."""
    emu = emulators["certn"]
    key = SANDBOX_API_KEY
    said = f"Api-Key {key} / {base64.b64encode(key.encode()).decode()} / {quote(key.upper())}"
    emu.inject(kind="status", status=400, body=error_body("validation_error", "invalid", said, attr=f"Api-Key {key}"))
    client = CertnClient.connect(emulators.servers["certn"].url, key, policy=FAST_POLICY)
    try:
        with pytest.raises(InvalidRequest) as info:
            await client.list_cases()
    finally:
        await client.aclose()
    assert info.value.field == "Api-Key [redacted]"
    assert info.value.message == "Api-Key [redacted] / [redacted] / [redacted]"
