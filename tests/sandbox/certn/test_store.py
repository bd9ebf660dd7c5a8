"""The Certn emulator's store: check changes in emulated time, and Certn's order and cancel rules."""

from __future__ import annotations

from datetime import timedelta

import httpx2 as httpx

from casebridge.providers.certn.vocab import CLOSED_CHECK_STATUSES, EXPLICIT_CHECK_PARENT
from casebridge.sandbox.certn.app import SANDBOX_API_KEY, build
from casebridge.sandbox.certn.data import REFERENCE
from casebridge.sandbox.certn.rules import Order, read_order
from casebridge.sandbox.certn.store import PACKAGES
from casebridge.sandbox.emulation import serve

AUTH = {"Authorization": f"Api-Key {SANDBOX_API_KEY}"}


def test_checks_advance_with_emulated_time() -> None:
    ticks = [100.0]
    emu = build(clock=lambda: ticks[0])
    store = emu.store
    assert store.now() == REFERENCE
    moving = next(c for c in store.ordered() if any(k.timeline for k in c.checks))
    before = moving.overall_status
    assert before in ("APPLICANT_SUBMITTED", "IN_PROGRESS")
    with serve(emu.app) as server, httpx.Client(base_url=server.url, headers=AUTH) as http:
        assert http.get(f"/api/public/cases/{moving.id}/").json()["overall_status"] == before
        ticks[0] += 5 * 3600  # the injected clock: five emulated hours later
        body = http.get(f"/api/public/cases/{moving.id}/").json()
    assert body["overall_status"] == "COMPLETE"
    assert all(k["status"] in CLOSED_CHECK_STATUSES for k in body["checks"])
    assert body["modified"] > body["created"]


def test_travel_and_default_clock_start_at_reference() -> None:
    emu = build()
    start = emu.store.now()
    assert start >= REFERENCE
    emu.store.travel(86400)
    assert emu.store.now() - start >= timedelta(days=1)


def test_saved_packages_pass_the_order_rules_they_share_with_check_orders() -> None:
    store = build().store
    for package in PACKAGES:
        body = {"email_address": "a@example.com", "check_types_with_arguments": package.checks}
        order = read_order(body, store, package=False)
        assert isinstance(order, Order), order
        for check_type, arguments in package.checks.items():
            assert all(EXPLICIT_CHECK_PARENT[e] == check_type for e in arguments.get("explicit_check_type", []))


def test_a_case_is_cancelled_only_while_every_active_check_waits() -> None:
    store = build().store
    waiting = store.place_order(
        "w@example.com", {"IDENTITY_VERIFICATION_1": {}}, invite="email", claims={}, group=None, tags=[]
    )
    started = store.place_order(
        "s@example.com", {"IDENTITY_VERIFICATION_1": {}}, invite="email", claims={}, group=None, tags=[]
    )
    store.travel(45 * 60)  # the applicant has submitted and the check is in progress
    store.advance()
    assert started.checks[0].status == "IN_PROGRESS"
    assert not store.cancel(started)
    assert started.overall_status == "IN_PROGRESS"
    fresh = store.place_order("f@example.com", {"CREDIT_REPORT_1": {}}, invite="email", claims={}, group=None, tags=[])
    assert store.cancel(fresh) and fresh.overall_status == "CANCELLED"
    assert not store.cancel(fresh)  # nothing active is left
    assert waiting.checks[0].status != "CANCELLED"
