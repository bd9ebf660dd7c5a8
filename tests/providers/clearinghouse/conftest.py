"""Fixtures for the Clearinghouse provider tests: one emulator on loopback, a fast-policy client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from casebridge.providers.clearinghouse.client import ClearinghouseClient
from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.clearinghouse.app import SANDBOX_TOKEN, build
from casebridge.sandbox.emulation import Emulator, LoopbackServer, serve
from tests.support import FAST_POLICY as FAST

# A small provider page so pagination crosses many pages on little data.
PAGE_SIZE = 7


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, LoopbackServer]]:
    emulator = build(page_size=PAGE_SIZE)
    with serve(emulator.app) as server:  # type: ignore[arg-type]
        yield emulator, server


@pytest.fixture
def emu(served: tuple[Emulator, LoopbackServer]) -> Iterator[Emulator]:
    """The module's emulator with faults and the request log cleared."""
    emulator = served[0]
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture
def base_url(served: tuple[Emulator, LoopbackServer]) -> str:
    return served[1].url + "/api/v2p1"


@pytest.fixture
def page_size() -> int:
    return PAGE_SIZE


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
