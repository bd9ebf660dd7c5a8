"""Fixtures for the CommCare emulator tests: one emulator on a loopback socket for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from casebridge.sandbox.commcare.app import build
from casebridge.sandbox.emulation import Emulator, LoopbackServer, serve


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
