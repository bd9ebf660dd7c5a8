"""The Certn models only some calls need (providers.certn.extra) are not defined with the client (cold start)."""

from __future__ import annotations

import subprocess

from tests.support import PYTHON, ROOT, subprocess_env

SCRIPT = """
import sys
from casebridge.providers.certn.client import CasePage, CertnCase, CertnClient
assert "casebridge.providers.certn.extra" not in sys.modules, "imported with the client"
from casebridge.providers.certn.extra import GroupPage
assert GroupPage.__module__ == "casebridge.providers.certn.extra"
print("ok")
"""


def test_the_client_imports_extra_only_when_a_call_needs_it() -> None:
    run = subprocess.run([PYTHON, "-c", SCRIPT], cwd=ROOT, env=subprocess_env(), capture_output=True, text=True)
    assert run.stdout.strip() == "ok", run.stderr
