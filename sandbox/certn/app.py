"""A Starlette emulator of the Certn public API on deterministic data, behind fault injection.

``build()`` returns a ``CertnEmulator``, whose ``store`` is its own mutable ``CertnStore``. Orders,
cancellations and reports change that store; packages exist only here (``PACKAGE_*_ID``).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from casebridge.sandbox.certn.data import HOSTILE_CASE_ID, generate
from casebridge.sandbox.certn.records import StoredCase, StoredCheck
from casebridge.sandbox.certn.rules import Problem, read_order, read_query
from casebridge.sandbox.certn.store import (
    FILE_LINK_TTL,
    PACKAGE_BASIC_ID,
    PACKAGE_FULL_ID,
    PACKAGE_RETIRED_ID,
    REPORT_FAILS_CASE_ID,
    CertnStore,
)
from casebridge.sandbox.emulation import Emulator

SANDBOX_API_KEY = "sk_test_casebridge_sandbox"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
FILES_PATH = "/_files/"
INVITE_PATH = "/_invite/"

__all__ = [
    "HOSTILE_CASE_ID",
    "PACKAGE_BASIC_ID",
    "PACKAGE_FULL_ID",
    "PACKAGE_RETIRED_ID",
    "REPORT_FAILS_CASE_ID",
    "SANDBOX_API_KEY",
    "CertnEmulator",
    "build",
    "error_body",
]


class CertnEmulator(Emulator):
    """The shared emulator state plus this emulator's own case store."""

    def __init__(self, store: CertnStore, api_key: str) -> None:
        super().__init__("certn")
        self.store = store
        self.api_key = api_key


def build(
    *,
    api_key: str = SANDBOX_API_KEY,
    seed: int = 2026,
    clock: Callable[[], float] = time.monotonic,
) -> CertnEmulator:
    """A new emulator with its own copy of the seed's data; serve ``emulator.app``."""
    emu = CertnEmulator(generate(seed, clock=clock), api_key)
    emu.wrap(_CertnApi(emu.store).app(api_key))
    emu.endless_page = endless_page
    return emu


