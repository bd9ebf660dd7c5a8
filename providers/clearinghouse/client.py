"""Async client for the Clearinghouse API v2.1: typed wire models and its error quirks mapped."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ValidationError

from casebridge.providers.clearinghouse.models import CasePage as CasePage
from casebridge.providers.clearinghouse.models import ClearinghouseCase as ClearinghouseCase
from casebridge.providers.clearinghouse.models import Docket as Docket
from casebridge.providers.clearinghouse.models import Document as Document
from casebridge.providers.clearinghouse.models import Envelope
from casebridge.providers.clearinghouse.models import Resource as Resource
from casebridge.providers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MalformedResponse,
    NotConfigured,
    NotFound,
    ProviderError,
    RateLimited,
    Rejected,
    Unavailable,
)
from casebridge.providers.http import (
    AsyncBaseTransport,
    HttpPolicy,
    ProviderHTTP,
    Response,
    json_body,
    json_or_none,
    parse_retry_after,
)

PROVIDER = "clearinghouse"
DEFAULT_BASE_URL = "https://clearinghouse.net/api/v2p1"
TOKEN_HINT = "Check CLEARINGHOUSE_API_TOKEN: the Clearinghouse refused it or it is missing."
# Sub-resource listings (documents, dockets, resources) follow at most this many provider pages.
MAX_LIST_PAGES = 5

_UNKNOWN_KEY = re.compile(r"^API Error: Key: (?P<key>.*?), Value: (?P<value>.*) not found\.?$", re.DOTALL)
_NOT_INTEGER = re.compile(r"^API Error: (?P<value>.*) is not an integer\.?$", re.DOTALL)
_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


T = TypeVar("T", bound=BaseModel)


class ClearinghouseClient:
    """Typed calls to ``/api/v2p1``. Every failure is a ``providers.errors.ProviderError``."""

    def __init__(self, http: ProviderHTTP) -> None:
        self.http = http

    @classmethod
    def connect(
        cls,
        base_url: str,
        token: str,
        *,
        transport: AsyncBaseTransport | None = None,
        policy: HttpPolicy | None = None,
    ) -> Self:
        if not token or not token.strip():
            raise NotConfigured(PROVIDER, "no API token configured", hint="Set CLEARINGHOUSE_API_TOKEN.")
        http = ProviderHTTP(
            PROVIDER,
            base_url,
            headers={"Authorization": f"Token {token.strip()}"},
            secrets=[token, token.strip()],
            policy=policy,
            transport=transport,
        )
        return cls(http)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def search(
        self, filters: Mapping[str, int | str | Iterable[int | str]], cursor: str | None = None
    ) -> CasePage:
        """One provider page of cases. Zero matches (a 400 at this API) is an empty page."""
        params: dict[str, Any] = {**filters, **_paging(cursor)}
        data = await self._get("cases/", params)
        if data is None:
            return CasePage()
        return self._parse(CasePage, data)

    async def get(self, case_id: int) -> ClearinghouseCase:
        page = await self.search({"case_id": case_id})
        for case in page.results:
            if case.id == case_id:
                return case
        raise NotFound(PROVIDER, f"no case with id {case_id}", hint="Check the case id.")

    async def documents(self, case_id: int, *, limit: int = 100) -> list[Document]:
        return await self._list(f"cases/{case_id}/documents/", Document, limit)

    async def dockets(self, case_id: int, *, limit: int = 100) -> list[Docket]:
        return await self._list(f"cases/{case_id}/dockets/", Docket, limit)

    async def resources(self, case_id: int, *, limit: int = 100) -> list[Resource]:
        return await self._list(f"cases/{case_id}/resources/", Resource, limit)

    async def _list(self, path: str, model: type[T], limit: int) -> list[T]:
        """Up to ``limit`` items, following at most ``MAX_LIST_PAGES`` cursors."""
        out: list[T] = []
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            data = await self._get(path, _paging(cursor))
            if data is None:
                break
            page = self._parse(Envelope[model], data)  # type: ignore[valid-type]
            out.extend(page.results)
            cursor = page.next_cursor
            if cursor is None or len(out) >= limit:
                break
        return out[:limit]

    def _parse(self, model: type[T], data: Any) -> T:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # The location names the provider's own keys: untrusted text.
            where = ".".join(str(p) for p in exc.errors()[0]["loc"])[:120] if exc.errors() else "?"
            raise self.http.scrub(
                MalformedResponse(
                    PROVIDER,
                    f"answer does not match the v2.1 format (at {where})",
                    hint="The service may have changed its API; retry later.",
                )
            ) from None
        except RecursionError:
            raise MalformedResponse(PROVIDER, "answer is nested too deeply") from None

    async def _get(self, path: str, params: Mapping[str, Any] | None) -> Any:
        """The JSON of a successful GET; None for the API's "No results" 400."""
        response = await self.http.get(path, params)
        try:
            if 200 <= response.status_code < 300:
                return json_body(PROVIDER, response)
            if _is_no_results(response):
                return None
            raise self._error(response)
        except ProviderError as err:
            raise self.http.scrub(err) from err.__cause__

    def _error(self, response: Response) -> ProviderError:
        status = response.status_code
        redact = self.http.redact
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return RateLimited(
                PROVIDER, f"rate limited (HTTP 429){wait}", retry_after=retry_after, hint="Wait, then retry."
            )
        if status >= 500:
            return Unavailable(
                PROVIDER,
                f"service error (HTTP {status}){_detail_suffix(response, redact)}",
                hint="The Clearinghouse is having trouble; retry shortly.",
                status=status,
            )
        body = json_or_none(response)
        # An HTML page from a proxy or a wrong base URL: the status still says what happened,
        # except for a 400, whose meaning at this API lives in the body.
        if body is None and status not in (401, 403, 404) and response.content.strip() != b"null":
            return _not_json(response)
        # Redacted before it is cut: a cut could leave part of an encoded secret no pattern matches.
        detail = _snippet(redact(_first_message(body)))
        if status in (401, 403):
            return AuthenticationFailed(
                PROVIDER, detail or f"authentication failed (HTTP {status})", hint=TOKEN_HINT, status=status
            )
        if status == 404:
            if detail.lower().startswith("invalid cursor"):
                return InvalidRequest(
                    PROVIDER,
                    "the paging cursor was refused",
                    field="cursor",
                    hint="Start the search again.",
                    status=404,
                )
            hint = None if body is not None else f"Check CLEARINGHOUSE_BASE_URL (default {DEFAULT_BASE_URL})."
            return NotFound(PROVIDER, detail or "not found (HTTP 404)", hint=hint, status=404)
        if status == 400:
            if match := _UNKNOWN_KEY.match(detail):
                key = match["key"]
                return InvalidRequest(
                    PROVIDER, detail, field=key, hint=f"'{key}' is not a filter this API knows.", status=400
                )
            if match := _NOT_INTEGER.match(detail):
                return InvalidRequest(
                    PROVIDER,
                    detail,
                    field=_param_with_value(response, match["value"]),
                    hint="This filter takes a numeric id.",
                    status=400,
                )
        return Rejected(PROVIDER, detail or f"request refused (HTTP {status})", status=status)


