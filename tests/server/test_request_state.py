"""HTTP deployments seal multi-round-trip state with the ledger's key, so it outlives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.server.request_state import InvalidRequestState, RequestStateBoundary

from casebridge.server.app import CasebridgeServer, build_server
from casebridge.server.wiring import build_registry
from tests.support import Emulators


def codec_of(server: CasebridgeServer):  # type: ignore[no-untyped-def]
    (boundary,) = [m for m in server._lowlevel_server.middleware if isinstance(m, RequestStateBoundary)]
    return boundary._security.codec


def server_with_ledger(emulators: Emulators, data_dir: Path, shared: bool) -> CasebridgeServer:
    registry = build_registry(emulators.settings(casebridge_data_dir=data_dir))
    return build_server(registry, shared_request_state=shared)


def test_state_sealed_before_a_restart_opens_after_it(emulators: Emulators, tmp_path: Path) -> None:
    sealed = codec_of(server_with_ledger(emulators, tmp_path, shared=True)).seal(b"confirmation in progress")
    restarted = codec_of(server_with_ledger(emulators, tmp_path, shared=True))
    assert restarted.unseal(sealed) == b"confirmation in progress"


def test_stdio_keeps_a_process_key_and_creates_no_ledger(emulators: Emulators, tmp_path: Path) -> None:
    first = codec_of(server_with_ledger(emulators, tmp_path, shared=False))
    second = codec_of(server_with_ledger(emulators, tmp_path, shared=False))
    with pytest.raises(InvalidRequestState):
        second.unseal(first.seal(b"x"))
    assert not any(tmp_path.iterdir())
