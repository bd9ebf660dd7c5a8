"""The Certn emulator's synthetic account: every status present, checks that agree with their case, determinism."""

from __future__ import annotations

from datetime import timedelta

from casebridge.providers.certn.vocab import (
    CHECK_STATUS,
    CHECK_TYPES,
    CLOSED_CHECK_STATUSES,
    DEPRECATED_OVERALL_STATUS,
    OVERALL_STATUS,
)
from casebridge.sandbox.certn.app import CertnEmulator, build
from casebridge.sandbox.certn.data import HOSTILE_CASE_ID, REFERENCE
from casebridge.sandbox.certn.records import derive_status


def test_every_status_present_and_deprecated_only_on_old_cases(emu: CertnEmulator) -> None:
    cases = emu.store.ordered()
    assert len(cases) >= 300
    seen = {c.overall_status for c in cases}
    assert set(OVERALL_STATUS) <= seen
    assert set(DEPRECATED_OVERALL_STATUS) <= seen
    year_ago = REFERENCE - timedelta(days=365)
    for c in cases:
        if c.overall_status in DEPRECATED_OVERALL_STATUS:
            assert c.created < year_ago
    span = max(c.created for c in cases) - min(c.created for c in cases)
    assert span > timedelta(days=600)
    assert 3 <= len(emu.store.groups) <= 5
    assert all(g.short_id.startswith("CG_CA_") for g in emu.store.groups)


def test_check_statuses_agree_with_overall_status(emu: CertnEmulator) -> None:
    types = set()
    for case in emu.store.ordered():
        statuses = [k.status for k in case.checks]
        assert case.checks and all(s in CHECK_STATUS for s in statuses)
        types |= {k.type for k in case.checks}
        status = case.overall_status
        if status == "COMPLETE":
            assert all(s in CLOSED_CHECK_STATUSES for s in statuses) and "COMPLETE" in statuses
            assert case.overall_score in ("CLEAR", "REVIEW")
        elif status == "CANCELLED":
            assert set(statuses) == {"CANCELLED"}
        elif status in ("IN_PROGRESS", "IN_DISPUTE", "APPLICANT_ACTION_REQUIRED", "CLIENT_ACTION_REQUIRED"):
            assert derive_status(statuses) == status
            assert case.overall_score is None
        for k in case.checks:
            if k.status == "COMPLETE":
                assert k.score in ("CLEAR", "REVIEW")
            elif k.status not in CLOSED_CHECK_STATUSES:
                assert k.score is None
    assert types == set(CHECK_TYPES)


def test_builds_are_deterministic_and_independent() -> None:
    a, b = build(), build()
    assert [c.to_wire() for c in a.store.ordered()] == [c.to_wire() for c in b.store.ordered()]
    first = next(iter(a.store.cases.values()))
    first.tags.append("mutated")
    first.checks[0].status = "IN_DISPUTE"
    assert "mutated" not in b.store.cases[first.id].tags
    assert b.store.cases[first.id].checks[0].status != "IN_DISPUTE"
    assert build(seed=7).store.ordered()[5].id != a.store.ordered()[5].id


def test_hostile_case_exists(emu: CertnEmulator) -> None:
    case = emu.store.cases[HOSTILE_CASE_ID]
    name = case.input_claims["name"]
    assert "Ignore previous instructions" in name["given_name"]
    assert "\x07" in name["family_name"]
