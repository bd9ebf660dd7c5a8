"""Test helpers shared by the suites: emulators on loopback, server factory, env for children."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr

from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.emulation import Emulator, LoopbackServer, serve
from casebridge.server.app import CasebridgeServer, build_server
from casebridge.server.env_settings import Settings
from casebridge.server.wiring import build_registry

ROOT = Path(__file__).resolve().parent.parent

# Short limits keep fault tests fast; the logic is the same as production's.
TEST_POLICY = HttpPolicy(
    connect_timeout=2.0,
    read_timeout=2.0,
    deadline=4.0,
    attempts=3,
    wait_initial=0.01,
    wait_max=0.05,
    wait_jitter=0.01,
    max_retry_after=1.0,
)

# Provider-client tests: shorter still, since they exercise one client against one emulator.
FAST_POLICY = replace(TEST_POLICY, connect_timeout=1.0, wait_max=0.02, wait_jitter=0.0)

E = TypeVar("E", bound=Emulator)


def serving(emulator: E) -> Iterator[tuple[E, LoopbackServer]]:
    """``emulator`` on a loopback socket, for a fixture to ``yield from``."""
    with serve(emulator.app) as server:  # type: ignore[arg-type]
        yield emulator, server


def resetting(emulator: E) -> Iterator[E]:
    """``emulator`` with its faults and request log cleared before and after a test, for a fixture to ``yield from``."""
    emulator.reset()
    yield emulator
    emulator.reset()


ERAS = ["legacy", "auto"]


class Emulators:
    """The three emulators, each on its own loopback port."""

    def __init__(self) -> None:
        from casebridge.sandbox.certn import app as certn
        from casebridge.sandbox.clearinghouse import app as clearinghouse
        from casebridge.sandbox.commcare import app as commcare

        self.modules = {"clearinghouse": clearinghouse, "commcare": commcare, "certn": certn}
        self.emulators: dict[str, Emulator] = {
            "clearinghouse": clearinghouse.build(),
            "commcare": commcare.build(),
            "certn": certn.build(),
        }
        self.servers: dict[str, LoopbackServer] = {}

    def start(self) -> Emulators:
        for name, emu in self.emulators.items():
            assert emu.app is not None
            self.servers[name] = LoopbackServer(emu.app).start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __getitem__(self, name: str) -> Emulator:
        return self.emulators[name]

    def reset(self) -> None:
        for emu in self.emulators.values():
            emu.reset()

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment variables that point a casebridge process at these emulators."""
        ch, cc, ce = self.modules["clearinghouse"], self.modules["commcare"], self.modules["certn"]
        env = {
            "CLEARINGHOUSE_API_TOKEN": ch.SANDBOX_TOKEN,
            "CLEARINGHOUSE_BASE_URL": self.servers["clearinghouse"].url + "/api/v2p1",
            "COMMCARE_USERNAME": cc.SANDBOX_USERNAME,
            "COMMCARE_API_KEY": cc.SANDBOX_API_KEY,
            "COMMCARE_DOMAIN": cc.SANDBOX_DOMAIN,
            "COMMCARE_BASE_URL": self.servers["commcare"].url,
            "CERTN_API_KEY": ce.SANDBOX_API_KEY,
            "CERTN_BASE_URL": self.servers["certn"].url,
        }
        env.update(overrides)
        return env

    def settings(self, **overrides: Any) -> Settings:
        fields = {k.lower(): (SecretStr(v) if "TOKEN" in k or "KEY" in k else v) for k, v in self.env().items()}
        fields.update(overrides)
        return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


def make_server(emulators: Emulators, *, read_only: bool = False, **settings: Any) -> CasebridgeServer:
    registry = build_registry(emulators.settings(**settings), read_only=read_only, policy=TEST_POLICY)
    return build_server(registry)


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for a casebridge child process: no provider variables leak in.

    The data folder is kept (the test session points it at a temporary folder), so no child
    writes a ledger into the real user data folder.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLEARINGHOUSE_", "COMMCARE_", "CERTN_", "CASEBRIDGE_")) or k == "CASEBRIDGE_DATA_DIR"
    }
    env.update(extra or {})
    env["PYTHONUNBUFFERED"] = "1"
    return env


PYTHON = sys.executable


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


@contextlib.asynccontextmanager
async def hold(manager: Any) -> AsyncIterator[Any]:
    """Enter and exit an async context manager in one dedicated task.

    pytest-asyncio runs a fixture's setup and teardown in different tasks, which anyio's cancel
    scopes (inside ``mcp.Client``) refuse; a task that owns the whole ``async with`` avoids that.
    """
    entered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    release = asyncio.Event()

    async def owner() -> None:
        try:
            async with manager as value:
                entered.set_result(value)
                await release.wait()
        except BaseException as exc:
            if not entered.done():
                entered.set_exception(exc)
            raise

    task = asyncio.create_task(owner())
    try:
        yield await entered
    finally:
        release.set()
        await task
