"""Shared fixtures: the three emulators on loopback, a configured server, clients in both eras."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mcp import Client

from server.app import CasebridgeServer
from tests.support import ERAS, Emulators, hold, make_server


@pytest.fixture(scope="session", autouse=True)
def _data_dir_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test writes the real user data folder: the order ledger goes to a temporary one."""
    patch = pytest.MonkeyPatch()
    patch.setenv("CASEBRIDGE_DATA_DIR", str(tmp_path_factory.mktemp("casebridge-data")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def emulators() -> Iterator[Emulators]:
    emus = Emulators().start()
    yield emus
    emus.stop()


@pytest.fixture(autouse=True)
def _clean_emulators(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emulators" in request.fixturenames:
        request.getfixturevalue("emulators").reset()


@pytest.fixture
def server(emulators: Emulators) -> CasebridgeServer:
    return make_server(emulators)


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(server: CasebridgeServer, era: str) -> AsyncIterator[Client]:
    async with hold(Client(server, mode=era)) as c:  # type: ignore[arg-type]
        yield c
