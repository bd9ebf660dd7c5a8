"""A Starlette emulator of the Certn public API on deterministic data, behind fault injection.

``build()`` returns a ``CertnEmulator``, whose ``store`` is its own mutable ``CertnStore``. Orders,
cancellations and reports change that store; packages exist only here (``PACKAGE_*_ID``).
"""

from __future__ import annotations

import hashlib
import json
import re
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

from casebridge.providers.certn.vocab import ALL_OVERALL_STATUS, CHECK_TYPES, EXPLICIT_CHECK_PARENT
from casebridge.sandbox.certn.data import (
    FILE_LINK_TTL,
    HOSTILE_CASE_ID,
    PACKAGE_BASIC_ID,
    PACKAGE_FULL_ID,
    PACKAGE_RETIRED_ID,
    REPORT_FAILS_CASE_ID,
    CertnStore,
    StoredCase,
    generate,
    missing_claims,
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


# ------------------------------------------------------------------------------ write side

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Problem = tuple[str, str, str | None]  # code, detail, attr


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


def _check_claims(claims: Any, problems: list[Problem]) -> dict[str, Any]:
    if claims is None:
        return {}
    if not isinstance(claims, dict):
        problems.append(("invalid", "Expected a dictionary of items.", "input_claims"))
        return {}
    name = claims.get("name")
    if name is not None and not isinstance(name, dict):
        problems.append(("invalid", "Expected a dictionary of items.", "input_claims.name"))
    dob = claims.get("date_of_birth")
    if dob is not None:
        try:
            date.fromisoformat(str(dob))
        except ValueError:
            problems.append(("invalid", "Date has wrong format. Use YYYY-MM-DD.", "input_claims.date_of_birth"))
    residences = claims.get("residences")
    if residences is not None:
        if not isinstance(residences, list):
            problems.append(("invalid", "Expected a list of items.", "input_claims.residences"))
        else:
            for i, residence in enumerate(residences):
                address = residence.get("address") if isinstance(residence, dict) else None
                if not isinstance(address, dict):
                    problems.append(("required", "This field is required.", f"input_claims.residences.{i}.address"))
                    continue
                for key in ("street_address", "locality", "country"):
                    if not address.get(key):
                        attr = f"input_claims.residences.{i}.address.{key}"
                        problems.append(("required", "This field is required.", attr))
    return claims


def _check_arguments(check_types: Any, problems: list[Problem]) -> dict[str, dict[str, Any]]:
    attr = "check_types_with_arguments"
    if check_types is None or check_types == {}:
        problems.append(("required", "check_types_with_arguments is required", attr))
        return {}
    if not isinstance(check_types, dict):
        problems.append(("invalid", "Expected a dictionary of items.", attr))
        return {}
    out: dict[str, dict[str, Any]] = {}
    for check_type, arguments in check_types.items():
        if check_type not in CHECK_TYPES:
            problems.append(("invalid_choice", f'"{check_type}" is not a valid choice.', f"{attr}.{check_type}"))
            continue
        if not isinstance(arguments, dict):
            problems.append(("invalid", "Expected a dictionary of items.", f"{attr}.{check_type}"))
            continue
        for explicit in arguments.get("explicit_check_type") or []:
            if EXPLICIT_CHECK_PARENT.get(explicit) != check_type:
                where = f"{attr}.{check_type}.explicit_check_type"
                problems.append(("invalid_choice", f'"{explicit}" is not a valid choice.', where))
        out[check_type] = arguments
    return out


def _common_order_fields(body: dict[str, Any], store: CertnStore, problems: list[Problem]) -> dict[str, Any]:
    """The fields both order endpoints share, validated; problems are appended."""
    email = body.get("email_address")
    if email is None or (isinstance(email, str) and not email.strip()):
        problems.append(("required", "email_address is required", "email_address"))
    elif not isinstance(email, str) or not _EMAIL.match(email.strip()) or len(email) > 254:
        problems.append(("invalid", "Enter a valid email address.", "email_address"))
    flags = {}
    for key, default in (("send_invite_email", True), ("return_invite_link", False)):
        value = body.get(key, default)
        if not isinstance(value, bool):
            problems.append(("invalid", "Must be a valid boolean.", key))
            value = default
        flags[key] = value
    group = body.get("group")
    if group is not None and (not isinstance(group, str) or store.group(group) is None):
        problems.append(("does_not_exist", f'Invalid pk "{group}" - object does not exist.', "group"))
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        problems.append(("invalid", "Expected a list of non-empty strings.", "tags"))
        tags = []
    claims = _check_claims(body.get("input_claims"), problems)
    invite = "email" if flags["send_invite_email"] else "link" if flags["return_invite_link"] else "quickscreen"
    if invite == "quickscreen" and not problems:
        for path in missing_claims(claims):
            name = path.rsplit(".", 1)[-1]
            problems.append(("required", f"{name} is required for an order without invite", f"input_claims.{path}"))
    return {
        "email": str(email).strip() if isinstance(email, str) else "",
        "invite": invite,
        "link": flags["return_invite_link"],
        "claims": claims,
        "group": group,
        "tags": [t.strip() for t in tags],
    }


def _invite_link(request: Request, case: StoredCase) -> str:
    token = hashlib.sha256(f"invite|{case.id}".encode()).hexdigest()[:24]
    return f"{str(request.base_url).rstrip('/')}{INVITE_PATH}{token}"


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

    async def order(request: Request, package: bool) -> Response:
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        problems: list[Problem] = []
        if package:
            package_id = body.get("package", body.get("package_id"))
            stored = store.packages.get(package_id) if isinstance(package_id, str) else None
            checks: dict[str, dict[str, Any]] = {}
            if package_id is None:
                problems.append(("required", "package is required", "package"))
            elif stored is None:
                problems.append(("does_not_exist", f'Invalid pk "{package_id}" - object does not exist.', "package"))
            elif not stored.active:
                problems.append(("invalid", "This package is deactivated and cannot be ordered.", "package"))
            else:
                checks = stored.checks
        else:
            checks = _check_arguments(body.get("check_types_with_arguments"), problems)
        fields = _common_order_fields(body, store, problems)
        if problems:
            return _validation_errors(problems)
        case = store.place_order(
            fields["email"],
            checks,
            invite=fields["invite"],
            claims=fields["claims"],
            group=fields["group"],
            tags=fields["tags"],
        )
        data = case.to_wire()
        if fields["link"]:
            data["invite_link"] = _invite_link(request, case)
        return JSONResponse(data, status_code=201)

    async def order_checks(request: Request) -> Response:
        store.advance()
        return await order(request, package=False)

    async def order_package(request: Request) -> Response:
        store.advance()
        return await order(request, package=True)

    def cancel(request: Request) -> Response:
        case = _case_or_404(store, request)
        if isinstance(case, JSONResponse):
            return case
        if not store.cancel(case):
            return _error(400, "validation_error", "invalid", "Case cannot be cancelled")
        return JSONResponse(case.to_wire())

    def generate_report(request: Request) -> Response:
        case = _case_or_404(store, request)
        if isinstance(case, JSONResponse):
            return case
        report = store.start_report(case)
        return JSONResponse({"case_report_file_id": report.id}, status_code=201)

    def report_file(request: Request) -> Response:
        report = store.reports.get(request.path_params["report_id"])
        if report is None:
            return _not_found()
        status = report.status(store.now())
        url = None
        if status == "COMPLETE":
            case = store.cases[report.case_id]
            url = _presign(request, store, case, report.id, f"case-report-{case.short_id}.pdf")
        return JSONResponse({"status": status, "pdf_url": url})

    def invite_page(request: Request) -> Response:
        return Response(b"<html><body>casebridge sandbox: applicant invite</body></html>", media_type="text/html")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            return _error(405, "client_error", "method_not_allowed", f'Method "{request.method}" not allowed.')
        if status == 404:
            return _not_found()
        return _error(500, "server_error", "error", "A server error occurred.")

    routes = [
        Route("/api/public/cases/", endpoint(list_cases), methods=["GET"]),
        Route("/api/public/cases/order/", order_checks, methods=["POST"]),
        Route("/api/public/cases/order-package/", order_package, methods=["POST"]),
        Route("/api/public/cases/report-files/{report_id}/", endpoint(report_file), methods=["GET"]),
        Route("/api/public/cases/{case_id}/cancel/", endpoint(cancel), methods=["POST"]),
        Route("/api/public/cases/{case_id}/generate-report/", endpoint(generate_report), methods=["POST"]),
        Route("/api/public/cases/{case_id}/", endpoint(case_detail), methods=["GET"]),
        Route(
            "/api/public/cases/{case_id}/supplementary-information/",
            endpoint(supplementary_information),
            methods=["GET"],
        ),
        Route("/api/public/cases/{case_id}/supplementary-files/", endpoint(supplementary_files), methods=["GET"]),
        Route("/api/public/groups/", endpoint(list_groups), methods=["GET"]),
        Route(FILES_PATH + "{case_id}/{check_id}/{name}", endpoint(file_download), methods=["GET"]),
        Route(INVITE_PATH + "{token}", invite_page, methods=["GET"]),
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
