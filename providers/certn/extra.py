"""Certn wire models that only some calls need: groups, supplementary data, reports and order bodies.

Imported where first needed (by ``providers.certn.client``'s calls and the order tools), never at start-up:
a session that only lists tools, or only searches and reads cases, never defines these models
(about 4 ms of start-up; bench/, cold start).
"""

# No "from __future__ import annotations", as in providers.certn.models: pydantic would evaluate every string.

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from casebridge.providers.certn.models import Paged, Wire, uuid_text


class Group(Wire):
    id: str
    short_id: str | None = None
    name: str | None = None


class GroupPage(Paged):
    results: list[Group] = Field(default_factory=list)


class SupplementaryFile(Wire):
    name: str | None = None
    url: str | None = None


class _SupplementaryCheck(Wire):
    id: str | None = None
    short_id: str | None = None
    type: str | None = None
    status: str | None = None


class CheckSupplementaryInformation(_SupplementaryCheck):
    supplementary_information: dict[str, Any] | list[Any] | None = None


class CheckSupplementaryFiles(_SupplementaryCheck):
    supplementary_files: list[SupplementaryFile] = Field(default_factory=list)

    @field_validator("supplementary_files", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class _PerCheck(Wire):
    """A case's supplementary answer: one entry per check."""

    id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _envelope(cls, data: Any) -> Any:
        # The exact envelope is not documented; a bare list of checks is accepted as well.
        return {"checks": data} if isinstance(data, list) else data


class SupplementaryInformation(_PerCheck):
    checks: list[CheckSupplementaryInformation] = Field(default_factory=list)


class SupplementaryFiles(_PerCheck):
    checks: list[CheckSupplementaryFiles] = Field(default_factory=list)


# ------------------------------------------------------------------------------ write side


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, ``None`` fields are not sent."""

    # defer_build: built on the first order, not at start-up (bench/, cold start).
    model_config = ConfigDict(extra="forbid", defer_build=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Name(Body):
    given_name: str | None = None
    family_name: str | None = None


class Address(Body):
    street_address: str
    locality: str
    administrative_division_1: str | None = None
    postal_code: str | None = None
    country: str


class Residence(Body):
    address: Address
    start_date: date | None = None


class InputClaims(Body):
    """Prefill data about the applicant; a quickscreen order needs all of it."""

    name: Name | None = None
    date_of_birth: date | None = None
    residences: list[Residence] | None = None


class CheckArguments(Body):
    ordering_type: str | None = None
    explicit_check_type: list[str] | None = None


class _OrderCommon(Body):
    email_address: str
    send_invite_email: bool = True
    return_invite_link: bool = False
    input_claims: InputClaims | None = None
    group: str | None = None
    tags: list[str] | None = None
    applicant_language: str | None = None


class OrderRequest(_OrderCommon):
    """Body of ``POST cases/order/``: the checks to run, keyed by check type."""

    check_types_with_arguments: dict[str, CheckArguments]


class PackageOrderRequest(_OrderCommon):
    """Body of ``POST cases/order-package/``: a saved, active package."""

    package: str


class ReportFile(Wire):
    status: str
    pdf_url: str | None = None


class _ReportStarted(Wire):
    case_report_file_id: str

    _id_is_uuid = field_validator("case_report_file_id")(uuid_text)
