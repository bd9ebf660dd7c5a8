"""``python -m tests.bundle.pack``: check ``uv.lock`` is current, then pack ``dist/casebridge-<version>.mcpb``.

Packing is the MCP Bundles CLI's job (``mcpb pack``, which also validates the manifest): by default
the version pinned in ``tests/external/package.json``, run with ``npx``; ``--mcpb PATH`` runs a
given binary instead (the tests pass their pinned install).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PINS = ROOT / "tests" / "external" / "package.json"


def uv() -> str:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit("pack: uv is missing (python -m pip install -e '.[dev]')")
    return found


def mcpb_command(given: str | None) -> list[str]:
    if given:
        return [given]
    version = json.loads(PINS.read_text())["dependencies"]["@anthropic-ai/mcpb"]
    return ["npx", "--yes", f"@anthropic-ai/mcpb@{version}"]


def pack(out: Path, mcpb: str | None = None) -> Path:
    """The bundle at ``out``; raises ``SystemExit`` with the reason when the lock is stale or mcpb fails."""
    locked = subprocess.run([uv(), "lock", "--check"], cwd=ROOT, capture_output=True, text=True)
    if locked.returncode != 0:
        raise SystemExit(f"pack: uv.lock does not match pyproject.toml; run `uv lock`\n{locked.stderr[-2000:]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([*mcpb_command(mcpb), "pack", str(ROOT), str(out)], capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"pack: mcpb pack failed\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return out


def main() -> None:
    version = json.loads((ROOT / "manifest.json").read_text())["version"]
    parser = argparse.ArgumentParser(prog="python -m tests.bundle.pack", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / f"casebridge-{version}.mcpb")
    parser.add_argument("--mcpb", metavar="PATH", help="the mcpb binary to run (default: npx, pinned version)")
    args = parser.parse_args()
    out = pack(args.out, args.mcpb)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out} ({out.stat().st_size / 1000:.0f} kB); sha256 {digest} (server.json's mcpb fileSha256 on release)")


if __name__ == "__main__":
    main()
