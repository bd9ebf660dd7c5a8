"""Fixtures for the Clearinghouse provider tests: one emulator on loopback, a fast-policy client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from casebridge.providers.clearinghouse.client import ClearinghouseClient
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.clearinghouse.app import SANDBOX_TOKEN
from casebridge.sandbox.emulation import Emulator
from tests.sandbox.clearinghouse import conftest as emulator
from tests.support import FAST_POLICY as FAST

# The emulator on loopback: the sandbox tests' fixtures.
served, emu, base_url, page_size = emulator.served, emulator.emu, emulator.base_url, emulator.page_size

Connect = Callable[..., ClearinghouseClient]


@pytest.fixture
async def connect(emu: Emulator, base_url: str) -> AsyncIterator[Connect]:
    """Builds clients on the emulator (default: sandbox token, fast policy) and closes them after."""
    made: list[ClearinghouseClient] = []

    def make(token: str = SANDBOX_TOKEN, policy: HttpPolicy = FAST) -> ClearinghouseClient:
        client = ClearinghouseClient.connect(base_url, token, policy=policy)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def api(connect: Connect) -> ClearinghouseClient:
    return connect()
