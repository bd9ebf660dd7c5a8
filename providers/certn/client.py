"""Async client for the Certn public API ("Centric"): its calls and error mapping (wire models in models, extra)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn, Self, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from casebridge.providers.certn.models import CasePage as CasePage
from casebridge.providers.certn.models import CertnCase as CertnCase
from casebridge.providers.certn.models import CertnCheck as CertnCheck
from casebridge.providers.errors import (
    UNEXPECTED_FORMAT_HINT,
    AuthenticationFailed,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    ProviderError,
    RateLimited,
    Rejected,
    Unavailable,
)
from casebridge.providers.http import AsyncBaseTransport as Transport
from casebridge.providers.http import HttpPolicy, ProviderHTTP, Response, json_body, json_or_none, parse_retry_after

if TYPE_CHECKING:
    # Imported by the calls that need them (see providers.certn.extra).
    from casebridge.providers.certn.extra import (
        GroupPage,
        OrderRequest,
        PackageOrderRequest,
        ReportFile,
        SupplementaryFiles,
        SupplementaryInformation,
    )

PROVIDER = "certn"
MAX_PAGE_SIZE = 100
AUTH_HINT = (
    "Check CERTN_API_KEY: it must be a current key from the Certn Client Portal "
    "(Settings > Integrations). Keys expire 365 days after creation."
)

_THROTTLE_SECONDS = re.compile(r"available in (\d+(?:\.\d+)?) second", re.IGNORECASE)
M = TypeVar("M", bound=BaseModel)


class CertnClient:
    """Typed calls to one Certn account over one pooled ``ProviderHTTP``."""

    def __init__(self, http: ProviderHTTP) -> None:
        self.http = http

    @classmethod
    def connect(
        cls,
        base_url: str,
        api_key: str,
        *,
        transport: Transport | None = None,
        policy: HttpPolicy | None = None,
    ) -> Self:
        http = ProviderHTTP(
            PROVIDER,
            base_url,
            headers={"Authorization": f"Api-Key {api_key}"},
            secrets=[api_key],
            policy=policy,
            transport=transport,
        )
        return cls(http)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def list_cases(
        self,
        *,
        check_type: Sequence[str] = (),
        email_address: str | None = None,
        group: Sequence[str] = (),
        order_timeframe_after: date | None = None,
        order_timeframe_before: date | None = None,
        ordered_by: Sequence[str] = (),
        overall_status: Sequence[str] = (),
        tag: Sequence[str] = (),
        page: int = 1,
        page_size: int = 10,
    ) -> CasePage:
        """One page of cases; array filters are OR within a filter, AND across filters."""
        self._check_paging(page, page_size)
        params = {
            "check_type": _seq(check_type),
            "email_address": email_address,
            "group": _seq(group),
            "order_timeframe_after": order_timeframe_after.isoformat() if order_timeframe_after else None,
            "order_timeframe_before": order_timeframe_before.isoformat() if order_timeframe_before else None,
            "ordered_by": _seq(ordered_by),
            "overall_status": _seq(overall_status),
            "tag": _seq(tag),
            "page": page,
            "page_size": page_size,
        }
        response = await self.http.get("api/public/cases/", params=params)
        return self._parse(CasePage, response, what="case list")

    async def get_case(self, case_id: str) -> CertnCase:
        response = await self.http.get(f"api/public/cases/{_segment(case_id)}/")
        return self._parse(CertnCase, response, what=f"case {case_id}")

    async def supplementary_information(self, case_id: str) -> SupplementaryInformation:
        from casebridge.providers.certn.extra import SupplementaryInformation

        response = await self.http.get(f"api/public/cases/{_segment(case_id)}/supplementary-information/")
        return self._parse(SupplementaryInformation, response, what=f"case {case_id}")

    async def supplementary_files(self, case_id: str) -> SupplementaryFiles:
        from casebridge.providers.certn.extra import SupplementaryFiles

        response = await self.http.get(f"api/public/cases/{_segment(case_id)}/supplementary-files/")
        return self._parse(SupplementaryFiles, response, what=f"case {case_id}")

    async def list_groups(self, *, page: int = 1, page_size: int = MAX_PAGE_SIZE) -> GroupPage:
        from casebridge.providers.certn.extra import GroupPage

        self._check_paging(page, page_size)
        response = await self.http.get("api/public/groups/", params={"page": page, "page_size": page_size})
        return self._parse(GroupPage, response, what="group list")

    # ---------------------------------------------------------------------- writes (never retried)

    async def order_case(self, body: OrderRequest) -> CertnCase:
        """Order a case with explicit checks. A failure that may have created it has ``maybe_sent``."""
        response = await self.http.post("api/public/cases/order/", json=body.to_json())
        return self._written(CertnCase, response, what="order")

    async def order_package(self, body: PackageOrderRequest) -> CertnCase:
        response = await self.http.post("api/public/cases/order-package/", json=body.to_json())
        return self._written(CertnCase, response, what="package order")

    async def cancel_case(self, case_id: str) -> CertnCase | None:
        """Cancel one case; the updated case, or None when Certn answers without a body."""
        response = await self.http.post(f"api/public/cases/{_segment(case_id)}/cancel/")
        if response.status_code == 204 or (200 <= response.status_code < 300 and not response.content):
            return None
        return self._written(CertnCase, response, what=f"case {case_id}")

    async def generate_report(self, case_id: str, language: str | None = None) -> str:
        """Start the case's PDF report; returns the report file id to follow with ``report_file``."""
        from casebridge.providers.certn.extra import _ReportStarted

        body = {"language": language} if language else None
        response = await self.http.post(f"api/public/cases/{_segment(case_id)}/generate-report/", json=body)
        return self._written(_ReportStarted, response, what=f"case {case_id}").case_report_file_id

    async def report_file(self, report_file_id: str) -> ReportFile:
        from casebridge.providers.certn.extra import ReportFile

        response = await self.http.get(f"api/public/cases/report-files/{_segment(report_file_id)}/")
        return self._parse(ReportFile, response, what=f"report file {report_file_id}")

    async def case_ids(self, email_address: str, *, pages: int = 2) -> list[str]:
        """Ids of the applicant's cases, newest first (at most ``pages`` x 100)."""
        return [c.id for c in await self._cases_of(email_address, pages)]

    async def find_new_case(
        self,
        email_address: str,
        known: Collection[str],
        *,
        check_types: Collection[str] | None = None,
        pages: int = 2,
    ) -> CertnCase | None:
        """The newest case of this applicant that is not in ``known`` (and, when given, has exactly
        ``check_types``): how an order whose answer was lost is found again."""
        wanted = set(check_types) if check_types is not None else None
        for case in await self._cases_of(email_address, pages):
            if case.id in known:
                continue
            if wanted is None or {c.type for c in case.checks} == wanted:
                return case
        return None

    async def _cases_of(self, email_address: str, pages: int) -> list[CertnCase]:
        out: list[CertnCase] = []
        for page in range(1, pages + 1):
            result = await self.list_cases(email_address=email_address, page=page, page_size=MAX_PAGE_SIZE)
            out.extend(result.results)
            if not result.has_next:
                break
        return out

    def _written(self, model: type[M], response: Response, *, what: str) -> M:
        """Parse a write's answer. A 5xx or an unreadable 2xx may come after the change was made,
        so those errors are marked ``maybe_sent``."""
        try:
            return self._parse(model, response, what=what, write=True)
        except ProviderError as err:
            if response.status_code >= 500 or 200 <= response.status_code < 300:
                err.maybe_sent = True
            raise

    @staticmethod
    def _check_paging(page: int, page_size: int) -> None:
        if page < 1:
            raise InvalidRequest(PROVIDER, f"page must be 1 or more, not {page}", field="page")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequest(
                PROVIDER, f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}", field="page_size"
            )

    def _parse(self, model: type[M], response: Response, *, what: str, write: bool = False) -> M:
        """The answer as ``model``, or its typed error with every secret scrubbed from its texts."""
        try:
            data = self._body(response, what=what, write=write)
            try:
                return model.model_validate(data)
            except ValidationError as exc:
                raise MalformedResponse(
                    PROVIDER,
                    f"the {what} answer does not have the documented shape ({exc.error_count()} problems)",
                    hint=UNEXPECTED_FORMAT_HINT,
                    status=response.status_code,
                ) from exc
            except RecursionError:
                raise MalformedResponse(
                    PROVIDER, f"the {what} answer is nested too deeply", status=response.status_code
                ) from None
        except ProviderError as err:
            raise self.http.scrub(err) from err.__cause__

    def _body(self, response: Response, *, what: str, write: bool = False) -> Any:
        """The JSON body of a 2xx answer, or the typed error the answer stands for."""
        if 200 <= response.status_code < 300:
            data = json_body(PROVIDER, response)
            if not isinstance(data, dict | list):
                raise MalformedResponse(
                    PROVIDER, f"the {what} answer is not a JSON object", status=response.status_code
                )
            return data
        _raise_for_status(self.http, response, what=what, write=write)


