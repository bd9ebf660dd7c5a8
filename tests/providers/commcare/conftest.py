"""Fixtures for the CommCare client and emulator tests: one emulator on a loopback socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from casebridge.providers.commcare.client import CommCareClient
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.commcare.app import SANDBOX_API_KEY, SANDBOX_DOMAIN, SANDBOX_USERNAME, build
from casebridge.sandbox.emulation import Emulator, LoopbackServer, serve

FAST = HttpPolicy(
    connect_timeout=2.0,
    read_timeout=5.0,
    deadline=8.0,
    attempts=3,
    wait_initial=0.01,
    wait_max=0.05,
    wait_jitter=0.0,
    max_retry_after=2.0,
)


@pytest.fixture(scope="session")
def commcare_emulator() -> Emulator:
    return build()


@pytest.fixture(scope="session")
def commcare_server(commcare_emulator: Emulator) -> Iterator[LoopbackServer]:
    assert commcare_emulator.app is not None
    with serve(commcare_emulator.app) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(commcare_emulator: Emulator) -> Iterator[None]:
    commcare_emulator.reset()
    yield
    commcare_emulator.reset()


@pytest.fixture
async def client(commcare_server: LoopbackServer) -> AsyncIterator[CommCareClient]:
    c = CommCareClient.connect(commcare_server.url, SANDBOX_USERNAME, SANDBOX_API_KEY, SANDBOX_DOMAIN, policy=FAST)
    try:
        yield c
    finally:
        await c.aclose()


@pytest.fixture
def policy() -> HttpPolicy:
    return FAST
