"""Shared fixtures: the three emulators on loopback, a configured server, clients in both eras."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mcp import Client

from casebridge.server.app import CasebridgeServer
from tests.postgres import PostgresCluster, find_bin_dir
from tests.suite_groups import mark_heavy
from tests.support import ERAS, Emulators, hold, make_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_heavy(items)


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A real PostgreSQL server for the session (tests/postgres.py); skipped only where none is installed."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs Debian's postgresql package)")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[dev]'")
    cluster = PostgresCluster(bin_dir).start()
    yield cluster
    cluster.stop()


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
