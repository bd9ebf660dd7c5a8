"""Certn's request rules: the case list filters, and what both order endpoints accept (every problem at once)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.datastructures import QueryParams

from casebridge.providers.certn.vocab import ALL_OVERALL_STATUS, CHECK_TYPES, EXPLICIT_CHECK_PARENT
from casebridge.sandbox.certn.store import CaseQuery, CertnStore, missing_claims

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Problem = tuple[str, str, str | None]  # code, detail, attr


def read_query(q: QueryParams, store: CertnStore) -> CaseQuery | Problem:
    """The list filters, django-filter style: an unknown value is a problem, an unknown key is ignored."""
    statuses = q.getlist("overall_status")
    for s in statuses:
        if s not in ALL_OVERALL_STATUS:
            return _choice_problem("overall_status", s)
    groups = q.getlist("group")
    for g in groups:
        if store.group(g) is None:
            return _choice_problem("group", g)
    days: dict[str, date | None] = {}
    for name in ("order_timeframe_after", "order_timeframe_before"):
        raw = q.get(name)
        try:
            days[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            return ("invalid", "Enter a valid date.", name)
    return CaseQuery(
        statuses=statuses,
        groups=groups,
        after=days["order_timeframe_after"],
        before=days["order_timeframe_before"],
        check_types=set(q.getlist("check_type")),
        tags=set(q.getlist("tag")),
        ordered_by={v.lower() for v in q.getlist("ordered_by")},
        email=(q.get("email_address") or "").strip().lower(),
    )


def _choice_problem(attr: str, value: str) -> Problem:
    return ("invalid_choice", f"Select a valid choice. {value} is not one of the available choices.", attr)


@dataclass
class Order:
    """A valid order: its checks and the fields ``CertnStore.place_order`` takes."""

    checks: dict[str, dict[str, Any]]
    email: str
    invite: str  # "email", "link" or "quickscreen"
    link: bool  # return_invite_link
    claims: dict[str, Any]
    group: str | None
    tags: list[str]


def read_order(body: dict[str, Any], store: CertnStore, *, package: bool) -> Order | list[Problem]:
    """The order in ``body`` (``package``: by saved package, else by check types), or its problems."""
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
        return problems
    return Order(checks=checks, **fields)


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
