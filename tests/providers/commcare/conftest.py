"""Fixtures for the CommCare client and emulator tests: one emulator on a loopback socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from casebridge.providers.commcare.client import CommCareClient
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.commcare.app import SANDBOX_API_KEY, SANDBOX_DOMAIN, SANDBOX_USERNAME
from casebridge.sandbox.emulation import LoopbackServer
from tests.sandbox.commcare import conftest as emulator
from tests.support import TEST_POLICY

# The emulator on loopback: the sandbox tests' fixtures.
commcare_emulator, commcare_server, _reset = emulator.commcare_emulator, emulator.commcare_server, emulator._reset

FAST = replace(TEST_POLICY, read_timeout=5.0, deadline=8.0, wait_jitter=0.0, max_retry_after=2.0)


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
