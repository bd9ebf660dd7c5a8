"""The cyclic collector is off while the server starts and back on, start-up frozen out of its scans, once it serves."""

from __future__ import annotations

import gc
import json
import subprocess

import pytest

from casebridge.server import cli
from tests.support import PYTHON, ROOT, subprocess_env

# Runs the real start-up with --sandbox; only the event loop is replaced, by one that reports and returns.
PROBE = """
import gc, json, sys
import anyio
from casebridge.server import app, cli
seen = {}
build = app.build_server
def watched(*args, **kwargs):
    seen["while_building"] = gc.isenabled()
    return build(*args, **kwargs)
app.build_server = watched
def serving(run):
    seen["while_serving"] = gc.isenabled()
    seen["frozen"] = gc.get_freeze_count()
cli.anyio.run = serving
code = cli.main(["--sandbox"])
seen["after"] = gc.isenabled()
print(json.dumps(seen))
sys.exit(code)
"""


def test_the_collector_is_off_while_building_and_on_while_serving() -> None:
    done = subprocess.run(
        [PYTHON, "-c", PROBE], cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["while_building"] is False
    assert seen["while_serving"] is True
    assert seen["frozen"] > 10_000  # the SDK's and casebridge's start-up objects
    assert seen["after"] is True


def test_a_helper_command_runs_with_the_collector_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert gc.isenabled()
    assert cli.main(["config", "claude", "--sandbox"]) == 0
    assert gc.isenabled()
    assert json.loads(capsys.readouterr().out)


def test_a_caller_that_turned_the_collector_off_keeps_it_off(capsys: pytest.CaptureFixture[str]) -> None:
    gc.disable()
    try:
        assert cli.main(["config", "claude", "--sandbox"]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
