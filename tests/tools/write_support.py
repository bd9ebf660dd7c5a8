"""Helpers for the write-tool tests: a private Certn emulator on loopback, a tmp ledger, a fake clock.

The write tests change the emulator's store, so they never use the session-wide emulators.
The fixtures ``certn`` and ``world`` are offered to every tool test by tests/tools/conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult
from pydantic import SecretStr

from casebridge.sandbox.certn.app import SANDBOX_API_KEY, CertnEmulator, build
from casebridge.sandbox.emulation import LoopbackServer, RecordedRequest
from casebridge.server.app import CasebridgeServer, build_server
from casebridge.server.env_settings import Settings
from casebridge.server.ledger import OrderLedger
from casebridge.server.wiring import build_registry
from casebridge.tools.actions import ActionSettings
from tests.support import TEST_POLICY, hold, text_of

ORDER = "/api/public/cases/order/"
ORDER_PACKAGE = "/api/public/cases/order-package/"

WRITE_POLICY = replace(TEST_POLICY, connect_timeout=1.0, read_timeout=1.0, deadline=2.0, wait_max=0.02, wait_jitter=0.0)
FAST = ActionSettings(inflight_wait=15.0, poll_interval=0.02, report_wait=0.5, report_poll=0.05)


class FakeClock:
    """The ledger's clock: starts at a fixed instant and moves only when told."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def world_server(
    fields: dict[str, Any], data_dir: Path, clock: FakeClock, actions: ActionSettings, *, read_only: bool = False
) -> CasebridgeServer:
    """A server over ``fields`` whose ledger in ``data_dir`` runs on the test's ``clock`` and time limits."""
    settings = Settings(_env_file=None, **{"casebridge_data_dir": data_dir, **fields})  # type: ignore[call-arg]
    registry = build_registry(settings, read_only=read_only, policy=WRITE_POLICY)
    if registry.ledger is not None:
        registry.ledger = OrderLedger(data_dir, secrets=settings.secret_values(), clock=clock)
    registry.actions = actions
    return build_server(registry)


@dataclass
class World:
    emu: CertnEmulator
    url: str
    data_dir: Path
    api_key: str = SANDBOX_API_KEY
    clock: FakeClock = field(default_factory=FakeClock)
    actions: ActionSettings = field(default_factory=lambda: replace(FAST))

    def server(self, *, read_only: bool = False, **overrides: Any) -> CasebridgeServer:
        """A new server object over the same emulator and ledger file (a "restart")."""
        fields = {"certn_api_key": SecretStr(self.api_key), "certn_base_url": self.url, **overrides}
        return world_server(fields, self.data_dir, self.clock, self.actions, read_only=read_only)

    def ledger(self) -> OrderLedger:
        return OrderLedger(self.data_dir, clock=self.clock)

    def requests(self, path: str, method: str = "POST") -> list[RecordedRequest]:
        return [r for r in self.emu.requests if r.path == path and r.method == method]

    def cases_of(self, email: str) -> list[Any]:
        return [c for c in self.emu.store.ordered() if c.email_address == email]


@pytest.fixture(scope="module")
def certn() -> Iterator[tuple[CertnEmulator, str]]:
    emu = build()
    server = LoopbackServer(emu.app).start()  # type: ignore[arg-type]
    yield emu, server.url
    server.stop()


@pytest.fixture
def world(certn: tuple[CertnEmulator, str], tmp_path: Path) -> Iterator[World]:
    emu, url = certn
    emu.reset()
    yield World(emu, url, tmp_path)
    emu.reset()


class Elicitation:
    """An elicitation callback that answers with ``action`` and records the questions."""

    def __init__(self, action: str = "accept", confirm: bool = True) -> None:
        self.action = action
        self.confirm = confirm
        self.messages: list[str] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.messages.append(params.message)
        content = {"confirm": self.confirm} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


async def connect(server: CasebridgeServer, era: str, elicit: Elicitation | None = None) -> Any:
    return hold(Client(server, mode=era, elicitation_callback=elicit))  # type: ignore[arg-type]


@dataclass
class Called:
    is_error: bool
    data: dict[str, Any]
    text: str
    raw: Any


async def call(client: Client, tool: str, args: dict[str, Any], **kw: Any) -> Called:
    result = await client.call_tool(tool, args, **kw)
    return Called(bool(result.is_error), result.structured_content or {}, text_of(result), result)


def ledger_text(world: World) -> str:
    """Every byte of the ledger's files, for secret canaries."""
    out = b""
    for path in world.data_dir.iterdir():
        out += path.read_bytes()
    return out.decode("latin-1") + json.dumps([r.entry.request for r in world.ledger().recent(1000)])


async def client_for(server: CasebridgeServer, era: str, elicit: Elicitation | None = None) -> AsyncIterator[Client]:
    async with hold(Client(server, mode=era, elicitation_callback=elicit)) as c:  # type: ignore[arg-type]
        yield c
