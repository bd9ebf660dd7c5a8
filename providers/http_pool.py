"""A keep-alive connection stack beneath httpx2's transport API: every open connection is reused, each
request takes one in constant time (httpcore's pool scans all its connections on every request)."""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator

import anyio
import httpcore2
import httpx2 as httpx

from casebridge.providers.http_body import decoded_headers, read_body

_httpx_log = logging.getLogger("httpx2")

# httpcore's errors as the httpx2 errors its own transport raises for them (most specific first).
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore2.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx.ReadTimeout),
    (httpcore2.WriteTimeout, httpx.WriteTimeout),
    (httpcore2.PoolTimeout, httpx.PoolTimeout),
    (httpcore2.TimeoutException, httpx.TimeoutException),
    (httpcore2.ConnectError, httpx.ConnectError),
    (httpcore2.ReadError, httpx.ReadError),
    (httpcore2.WriteError, httpx.WriteError),
    (httpcore2.NetworkError, httpx.NetworkError),
    (httpcore2.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore2.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore2.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore2.ProtocolError, httpx.ProtocolError),
)


_Key = tuple[bytes, bytes, int]


def _key(origin: httpcore2.Origin) -> _Key:
    return origin.scheme, origin.host, origin.port


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, ours in _ERRORS:
            if isinstance(exc, core):
                raise ours(str(exc)) from exc
        raise


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 to any origin, up to ``max_connections`` at once, every idle connection kept alive.

    Idle connections wait on a stack per origin: a request takes the most recently used one (its
    socket is the warmest) or opens a new one; the oldest is closed once idle longer than
    ``keepalive_expiry``. So a burst of N concurrent calls opens N connections once and reuses them
    for every later burst, where httpcore's pool (keep-alive 20) reopens all above 20 each time and
    scans every connection on each request and each close. Waiting for a free connection is bounded
    by the request's ``pool`` timeout, like httpcore's.
    """

    def __init__(
        self, *, ssl_context: ssl.SSLContext | None = None, max_connections: int = 100, keepalive_expiry: float = 5.0
    ) -> None:
        self._ssl_context = ssl_context
        self._max = max_connections
        self._expiry = keepalive_expiry
        self._idle: dict[_Key, deque[tuple[float, httpcore2.AsyncHTTPConnection]]] = {}
        self._in_use = 0  # connections taken (or being opened) by requests
        self._waiting: deque[anyio.Event] = deque()  # requests waiting for one, first come first served
        self._closed = False

    @property
    def idle_connections(self) -> int:
        return sum(len(stack) for stack in self._idle.values())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.")
        core = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        answer = await self.send_core(core)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=answer.stream,  # type: ignore[arg-type]
            extensions=answer.extensions,
        )

    async def send_core(self, core: httpcore2.Request) -> httpcore2.Response:
        """``core`` sent on a free connection; its body (``stream``) gives the connection back when closed."""
        await self._acquire(core.extensions.get("timeout", {}).get("pool"))
        try:
            while True:
                connection = await self._take(core.url.origin)
                try:
                    with _mapped():
                        response = await connection.handle_async_request(core)
                except httpcore2.ConnectionNotAvailable:
                    await _close(connection)  # an idle one that could not take it after all: open another
                    continue
                except BaseException:
                    await self._put(connection)
                    raise
                break
        except BaseException:
            self._free()
            raise
        return httpcore2.Response(
            response.status,
            headers=response.headers,
            content=_Body(self, connection, response.stream),
            extensions=response.extensions,
        )

    async def _acquire(self, wait_at_most: float | None) -> None:
        """A connection slot: at once when one is free (no await, unlike a semaphore), else in turn."""
        if self._in_use < self._max and not self._waiting:
            self._in_use += 1
            return
        turn = anyio.Event()
        self._waiting.append(turn)
        try:
            with anyio.move_on_after(wait_at_most):
                await turn.wait()
        except BaseException:
            self._leave(turn)
            raise
        if not turn.is_set():
            self._leave(turn)
            raise httpx.PoolTimeout("no connection became free within the pool timeout")

    def _leave(self, turn: anyio.Event) -> None:
        """A waiter gives up: a slot already handed to it goes to the next."""
        if turn.is_set():
            self._free()
        else:
            self._waiting.remove(turn)

    def _free(self) -> None:
        """A slot given back: to the first waiter, else free."""
        if self._waiting:
            self._waiting.popleft().set()  # the slot passes on: _in_use stays
        else:
            self._in_use -= 1

    async def _take(self, origin: httpcore2.Origin) -> httpcore2.AsyncHTTPConnection:
        if self._closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        stack = self._idle.get(_key(origin))
        now = time.monotonic()
        while stack:
            if now - stack[0][0] > self._expiry:  # the oldest first: it expires first
                await _close(stack.popleft()[1])
                continue
            _, connection = stack.pop()
            if connection.has_expired():  # the server closed it meanwhile
                await _close(connection)
                continue
            return connection
        return httpcore2.AsyncHTTPConnection(
            origin=origin, ssl_context=self._ssl_context, keepalive_expiry=self._expiry, http1=True, http2=False
        )

    async def _put(self, connection: httpcore2.AsyncHTTPConnection) -> None:
        """Back on its origin's stack when it can take another request, else closed."""
        if connection.is_idle() and not self._closed:
            self._idle.setdefault(_key(connection._origin), deque()).append((time.monotonic(), connection))
        else:
            await _close(connection)

    async def _release(self, connection: httpcore2.AsyncHTTPConnection) -> None:
        try:
            await self._put(connection)
        finally:
            self._free()

    async def aclose(self) -> None:
        self._closed = True
        stacks, self._idle = self._idle, {}
        for stack in stacks.values():
            for _, connection in stack:
                await _close(connection)


