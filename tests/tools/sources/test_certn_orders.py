"""The Certn order body order_case sends (tools/sources/certn_orders.py): what is sent, what makes two orders one."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from casebridge.tools.errors import ToolFailure
from casebridge.tools.sources.certn_orders import Applicant, InviteFlow, OrderBody, order_body

PACKAGE = uuid.UUID("0b5e1c1e-8d4a-4f0e-9c55-6a1f2b3c4d5e")
ADDRESS = {"street": "1 Main St", "city": "Toronto", "region": "ON", "postal_code": "m5v 1a1", "country": "ca"}


def body(invite: InviteFlow = "email_invite", checks: list[str] | None = None, **applicant: Any) -> OrderBody:
    person = Applicant(**{"email": "Jane@Example.com", **applicant})
    return order_body(person, invite, checks if checks is not None else ["CRIMINAL_RECORD_REPORT_1"], None, None, None)


def test_the_body_of_checks() -> None:
    made = order_body(
        Applicant(email="jane@example.com", given_name="Jane", address=ADDRESS),
        "invite_link",
        ["IDENTITY_VERIFICATION_1", "CRIMINAL_RECORD_REPORT_1", "IDENTITY_VERIFICATION_1"],
        None,
        ["b", "a", "b"],
        PACKAGE,
    )
    sent = made.body.to_json()
    assert sent["check_types_with_arguments"] == {
        "CRIMINAL_RECORD_REPORT_1": {
            "ordering_type": "EXPLICIT_ORDERING",
            "explicit_check_type": ["BASIC_CANADIAN_CRIMINAL_RECORD_REPORT_1"],
        },
        "IDENTITY_VERIFICATION_1": {},
    }
    assert (sent["send_invite_email"], sent["return_invite_link"]) == (False, True)
    assert sent["input_claims"]["residences"][0]["address"]["postal_code"] == "M5V 1A1"
    assert sent["input_claims"]["residences"][0]["address"]["country"] == "CA"
    assert (made.checks, made.tags, made.group) == (
        ["CRIMINAL_RECORD_REPORT_1", "IDENTITY_VERIFICATION_1"],
        ["a", "b"],
        str(PACKAGE),
    )
    assert made.prefill == ["name", "address"]


def test_the_same_applicant_and_checks_are_the_same_order_whatever_the_invite_or_tags() -> None:
    one = body("email_invite")
    other = order_body(
        Applicant(email="jane@example.com"), "invite_link", ["CRIMINAL_RECORD_REPORT_1"], None, ["x"], None
    )
    assert one.identity == other.identity
    assert one.body.to_json() != other.body.to_json()
    assert body(checks=["IDENTITY_VERIFICATION_1"]).identity != one.identity


def test_a_package_order() -> None:
    made = order_body(Applicant(email="jane@example.com"), "email_invite", None, PACKAGE, None, None)
    assert made.identity == {"package": str(PACKAGE)}
    assert made.body.to_json()["package"] == str(PACKAGE) and made.checks is None
    assert "input_claims" not in made.body.to_json() and made.prefill == []


@pytest.mark.parametrize(
    ("checks", "package", "said"),
    [
        (["CRIMINAL_RECORD_REPORT_1"], PACKAGE, "give either check_types or package_id"),
        (None, None, "give either check_types or package_id"),
        ([], None, "check_types is empty"),
    ],
)
def test_checks_or_a_package(checks: list[str] | None, package: uuid.UUID | None, said: str) -> None:
    with pytest.raises(ToolFailure, match=said) as failure:
        order_body(Applicant(email="jane@example.com"), "email_invite", checks, package, None, None)
    assert failure.value.field == "check_types"


def test_a_quickscreen_needs_every_detail() -> None:
    with pytest.raises(ToolFailure) as failure:
        body("quickscreen", given_name="Jane", address=ADDRESS)
    assert failure.value.field == "applicant.family_name"
    assert "missing: family_name, date_of_birth" in failure.value.message
    full = body("quickscreen", given_name="Jane", family_name="Doe", date_of_birth="1990-01-31", address=ADDRESS)
    assert full.prefill == ["name", "date_of_birth", "address"]
    assert full.body.to_json()["send_invite_email"] is False


def test_the_applicant_is_normalised_and_checked() -> None:
    assert body().body.to_json()["email_address"] == "jane@example.com"
    with pytest.raises(ValidationError, match="past date after 1900"):
        Applicant(email="jane@example.com", date_of_birth=date(2999, 1, 1))
    with pytest.raises(ValidationError, match="email"):
        Applicant(email="not an address")
