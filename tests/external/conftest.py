"""Fixtures of the external-client tests: the npm tools (see ``clients.py``) and a sandbox served over HTTP."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from casebridge.sandbox.emulation import free_port
from tests.external.clients import MIN_NODE, NodeTools, install, node_major
from tests.support import PYTHON, ROOT, subprocess_env


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "external: runs MCP clients written by others, from npm (needs Node and npm)")


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    oldest = min(MIN_NODE.values())
    major = node_major()
    if major is None:
        pytest.skip("Node is not installed: the external MCP clients are npm packages (install Node >= 20)")
    if major < oldest:
        pytest.skip(f"the external MCP clients need Node >= {oldest}; this machine has Node {major}")
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: it installs the pinned external MCP clients")
    bin_dir = install()
    env = subprocess_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"})
    return NodeTools(bin_dir, env, major)


@pytest.fixture(scope="session")
def sandbox_http() -> Iterator[str]:
    """``casebridge --sandbox --transport http`` on a loopback port; yields the MCP endpoint URL."""
    port = free_port()
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [PYTHON, "-m", "server", "--sandbox", "--transport", "http", "--port", str(port)],
            env=subprocess_env(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    stderr.seek(0)
                    pytest.fail(f"the HTTP server did not start: {stderr.read()[-2000:]}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
