"""A Starlette emulator of the Certn public API on deterministic data, behind fault injection.

``build()`` returns a ``CertnEmulator``, whose ``store`` is its own mutable ``CertnStore``.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from providers.certn.data import FILE_LINK_TTL, HOSTILE_CASE_ID, CertnStore, StoredCase, generate
from providers.certn.vocab import ALL_OVERALL_STATUS
from providers.emulation import Emulator

SANDBOX_API_KEY = "sk_test_casebridge_sandbox"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
FILES_PATH = "/_files/"

__all__ = ["HOSTILE_CASE_ID", "SANDBOX_API_KEY", "CertnEmulator", "build", "error_body"]

Handler = Callable[[Request], Awaitable[Response]]


class CertnEmulator(Emulator):
    """The shared emulator state plus this emulator's own case store."""

    def __init__(self, store: CertnStore, api_key: str) -> None:
        super().__init__("certn")
        self.store = store
        self.api_key = api_key


def error_body(kind: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    """A Certn error body: ``{"type", "errors": [{code, detail, attr}]}``."""
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


def _error(status: int, kind: str, code: str, detail: str, attr: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(kind, code, detail, attr), status_code=status)


def _invalid(attr: str, detail: str, code: str = "invalid") -> JSONResponse:
    return _error(400, "validation_error", code, detail, attr)


def _not_found(detail: str = "Not found.") -> JSONResponse:
    return _error(404, "client_error", "not_found", detail)


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


def _date_param(request: Request, name: str) -> date | JSONResponse | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return _invalid(name, "Enter a valid date.")


def _choice_error(attr: str, value: str) -> JSONResponse:
    return _invalid(attr, f"Select a valid choice. {value} is not one of the available choices.", "invalid_choice")


def _filter_cases(request: Request, store: CertnStore) -> list[StoredCase] | JSONResponse:
    """django-filter semantics: repeated keys OR within a filter, AND across; unknown keys ignored."""
    q = request.query_params
    statuses = q.getlist("overall_status")
    for s in statuses:
        if s not in ALL_OVERALL_STATUS:
            return _choice_error("overall_status", s)
    groups = q.getlist("group")
    for g in groups:
        if store.group(g) is None:
            return _choice_error("group", g)
    after = _date_param(request, "order_timeframe_after")
    if isinstance(after, JSONResponse):
        return after
    before = _date_param(request, "order_timeframe_before")
    if isinstance(before, JSONResponse):
        return before
    check_types = set(q.getlist("check_type"))
    tags = set(q.getlist("tag"))
    ordered_by = {v.lower() for v in q.getlist("ordered_by")}
    email = (q.get("email_address") or "").strip().lower()

    out = []
    for case in store.ordered():
        if statuses and case.overall_status not in statuses:
            continue
        if groups and case.group not in groups:
            continue
        if check_types and not check_types & {c.type for c in case.checks}:
            continue
        if tags and not tags & set(case.tags):
            continue
        if ordered_by and not ordered_by & {v.lower() for v in case.ordered_by.values()}:
            continue
        if email and case.email_address.lower() != email:
            continue
        day = case.created.date()
        if (after and day < after) or (before and day > before):
            continue
        out.append(case)
    return out


def _case_or_404(store: CertnStore, request: Request) -> StoredCase | JSONResponse:
    raw = request.path_params["case_id"]
    try:
        key = str(uuid.UUID(raw))
    except ValueError:
        return _not_found()
    case = store.cases.get(key)
    return _not_found() if case is None else case


def _presign(request: Request, store: CertnStore, case: StoredCase, check_id: str, name: str) -> str:
    """A presigned-looking link to the emulator's own file route, valid for 3 hours."""
    signed_at = store.now()
    stamp = signed_at.strftime("%Y%m%dT%H%M%SZ")
    expires = int(FILE_LINK_TTL.total_seconds())
    path = f"{FILES_PATH}{case.id}/{check_id}/{quote(name)}"
    signature = hashlib.sha256(f"{path}|{stamp}|{expires}".encode()).hexdigest()
    base = str(request.base_url).rstrip("/")
    return (
        f"{base}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={stamp}"
        f"&X-Amz-Expires={expires}&X-Amz-Signature={signature}"
    )


def make_app(emu: CertnEmulator) -> ASGIApp:
    store = emu.store

    def endpoint(fn: Callable[[Request], Response]) -> Handler:
        async def run(request: Request) -> Response:
            store.advance()
            return fn(request)

        return run

    def list_cases(request: Request) -> Response:
        found = _filter_cases(request, store)
        if isinstance(found, JSONResponse):
            return found
        return _page(request, found, lambda c: c.to_wire())

    def case_detail(request: Request) -> Response:
        case = _case_or_404(store, request)
        return case if isinstance(case, JSONResponse) else JSONResponse(case.to_wire())

    def supplementary_information(request: Request) -> Response:
        case = _case_or_404(store, request)
        if isinstance(case, JSONResponse):
            return case
        checks = [
            {
                "id": c.id,
                "short_id": c.short_id,
                "type": c.type,
                "status": c.status,
                "supplementary_information": dict(c.supplementary_information) if c.closed else None,
            }
            for c in case.checks
        ]
        return JSONResponse({"id": case.id, "checks": checks})

    def supplementary_files(request: Request) -> Response:
        case = _case_or_404(store, request)
        if isinstance(case, JSONResponse):
            return case
        checks = [
            {
                "id": c.id,
                "short_id": c.short_id,
                "type": c.type,
                "status": c.status,
                "supplementary_files": [
                    {"name": name, "url": _presign(request, store, case, c.id, name)} for name in c.files
                ]
                if c.closed
                else [],
            }
            for c in case.checks
        ]
        return JSONResponse({"id": case.id, "checks": checks})

    def list_groups(request: Request) -> Response:
        return _page(request, store.groups, lambda g: g.to_wire())

    def file_download(request: Request) -> Response:
        stamp = request.query_params.get("X-Amz-Date", "")
        try:
            signed = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=store.reference.tzinfo)
        except ValueError:
            return Response(b"<Error><Code>AccessDenied</Code></Error>", 403, media_type="application/xml")
        if store.now() - signed > FILE_LINK_TTL:
            body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            return Response(body, 403, media_type="application/xml")
        name = request.path_params["name"]
        return Response(f"%PDF-1.4\n% casebridge sandbox file {name}\n".encode(), media_type="application/pdf")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            return _error(405, "client_error", "method_not_allowed", f'Method "{request.method}" not allowed.')
        if status == 404:
            return _not_found()
        return _error(500, "server_error", "error", "A server error occurred.")

    routes = [
        Route("/api/public/cases/", endpoint(list_cases), methods=["GET"]),
        Route("/api/public/cases/{case_id}/", endpoint(case_detail), methods=["GET"]),
        Route(
            "/api/public/cases/{case_id}/supplementary-information/",
            endpoint(supplementary_information),
            methods=["GET"],
        ),
        Route("/api/public/cases/{case_id}/supplementary-files/", endpoint(supplementary_files), methods=["GET"]),
        Route("/api/public/groups/", endpoint(list_groups), methods=["GET"]),
        Route(FILES_PATH + "{case_id}/{check_id}/{name}", endpoint(file_download), methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: http_error})
    app.router.redirect_slashes = False
    return _ApiKeyAuth(app, emu.api_key)


def build(
    *,
    api_key: str = SANDBOX_API_KEY,
    seed: int = 2026,
    clock: Callable[[], float] = time.monotonic,
) -> CertnEmulator:
    """A new emulator with its own copy of the seed's data; serve ``emulator.app``."""
    emu = CertnEmulator(generate(seed, clock=clock), api_key)
    emu.wrap(make_app(emu))
    return emu
