"""Fixtures for the Clearinghouse emulator tests: one emulator on a loopback socket per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from casebridge.sandbox.clearinghouse.app import build
from casebridge.sandbox.emulation import Emulator, LoopbackServer
from tests.support import resetting, serving

# A small provider page so pagination crosses many pages on little data.
PAGE_SIZE = 7


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, LoopbackServer]]:
    yield from serving(build(page_size=PAGE_SIZE))


@pytest.fixture
def emu(served: tuple[Emulator, LoopbackServer]) -> Iterator[Emulator]:
    """The module's emulator with faults and the request log cleared."""
    yield from resetting(served[0])


@pytest.fixture
def base_url(served: tuple[Emulator, LoopbackServer]) -> str:
    return served[1].url + "/api/v2p1"


@pytest.fixture
def page_size() -> int:
    return PAGE_SIZE
