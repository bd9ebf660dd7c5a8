"""Certn enumerations (code -> short label), limited to the values confirmed in the fact sheet."""

from __future__ import annotations

OVERALL_STATUS: dict[str, str] = {
    "DRAFT": "Draft",
    "CASE_ORDERED": "Case ordered",
    "INVITE_UNDELIVERABLE": "Invite undeliverable",
    "APPLICANT_EXPIRED": "Applicant expired",
    "APPLICANT_INVITED": "Applicant invited",
    "APPLICANT_OPENED": "Applicant opened",
    "APPLICANT_STARTED": "Applicant started",
    "APPLICANT_SUBMITTED": "Applicant submitted",
    "IN_DISPUTE": "In dispute",
    "IN_PROGRESS": "In progress",
    "APPLICANT_ACTION_REQUIRED": "Applicant action required",
    "CLIENT_ACTION_REQUIRED": "Client action required",
    "CANCELLED": "Cancelled",
    "COMPLETE": "Complete",
}

CHECK_STATUS: dict[str, str] = {
    "AWAITING_APPLICANT_SUBMISSION": "Awaiting applicant submission",
    "PENDING_FULFILLMENT": "Pending fulfillment",
    "SUBMITTED_TO_SOURCE": "Submitted to source",
    "MANUAL_REVIEW_SOURCE": "Manual review with source",
    "PENDING_QUALITY_REVIEW": "Pending quality review",
    "IN_QUALITY_REVIEW": "In quality review",
    "IN_PROGRESS": "In progress",
    "APPLICANT_ACTION_REQUIRED": "Applicant action required",
    "CLIENT_ACTION_REQUIRED": "Client action required",
    "IN_DISPUTE": "In dispute",
    "COMPLETE": "Complete",
    "CANCELLED": "Cancelled",
    "SUPERSEDED": "Superseded",
}

# No longer given to new cases, but still present on old ones (and accepted by the list filter): one of
# their own, then statuses that are check statuses today (labelled as those).
DEPRECATED_OVERALL_STATUS: dict[str, str] = {
    "APPLICANT_DECLINED": "Applicant declined",
    **{
        code: CHECK_STATUS[code]
        for code in (
            "AWAITING_APPLICANT_SUBMISSION",
            "PENDING_FULFILLMENT",
            "SUBMITTED_TO_SOURCE",
            "MANUAL_REVIEW_SOURCE",
            "PENDING_QUALITY_REVIEW",
            "IN_QUALITY_REVIEW",
            "SUPERSEDED",
        )
    },
}

ALL_OVERALL_STATUS: dict[str, str] = {**OVERALL_STATUS, **DEPRECATED_OVERALL_STATUS}

# A check in one of these is "closed"; its supplementary data and files are then complete.
CLOSED_CHECK_STATUSES = frozenset({"COMPLETE", "CANCELLED", "SUPERSEDED"})

# Only a case whose active checks are all still waiting can be cancelled.
CANCELLABLE_CHECK_STATUSES = frozenset({"AWAITING_APPLICANT_SUBMISSION", "PENDING_FULFILLMENT"})

CHECK_TYPES: dict[str, str] = {
    "IDENTITY_VERIFICATION_1": "Identity verification",
    "CRIMINAL_RECORD_REPORT_1": "Criminal record check",
    "CREDIT_REPORT_1": "Credit report",
}

CHECK_TYPE_ALIASES: dict[str, str] = {
    "criminal record report": "CRIMINAL_RECORD_REPORT_1",
    "criminal record": "CRIMINAL_RECORD_REPORT_1",
    "criminal check": "CRIMINAL_RECORD_REPORT_1",
    "identity check": "IDENTITY_VERIFICATION_1",
    "id verification": "IDENTITY_VERIFICATION_1",
    "credit check": "CREDIT_REPORT_1",
}

# Explicit sub-types ordered through a parent type's ``explicit_check_type`` argument: code -> (label, parent).
_EXPLICIT: dict[str, tuple[str, str]] = {
    "BASIC_CANADIAN_CRIMINAL_RECORD_REPORT_1": ("Basic Canadian criminal record report", "CRIMINAL_RECORD_REPORT_1"),
    "CANADIAN_CREDIT_REPORT_1": ("Canadian credit report", "CREDIT_REPORT_1"),
}
EXPLICIT_CHECK_TYPES: dict[str, str] = {code: label for code, (label, _) in _EXPLICIT.items()}
EXPLICIT_CHECK_PARENT: dict[str, str] = {code: parent for code, (_, parent) in _EXPLICIT.items()}

SCORES: dict[str, str] = {
    "CLEAR": "Clear",
    "REVIEW": "Review",
    "NOT_APPLICABLE": "Not applicable",
}


def status_label(code: str | None) -> str | None:
    """The short label of an overall status code; unknown codes come back as they are."""
    if code is None:
        return None
    return ALL_OVERALL_STATUS.get(code, code)


def check_type_label(code: str | None) -> str:
    if not code:
        return "check"
    return CHECK_TYPES.get(code) or EXPLICIT_CHECK_TYPES.get(code) or code