def _seq(values: Sequence[str] | str) -> list[str]:
    # A bare string is one value, not a sequence of characters.
    return [values] if isinstance(values, str) else [str(v) for v in values]


def _segment(case_id: str) -> str:
    text = str(case_id).strip()
    if not text:
        raise InvalidRequest(PROVIDER, "a case id is required", field="case_id")
    return quote(text, safe="")


def _error_details(response: Response) -> tuple[str | None, list[dict[str, Any]]]:
    """``type`` and the ``errors`` list of a Certn error body; (None, []) when it has another shape."""
    data = json_or_none(response)
    if not isinstance(data, dict):
        return None, []
    errors = data.get("errors")
    items = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    if not items and isinstance(data.get("detail"), str):  # legacy DRF {"detail": "..."}
        items = [{"detail": data["detail"]}]
    kind = data.get("type")
    return (kind if isinstance(kind, str) else None), items


def _raise_for_status(http: ProviderHTTP, response: Response, *, what: str, write: bool = False) -> NoReturn:
    """Raise the typed error for a non-2xx Certn answer. Reads and writes share it (``write``
    makes a 400 a ``Rejected`` instead of an ``InvalidRequest``)."""
    status = response.status_code
    kind, items = _error_details(response)
    details = [str(e.get("detail")).strip() for e in items if e.get("detail")]
    # Redacted before it is cut: a cut could leave part of an encoded secret no pattern matches.
    detail = http.redact("; ".join(details))[:500]
    attrs = [str(e["attr"]) for e in items if e.get("attr")]
    field = attrs[0] if attrs else None
    ctype = response.headers.get("content-type", "unknown content type").split(";")[0]
    said = http.redact(f": {detail}" if detail else f" ({ctype})")
    err: ProviderError

    if status in (401, 403):
        err = AuthenticationFailed(
            PROVIDER,
            http.redact(f"the API key was refused (HTTP {status}){said}"),
            hint=AUTH_HINT,
            status=status,
        )
    elif status == 404:
        if detail.lower().startswith("invalid page"):
            err = InvalidRequest(PROVIDER, f"the {what} has no such page (HTTP 404{said})", status=status, field="page")
        else:
            err = NotFound(
                PROVIDER,
                http.redact(f"{what} not found (HTTP 404{said})"),
                hint="Check the case id; search_cases returns valid refs.",
                status=status,
            )
    elif status == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is None:
            match = _THROTTLE_SECONDS.search(detail)
            wait = float(match.group(1)) if match else None
        err = RateLimited(
            PROVIDER,
            f"too many requests (HTTP 429){said}",
            retry_after=wait,
            hint="Wait before calling again." if wait is None else f"Wait {wait:g} s before calling again.",
        )
    elif status >= 500:
        err = Unavailable(
            PROVIDER,
            f"the service failed (HTTP {status}){said}",
            hint="Certn is having trouble; retry shortly.",
            status=status,
        )
    elif kind is None and not items:
        err = MalformedResponse(
            PROVIDER,
            f"HTTP {status} with a body that is not a Certn error ({ctype})",
            hint=UNEXPECTED_FORMAT_HINT,
            status=status,
        )
    elif status == 400 or kind == "validation_error":
        message = http.redact(detail or "the request was refused as invalid")
        if write:
            err = Rejected(PROVIDER, message, status=status, field=field, hint="Change the named field.")
        else:
            err = InvalidRequest(PROVIDER, message, status=status, field=field)
    else:
        err = Rejected(PROVIDER, http.redact(f"HTTP {status}{said}"), status=status, field=field)
    raise err
