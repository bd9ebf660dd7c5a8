"""Confirmation the user gave: elicitation where the client has it, else a quote and a signed token.

A token is single-use, expires, and is bound by HMAC to the exact normalised request it quoted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from casebridge.tools.actions import ActionLedger
from casebridge.tools.errors import ToolFailure

TOKEN_PREFIX = "cb1"
_TOKEN = re.compile(
    r"^cb1\.(order|cancel|update)\.(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{32})$"
)
KEY_NAME = "confirmation-token-key"


class Confirm(BaseModel):
    """The elicitation form: one yes/no the user ticks."""

    confirm: bool = Field(title="Confirm", description="Yes, do exactly this.")


class NotAsked(BaseModel):
    """Resolver outcome when the user was not asked (the client cannot, or there is nothing to confirm):
    the tool body decides, with the quote -> token flow."""


@dataclass(frozen=True)
class Quote:
    token: str
    expires_at: str  # ISO 8601, UTC
    nonce: str


def can_elicit(ctx: Context[Any, Any]) -> bool:
    """True when the client declared form elicitation (a bare ``elicitation: {}`` counts)."""
    try:
        caps = ctx.client_capabilities
    except ValueError:  # no request context: called outside a request
        return False
    elicitation = caps.elicitation if caps is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def answer(result: ElicitationResult[Any]) -> str:
    """``accepted``, ``declined``, ``cancelled`` or ``token`` (not asked: use the token flow)."""
    if isinstance(result, AcceptedElicitation):
        data = result.data
        if isinstance(data, NotAsked):
            return "token"
        if isinstance(data, Confirm):
            return "accepted" if data.confirm else "declined"
        return "other"
    return "declined" if result.action == "decline" else "cancelled"


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def bound(subject: dict[str, Any], caller: str | None) -> dict[str, Any]:
    """``subject`` bound to ``caller`` too, where the transport tells callers apart (OAuth): a token or an
    answer one person got confirms nothing for another. Unchanged without a caller (stdio, one static token)."""
    return subject if caller is None else {**subject, "caller": caller}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _digest(subject: Any) -> str:
    return _b64(hashlib.sha256(canonical(subject).encode()).digest()[:12])


def _sign(key: bytes, purpose: str, expires: int, nonce: str, digest: str) -> str:
    message = f"{TOKEN_PREFIX}.{purpose}.{expires}.{nonce}.{digest}".encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest()[:24])


def issue(ledger: ActionLedger, purpose: str, subject: Any, ttl: float) -> Quote:
    """A token confirming ``subject`` (the exact normalised request) for ``ttl`` seconds."""
    expires = int(ledger.now() + ttl)
    nonce = _b64(secrets.token_bytes(16))
    digest = _digest(subject)
    signature = _sign(ledger.secret(KEY_NAME), purpose, expires, nonce, digest)
    when = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Quote(f"{TOKEN_PREFIX}.{purpose}.{expires}.{nonce}.{digest}.{signature}", when, nonce)


class ConfirmationRefused(ToolFailure):
    """A token that confirms nothing; ``reason`` is one of tampered, mismatch, expired, replayed."""

    def __init__(self, reason: str, message: str, fix: str) -> None:
        super().__init__("invalid_input", message, field="confirmation_token", fix=fix)
        self.reason = reason


def verify(ledger: ActionLedger, token: str, purpose: str, subject: Any, *, ttl: float, nothing: str, fix: str) -> str:
    """The token's nonce if it confirms ``subject`` and has not expired; else ``ConfirmationRefused``.

    ``ttl`` is the lifetime ``issue`` gives tokens: one claiming to expire later was not issued by
    this server, whatever its signature (a leaked or planted key cannot mint a lasting token).
    ``nothing`` ("Nothing was ordered") starts every refusal. Single use is enforced by the caller,
    atomically with the change (the ledger records the nonce).
    """
    match = _TOKEN.match(token.strip())
    if match is None or match.group(1) != purpose:
        what = {"order": "an order", "cancel": "a cancellation", "update": "a CommCare change"}.get(purpose, purpose)
        raise ConfirmationRefused(
            "tampered", f"{nothing}: confirmation_token is not one this server issued for {what}.", fix
        )
    _, expires_text, nonce, digest, signature = match.groups()
    forged = ConfirmationRefused("tampered", f"{nothing}: confirmation_token is not valid (altered or forged).", fix)
    if int(expires_text) > ledger.now() + ttl:
        raise forged
    expected = _sign(ledger.secret(KEY_NAME), purpose, int(expires_text), nonce, digest)
    if not hmac.compare_digest(expected, signature):
        raise forged
    if not hmac.compare_digest(digest, _digest(subject)):
        raise ConfirmationRefused(
            "mismatch", f"{nothing}: the request differs from the one the user confirmed with this token.", fix
        )
    if ledger.now() > int(expires_text):
        raise ConfirmationRefused("expired", f"{nothing}: the confirmation expired.", fix)
    return nonce


def replayed(nothing: str, fix: str) -> ConfirmationRefused:
    return ConfirmationRefused("replayed", f"{nothing}: this confirmation_token was already used.", fix)
