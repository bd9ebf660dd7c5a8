"""The Certn emulator's mutable account and Certn's rules: orders, cancellations, reports, and check changes
scheduled in emulated time (the data's reference time plus seconds elapsed on an injectable clock)."""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from casebridge.providers.certn.vocab import EXPLICIT_CHECK_PARENT
from casebridge.sandbox.certn.records import (
    NOT_STARTED,
    StoredCase,
    StoredCheck,
    StoredGroup,
    StoredPackage,
    StoredReport,
    Transition,
    file_name,
    short_id,
    supplementary,
)

FILE_LINK_TTL = timedelta(hours=3)
REPORT_READY_SECONDS = 4.0
# Packages have no documented list endpoint: their ids are fixed here for tests and the sandbox.
PACKAGE_BASIC_ID = "e3c1a9d2-7f4b-4c1e-9a2d-5b6c7d8e9f01"
PACKAGE_FULL_ID = "e3c1a9d2-7f4b-4c1e-9a2d-5b6c7d8e9f02"
PACKAGE_RETIRED_ID = "e3c1a9d2-7f4b-4c1e-9a2d-5b6c7d8e9f03"
# A report for this case always ends FAILED.
REPORT_FAILS_CASE_ID = "f00dfa11-0000-4a11-8a11-0123456789ab"


def explicit_arguments(check_type: str) -> dict[str, Any]:
    """The arguments that order ``check_type`` as its explicit sub-type (none for a type without one)."""
    child = next((c for c, parent in EXPLICIT_CHECK_PARENT.items() if parent == check_type), None)
    return {} if child is None else {"ordering_type": "EXPLICIT_ORDERING", "explicit_check_type": [child]}


PACKAGES = (
    StoredPackage(
        PACKAGE_BASIC_ID,
        "Basic hire",
        {"IDENTITY_VERIFICATION_1": {}, "CRIMINAL_RECORD_REPORT_1": explicit_arguments("CRIMINAL_RECORD_REPORT_1")},
    ),
    StoredPackage(
        PACKAGE_FULL_ID,
        "Finance roles",
        {
            "IDENTITY_VERIFICATION_1": {},
            "CRIMINAL_RECORD_REPORT_1": explicit_arguments("CRIMINAL_RECORD_REPORT_1"),
            "CREDIT_REPORT_1": explicit_arguments("CREDIT_REPORT_1"),
        },
    ),
    StoredPackage(PACKAGE_RETIRED_ID, "Seasonal 2024 (retired)", {"IDENTITY_VERIFICATION_1": {}}, active=False),
)

# The claims a quickscreen order (no invite) must carry.
QUICKSCREEN_CLAIMS = ("name.given_name", "name.family_name", "date_of_birth", "residences")


def missing_claims(claims: dict[str, Any]) -> list[str]:
    """The quickscreen claims absent from ``claims`` (dotted paths)."""
    missing = []
    for path in QUICKSCREEN_CLAIMS:
        value: Any = claims
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not value:
            missing.append(path)
    return missing


@dataclass
class CaseQuery:
    """A validated case list query; empty filters select everything."""

    statuses: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    after: date | None = None
    before: date | None = None
    check_types: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    ordered_by: set[str] = field(default_factory=set)  # lower-cased
    email: str = ""  # lower-cased


