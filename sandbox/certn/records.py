"""The Certn emulator's records: cases, checks, groups, packages and report files, as its store holds them."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from casebridge.providers.certn.vocab import CLOSED_CHECK_STATUSES

# Checks an applicant's submission has not started. Certn's own rule for the overall status and for
# what can be cancelled: kept here apart from vocab.CANCELLABLE_CHECK_STATUSES on purpose, so that the
# emulator stays an independent stand-in and a wrong pre-check in cancel_case meets a provider refusal.
NOT_STARTED = frozenset({"AWAITING_APPLICANT_SUBMISSION", "PENDING_FULFILLMENT"})


def wire_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class Transition:
    """A scheduled change of one check, applied once emulated time reaches ``at``."""

    at: datetime
    status: str
    score: str | None = None
    sub_score: str | None = None
    supplementary_information: dict[str, Any] | None = None
    files: list[str] | None = None


@dataclass
class StoredCheck:
    id: str
    short_id: str
    type: str
    status: str
    score: str | None = None
    sub_score: str | None = None
    adjudication_score: str | None = None
    adjudication_sub_score: str | None = None
    output_claims: dict[str, Any] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)
    supplementary_information: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    timeline: list[Transition] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_CHECK_STATUSES

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "short_id": self.short_id,
            "type": self.type,
            "status": self.status,
            "score": self.score,
            "sub_score": self.sub_score,
            "adjudication_score": self.adjudication_score,
            "adjudication_sub_score": self.adjudication_sub_score,
            "output_claims": copy.deepcopy(self.output_claims),
        }


@dataclass
class StoredCase:
    """One case. ``overall_status`` is derived: a frozen legacy status, else the applicant status
    until submission, else the check statuses in the documented precedence."""

    id: str
    short_id: str
    created: datetime
    modified: datetime
    email_address: str
    applicant_status: str
    checks: list[StoredCheck]
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    input_claims: dict[str, Any] = field(default_factory=dict)
    ordered_by: dict[str, str] = field(default_factory=dict)  # not on the wire; feeds the filter
    legacy_status: str | None = None
    invite_link: str | None = None
    # Scheduled applicant status changes (invited -> opened -> started -> submitted).
    applicant_timeline: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def overall_status(self) -> str:
        if self.legacy_status:
            return self.legacy_status
        if self.checks and all(c.status == "CANCELLED" for c in self.checks):
            return "CANCELLED"
        if self.applicant_status != "APPLICANT_SUBMITTED":
            return self.applicant_status
        return derive_status([c.status for c in self.checks])

    @property
    def overall_score(self) -> str | None:
        if self.overall_status != "COMPLETE":
            return None
        scores = {c.score for c in self.checks if c.status == "COMPLETE"}
        return "REVIEW" if "REVIEW" in scores else "CLEAR"

    def to_wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "short_id": self.short_id,
            "created": wire_time(self.created),
            "modified": wire_time(self.modified),
            "overall_status": self.overall_status,
            "overall_score": self.overall_score,
            "email_address": self.email_address,
            "group": self.group,
            "tags": list(self.tags),
            "input_claims": copy.deepcopy(self.input_claims),
            "checks": [c.to_wire() for c in self.checks],
        }
        if self.invite_link:
            data["invite_link"] = self.invite_link
        return data


def derive_status(statuses: Iterable[str]) -> str:
    """The overall status of a submitted case from its check statuses (documented precedence)."""
    s = list(statuses)
    if not s or all(x in NOT_STARTED for x in s):
        return "APPLICANT_SUBMITTED"
    if "IN_DISPUTE" in s:
        return "IN_DISPUTE"
    applicant, client = "APPLICANT_ACTION_REQUIRED" in s, "CLIENT_ACTION_REQUIRED" in s
    busy = [
        x
        for x in s
        if x not in CLOSED_CHECK_STATUSES and x not in ("APPLICANT_ACTION_REQUIRED", "CLIENT_ACTION_REQUIRED")
    ]
    if busy or (applicant and client):
        return "IN_PROGRESS"
    if applicant:
        return "APPLICANT_ACTION_REQUIRED"
    if client:
        return "CLIENT_ACTION_REQUIRED"
    if all(x == "CANCELLED" for x in s):
        return "CANCELLED"
    if "COMPLETE" in s:
        return "COMPLETE"
    return "IN_PROGRESS"  # superseded with none complete


@dataclass
class StoredGroup:
    id: str
    short_id: str
    name: str
    created: datetime

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "short_id": self.short_id, "name": self.name, "created": wire_time(self.created)}


@dataclass
class StoredPackage:
    """A saved package: the checks it orders, and whether it can still be ordered."""

    id: str
    name: str
    checks: dict[str, dict[str, Any]]
    active: bool = True


@dataclass
class StoredReport:
    id: str
    case_id: str
    requested: datetime
    ready_at: datetime
    fails: bool = False

    def status(self, now: datetime) -> str:
        if now < self.ready_at:
            return "PENDING"
        return "FAILED" if self.fails else "COMPLETE"


def short_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))


def supplementary(rng: random.Random, check_type: str, score: str | None) -> dict[str, Any]:
    """The supplementary information a finished check of ``check_type`` carries."""
    if check_type == "IDENTITY_VERIFICATION_1":
        return {
            "document_type": rng.choice(("PASSPORT", "DRIVERS_LICENSE")),
            "document_country": "CA",
            "verified": score == "CLEAR",
        }
    if check_type == "CRIMINAL_RECORD_REPORT_1":
        return {
            "jurisdiction": "CA",
            "records_found": 0 if score == "CLEAR" else rng.randint(1, 3),
            "search_type": "BASIC_CANADIAN_CRIMINAL_RECORD_REPORT_1",
        }
    return {
        "bureau": "Equifax",
        "score_band": "good" if score == "CLEAR" else "fair",
        "bankruptcies": 0 if score == "CLEAR" else 1,
    }


def file_name(check: StoredCheck) -> str:
    """The name of the one file a finished check carries."""
    return f"{check.type.lower().removesuffix('_1').replace('_', '-')}-{check.short_id}.pdf"
