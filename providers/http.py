"""The one HTTP layer every provider client uses: pooled client, retries, deadline, body cap,
request budget, redaction (bodies in ``http_body``, the connection stack and hot GET in ``http_pool``).

The HTTP stack is chosen here and beside it, nowhere else. casebridge uses ``httpx2`` (httpx's
maintained successor, same API) because ``mcp`` already loads it; importing ``httpx`` too would add a
second stack to start-up (README, "HTTP client").
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import math
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import httpx2 as httpx

from casebridge.providers import __version__
from casebridge.providers.errors import (
    MalformedResponse,
    ProviderError,
    RequestBudgetSpent,
    Timeout,
    Unavailable,
)
from casebridge.providers.http_body import MAX_JSON_DEPTH as MAX_JSON_DEPTH
from casebridge.providers.http_body import json_body as json_body
from casebridge.providers.http_body import json_model as json_model
from casebridge.providers.http_body import json_or_none as json_or_none
from casebridge.providers.http_body import read_capped
from casebridge.providers.redaction import Redactor as Redactor

if TYPE_CHECKING:
    from casebridge.providers.http_pool import HotGet

log = logging.getLogger("casebridge.http")
# httpx2 logs every request URL at INFO; query strings can hold personal data (applicant e-mails).
logging.getLogger("httpx2").setLevel(logging.WARNING)


class _NoQueryInLog(logging.Filter):
    """httpx2's request lines with the query string cut off, whatever the log level: a query can carry
    personal data (a CommCare property filter such as ``properties.dob=...``, an applicant's e-mail)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None, fragment=None) if isinstance(arg, httpx.URL) and arg.query else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx2").addFilter(_NoQueryInLog())

USER_AGENT = f"casebridge/{__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
DEFAULT_REQUEST_BUDGET = 50

Response = httpx.Response
Request = httpx.Request
AsyncBaseTransport = httpx.AsyncBaseTransport
ASGITransport = httpx.ASGITransport
QueryParams = Mapping[str, str | int | float | bool | Iterable[str | int] | None]


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    """Time and retry limits for one provider's calls.

    ``deadline`` bounds a whole logical call (all attempts and waits), well under the ~60 s after
    which Claude Desktop gives up on a tool call. A ``Retry-After`` longer than
    ``max_retry_after`` is reported to the caller instead of slept on.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 25.0
    attempts: int = 3
    wait_initial: float = 0.25
    wait_max: float = 2.0
    wait_jitter: float = 0.25
    max_retry_after: float = 5.0
    max_connections: int = 100
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # decoded bytes of one answer (after gzip/deflate)


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None when absent or junk."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass(slots=True)
class RequestBudget:
    """Provider requests one tool call may still make; shared by every task the call starts."""

    limit: int
    used: int = 0

    def charge(self, provider: str) -> None:
        if self.used >= self.limit:
            raise RequestBudgetSpent(
                provider,
                f"this call needed more than {self.limit} requests to {provider}; narrow the search",
                hint="Narrow the request (more filters, a smaller limit), then call again.",
            )
        self.used += 1


_budget: ContextVar[RequestBudget | None] = ContextVar("casebridge_request_budget", default=None)


@contextlib.contextmanager
def request_budget(limit: int = DEFAULT_REQUEST_BUDGET) -> Iterator[RequestBudget]:
    """Bound the provider requests (retries included) made inside the block, e.g. one tool call.

    Outside any block requests are not counted. A nested block replaces the outer budget while it runs.
    """
    token = _budget.set(RequestBudget(limit))
    try:
        yield _budget.get()  # type: ignore[misc]
    finally:
        _budget.reset(token)


class ProviderHTTP:
    """One pooled ``AsyncClient`` for one provider, with its auth header, retries and deadline.

    ``get`` retries connection errors, timeouts, 429 and 502/503/504 with capped, jittered
    exponential backoff (stamina); ``post`` and ``put`` never retry, because a write that may have
    reached the service must not be sent twice blindly. Both return the final response whatever its
    status: turning a status into a typed error is the provider client's job, since each service
    words its errors differently.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str | None] = (),
        public: Iterable[str] = (),
        policy: HttpPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.policy = policy or HttpPolicy()
        self.redact = Redactor(secrets, public=public)
        self._base_url = httpx.URL(base_url.rstrip("/") + "/")
        # Only the encodings read_capped inflates itself (httpx2 would inflate a whole chunk at once).
        self._headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            **(headers or {}),
        }
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._hot: HotGet | None = None
        self._closed = False

    def _http(self) -> httpx.AsyncClient:
        # Built on the first request, not at start-up: constructing an AsyncClient imports the
        # connection stack (httpcore2, h11, h2, truststore) and loads the CA bundle, about 0.1 s
        # for three providers that a session which only lists tools never needs (bench/, cold start).
        if self._client is None:
            if self._closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            import urllib.request

            from casebridge.providers.http_pool import HotGet, KeepAliveTransport

            p = self.policy
            # Our own keep-alive stack, unless a transport is given or the environment names a proxy
            # (httpx2 mounts proxies only over its own pool): every connection a burst opened stays
            # open for the next one, and taking one costs the same however many there are.
            pool = None
            if self._transport is None and not {"http", "https", "all"} & set(urllib.request.getproxies()):
                pool = KeepAliveTransport(ssl_context=httpx.create_ssl_context(), max_connections=p.max_connections)
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                headers=self._headers,
                timeout=httpx.Timeout(p.read_timeout, connect=p.connect_timeout),
                limits=httpx.Limits(max_connections=p.max_connections, max_keepalive_connections=20),
                transport=self._transport or pool,
                follow_redirects=False,
            )
            if pool is not None:
                self._hot = HotGet(self._client, pool)  # GETs on the stack skip the client layer
        return self._client

    @property
    def base_url(self) -> str:
        return str(self._base_url)

    async def aclose(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.aclose()

    def scrub(self, err: ProviderError) -> ProviderError:
        """``err`` with every secret (and its encodings) removed from its texts."""
        return err.redacted(self.redact)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, charged to the call's budget, its body read under ``max_body_bytes``."""
        budget = _budget.get()
        if budget is not None:
            budget.charge(self.provider)
        client = self._http()
        if self._hot is not None and method == "GET":
            hot = await self._hot.get(self.provider, url, kwargs["params"], self.policy.max_body_bytes)
            if hot is not None:
                return hot
        response = await client.send(client.build_request(method, url, **kwargs), stream=True)
        return await read_capped(self.provider, response, self.policy.max_body_bytes)

    def _retry_hook(self, exc: Exception) -> bool | float:
        if isinstance(exc, _RetryableStatus):
            wait = parse_retry_after(exc.response.headers.get("Retry-After"))
            if wait is None:
                return True
            if wait > self.policy.max_retry_after:
                return False
            return wait
        return isinstance(exc, httpx.TransportError)

    async def get(self, url: str, params: QueryParams | None = None) -> httpx.Response:
        """GET ``url`` (relative to the base, or absolute on the same host) with retries.

        The first attempt runs outside the retry machinery: nearly every call needs no retry, and
        entering stamina's retry context costs about 0.3 ms of CPU a call (bench/, "vs naive"). Only a
        retryable failure enters it, after the first backoff, for the attempts that remain.
        """
        p = self.policy
        query = _clean_params(params)
        last: httpx.Response | None = None
        try:
            with anyio.fail_after(p.deadline):
                started = time.monotonic()
                try:
                    response = await self._send("GET", url, params=query)
                except httpx.TransportError as exc:
                    if p.attempts <= 1:
                        raise
                    wait = self._retry_hook(exc)
                else:
                    if response.status_code not in RETRY_STATUSES:
                        return response
                    last = response
                    wait = self._retry_hook(_RetryableStatus(response))
                    if wait is False or p.attempts <= 1:
                        return response
                import stamina  # here, not at module level: it and tenacity add ~15 ms to every start-up

                # The wait stamina would have made before its second attempt, then its loop for the rest
                # (starting one doubling further, so every wait is the one a single loop would make).
                await anyio.sleep(
                    min(p.wait_max, p.wait_initial + random.uniform(0, p.wait_jitter)) if wait is True else wait
                )
                try:
                    async for attempt in stamina.retry_context(
                        on=self._retry_hook,
                        attempts=p.attempts - 1,
                        timeout=max(0.001, p.deadline - (time.monotonic() - started)),
                        wait_initial=p.wait_initial * 2,
                        wait_max=p.wait_max,
                        wait_jitter=p.wait_jitter,
                    ):
                        with attempt:
                            response = await self._send("GET", url, params=query)
                            if response.status_code in RETRY_STATUSES:
                                last = response
                                raise _RetryableStatus(response)
                            return response
                except _RetryableStatus as exc:
                    return exc.response
        except TimeoutError as exc:
            if last is not None:
                return last
            raise Timeout(
                self.provider,
                f"no answer within the {p.deadline:g} s deadline",
                hint="The service is slow or unreachable; try again shortly, or narrow the request.",
            ) from exc
        except httpx.TimeoutException as exc:
            raise Timeout(self.provider, f"timed out ({type(exc).__name__})", hint="Try again shortly.") from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                self.provider,
                self.redact(f"could not reach the service ({type(exc).__name__})"),
                hint="Check the base URL and network; retry later.",
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def post(self, url: str, json: Any = None) -> httpx.Response:
        """POST once. A transport failure is raised as ``Timeout``/``Unavailable`` whose
        ``maybe_sent`` tells whether the request could have reached the service."""
        return await self._write("POST", url, json)

    async def put(self, url: str, json: Any = None) -> httpx.Response:
        """PUT once, never retried, like ``post`` (a CommCare PUT can create: the ``ext/<id>/`` upsert)."""
        return await self._write("PUT", url, json)

    async def _write(self, method: str, url: str, json: Any) -> httpx.Response:
        p = self.policy
        try:
            with anyio.fail_after(p.deadline):
                return await self._send(method, url, json=json)
        except MalformedResponse as exc:
            exc.maybe_sent = True  # the request was sent: only its answer was unusable
            raise
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise Timeout(
                self.provider,
                "no answer to the request within the deadline",
                maybe_sent=not isinstance(exc, httpx.ConnectTimeout),
            ) from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                self.provider,
                f"connection failed ({type(exc).__name__})",
                maybe_sent=not isinstance(exc, httpx.ConnectError),
            ) from exc


def _clean_params(params: QueryParams | None) -> list[tuple[str, str | int | float | bool | None]]:
    """Query pairs with None dropped, booleans as true/false and sequences as repeated keys."""
    out: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            out.append((key, str(value)))
        else:
            out.extend((key, str(v)) for v in value)
    return out
