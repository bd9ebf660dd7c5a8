"""Async client for the Clearinghouse API v2.1: typed wire models and its error quirks mapped."""

# No "from __future__ import annotations": pydantic would have to compile and evaluate every field's
# annotation string when the wire models are defined, ~4 ms of every start-up for the three clients.

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Generic, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

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
TOKEN_HINT = "Check CLEARINGHOUSE_API_TOKEN: the Clearinghouse refused it or it is missing."
# Sub-resource listings (documents, dockets, resources) follow at most this many provider pages.
MAX_LIST_PAGES = 5

_UNKNOWN_KEY = re.compile(r"^API Error: Key: (?P<key>.*?), Value: (?P<value>.*) not found\.?$", re.DOTALL)
_NOT_INTEGER = re.compile(r"^API Error: (?P<value>.*) is not an integer\.?$", re.DOTALL)
_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def _labels(value: Any) -> list[str]:
    """A label list from strings, ``{"value": ...}`` objects or null (the API uses all three)."""
    if value is None:
        return []
    if isinstance(value, str | int):
        return [str(value)]
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = item.get("value")
        if item is not None and item != "":
            out.append(str(item))
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


Labels = Annotated[list[str], BeforeValidator(_labels)]
Text = Annotated[str | None, BeforeValidator(_text)]


class Wire(BaseModel):
    # defer_build: validators are built on first use, not at start-up (bench/, cold start).
    model_config = ConfigDict(extra="allow", defer_build=True)


class Defendant(Wire):
    name: Text = None
    institution: Text = None
    institution_city: Text = None
    institution_county: Text = None
    institution_alt_state: Text = None
    defendant_level: Text = None


class DocketEntry(Wire):
    id: int | None = None
    row_number: int | None = None
    entry_number: Text = None
    date_filed: Text = None
    description: Text = None
    url: Text = None
    recap_pdf_url: Text = None
    pacer_doc_id: Text = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)


class Docket(Wire):
    id: int | None = None
    docket_entries: list[DocketEntry] = Field(default_factory=list)
    docket_case_type: Text = None
    docket_year: int | None = None
    docket_filing_number: int | None = None
    docket_office_number: Text = None
    docket_number_manual: Text = None
    is_main_docket: bool | None = None
    court: Text = None
    state: Text = None
    recap_link: Text = None
    is_active: bool | None = None

    @property
    def number(self) -> str | None:
        """The docket number as courts write it, e.g. ``2:15-cv-04567``."""
        if self.docket_number_manual:
            return self.docket_number_manual
        if self.docket_year is None or self.docket_filing_number is None:
            return None
        office = f"{self.docket_office_number}:" if self.docket_office_number else ""
        kind = self.docket_case_type or "cv"
        return f"{office}{self.docket_year % 100:02d}-{kind}-{self.docket_filing_number:05d}"


class Document(Wire):
    id: int
    title: Text = None
    description: Text = None
    document_status: Text = None
    date: Text = None
    document_type: Text = None
    document_source: Text = None
    court: Text = None
    is_core_document: bool | None = None
    file: Text = None
    external_url: Text = None
    ecf_number: Text = None
    clearinghouse_link: Text = None
    has_text: bool = False
    text_url: Text = None
    docket_id: int | None = None


class Resource(Wire):
    id: int | None = None
    title: Text = None
    abstract: Text = None
    author: Text = None
    author_role: Text = None
    institution: Text = None
    citation: Text = None
    display_date: Text = None
    date: Text = None
    resource_types: Labels = Field(default_factory=list)
    external_url: Text = None
    file: Text = None
    source: Text = None
    status: Text = None


class ClearinghouseCase(Wire):
    """A v2.1 case object. Lookups arrive as labels; only ``id`` is required."""

    id: int
    name: str = ""
    clearinghouse_link: Text = None
    is_active: bool | None = None
    last_checked_date: Text = None
    case_status: Text = None
    case_types: Labels = Field(default_factory=list)
    state: Text = None
    court: Text = None
    special_collections: Labels = Field(default_factory=list)
    special_case_type: Labels = Field(default_factory=list)
    issues: Labels = Field(default_factory=list)
    case_ongoing: Text = None
    docket_status: Text = None
    filing_date: Text = None
    filing_year: int | None = None
    terminating_date: Text = None
    closing_year: int | None = None
    case_defendants: list[Defendant] = Field(default_factory=list)
    defendant_type: Labels = Field(default_factory=list)
    plaintiff_type: Labels = Field(default_factory=list)
    plaintiff_description: Text = None
    facility_type: Labels = Field(default_factory=list)
    class_action_sought: Text = None
    class_action_granted: Text = None
    causes: Labels = Field(default_factory=list)
    constitutional_clause: Labels = Field(default_factory=list)
    relief_natures: Labels = Field(default_factory=list)
    relief_sources: Labels = Field(default_factory=list)
    settlement_agreement: Labels = Field(default_factory=list)
    main_docket: Docket | None = None
    summary: Text = None
    summary_short: Text = None
    summary_tiny: Text = None
    case_documents_url: Text = None
    case_dockets_url: Text = None
    case_resources_url: Text = None


T = TypeVar("T", bound=BaseModel)


def cursor_of(url: str | None) -> str | None:
    """The ``cursor`` query value of a ``next``/``previous`` URL (its host is deliberately ignored)."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("cursor")
    return values[0] if values else None


class Envelope(BaseModel, Generic[T]):
    """DRF cursor pagination: absolute ``next``/``previous`` URLs, no ``count``."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    next: str | None = None
    previous: str | None = None
    results: list[T] = Field(default_factory=list)

    @property
    def next_cursor(self) -> str | None:
        return cursor_of(self.next)

    @property
    def previous_cursor(self) -> str | None:
        return cursor_of(self.previous)


class CasePage(Envelope[ClearinghouseCase]):
    pass


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
        params: dict[str, Any] = dict(filters)
        if cursor is not None:
            params["cursor"] = cursor
            params["no_cache"] = 1  # what the provider's own next URLs carry
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

    async def document_text(self, doc_id: int) -> str:
        data = await self._get(f"documents/{doc_id}/text/", None)
        if not isinstance(data, dict) or not isinstance(data.get("text"), str | None):
            raise MalformedResponse(PROVIDER, "document text answer has no 'text' string")
        return str(data.get("text") or "")

    async def _list(self, path: str, model: type[T], limit: int) -> list[T]:
        """Up to ``limit`` items, following at most ``MAX_LIST_PAGES`` cursors."""
        out: list[T] = []
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            params = {"cursor": cursor, "no_cache": 1} if cursor else None
            data = await self._get(path, params)
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
            hint = (
                None
                if body is not None
                else "Check CLEARINGHOUSE_BASE_URL (default https://clearinghouse.net/api/v2p1)."
            )
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
        if sent == value and key not in ("cursor", "no_cache"):
            return key
    return None
