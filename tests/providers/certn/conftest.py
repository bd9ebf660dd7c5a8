"""Fixtures for the Certn provider tests: one emulator on a loopback socket, a fast-policy client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from casebridge.providers.certn.client import CertnClient
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.certn.app import SANDBOX_API_KEY, CertnEmulator, build
from casebridge.sandbox.emulation import LoopbackServer, serve
from tests.support import FAST_POLICY as FAST


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[CertnEmulator, LoopbackServer]]:
    emu = build()
    with serve(emu.app) as server:
        yield emu, server


@pytest.fixture
def emu(served: tuple[CertnEmulator, LoopbackServer]) -> Iterator[CertnEmulator]:
    """The module's emulator with faults and the request log cleared (its store must not be changed)."""
    emulator = served[0]
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture
def base_url(served: tuple[CertnEmulator, LoopbackServer]) -> str:
    return served[1].url


@pytest.fixture
async def client(emu: CertnEmulator, base_url: str) -> AsyncIterator[CertnClient]:
    c = CertnClient.connect(base_url, SANDBOX_API_KEY, policy=FAST)
    yield c
    await c.aclose()


@pytest.fixture
def fast_policy() -> HttpPolicy:
    return FAST
