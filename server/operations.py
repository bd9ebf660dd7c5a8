"""Running as a service: /healthz and /readyz, a request id per HTTP request, and JSON-lines logs with the caller."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from casebridge.providers import __version__

log = logging.getLogger("casebridge.http")

REQUEST_ID_KEY = "casebridge.request_id"  # where the id is kept in the ASGI scope, for the MCP handlers
READY_CHECK_SECONDS = 5.0
# A client's own X-Request-Id is kept when it is short and plain; anything else gets a fresh id.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("casebridge_request_id", default=None)
_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("casebridge_caller", default=None)


def caller_of(scope: dict[str, Any] | None) -> str | None:
    """The OAuth subject (and client) of an HTTP request, once the SDK's bearer middleware authenticated it."""
    user = (scope or {}).get("user")
    if not isinstance(user, AuthenticatedUser):
        return None
    token = user.access_token
    subject = token.subject or token.client_id
    return subject if token.client_id in (subject, "") else f"{subject} via {token.client_id}"


class Operations:
    """Outermost HTTP layer: ``GET /healthz`` and ``GET /readyz`` (no token needed, minimal answers),
    an ``X-Request-Id`` on every response, and one log line per request (INFO) with the caller."""

    def __init__(self, app: Any, registry: Any) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD") and scope["path"] in ("/healthz", "/readyz"):
            status, body = (200, {"status": "alive", "version": __version__})
            if scope["path"] == "/readyz":
                status, body = await self._readiness()
            await _json(send, status, body, head_only=scope["method"] == "HEAD")
            return
        supplied = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _CLIENT_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        scope[REQUEST_ID_KEY] = request_id
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status_seen: list[int] = []

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s -> %s in %.1f ms",
                scope["method"],
                scope["path"],
                status_seen[0] if status_seen else "no response",
                (time.perf_counter() - started) * 1000,
                extra={"caller": caller_of(scope), "request_id": request_id},
            )
            _request_id.reset(token)

    async def _readiness(self) -> tuple[int, dict[str, Any]]:
        checks = {"providers": "ok" if self.registry.configured else "none configured", "ledger": "not used"}
        ledger = self.registry.ledger
        if ledger is not None:
            checks["ledger"] = "unreachable"
            with anyio.move_on_after(READY_CHECK_SECONDS):
                try:
                    await anyio.to_thread.run_sync(ledger.recent, 1, abandon_on_cancel=True)
                    checks["ledger"] = "ok"
                except Exception as exc:  # any failure means not ready; the reason goes to the log only
                    log.warning("readiness: the ledger is unreachable: %s", type(exc).__name__)
        ready = checks["providers"] == "ok" and checks["ledger"] in ("ok", "not used")
        return (200 if ready else 503), {"status": "ready" if ready else "not_ready", "checks": checks}


async def _json(send: Any, status: int, body: dict[str, Any], *, head_only: bool = False) -> None:
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head_only else data})


async def log_context(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Give every log line written while an MCP request is handled that HTTP request's id and caller.

    Needed in the handler: a Streamable HTTP session's messages run in a task its first request started.
    """
    request = ctx.request
    scope = request.scope if request is not None and hasattr(request, "scope") else None
    if scope is None:
        return await call_next(ctx)
    tokens = (_request_id.set(scope.get(REQUEST_ID_KEY)), _caller.set(caller_of(scope)))
    try:
        if ctx.method == "tools/call" and ctx.params is not None:
            logging.getLogger("casebridge.calls").info("tools/call %s", str(ctx.params.get("name"))[:64])
        return await call_next(ctx)
    finally:
        _request_id.reset(tokens[0])
        _caller.reset(tokens[1])


class _Context(logging.Filter):
    """Adds ``request_id`` and ``caller`` to every record (from the request being handled, if any)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        if getattr(record, "caller", None) is None:
            record.caller = _caller.get()
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, caller (and the exception)."""

    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "caller": getattr(record, "caller", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps(entry, ensure_ascii=True, default=str)
        return self.redact(line) if self.redact else line


class _Redacting(logging.Formatter):
    def __init__(self, fmt: str, redact: Callable[[str], str] | None) -> None:
        super().__init__(fmt)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return self.redact(line) if self.redact else line


def configure_logging(level: str, fmt: str, redact: Callable[[str], str] | None = None) -> None:
    """stderr logging as text (the default) or JSON lines; every line passes ``redact`` (the credentials)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Context())
    if fmt == "json":
        handler.setFormatter(JsonLines(redact))
    else:
        handler.setFormatter(_Redacting("casebridge %(levelname)s %(name)s: %(message)s", redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.WARNING))
