"""generate_report: follow with progress, complete with a link, resume a pending report, failures."""

from __future__ import annotations

import httpx2 as httpx
import pytest
from mcp import Client
from mcp.types import ResourceLink

from casebridge.sandbox.certn.store import REPORT_FAILS_CASE_ID
from tests.support import hold
from tests.tools.write_support import World, call

TOOL = "generate_report"
GENERATE = "/generate-report/"


@pytest.fixture
def slow_reports(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """Reports take 1000 emulated seconds: only ``travel`` makes them ready."""
    monkeypatch.setattr(world.emu.store, "report_seconds", 1000.0)
    world.actions.report_wait = 3.0
    return world


def new_case(world: World, email: str) -> str:
    case = world.emu.store.place_order(
        email, {"IDENTITY_VERIFICATION_1": {}}, invite="email", claims={}, group=None, tags=[]
    )
    return case.id


def starts(world: World) -> int:
    return sum(1 for r in world.emu.requests if r.method == "POST" and r.path.endswith(GENERATE))


def rows(world: World, case_id: str) -> list[str]:
    return [r.entry.outcome for r in reversed(world.ledger().recent(100)) if r.entry.provider_id == case_id]


async def test_followed_with_progress_until_complete(slow_reports: World, era: str) -> None:
    world = slow_reports
    case_id = new_case(world, f"report.{era}@example.com")
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))
        world.emu.store.travel(1001)  # Certn finishes while we watch

    async with hold(Client(world.server(), mode=era)) as client:
        result = await call(client, TOOL, {"ref": f"certn:{case_id}"}, progress_callback=on_progress)
    assert not result.is_error, result.text
    assert progress and progress[0][1] == 3.0 and "generating" in (progress[0][2] or "")
    data = result.data
    assert data["status"] == "complete" and data["resumed"] is False
    assert "short-lived" in result.text and data["download_url"] in result.text
    (link,) = [b for b in result.raw.content if isinstance(b, ResourceLink)]
    assert str(link.uri) == data["download_url"] and link.mime_type == "application/pdf"
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(data["download_url"])).content.startswith(b"%PDF")
    assert starts(world) == 1
    assert rows(world, case_id) == ["report_started", "report_complete"]


async def test_pending_report_is_resumed_not_restarted(slow_reports: World) -> None:
    world = slow_reports
    world.actions.report_wait = 0.2
    case_id = new_case(world, "report.resume@example.com")
    async with hold(Client(world.server(), mode="legacy")) as client:
        pending = await call(client, TOOL, {"ref": f"certn:{case_id}"})
        assert pending.data["status"] == "pending" and pending.data["report_id"]
        assert "resumes this report" in pending.text and "download_url" not in pending.data
        again = await call(client, TOOL, {"ref": f"certn:{case_id}"})
        assert again.data["status"] == "pending" and again.data["resumed"] is True
        assert again.data["report_id"] == pending.data["report_id"]
    world.emu.store.travel(1001)
    async with hold(Client(world.server(), mode="auto")) as client:  # after a restart too
        done = await call(client, TOOL, {"ref": case_id})
    assert done.data["status"] == "complete" and done.data["resumed"] is True
    assert done.data["report_id"] == pending.data["report_id"]
    assert starts(world) == 1
    assert rows(world, case_id) == ["report_started", "report_complete"]
    async with hold(Client(world.server(), mode="auto")) as client:  # a complete report is not resumed
        fresh = await call(client, TOOL, {"ref": case_id})
    assert fresh.data["report_id"] != done.data["report_id"] and starts(world) == 2


async def test_failed_report_is_an_actionable_error(slow_reports: World) -> None:
    world = slow_reports
    world.actions.report_wait = 0.2
    async with hold(Client(world.server(), mode="auto")) as client:
        first = await call(client, TOOL, {"ref": f"certn:{REPORT_FAILS_CASE_ID}"})
        assert first.data["status"] == "pending"
        world.emu.store.travel(1001)
        failed = await call(client, TOOL, {"ref": f"certn:{REPORT_FAILS_CASE_ID}"})
        error = failed.data["error"]
        assert failed.is_error and error["category"] == "provider_rejected" and error["retryable"]
        assert "FAILED" in failed.text and "start a new report" in error["fix"]
        retry = await call(client, TOOL, {"ref": f"certn:{REPORT_FAILS_CASE_ID}"})
    assert retry.data["status"] == "pending" and retry.data["resumed"] is False
    assert starts(world) == 2
    assert rows(world, REPORT_FAILS_CASE_ID) == ["report_started", "report_failed", "report_started"]


async def test_start_failures(world: World) -> None:
    case_id = new_case(world, "report.down@example.com")
    world.emu.inject(kind="status", status=503, method="POST")
    async with hold(Client(world.server(), mode="auto")) as client:
        down = await call(client, TOOL, {"ref": f"certn:{case_id}"})
        missing = await call(client, TOOL, {"ref": "certn:7c1f0e4e-3b7a-4c55-9a43-2f4f8f0d9b12"})
    assert down.is_error and down.data["error"]["retryable"] and "harmless" in down.data["error"]["fix"]
    assert starts(world) == 2  # the failed one and the unknown case: never resent
    assert missing.is_error and missing.data["error"]["category"] == "not_found"
    assert rows(world, case_id) == ["failed"]
