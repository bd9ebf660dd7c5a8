"""``casebridge doctor`` against a CommCare server with only the v0.5 case API, and COMMCARE_CASE_API pins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from casebridge.sandbox.commcare.app import build
from casebridge.sandbox.emulation import LoopbackServer, serve
from casebridge.server.doctor import Row, check_all
from tests.support import TEST_POLICY, Emulators


@pytest.fixture(scope="module")
def v05_only() -> Iterator[LoopbackServer]:
    emulator = build(v2=False)
    assert emulator.app is not None
    with serve(emulator.app) as server:
        yield server


def commcare_row(rows: list[Row]) -> Row:
    return next(r for r in rows if r.provider == "commcare")


async def test_v05_only_server_passes_and_says_so(emulators: Emulators, v05_only: LoopbackServer) -> None:
    row = commcare_row(await check_all(emulators.settings(commcare_base_url=v05_only.url), policy=TEST_POLICY))
    assert (row.reachable, row.authenticated, row.failed) == ("yes", "yes", False)
    assert "only the v0.5 case API" in row.fix


async def test_pinned_v05_checks_v05(emulators: Emulators) -> None:
    row = commcare_row(await check_all(emulators.settings(commcare_case_api="v0.5"), policy=TEST_POLICY))
    assert not row.failed and "COMMCARE_CASE_API=v0.5" in row.fix


async def test_pinned_v2_on_a_v05_only_server_fails(emulators: Emulators, v05_only: LoopbackServer) -> None:
    settings = emulators.settings(commcare_base_url=v05_only.url, commcare_case_api="v2")
    row = commcare_row(await check_all(settings, policy=TEST_POLICY))
    assert row.failed and "has no commcare API (HTTP 404)" in row.fix


async def test_both_apis_pass_without_remark(emulators: Emulators) -> None:
    row = commcare_row(await check_all(emulators.settings(), policy=TEST_POLICY))
    assert not row.failed and row.fix == ""
