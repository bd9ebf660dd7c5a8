"""``casebridge ledger`` and ``doctor`` print stored and provider text with control characters escaped."""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

from casebridge.server.doctor import Row, render
from casebridge.server.ledger import FILE_NAME, OrderLedger
from casebridge.tools.actions import Entry
from tests.support import PYTHON, ROOT, subprocess_env

# ESC (a colour and a screen clear), BEL, CR, DEL, a C1 CSI, bidi override and isolate, zero-width
# space and joiner, line separator, and a lone surrogate: none may reach the terminal raw.
HOSTILE = "\x1b[31mred\x1b[2J\x07\rover\x7f\x9b6n\u202egnp.exe\u2066\u200b\u200d\u2028\ud800"
ESCAPED = ["\\x1b[31mred", "\\x07", "\\x0d", "\\x7f", "\\x9b", "\\u202e", "\\u2066", "\\u200b", "\\u2028", "\\ud800"]


def raw_controls(text: str) -> list[str]:
    return [ch for ch in text if ch != "\n" and unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp", "Cs"}]


def ledger_command(data_dir: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [PYTHON, "-m", "server", "ledger", "--limit", "10"],
        capture_output=True,
        env=subprocess_env({"CASEBRIDGE_DATA_DIR": str(data_dir), "PYTHONIOENCODING": "utf-8"}),
        cwd=ROOT,
        timeout=60,
    )


def test_ledger_command_escapes_every_control_character(tmp_path: Path) -> None:
    ledger = OrderLedger(tmp_path)
    ledger.append(Entry("order_case", "failed", {"email": f"a{HOSTILE}@example.com"}, detail={"message": HOSTILE}))
    ledger.append(Entry("cancel_case", "refused", {"case": "c"}, provider_id=HOSTILE[:20], detail={"note": HOSTILE}))
    assert ledger.recent()[-1].entry.detail["message"] == HOSTILE  # stored as it came, lone surrogate too
    done = ledger_command(tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode("utf-8")  # the lone surrogate did not break the output either
    assert raw_controls(out) == []
    for escaped in ESCAPED:
        assert escaped in out
    assert len(out.splitlines()) == 1 + 2 + 2  # path, header, rule, one line per row: CR and U+2028 split nothing


def test_ledger_command_refuses_an_untrusted_ledger(tmp_path: Path) -> None:
    OrderLedger(tmp_path).append(Entry("order_case", "quoted", {}))
    (tmp_path / FILE_NAME).chmod(0o644)
    done = ledger_command(tmp_path)
    assert done.returncode == 2 and done.stdout == b""
    (line,) = done.stderr.decode().splitlines()
    assert str(tmp_path / FILE_NAME) in line and "chmod 600" in line


def test_doctor_table_escapes_provider_text() -> None:
    row = Row("certn", "yes", "yes", "?", f"api.example refused the check request: {HOSTILE}", failed=True)
    table = render([row])
    assert raw_controls(table) == []
    assert "\\x1b[2J" in table and "\\u202e" in table