class CertnStore:
    """Mutable in-memory Certn account: cases (newest first), groups and users.

    Write-side handlers add cases with ``add``; ``advance`` applies due check transitions.
    """

    def __init__(
        self,
        cases: list[StoredCase],
        groups: list[StoredGroup],
        users: list[dict[str, str]],
        *,
        seed: int,
        clock: Callable[[], float],
        reference: datetime,
    ) -> None:
        self.cases: dict[str, StoredCase] = {c.id: c for c in sorted(cases, key=lambda c: c.created, reverse=True)}
        self.groups = groups
        self.users = users
        self.rng = random.Random(seed ^ 0x5EED)  # for ids minted after build
        self.reference = reference
        self._clock = clock
        self._start = clock()
        self._offset = 0.0
        self._scheduled = {c.id for c in cases if c.applicant_timeline or any(k.timeline for k in c.checks)}
        self.packages: dict[str, StoredPackage] = {p.id: copy.deepcopy(p) for p in PACKAGES}
        self.reports: dict[str, StoredReport] = {}
        self.report_seconds = REPORT_READY_SECONDS  # emulated time from generate-report to a ready file

    def now(self) -> datetime:
        return self.reference + timedelta(seconds=self._clock() - self._start + self._offset)

    def travel(self, seconds: float) -> None:
        """Move emulated time forward (or back) without waiting."""
        self._offset += seconds

    def advance(self) -> None:
        """Apply every scheduled check transition whose time has come."""
        if not self._scheduled:
            return
        now = self.now()
        for case_id in list(self._scheduled):
            case = self.cases.get(case_id)
            if case is None:
                self._scheduled.discard(case_id)
                continue
            while case.applicant_timeline and case.applicant_timeline[0][0] <= now:
                at, case.applicant_status = case.applicant_timeline.pop(0)
                case.modified = max(case.modified, at)
            pending = bool(case.applicant_timeline)
            for check in case.checks:
                while check.timeline and check.timeline[0].at <= now:
                    step = check.timeline.pop(0)
                    check.status, check.score, check.sub_score = step.status, step.score, step.sub_score
                    if step.supplementary_information is not None:
                        check.supplementary_information = step.supplementary_information
                    if step.files is not None:
                        check.files = step.files
                    case.modified = max(case.modified, step.at)
                pending = pending or bool(check.timeline)
            if not pending:
                self._scheduled.discard(case_id)

    def add(self, case: StoredCase) -> StoredCase:
        """Insert a new case at the top of the list (newest first)."""
        self.cases = {case.id: case, **self.cases}
        if case.applicant_timeline or any(c.timeline for c in case.checks):
            self._scheduled.add(case.id)
        return case

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_short_id(self, prefix: str) -> str:
        return short_id(self.rng, prefix)

    def group(self, group_id: str) -> StoredGroup | None:
        return next((g for g in self.groups if g.id == group_id), None)

    def ordered(self) -> list[StoredCase]:
        return list(self.cases.values())

    def select(self, query: CaseQuery) -> list[StoredCase]:
        """The cases (newest first) a list query selects: repeated keys OR within a filter, AND across."""
        out = []
        for case in self.ordered():
            if query.statuses and case.overall_status not in query.statuses:
                continue
            if query.groups and case.group not in query.groups:
                continue
            if query.check_types and not query.check_types & {c.type for c in case.checks}:
                continue
            if query.tags and not query.tags & set(case.tags):
                continue
            if query.ordered_by and not query.ordered_by & {v.lower() for v in case.ordered_by.values()}:
                continue
            if query.email and case.email_address.lower() != query.email:
                continue
            day = case.created.date()
            if (query.after and day < query.after) or (query.before and day > query.before):
                continue
            out.append(case)
        return out

    # ---------------------------------------------------------------------------- write side

    def place_order(
        self,
        email: str,
        checks: dict[str, dict[str, Any]],
        *,
        invite: str,
        claims: dict[str, Any],
        group: str | None,
        tags: list[str],
    ) -> StoredCase:
        """A new case for a validated order; its applicant and checks move on with emulated time.

        ``invite``: "email" (Certn e-mails the applicant), "link" (no e-mail) or "quickscreen".
        """
        now = self.now()
        submitted = invite == "quickscreen"
        status = {"email": "APPLICANT_INVITED", "link": "CASE_ORDERED"}.get(invite, "APPLICANT_SUBMITTED")
        case = StoredCase(
            id=self.new_id(),
            short_id=self.new_short_id("C_CA_"),
            created=now,
            modified=now,
            email_address=email,
            applicant_status=status,
            checks=[],
            group=group,
            tags=list(tags),
            input_claims=copy.deepcopy(claims),
            ordered_by=dict(self.users[0]) if self.users else {},
        )
        start = now
        if not submitted:
            start = now + timedelta(minutes=30)
            case.applicant_timeline = [
                (now + timedelta(minutes=10), "APPLICANT_OPENED"),
                (now + timedelta(minutes=20), "APPLICANT_STARTED"),
                (start, "APPLICANT_SUBMITTED"),
            ]
        for k, (check_type, arguments) in enumerate(checks.items()):
            check = StoredCheck(
                id=self.new_id(),
                short_id=self.new_short_id("CK_CA_"),
                type=check_type,
                status="PENDING_FULFILLMENT" if submitted else "AWAITING_APPLICANT_SUBMISSION",
                arguments=copy.deepcopy(arguments),
            )
            if not submitted:
                check.timeline.append(Transition(start, "PENDING_FULFILLMENT"))
            check.timeline += [
                Transition(start + timedelta(minutes=10 + 5 * k), "IN_PROGRESS"),
                Transition(
                    start + timedelta(minutes=60 + 15 * k),
                    "COMPLETE",
                    "CLEAR",
                    "VERIFIED" if check_type == "IDENTITY_VERIFICATION_1" else None,
                    supplementary_information=supplementary(self.rng, check_type, "CLEAR"),
                    files=[file_name(check)],
                ),
            ]
            case.checks.append(check)
        return self.add(case)

    def cancel(self, case: StoredCase) -> bool:
        """Cancel ``case`` if every active check is still waiting; False when Certn would refuse."""
        active = [c for c in case.checks if not c.closed]
        if not active or any(c.status not in NOT_STARTED for c in active):
            return False
        for check in active:
            check.status, check.score, check.sub_score = "CANCELLED", "NOT_APPLICABLE", None
            check.timeline.clear()
        case.applicant_timeline.clear()
        case.modified = self.now()
        self._scheduled.discard(case.id)
        return True

    def start_report(self, case: StoredCase) -> StoredReport:
        now = self.now()
        report = StoredReport(
            id=self.new_id(),
            case_id=case.id,
            requested=now,
            ready_at=now + timedelta(seconds=self.report_seconds),
            fails=case.id == REPORT_FAILS_CASE_ID,
        )
        self.reports[report.id] = report
        return report