async def _close(connection: httpcore2.AsyncHTTPConnection) -> None:
    with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
        await connection.aclose()


class _Body(httpx.AsyncByteStream):
    """A response body that gives its connection back once closed."""

    def __init__(self, pool: KeepAliveTransport, connection: httpcore2.AsyncHTTPConnection, stream: object) -> None:
        self._pool = pool
        self._connection = connection
        self._stream = stream
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self._stream:  # type: ignore[attr-defined]
                yield chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with anyio.CancelScope(shield=True), _mapped():
                await self._stream.aclose()  # type: ignore[attr-defined]
        finally:
            await self._pool._release(self._connection)


class HotGet:
    """GET straight onto a ``KeepAliveTransport``, without httpx2's client layer (URL merging and
    parsing, header and cookie merging, auth and redirect hooks: about 0.25 ms a request, bench/).

    It sends what ``client.build_request("GET", url, params=...)`` would (same target bytes, headers
    and timeouts) and answers like the client path read by ``read_capped``. Whatever it cannot send
    the same way (another origin, a URL with its own query, a client holding cookies) is None: the
    caller takes the client path.
    """

    def __init__(self, client: httpx.AsyncClient, transport: KeepAliveTransport) -> None:
        probe = client.build_request("GET", "")
        self._client = client
        self._transport = transport
        self._base = client.base_url
        self._url = httpcore2.URL(
            scheme=self._base.raw_scheme, host=self._base.raw_host, port=self._base.port, target=b"/"
        )
        self._headers = probe.headers.raw
        self._extensions = probe.extensions
        self._paths: dict[str, bytes | None] = {}
        self._queries: dict[tuple[tuple[str, str | int | float | bool | None], ...], bytes] = {}

    def _path(self, url: str) -> bytes | None:
        """The raw path ``url`` resolves to on the base URL (as ``AsyncClient._merge_url`` resolves it)."""
        if url not in self._paths:
            merged = httpx.URL(url)
            if merged.is_relative_url:
                path: bytes | None = self._base.raw_path + merged.raw_path.lstrip(b"/")
            elif merged.copy_with(raw_path=b"/") == self._base.copy_with(raw_path=b"/"):
                path = merged.raw_path
            else:
                path = None
            if merged.query or merged.fragment:
                path = None
            if len(self._paths) >= 256:  # case ids vary: a bounded memo of the last paths
                self._paths.clear()
            self._paths[url] = path
        return self._paths[url]

    def _query(self, query: list[tuple[str, str | int | float | bool | None]]) -> bytes:
        """The query string httpx2 would write for ``query`` (searches repeat theirs: a bounded memo)."""
        key = tuple(query)
        text = self._queries.get(key)
        if text is None:
            text = str(httpx.QueryParams(query)).encode("ascii")
            if len(self._queries) >= 256:
                self._queries.clear()
            self._queries[key] = text
        return text

    async def get(
        self, provider: str, url: str, query: list[tuple[str, str | int | float | bool | None]], limit: int
    ) -> httpx.Response | None:
        path = self._path(url)
        if path is None or self._client.cookies:
            return None
        target = path + b"?" + self._query(query) if query else path
        core = httpcore2.Request(
            b"GET",
            httpcore2.URL(scheme=self._url.scheme, host=self._url.host, port=self._url.port, target=target),
            headers=self._headers,
            extensions=self._extensions,
        )
        answer = await self._transport.send_core(core)
        stream = answer.stream
        assert isinstance(stream, _Body)
        try:
            encoding = next((v for k, v in answer.headers if k.lower() == b"content-encoding"), b"")
            content = await read_body(provider, answer.status, encoding.decode("latin-1"), stream, limit)
        finally:
            await stream.aclose()
        response = _Answer(
            answer.status, headers=decoded_headers(answer.headers), content=content, extensions=answer.extensions
        )
        response.lazy_request = (self._base, target, self._headers, self._extensions)
        if any(k.lower() == b"set-cookie" for k, _ in answer.headers):
            self._client.cookies.extract_cookies(response)  # as the client path keeps them
        if _httpx_log.isEnabledFor(logging.INFO):
            _httpx_log.info(
                'HTTP Request: %s %s "%s %d %s"',
                "GET",
                response.request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        return response


class _Answer(httpx.Response):
    """A response whose ``request`` is built when first asked for (most callers never do)."""

    lazy_request: tuple[httpx.URL, bytes, list[tuple[bytes, bytes]], dict[str, object]] | None = None

    # httpx2 reads ``_request`` directly too (raise_for_status, iteration): the attribute itself is lazy.
    @property
    def _request(self) -> httpx.Request | None:
        built: httpx.Request | None = self.__dict__.get("_built")
        if built is None and self.lazy_request is not None:
            base, target, headers, extensions = self.lazy_request
            built = httpx.Request("GET", base.copy_with(raw_path=target), headers=headers, extensions=extensions)
            self.__dict__["_built"] = built
        return built

    @_request.setter
    def _request(self, value: httpx.Request | None) -> None:
        self.__dict__["_built"] = value
