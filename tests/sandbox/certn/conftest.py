"""Fixtures for the Certn emulator tests: one emulator on a loopback socket per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from casebridge.sandbox.certn.app import CertnEmulator, build
from casebridge.sandbox.emulation import LoopbackServer
from tests.support import resetting, serving


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[CertnEmulator, LoopbackServer]]:
    yield from serving(build())


@pytest.fixture
def emu(served: tuple[CertnEmulator, LoopbackServer]) -> Iterator[CertnEmulator]:
    """The module's emulator with faults and the request log cleared (its store must not be changed)."""
    yield from resetting(served[0])


@pytest.fixture
def base_url(served: tuple[CertnEmulator, LoopbackServer]) -> str:
    return served[1].url
