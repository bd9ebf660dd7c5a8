"""What guards the HTTP transports: read timeouts and session caps against slow or greedy clients, the bearer token."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import h11
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("casebridge.http")

RETRY_AFTER_SECONDS = 30
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]


@dataclass(frozen=True)
class HttpLimits:
    header_timeout: float = 10.0  # seconds from connection (or next request's first byte) to complete headers
    body_timeout: float = 30.0  # seconds from complete headers to the end of the body
    session_idle_seconds: float = 600.0
    max_sessions: int = 1000
    max_sessions_per_peer: int = 100
    max_sse_sessions: int = 1000

    @classmethod
    def from_settings(cls, settings: Any) -> HttpLimits:
        return cls(
            header_timeout=settings.casebridge_http_header_timeout,
            body_timeout=settings.casebridge_http_body_timeout,
            session_idle_seconds=settings.casebridge_session_idle_minutes * 60,
            max_sessions=settings.casebridge_max_sessions,
            max_sessions_per_peer=settings.casebridge_max_sessions_per_peer,
            max_sse_sessions=settings.casebridge_max_sse_sessions,
        )


def guarded_protocol(limits: HttpLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline on each request's headers, which uvicorn itself lacks.

    A connection whose headers are not complete ``header_timeout`` after it opened (or after the next
    request's first byte) is answered 408 and closed. A client still sending a body ``body_timeout``
    after its response went out (answered early: 401, 413) is cut off too.
    """

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _body_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self.conn.their_state is h11.IDLE:
                self._arm_header_timer()  # the first byte of a further request on a kept-alive connection
            super().data_received(data)
            self._settle_timers()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._settle_timers()
            if self._body_timer is None and self.conn.their_state is h11.SEND_BODY:
                self._body_timer = self.loop.call_later(limits.body_timeout, self._cut_off, "body")

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timers()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            self._header_timer = self.loop.call_later(limits.header_timeout, self._cut_off, "headers")

        def _settle_timers(self) -> None:
            if self._header_timer is not None and self.conn.their_state is not h11.IDLE:
                self._header_timer.cancel()
                self._header_timer = None
            if self._body_timer is not None and self.conn.their_state is not h11.SEND_BODY:
                self._body_timer.cancel()
                self._body_timer = None

        def _cancel_timers(self) -> None:
            for timer in (self._header_timer, self._body_timer):
                if timer is not None:
                    timer.cancel()
            self._header_timer = self._body_timer = None

        def _cut_off(self, part: str) -> None:
            self._header_timer = self._body_timer = None
            if self.transport.is_closing():
                return
            log.info("closed a connection from %s: its request %s took too long", _peer_of_client(self.client), part)
            if part == "headers" and self.conn.our_state is h11.IDLE:  # nothing of a response was sent yet
                self.transport.write(
                    _timeout_response(f"request headers not received within {limits.header_timeout:g} s")
                )
            self.transport.close()

    return GuardedH11Protocol


def _timeout_response(why: str) -> bytes:
    """A whole 408 response, written below h11 (which sends no response before a request)."""
    body = json.dumps({"error": why}).encode()
    head = f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + b"connection: close\r\n\r\n" + body


def _peer_of_client(client: Any) -> str:
    return str(client[0]) if client else "unknown"


def peer_of(scope: Scope) -> str:
    """The client's address: sessions are counted per address."""
    return _peer_of_client(scope.get("client"))


