"""Fixtures of the reliability suite: canary emulators on loopback and a process-wide log spy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.harness import CanaryEmulators, LogSpy


@pytest.fixture(scope="module")
def log_spy() -> Iterator[LogSpy]:
    """Installed for each reliability module only, so other suites keep their own log levels."""
    spy = LogSpy()
    saved = spy.install()
    yield spy
    spy.uninstall(saved)


@pytest.fixture(autouse=True)
def _no_canary_in_logs(log_spy: LogSpy) -> Iterator[None]:
    """Every reliability test also checks that nothing it made the server log carries a credential."""
    yield
    leaked, log_spy.leaked[:] = list(log_spy.leaked), []
    assert not leaked, f"credential canary in a log line: {leaked[:3]}"


@pytest.fixture(scope="module")
def canary_emulators() -> Iterator[CanaryEmulators]:
    emus = CanaryEmulators().start()
    yield emus
    emus.stop()
