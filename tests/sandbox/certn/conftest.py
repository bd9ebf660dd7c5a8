"""Fixtures for the Certn emulator tests: one emulator on a loopback socket per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from casebridge.sandbox.certn.app import CertnEmulator, build
from casebridge.sandbox.emulation import LoopbackServer, serve


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
