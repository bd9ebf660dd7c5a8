"""``casebridge config claude``: the ``claude_desktop_config.json`` block that starts this installation."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from casebridge.tools.catalog import BUILTIN

# What the user fills in (each provider's required variables): placeholders only, never a value from this
# process's environment.
PLACEHOLDERS = {name.upper(): placeholder for spec in BUILTIN for name, placeholder in spec.required.items()}


def launch_command() -> tuple[str, list[str]]:
    """An absolute command (and its leading arguments) that starts casebridge without the shell's PATH.

    The console script beside the running interpreter first (a venv's ``bin``, or ``Scripts`` on
    Windows), then one on PATH, else this interpreter with ``-m server``.
    """
    name = "casebridge.exe" if os.name == "nt" else "casebridge"
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside.absolute()), []
    found = shutil.which("casebridge")
    if found:
        return str(Path(found).absolute()), []
    return str(Path(sys.executable).absolute()), ["-m", "casebridge.server"]


def claude_desktop_block(*, sandbox: bool) -> dict[str, Any]:
    command, args = launch_command()
    entry: dict[str, Any] = {"command": command, "args": [*args, "--sandbox"] if sandbox else args}
    if not sandbox:
        entry["env"] = dict(PLACEHOLDERS)
    return {"mcpServers": {"casebridge": entry}}


def print_claude_config(*, sandbox: bool) -> int:
    sys.stdout.write(json.dumps(claude_desktop_block(sandbox=sandbox), indent=2) + "\n")
    note = (
        "Paste this into claude_desktop_config.json (Settings > Developer > Edit Config) and restart Claude Desktop."
        if sandbox
        else "Paste this into claude_desktop_config.json (Settings > Developer > Edit Config), replace the "
        "placeholders with your credentials (drop the providers you do not use) and restart Claude Desktop."
    )
    sys.stderr.write(note + "\n")
    return 0
