"""The one HTTP layer every provider client uses: pooled client, retries, deadline, redaction.

The HTTP stack is chosen here and nowhere else. casebridge uses ``httpx2`` (httpx's maintained
successor, same API) because ``mcp`` already loads it; importing ``httpx`` too would add a second
stack to start-up (README, "HTTP client").
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2 as httpx

from providers import __version__
from providers.errors import MalformedResponse, Timeout, Unavailable

log = logging.getLogger("casebridge.http")
# httpx2 logs every request URL at INFO; query strings can hold personal data (applicant e-mails).
logging.getLogger("httpx2").setLevel(logging.WARNING)

USER_AGENT = f"casebridge/{__version__}"
RETRY_STATUSES = frozenset({429, 502, 503, 504})

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


class Redactor:
    """Removes known secret values from any text before it leaves a client."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return text


class ProviderHTTP:
    """One pooled ``AsyncClient`` for one provider, with its auth header, retries and deadline.

    ``get`` retries connection errors, timeouts, 429 and 502/503/504 with capped, jittered
    exponential backoff (stamina); ``post`` never retries, because a POST that may have reached
    the service must not be sent twice blindly. Both return the final response whatever its
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
        policy: HttpPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.policy = policy or HttpPolicy()
        self.redact = Redactor(secrets)
        self._base_url = httpx.URL(base_url.rstrip("/") + "/")
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    def _http(self) -> httpx.AsyncClient:
        # Built on the first request, not at start-up: constructing an AsyncClient imports the
        # connection stack (httpcore2, h11, h2, truststore) and loads the CA bundle, about 0.1 s
        # for three providers that a session which only lists tools never needs (bench/, cold start).
        if self._client is None:
            if self._closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            p = self.policy
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                headers=self._headers,
                timeout=httpx.Timeout(p.read_timeout, connect=p.connect_timeout),
                limits=httpx.Limits(max_connections=p.max_connections, max_keepalive_connections=20),
                transport=self._transport,
                follow_redirects=False,
            )
        return self._client

    @property
    def base_url(self) -> str:
        return str(self._base_url)

    async def aclose(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.aclose()

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
        """GET ``url`` (relative to the base, or absolute on the same host) with retries."""
        import stamina  # here, not at module level: it and tenacity add ~15 ms to every start-up

        p = self.policy
        query = _clean_params(params)
        last: httpx.Response | None = None
        try:
            with anyio.fail_after(p.deadline):
                try:
                    async for attempt in stamina.retry_context(
                        on=self._retry_hook,
                        attempts=p.attempts,
                        timeout=p.deadline,
                        wait_initial=p.wait_initial,
                        wait_max=p.wait_max,
                        wait_jitter=p.wait_jitter,
                    ):
                        with attempt:
                            response = await self._http().get(url, params=query)
                            if response.status_code in RETRY_STATUSES:
                                await response.aread()
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
        p = self.policy
        try:
            with anyio.fail_after(p.deadline):
                return await self._http().post(url, json=json)
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


def json_body(provider: str, response: httpx.Response) -> Any:
    """The response's JSON, or ``MalformedResponse`` naming what came back instead."""
    try:
        return response.json()
    except ValueError as exc:
        kind = response.headers.get("content-type", "unknown content type").split(";")[0]
        raise MalformedResponse(
            provider,
            f"HTTP {response.status_code} with a body that is not JSON ({kind})",
            hint="The service answered in an unexpected format; retry later.",
            status=response.status_code,
        ) from exc