def _paging(cursor: str | None) -> dict[str, Any]:
    """The query parameters of a next page: the cursor, and ``no_cache`` as the provider's own next URLs carry it."""
    return {} if cursor is None else {"cursor": cursor, "no_cache": 1}


_PAGING_PARAMS = frozenset(_paging(""))  # the keys a next page adds to the query


def _not_json(response: Response) -> MalformedResponse:
    """The ``MalformedResponse`` ``json_body`` raises for a body that is not JSON."""
    try:
        json_body(PROVIDER, response)
    except MalformedResponse as exc:
        return exc
    return MalformedResponse(PROVIDER, f"HTTP {response.status_code} with an unexpected body")


def _first_message(body: Any) -> str:
    if isinstance(body, list) and body:
        return str(body[0])
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if key in body:
                return str(body[key])
        return ""
    if isinstance(body, str):
        return body
    return ""


def _snippet(text: str, limit: int = 300) -> str:
    text = _WHITESPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail_suffix(response: Response, redact: Callable[[str], str]) -> str:
    detail = _snippet(redact(_first_message(json_or_none(response))), 200)
    return f": {detail}" if detail else ""


def _is_no_results(response: Response) -> bool:
    if response.status_code != 400:
        return False
    body = json_or_none(response)
    return isinstance(body, list) and bool(body) and isinstance(body[0], str) and body[0].startswith("No results for")


def _param_with_value(response: Response, value: str) -> str | None:
    """The request's query key whose value the API complained about."""
    for key, sent in response.request.url.params.multi_items():
        if sent == value and key not in _PAGING_PARAMS:
            return key
    return None
