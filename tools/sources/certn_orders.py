"""Certn orders: the applicant as order_case takes it, and the request body sent to Certn for it.

The body models (``providers.certn.extra``) are defined on the first order, not at start-up (bench/, cold start).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from casebridge.providers.certn.vocab import EXPLICIT_CHECK_PARENT
from casebridge.tools.errors import invalid
from casebridge.tools.models import Model, Visible
from casebridge.tools.text import EMAIL_PATTERN

if TYPE_CHECKING:
    from casebridge.providers.certn.client import CertnCase, CertnClient
    from casebridge.providers.certn.extra import CheckArguments, OrderRequest, PackageOrderRequest

InviteFlow = Literal["email_invite", "invite_link", "quickscreen"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Visible]


class ApplicantAddress(Model):
    street: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Visible]
    city: Text
    region: Annotated[Text | None, Field(description="Province or state, e.g. ON.")] = None
    postal_code: Annotated[
        str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=20, to_upper=True), Visible
    ] = None
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO country code, e.g. CA.")]
    since: Annotated[date | None, Field(description="Living there since (YYYY-MM-DD).")] = None

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class Applicant(Model):
    email: Annotated[
        str, Field(max_length=254, pattern=EMAIL_PATTERN, description="Applicant e-mail address."), Visible
    ]
    given_name: Text | None = None
    family_name: Text | None = None
    date_of_birth: Annotated[date | None, Field(description="YYYY-MM-DD.")] = None
    address: Annotated[ApplicantAddress | None, Field(description="Current address.")] = None

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("date_of_birth")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value < datetime.now(UTC).date():
            raise ValueError("date_of_birth must be a past date after 1900")
        return value


@functools.cache
def check_arguments() -> dict[str, CheckArguments]:
    """The explicit sub-type each parent check is ordered with (the documented Canadian defaults)."""
    from casebridge.providers.certn.extra import CheckArguments

    return {
        parent: CheckArguments(ordering_type="EXPLICIT_ORDERING", explicit_check_type=[child])
        for child, parent in EXPLICIT_CHECK_PARENT.items()
    }


@dataclass(frozen=True)
class OrderBody:
    """The request body of one order, and what the quote shows of it."""

    body: OrderRequest | PackageOrderRequest
    identity: dict[str, Any]  # what makes two orders the same: the checks with their arguments, or the package
    email: str
    name: str | None  # the applicant's full name, when given
    invite: InviteFlow
    checks: list[str] | None  # sorted, unique
    package: str | None
    prefill: list[str]  # the applicant details sent beyond the e-mail address
    tags: list[str] | None
    group: str | None


def order_body(
    applicant: Applicant,
    invite: InviteFlow,
    check_types: list[str] | None,
    package_id: uuid.UUID | None,
    tags: list[str] | None,
    group: uuid.UUID | None,
) -> OrderBody:
    """The body for these arguments; ``invalid_input`` for checks and package both (or neither) given, no
    checks, or a quickscreen without every applicant detail."""
    if (check_types is None) == (package_id is None):
        raise invalid("check_types", "give either check_types or package_id (not both)")
    if check_types is not None and not check_types:
        raise invalid("check_types", "check_types is empty", "Name at least one check, or give package_id.")
    from casebridge.providers.certn.extra import (
        Address,
        CheckArguments,
        InputClaims,
        Name,
        OrderRequest,
        PackageOrderRequest,
        Residence,
    )

    a = applicant
    name = Name(given_name=a.given_name, family_name=a.family_name) if a.given_name or a.family_name else None
    residences = None
    if a.address is not None:
        address = Address(
            street_address=a.address.street,
            locality=a.address.city,
            administrative_division_1=a.address.region,
            postal_code=a.address.postal_code,
            country=a.address.country,
        )
        residences = [Residence(address=address, start_date=a.address.since)]
    if invite == "quickscreen":
        missing = [
            f
            for f, v in (
                ("given_name", a.given_name),
                ("family_name", a.family_name),
                ("date_of_birth", a.date_of_birth),
                ("address", a.address),
            )
            if not v
        ]
        if missing:
            raise invalid(
                f"applicant.{missing[0]}",
                f"a quickscreen needs every applicant detail; missing: {', '.join(missing)}",
                "Supply them, or use invite: email_invite or invite_link so the applicant fills them in.",
            )
    claims = InputClaims(name=name, date_of_birth=a.date_of_birth, residences=residences)
    common: dict[str, Any] = {
        "email_address": a.email,
        "send_invite_email": invite == "email_invite",
        "return_invite_link": invite == "invite_link",
        "input_claims": claims if name or a.date_of_birth or residences else None,
        "group": str(group) if group else None,
        "tags": sorted(set(tags)) if tags else None,
    }
    checks = sorted(set(check_types)) if check_types is not None else None
    body: OrderRequest | PackageOrderRequest
    if checks is not None:
        body = OrderRequest(
            check_types_with_arguments={c: check_arguments().get(c, CheckArguments()) for c in checks}, **common
        )
        identity: dict[str, Any] = {"checks": body.to_json()["check_types_with_arguments"]}
    else:
        body = PackageOrderRequest(package=str(package_id), **common)
        identity = {"package": str(package_id)}
    prefill = [k for k, v in (("name", name), ("date_of_birth", a.date_of_birth), ("address", residences)) if v]
    full_name = " ".join(p for p in (a.given_name, a.family_name) if p) or None
    package = str(package_id) if package_id else None
    return OrderBody(
        body, identity, a.email, full_name, invite, checks, package, prefill, common["tags"], common["group"]
    )


async def send(client: CertnClient, body: OrderRequest | PackageOrderRequest) -> CertnCase:
    """POST the order: checks, or a saved package."""
    from casebridge.providers.certn.extra import OrderRequest

    if isinstance(body, OrderRequest):
        return await client.order_case(body)
    return await client.order_package(body)
