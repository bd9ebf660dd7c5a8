"""Helpers for the update_case tests: a private CommCare emulator on loopback (its cases change) and a tmp ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from casebridge.sandbox.commcare import app as commcare
from casebridge.sandbox.emulation import Emulator, LoopbackServer, RecordedRequest
from casebridge.server.app import CasebridgeServer
from casebridge.server.ledger import OrderLedger
from casebridge.tools.actions import ActionSettings
from tests.tools.write_support import FAST, FakeClock, world_server

V2 = f"/a/{commcare.SANDBOX_DOMAIN}/api/case/v2/"
OWNER = "4fa8e3c7e8e14c5f9bd1e2f6c3a0d9b1"


@dataclass
class CommCareWorld:
    emu: Emulator
    url: str
    data_dir: Path
    clock: FakeClock = field(default_factory=FakeClock)
    actions: ActionSettings = field(default_factory=lambda: replace(FAST))

    def server(self, *, read_only: bool = False, **overrides: Any) -> CasebridgeServer:
        fields: dict[str, Any] = {
            "commcare_username": commcare.SANDBOX_USERNAME,
            "commcare_api_key": SecretStr(commcare.SANDBOX_API_KEY),
            "commcare_domain": commcare.SANDBOX_DOMAIN,
            "commcare_base_url": self.url,
            **overrides,
        }
        return world_server(fields, self.data_dir, self.clock, self.actions, read_only=read_only)

    def ledger(self) -> OrderLedger:
        return OrderLedger(self.data_dir, clock=self.clock)

    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.emu.requests if r.method in ("POST", "PUT") and r.path.startswith(V2)]


@pytest.fixture
def cc_world(tmp_path: Path) -> Iterator[CommCareWorld]:
    """A fresh emulator per test: writes change its cases."""
    emu = commcare.build()
    server = LoopbackServer(emu.app).start()  # type: ignore[arg-type]
    yield CommCareWorld(emu, server.url, tmp_path)
    server.stop()