def endless_page(path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
    """The hostile ``endless_pages`` answer: an empty page whose ``next_page`` never runs out."""
    q = dict(query)
    page = int(q["page"]) if q.get("page", "").isdigit() else 1
    size = int(q["page_size"]) if q.get("page_size", "").isdigit() else DEFAULT_PAGE_SIZE
    pagination = {
        "result_count": 10**6,
        "page_count": 10**6 // size + 1,
        "page_size": size,
        "current_page": page,
        "next_page": page + 1,
        "previous_page": page - 1 if page > 1 else None,
    }
    return {"pagination": pagination, "results": []}


def error_body(kind: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    """A Certn error body: ``{"type", "errors": [{code, detail, attr}]}``."""
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


class _CertnApi:
    """The HTTP handlers over one store; every handler but the invite page first applies due changes."""

    def __init__(self, store: CertnStore) -> None:
        self.store = store

    def app(self, api_key: str) -> ASGIApp:
        routes = [
            Route("/api/public/cases/", self.list_cases, methods=["GET"]),
            Route("/api/public/cases/order/", self.order_checks, methods=["POST"]),
            Route("/api/public/cases/order-package/", self.order_package, methods=["POST"]),
            Route("/api/public/cases/report-files/{report_id}/", self.report_file, methods=["GET"]),
            Route("/api/public/cases/{case_id}/cancel/", self.cancel, methods=["POST"]),
            Route("/api/public/cases/{case_id}/generate-report/", self.generate_report, methods=["POST"]),
            Route("/api/public/cases/{case_id}/", self.case_detail, methods=["GET"]),
            Route("/api/public/cases/{case_id}/supplementary-information/", self.information, methods=["GET"]),
            Route("/api/public/cases/{case_id}/supplementary-files/", self.files, methods=["GET"]),
            Route("/api/public/groups/", self.list_groups, methods=["GET"]),
            Route(FILES_PATH + "{case_id}/{check_id}/{name}", self.file_download, methods=["GET"]),
            Route(INVITE_PATH + "{token}", self.invite_page, methods=["GET"]),
        ]
        app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _http_error})
        app.router.redirect_slashes = False
        return _ApiKeyAuth(app, api_key)

    # -- reads ------------------------------------------------------------------------------

    async def list_cases(self, request: Request) -> Response:
        self.store.advance()
        query = read_query(request.query_params, self.store)
        if isinstance(query, tuple):
            code, detail, attr = query
            return _invalid(attr or "", detail, code)
        return _page(request, self.store.select(query), lambda c: c.to_wire())

    async def case_detail(self, request: Request) -> Response:
        self.store.advance()
        case = self._case_or_404(request)
        return case if isinstance(case, JSONResponse) else JSONResponse(case.to_wire())

    async def information(self, request: Request) -> Response:
        self.store.advance()
        case = self._case_or_404(request)
        if isinstance(case, JSONResponse):
            return case
        info = _checks(case, "supplementary_information", lambda c: dict(c.supplementary_information))
        return JSONResponse(info)

    async def files(self, request: Request) -> Response:
        self.store.advance()
        case = self._case_or_404(request)
        if isinstance(case, JSONResponse):
            return case
        return JSONResponse(
            _checks(
                case,
                "supplementary_files",
                lambda c: [{"name": name, "url": self._presign(request, case, c.id, name)} for name in c.files],
                [],
            )
        )

    async def list_groups(self, request: Request) -> Response:
        self.store.advance()
        return _page(request, self.store.groups, lambda g: g.to_wire())

    async def file_download(self, request: Request) -> Response:
        self.store.advance()
        stamp = request.query_params.get("X-Amz-Date", "")
        try:
            signed = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=self.store.reference.tzinfo)
        except ValueError:
            return Response(b"<Error><Code>AccessDenied</Code></Error>", 403, media_type="application/xml")
        if self.store.now() - signed > FILE_LINK_TTL:
            body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            return Response(body, 403, media_type="application/xml")
        name = request.path_params["name"]
        return Response(f"%PDF-1.4\n% casebridge sandbox file {name}\n".encode(), media_type="application/pdf")

    async def invite_page(self, request: Request) -> Response:
        return Response(b"<html><body>casebridge sandbox: applicant invite</body></html>", media_type="text/html")

    # -- writes -----------------------------------------------------------------------------

    async def order_checks(self, request: Request) -> Response:
        self.store.advance()
        return await self._order(request, package=False)

    async def order_package(self, request: Request) -> Response:
        self.store.advance()
        return await self._order(request, package=True)

    async def cancel(self, request: Request) -> Response:
        self.store.advance()
        case = self._case_or_404(request)
        if isinstance(case, JSONResponse):
            return case
        if not self.store.cancel(case):
            return _error(400, "validation_error", "invalid", "Case cannot be cancelled")
        return JSONResponse(case.to_wire())

    async def generate_report(self, request: Request) -> Response:
        self.store.advance()
        case = self._case_or_404(request)
        if isinstance(case, JSONResponse):
            return case
        report = self.store.start_report(case)
        return JSONResponse({"case_report_file_id": report.id}, status_code=201)

    async def report_file(self, request: Request) -> Response:
        self.store.advance()
        report = self.store.reports.get(request.path_params["report_id"])
        if report is None:
            return _not_found()
        status = report.status(self.store.now())
        url = None
        if status == "COMPLETE":
            case = self.store.cases[report.case_id]
            url = self._presign(request, case, report.id, f"case-report-{case.short_id}.pdf")
        return JSONResponse({"status": status, "pdf_url": url})

    async def _order(self, request: Request, package: bool) -> Response:
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        order = read_order(body, self.store, package=package)
        if isinstance(order, list):
            return _validation_errors(order)
        case = self.store.place_order(
            order.email, order.checks, invite=order.invite, claims=order.claims, group=order.group, tags=order.tags
        )
        data = case.to_wire()
        if order.link:
            token = hashlib.sha256(f"invite|{case.id}".encode()).hexdigest()[:24]
            data["invite_link"] = f"{str(request.base_url).rstrip('/')}{INVITE_PATH}{token}"
        return JSONResponse(data, status_code=201)

    # -- helpers ----------------------------------------------------------------------------

    def _case_or_404(self, request: Request) -> StoredCase | JSONResponse:
        raw = request.path_params["case_id"]
        try:
            key = str(uuid.UUID(raw))
        except ValueError:
            return _not_found()
        case = self.store.cases.get(key)
        return _not_found() if case is None else case

    def _presign(self, request: Request, case: StoredCase, check_id: str, name: str) -> str:
        """A presigned-looking link to the emulator's own file route, valid for 3 hours."""
        stamp = self.store.now().strftime("%Y%m%dT%H%M%SZ")
        expires = int(FILE_LINK_TTL.total_seconds())
        path = f"{FILES_PATH}{case.id}/{check_id}/{quote(name)}"
        signature = hashlib.sha256(f"{path}|{stamp}|{expires}".encode()).hexdigest()
        base = str(request.base_url).rstrip("/")
        return (
            f"{base}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={stamp}"
            f"&X-Amz-Expires={expires}&X-Amz-Signature={signature}"
        )