class BodyDeadline:
    """Answers 408 (and closes) when a request's body is not complete ``timeout`` seconds after its headers."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = anyio.current_time() + self.timeout
        body_done = timed_out = started = False

        async def guarded_receive() -> dict[str, Any]:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()  # type: ignore[no-any-return]
            if not timed_out:
                with anyio.CancelScope(deadline=deadline):
                    message: dict[str, Any] = await receive()
                    body_done = message["type"] != "http.request" or not message.get("more_body", False)
                    return message
                timed_out = True
                log.info("gave up on a request body from %s after %g s", peer_of(scope), self.timeout)
            return {"type": "http.disconnect"}  # to the app, the client is gone

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if timed_out:
                return  # the 408 below answers instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            # Only the error the cut-off body caused in the app is dropped (a 408 answers it below);
            # any other error propagates.
            if not timed_out:
                raise
            log.debug("the app failed on a request body cut off after %g s", self.timeout, exc_info=True)
        if timed_out and not started:
            await _json_response(send, 408, {"error": f"request body not received within {self.timeout:g} s"})


class SessionLimits:
    """Caps open sessions per client address and in all, on Streamable HTTP and on SSE.

    Streamable HTTP: a request without ``Mcp-Session-Id`` in the 2025-11-25 era may open a session;
    one is refused when its address already holds ``max_sessions_per_peer`` (429) or the server holds
    ``max_sessions`` (503). Sessions end when the client deletes them or the SDK expires them idle.
    SSE: each open ``GET /sse`` stream is a session, capped the same way and by ``max_sse_sessions``.
    """

    def __init__(self, app: ASGIApp, limits: HttpLimits, *, live_sessions: Callable[[], Any] | None) -> None:
        self.app = app
        self.limits = limits
        self._live_sessions = live_sessions  # the Streamable HTTP session ids the SDK still holds
        self._owned: defaultdict[str, set[str]] = defaultdict(set)  # peer -> its session ids
        self._opening: Counter[str] = Counter()
        self._streams: Counter[str] = Counter()  # peer -> open SSE streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] == "GET" and scope["path"].rstrip("/") == "/sse":
            await self._sse_stream(scope, receive, send)
        elif self._live_sessions is not None and _may_open_session(scope):
            await self._opening_request(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _sse_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = peer_of(scope)
        refusal = self._refusal(peer, self._streams[peer], sum(self._streams.values()), self.limits.max_sse_sessions)
        if refusal:
            await _refuse(send, *refusal)
            return
        completed = False

        async def send_once(message: dict[str, Any]) -> None:
            # The SDK's SSE handler starts a second response once its stream has ended; drop it.
            nonlocal completed
            if not completed:
                completed = message["type"] == "http.response.body" and not message.get("more_body", False)
                await send(message)

        self._streams[peer] += 1
        try:
            await self.app(scope, receive, send_once)
        finally:
            self._streams[peer] -= 1
            if not self._streams[peer]:
                del self._streams[peer]

    async def _opening_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = peer_of(scope)
        live = self._live_sessions() if self._live_sessions else ()
        owned = self._owned[peer]
        owned.intersection_update(live)
        in_use = len(owned) + self._opening[peer]
        refusal = self._refusal(peer, in_use, len(live) + sum(self._opening.values()), self.limits.max_sessions)
        if refusal:
            if not owned:
                del self._owned[peer]
            await _refuse(send, *refusal)
            return

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                for name, value in message.get("headers", []):
                    if name.lower() == b"mcp-session-id":
                        owned.add(value.decode("latin-1"))
            await send(message)

        self._opening[peer] += 1
        try:
            await self.app(scope, receive, watch)
        finally:
            self._opening[peer] -= 1
            if not self._opening[peer]:
                del self._opening[peer]

    def _refusal(self, peer: str, peer_count: int, total: int, cap: int) -> tuple[int, str] | None:
        per_peer = self.limits.max_sessions_per_peer
        if peer_count >= per_peer:
            log.warning("refused a session to %s: it already holds %d", peer, peer_count)
            return 429, (
                f"too many open sessions from {peer} (limit {per_peer}): end one (HTTP DELETE with its "
                "Mcp-Session-Id, or close an SSE stream) or wait for idle ones to expire"
            )
        if total >= cap:
            log.warning("refused a session to %s: the server holds %d (limit %d)", peer, total, cap)
            return 503, f"the server holds its limit of {cap} open sessions; try again later"
        return None


def _may_open_session(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    if b"mcp-session-id" in headers:
        return False
    version = headers.get(b"mcp-protocol-version")
    # As the SDK routes: a 2026-07-28 request is served statelessly and never opens a session.
    return version is None or version.decode("latin-1") in HANDSHAKE_PROTOCOL_VERSIONS


async def _refuse(send: Send, status: int, why: str) -> None:
    error = {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": why}}
    await _json_response(send, status, error, [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())])


async def _json_response(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close") if status == 408 else (b"cache-control", b"no-store"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class BearerTokenMiddleware:
    """Answers 401 and nothing else to any HTTP request without the configured bearer token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    def _authorized(self, header: bytes) -> bool:
        scheme, _, credentials = header.partition(b" ")
        # The scheme is case-insensitive (RFC 9110 §11.1); the token itself is compared in constant time.
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._expected)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            supplied = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not self._authorized(supplied):
                body = b'{"error": "unauthorized"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="casebridge"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
