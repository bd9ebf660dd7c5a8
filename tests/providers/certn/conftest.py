"""Fixtures for the Certn provider tests: one emulator on a loopback socket, a fast-policy client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from casebridge.providers.certn.client import CertnClient
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.certn.app import SANDBOX_API_KEY, CertnEmulator
from tests.sandbox.certn import conftest as emulator
from tests.support import FAST_POLICY as FAST

# The emulator on loopback: the sandbox tests' fixtures.
served, emu, base_url = emulator.served, emulator.emu, emulator.base_url


@pytest.fixture
async def client(emu: CertnEmulator, base_url: str) -> AsyncIterator[CertnClient]:
    c = CertnClient.connect(base_url, SANDBOX_API_KEY, policy=FAST)
    yield c
    await c.aclose()


@pytest.fixture
def fast_policy() -> HttpPolicy:
    return FAST