class _ApiKeyAuth:
    """Refuses any ``/api/`` request without ``Authorization: Api-Key <the key>``."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = f"Api-Key {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            given = dict(scope["headers"]).get(b"authorization")
            if given != self.expected:
                detail = "Authentication credentials were not provided." if given is None else "Invalid API key."
                await _error(401, "client_error", "not_authenticated", detail)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        return _error(405, "client_error", "method_not_allowed", f'Method "{request.method}" not allowed.')
    if status == 404:
        return _not_found()
    return _error(500, "server_error", "error", "A server error occurred.")


def _error(status: int, kind: str, code: str, detail: str, attr: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(kind, code, detail, attr), status_code=status)


def _invalid(attr: str, detail: str, code: str = "invalid") -> JSONResponse:
    return _error(400, "validation_error", code, detail, attr)


def _not_found(detail: str = "Not found.") -> JSONResponse:
    return _error(404, "client_error", "not_found", detail)


def _validation_errors(problems: list[Problem]) -> JSONResponse:
    """Every problem of a request body in one 400, as drf-standardized-errors lists them."""
    errors = [{"code": code, "detail": detail, "attr": attr} for code, detail, attr in problems]
    return JSONResponse({"type": "validation_error", "errors": errors}, status_code=400)


async def _json_object(request: Request) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return _error(400, "client_error", "parse_error", f"JSON parse error - {exc}")
    if not isinstance(data, dict):
        return _invalid("non_field_errors", "Invalid data. Expected a dictionary.")
    return data


def _page(request: Request, items: list[Any], to_wire: Callable[[Any], dict[str, Any]]) -> Response:
    """DRF page-number pagination with Certn's ``pagination`` block."""
    raw_size = request.query_params.get("page_size")
    size = DEFAULT_PAGE_SIZE
    if raw_size not in (None, ""):
        try:
            size = int(raw_size)
        except ValueError:
            return _invalid("page_size", "A valid integer is required.")
        if size > MAX_PAGE_SIZE:
            return _invalid("page_size", f"Ensure this value is less than or equal to {MAX_PAGE_SIZE}.", "max_value")
        if size < 1:
            return _invalid("page_size", "Ensure this value is greater than or equal to 1.", "min_value")
    raw_page = request.query_params.get("page") or "1"
    page_count = max(1, -(-len(items) // size))
    try:
        page = int(raw_page)
    except ValueError:
        return _not_found("Invalid page.")
    if not 1 <= page <= page_count:
        return _not_found("Invalid page.")
    chunk = items[(page - 1) * size : page * size]
    return JSONResponse(
        {
            "pagination": {
                "result_count": len(items),
                "page_count": page_count,
                "page_size": size,
                "current_page": page,
                "next_page": page + 1 if page < page_count else None,
                "previous_page": page - 1 if page > 1 else None,
            },
            "results": [to_wire(item) for item in chunk],
        }
    )


def _checks(case: StoredCase, key: str, closed: Callable[[StoredCheck], Any], open_value: Any = None) -> dict[str, Any]:
    """A case's checks with one more ``key``: ``closed(check)`` once the check is closed, else ``open_value``."""
    checks = [
        {
            "id": c.id,
            "short_id": c.short_id,
            "type": c.type,
            "status": c.status,
            key: closed(c) if c.closed else open_value,
        }
        for c in case.checks
    ]
    return {"id": case.id, "checks": checks}
