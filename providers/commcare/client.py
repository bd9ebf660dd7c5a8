"""Async client for CommCare HQ's case APIs: v0.5 list/detail and the Case Data API v2 (reads)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import BaseModel, ValidationError

from casebridge.providers.commcare.models import BulkMissing as BulkMissing
from casebridge.providers.commcare.models import CaseV05, V05Page, V2Bulk, V2Page
from casebridge.providers.commcare.models import CaseV2 as CaseV2
from casebridge.providers.errors import (
    AuthenticationFailed,
    InvalidRequest,
    MalformedResponse,
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
    json_model,
    json_or_none,
    parse_retry_after,
)

PROVIDER = "commcare"
MAX_LIMIT = 5000
MAX_BULK_IDS = 100
CASE_APIS = ("auto", "v2", "v0.5")

_DOMAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_BAD_PARAM = re.compile(r"^'([^']{1,100})' is not a valid parameter|for '([A-Za-z0-9_.]{1,100})'")
_AUTH_HINT = (
    "Check COMMCARE_USERNAME (the web user's e-mail), COMMCARE_API_KEY and COMMCARE_DOMAIN "
    "(the project space the key may access)."
)
_FORBIDDEN_HINT = (
    "The credentials were accepted but may not read this project space: check COMMCARE_DOMAIN, and that "
    "the user behind COMMCARE_USERNAME / COMMCARE_API_KEY has the API access and Edit Data permissions."
)


M = TypeVar("M", bound=BaseModel)


class CommCareClient:
    """Reads cases from one CommCare project space ("domain") with one API key."""

    def __init__(self, http: ProviderHTTP, domain: str, *, case_api: str = "auto") -> None:
        _check_domain(domain)
        if case_api not in CASE_APIS:
            raise ValueError("COMMCARE_CASE_API must be auto, v2 or v0.5")
        self.http = http
        self.domain = domain
        self._root = f"a/{quote(domain, safe='')}/api/"
        # "auto": v2 until a 404 on its list shows the server has no v2 case API, then v0.5 from then on.
        self.case_api = case_api
        self.has_v2: bool | None = {"v2": True, "v0.5": False}.get(case_api)

    @classmethod
    def connect(
        cls,
        base_url: str,
        username: str,
        api_key: str,
        domain: str,
        *,
        transport: AsyncBaseTransport | None = None,
        policy: HttpPolicy | None = None,
        case_api: str = "auto",
    ) -> Self:
        if not username or not api_key or any(ch in username + api_key for ch in "\r\n\t "):
            raise ValueError("COMMCARE_USERNAME and COMMCARE_API_KEY must be set, without spaces")
        _check_domain(domain)  # before the connection pool exists
        header = f"ApiKey {username}:{api_key}"
        http = ProviderHTTP(
            PROVIDER,
            base_url,
            headers={"Authorization": header},
            # "user:key" for its base64 (a Basic header's); the user name and domain are not secret.
            secrets=(api_key, f"{username}:{api_key}"),
            public=(username, domain),
            policy=policy,
            transport=transport,
        )
        return cls(http, domain, case_api=case_api)

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def case_page_url(self, case_id: str) -> str:
        """The case's page in the CommCare HQ web app."""
        return f"{self.base_url}{'a/' + quote(self.domain, safe='')}/reports/case_data/{quote(case_id, safe='')}/"

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- v0.5 ------------------------------------------------------------------------------

    async def list_cases_v05(
        self, *, limit: int = 20, offset: int = 0, **params: str | int | bool | Sequence[str] | None
    ) -> V05Page:
        """``GET v0.5/case/``. Unknown parameters are *filters* there (no error), so name them carefully."""
        _check_limit(limit)
        if offset < 0:
            raise InvalidRequest(PROVIDER, "offset must not be negative", field="offset")
        query: dict[str, Any] = {**params, "limit": limit, "offset": offset}
        response = await self.http.get(self._root + "v0.5/case/", params=query)
        return self._parse(response, V05Page)

    async def get_case_v05(self, case_id: str, *, children: bool = False) -> CaseV05:
        """One case; with ``children`` its child cases come inline (``child_cases__full``)."""
        params = {"child_cases__full": "true"} if children else None
        response = await self.http.get(self._root + f"v0.5/case/{_segment(case_id)}/", params=params)
        return self._parse(response, CaseV05, missing=f"no case with id '{case_id}'")

    # -- which API ------------------------------------------------------------------------

    @property
    def uses_v05(self) -> bool:
        """True when searches and reads go to v0.5: pinned, or the server was found to lack v2."""
        return self.has_v2 is False

    async def probe_v2(self) -> bool:
        """Whether the server has the v2 case API (its list answers), remembered from then on.

        Only a 404 says "no v2": any other failure propagates and decides nothing.
        """
        if self.has_v2 is not None:
            return self.has_v2
        try:
            await self.list_cases_v2(limit=1)
        except NotFound:
            self.has_v2 = False
        else:
            self.has_v2 = True
        return self.has_v2

    # -- v2 --------------------------------------------------------------------------------

    async def list_cases_v2(
        self, params: Mapping[str, Any] | None = None, cursor: str | None = None, limit: int | None = None
    ) -> V2Page:
        """``GET case/v2/``. With ``cursor`` (from the previous page) the filters are not re-sent:
        the cursor carries the whole query."""
        if limit is not None:
            _check_limit(limit)
        query: dict[str, Any] = {"cursor": cursor} if cursor is not None else dict(params or {})
        if limit is not None:
            query["limit"] = limit
        response = await self.http.get(self._root + "case/v2/", params=query)
        page = self._parse(response, V2Page)
        page.cursor = self._next_cursor(page.next)
        return page

    async def get_case_v2(self, case_id: str) -> CaseV2:
        response = await self.http.get(self._root + f"case/v2/{_segment(case_id)}")
        return self._parse(response, CaseV2, missing=f"no case with id '{case_id}'")

    async def get_cases_v2(self, ids: Sequence[str]) -> V2Bulk:
        """Several cases by id (at most 100), in request order; unknown ids come back as missing entries."""
        ids = list(dict.fromkeys(ids))
        if not ids or len(ids) > MAX_BULK_IDS:
            raise InvalidRequest(PROVIDER, f"give between 1 and {MAX_BULK_IDS} case ids", field="ids")
        if len(ids) == 1:
            # One id is the single-case route: a bare case or a 404, not the bulk envelope.
            try:
                case = await self.get_case_v2(ids[0])
            except NotFound:
                return V2Bulk(
                    matching_records=0, missing_records=1, cases=[BulkMissing(case_id=ids[0], error="not found")]
                )
            return V2Bulk(matching_records=1, missing_records=0, cases=[case])
        if "," in "".join(ids):
            raise InvalidRequest(PROVIDER, "a case id cannot contain a comma", field="ids")
        path = ",".join(_segment(i) for i in ids)
        response = await self.http.get(self._root + f"case/v2/{path}")
        return self._parse(response, V2Bulk)

    async def get_case_by_external_id(self, external_id: str) -> CaseV2:
        response = await self.http.get(self._root + f"case/v2/ext/{_segment(external_id)}/")
        if response.status_code == 400:
            # "Multiple cases found with external_id ...": the request was fine, the data is ambiguous.
            raise Rejected(
                PROVIDER,
                self._error_text(response) or "more than one case has that external_id",
                hint="Search by external_id to see every matching case, then use a case id.",
                status=400,
                field="external_id",
            )
        return self._parse(response, CaseV2, missing=f"no case with external_id '{external_id}'")

    # -- responses -------------------------------------------------------------------------

    def _next_cursor(self, next_url: str | None) -> str | None:
        # Only the cursor value is taken from ``next``: the URL itself (host included) is never followed.
        if not next_url:
            return None
        values = parse_qs(urlsplit(next_url).query).get("cursor")
        if not values or not values[0]:
            raise MalformedResponse(PROVIDER, "the next-page link carries no cursor", status=200)
        return values[0]

    def _error_text(self, response: Response) -> str | None:
        data = json_or_none(response)
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return self.http.redact(data["error"])[:500]
        return None

    def _parse(self, response: Response, model: type[M], *, missing: str = "not found") -> M:
        """The answer as ``model``, or its typed error with every secret scrubbed from its texts."""
        status = response.status_code
        try:
            if status == 200:
                try:
                    return json_model(PROVIDER, response, model)
                except ValidationError as exc:
                    # The locations name the provider's own keys: untrusted text.
                    where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:3])[:200]
                    raise MalformedResponse(
                        PROVIDER, f"unexpected {model.__name__} shape (at {where or 'top level'})", status=status
                    ) from None
                except RecursionError:
                    raise MalformedResponse(PROVIDER, "the answer is nested too deeply", status=status) from None
            raise self._error(response, missing)
        except ProviderError as err:
            raise self.http.scrub(err) from err.__cause__

    def _error(self, response: Response, missing: str) -> ProviderError:
        status = response.status_code
        text = self._error_text(response)
        redact = self.http.redact
        if status == 400:
            match = _BAD_PARAM.search(text or "")
            field = (
                (match.group(1) or match.group(2)) if match else "limit" if text and "limit" in text.lower() else None
            )
            return InvalidRequest(
                PROVIDER,
                text or "the service refused the request (HTTP 400)",
                hint="Change the named parameter and try again." if field else None,
                status=status,
                field=field,
            )
        if status == 401:
            return AuthenticationFailed(PROVIDER, "the API key was refused (HTTP 401)", hint=_AUTH_HINT, status=status)
        if status == 403:
            return AuthenticationFailed(
                PROVIDER,
                redact(f"access to project space '{self.domain}' was denied (HTTP 403)"),
                hint=_FORBIDDEN_HINT,
                status=status,
            )
        if status == 404:
            return NotFound(PROVIDER, redact(text or missing), status=status)
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimited(
                PROVIDER,
                "too many requests (HTTP 429)",
                retry_after=wait,
                hint=f"Wait {wait:g} s, then try again." if wait is not None else "Wait a little, then try again.",
            )
        if status >= 500:
            return Unavailable(
                PROVIDER, f"the service failed (HTTP {status})", hint="Try again shortly.", status=status
            )
        if status == 405:
            return Rejected(PROVIDER, text or "method not allowed (HTTP 405)", status=status)
        return MalformedResponse(PROVIDER, redact(f"unexpected HTTP {status}"), status=status)


def _segment(value: str) -> str:
    """One URL path segment, percent-encoded; empty or dot-only values are refused."""
    if not value or value.strip(".") == "" or len(value) > 255:
        raise InvalidRequest(PROVIDER, f"not a usable id: {value[:40]!r}", field="case_id")
    return quote(value, safe="")


def _check_domain(domain: str) -> None:
    if not _DOMAIN.match(domain):
        raise ValueError("COMMCARE_DOMAIN must be a project space name such as 'my-project'")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(PROVIDER, f"limit must be between 1 and {MAX_LIMIT}", field="limit")
