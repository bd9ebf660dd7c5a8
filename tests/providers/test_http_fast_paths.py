"""The hot path's shortcuts keep the slow path's guarantees: ``json_model``, ``Redactor.value``'s one-text
check and the grams ``Redactor`` samples."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from casebridge.providers import errors
from casebridge.providers.http import MAX_JSON_DEPTH, Response, json_model
from casebridge.providers.redaction import REDACTED, Redactor


class Page(BaseModel):
    cases: list[dict[str, object]]


def _answer(body: bytes) -> Response:
    return Response(200, content=body, headers={"content-type": "application/json"})


def test_a_small_body_is_validated_in_one_step_like_the_slow_way() -> None:
    body = json.dumps({"cases": [{"id": i, "p": {"a": "b"}} for i in range(10)]}).encode()
    assert json_model("p", _answer(body), Page) == Page.model_validate(json.loads(body))


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000])
def test_deep_json_is_still_malformed(depth: int) -> None:
    body = b'{"cases": [' + b"[" * depth + b"]" * depth + b"]}"
    with pytest.raises(errors.MalformedResponse, match="nested more than"):
        json_model("p", _answer(body), Page)


def test_json_within_the_bracket_bound_is_accepted_on_the_fast_way() -> None:
    inner = b"[" * 30 + b"]" * 30
    ok = b'{"cases": [{"x": ' + inner + b"}]}"
    assert json_model("p", _answer(ok), Page).cases[0]["x"]


def test_invalid_utf8_and_non_json_are_malformed_with_their_reason() -> None:
    with pytest.raises(errors.MalformedResponse, match="not valid UTF-8"):
        json_model("p", _answer(b'{"cases": ["\xff\xfe"]}'), Page)
    with pytest.raises(errors.MalformedResponse, match="not JSON"):
        json_model("p", _answer(b"<html>proxy error</html>"), Page)


def test_a_wrong_shape_stays_a_validation_error_for_the_client_to_word() -> None:
    with pytest.raises(ValidationError):
        json_model("p", _answer(b'{"cases": 3}'), Page)


SECRET = "sk_live_0123456789abcdef"


def test_value_redacts_a_secret_anywhere_in_a_clean_looking_structure() -> None:
    redact = Redactor([SECRET])
    clean = {"cases": [{"ref": "x:1", "title": "fine"}], "n": 3}
    assert redact.value(clean) is clean  # proven clean by one pass over its JSON text
    dirty = {"cases": [{"ref": "x:1", "title": f"echo {SECRET.upper()}"}], SECRET[:10] + "zz": (1, SECRET)}
    assert redact.value(dirty) == {
        "cases": [{"ref": "x:1", "title": f"echo {REDACTED}"}],
        f"{REDACTED}zz": (1, REDACTED),
    }


def test_value_of_a_secret_with_characters_json_escapes_walks_every_string() -> None:
    secret = 'pa"ss\\word-0123456789'
    redact = Redactor([secret])
    assert redact.value({"a": [f"x{secret}y"]}) == {"a": [f"x{REDACTED}y"]}


def test_a_match_across_two_strings_only_takes_the_exact_way() -> None:
    redact = Redactor([SECRET])
    split = {"a": SECRET[:12], "b": SECRET[12:]}  # the JSON text never holds the secret whole
    assert redact.value(split)["a"] == REDACTED  # 12 characters of it: a partial echo, as before


SANDBOX_KEYS = ["sk_test_casebridge_sandbox", "sandbox-commcare-key", "sandbox-clearinghouse-token"]


def test_public_words_in_a_text_do_not_send_it_the_exact_way() -> None:
    """Sandbox keys spell public words; a sandbox result names them ("sandbox", "commcare:...") on every line."""
    redact = Redactor(SANDBOX_KEYS)
    redact("warm up")
    assert not any(gram in word for gram in redact._grams for word in redact._public)
    text = "[SANDBOX: synthetic data] commcare:1|casebridge|certn|clearinghouse: sandbox"
    assert redact(text) is text


@pytest.mark.parametrize("secret", SANDBOX_KEYS)
def test_every_form_of_a_secret_with_public_words_is_still_redacted(secret: str) -> None:
    import base64
    from urllib.parse import quote

    redact = Redactor(SANDBOX_KEYS)
    forms = [
        secret,
        secret.upper(),
        quote(secret, safe=""),
        secret.encode().hex(),
        base64.b64encode(secret.encode()).decode(),
    ]
    for form in forms:
        for pad in range(5):  # every alignment against the sampled positions
            text = "sandbox " + "x" * pad + form + " commcare"
            assert form not in redact(text) and REDACTED in redact(text), (form, pad)
