"""Single use of an accepted elicitation: one nonce per answer, consumed like a confirmation token.

On 2026-07-28 an answer arrives with the sealed ``requestState`` of the question it answers, and a
client can send that round again; its nonce is a digest of the sealed state (unique per question
asked), the exact request it confirms and the caller. On 2025-11-25 the answer came on a live request
that cannot be sent again, so a fresh nonce records it.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import secrets
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.request_state import RequestStateBoundary, authenticated_principal

from casebridge.tools.consent import canonical
from casebridge.tools.errors import ToolFailure

# The sealed requestState of the request being handled, as it came over the wire (None: there was none).
_SEALED: contextvars.ContextVar[str | None] = contextvars.ContextVar("casebridge_sealed_request_state", default=None)


async def _capture_sealed_state(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    state = ctx.params.get("requestState") if ctx.params is not None else None
    token = _SEALED.set(state if isinstance(state, str) else None)
    try:
        return await call_next(ctx)
    finally:
        _SEALED.reset(token)


def install(server: MCPServer) -> None:
    """Capture the sealed state just outside the SDK's boundary, which hands handlers only its plaintext.

    The plaintext is the same for every asking of the same question; the sealed form is not.
    """
    chain = server.middleware
    if _capture_sealed_state in chain:
        return
    boundary = next((i for i, m in enumerate(chain) if isinstance(m, RequestStateBoundary)), len(chain))
    chain.insert(boundary, _capture_sealed_state)


def caller_id(ctx: Context[Any, Any]) -> str | None:
    """Who is calling, where the transport tells callers apart; None where it does not.

    stdio: None (one local user). HTTP with ``CASEBRIDGE_HTTP_TOKEN``: None too, since every holder
    of the one bearer token is the same caller. With SDK authentication (OAuth), the authenticated
    principal of this very HTTP request (a Streamable HTTP session's handler runs in a task started by
    the session's first request): its ``sub``, and ``via`` the OAuth client when that is another id.
    """
    try:
        request_context = ctx.request_context
    except ValueError:  # no request: called outside one
        return None
    request = request_context.request
    user = request.scope.get("user") if request is not None and hasattr(request, "scope") else None
    if isinstance(user, AuthenticatedUser):
        token = user.access_token
        subject = token.subject or token.client_id
        return subject if token.client_id in (subject, "") else f"{subject} via {token.client_id}"
    return authenticated_principal(request_context)


def answer_nonce(ctx: Context[Any, Any], purpose: str, subject: Any) -> str:
    """The nonce of the accepted answer in this request, bound to ``subject`` (what it confirms)."""
    sealed = _SEALED.get()
    if sealed is None:
        return "live." + secrets.token_urlsafe(16)
    bound = canonical({"purpose": purpose, "state": sealed, "subject": subject, "caller": caller_id(ctx)})
    digest = hashlib.sha256(bound.encode()).digest()[:18]
    return "elicit." + base64.urlsafe_b64encode(digest).decode()


def replayed(nothing: str, tool: str) -> ToolFailure:
    """The refusal of an answer that was already used ("replayed")."""
    return ToolFailure(
        "invalid_input",
        f"{nothing}: this confirmation was already used (replayed); an answer confirms one call only.",
        fix=(
            f"Call {tool} again as a new call, without the earlier inputResponses and requestState, "
            "so the user is asked again."
        ),
    )
