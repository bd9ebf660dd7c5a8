"""The order ledger: append-only rows, the claim rules behind idempotency, concurrency, crashes, the CLI."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from casebridge.server.ledger import FILE_NAME, OrderLedger, format_table
from casebridge.tools.actions import Entry
from tests.support import PYTHON, ROOT, subprocess_env

WINDOW, LEASE = 24 * 3600.0, 60.0
CANARY = "sk_live_CANARY_a9f3e1d7c5b3"


class Clock:
    def __init__(self) -> None:
        self.t = 1_795_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock) -> OrderLedger:
    return OrderLedger(tmp_path, secrets=[CANARY], clock=clock)


def pending(key: str = "k1") -> Entry:
    return Entry("order_case", "pending", {"email": "a@example.com", "checks": ["CREDIT_REPORT_1"]}, key=key)


def row(ledger: OrderLedger, outcome: str, key: str = "k1", provider_id: str | None = None, **detail: object) -> None:
    ledger.append(Entry("order_case", outcome, {}, provider_id=provider_id, key=key, detail=dict(detail)))


def claim(ledger: OrderLedger, key: str = "k1", nonce: str | None = None, after: int | None = None):  # type: ignore[no-untyped-def]
    return ledger.claim(pending(key), window=WINDOW, lease=LEASE, nonce=nonce, after_attempt=after)


# ------------------------------------------------------------------------------------------ file


def test_opened_lazily_owner_only_wal(tmp_path: Path, ledger: OrderLedger) -> None:
    assert not ledger.exists() and not list(tmp_path.iterdir())
    ledger.append(pending())
    path = tmp_path / FILE_NAME
    assert ledger.path == path and ledger.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rows_round_trip_and_are_append_only(ledger: OrderLedger) -> None:
    first = ledger.append(Entry("cancel_case", "cancelled", {"case": "c1"}, provider_id="c1", sandbox=True))
    again = ledger.recent()[0]
    assert again.id == first.id and again.entry == first.entry and again.at == first.at
    with sqlite3.connect(ledger.path) as db:
        for sql in ("UPDATE entries SET outcome = 'x'", "DELETE FROM entries"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(sql)


def test_secrets_never_reach_the_file(ledger: OrderLedger) -> None:
    ledger.append(
        Entry("order_case", "failed", {"email": "a@example.com"}, detail={"message": f"key {CANARY} refused"})
    )
    assert CANARY not in ledger.path.read_bytes().decode("latin-1")
    assert "[redacted]" in ledger.recent()[0].entry.detail["message"]


def test_secret_key_is_created_once_and_shared(tmp_path: Path, ledger: OrderLedger) -> None:
    key = ledger.secret("k")
    assert len(key) == 32
    assert OrderLedger(tmp_path).secret("k") == key
    assert ledger.secret("other") != key


def test_temporary_ledger_is_removed_on_close() -> None:
    ledger = OrderLedger.temporary()
    ledger.append(pending())
    assert ledger.exists()
    ledger.close()
    assert not ledger.path.parent.exists()


# --------------------------------------------------------------------------------------- claims


def test_claim_busy_then_done(ledger: OrderLedger) -> None:
    first = claim(ledger)
    assert first.status == "claimed" and first.known is None and first.row is not None
    assert claim(ledger).status == "busy"
    row(ledger, "sending", attempt=first.row.id, known=["x"])
    assert claim(ledger).status == "busy"
    row(ledger, "ordered", provider_id="case-1", attempt=first.row.id)
    done = claim(ledger)
    assert done.status == "done" and done.row is not None and done.row.entry.provider_id == "case-1"
    assert ledger.find_order("k1", window=WINDOW) is not None
    assert claim(ledger, key="k2").status == "claimed"  # other orders are independent


def test_window_and_cancellation_end_idempotency(ledger: OrderLedger, clock: Clock) -> None:
    row(ledger, "ordered", provider_id="case-1")
    clock.t += WINDOW + 1
    assert ledger.find_order("k1", window=WINDOW) is None
    assert claim(ledger).status == "claimed"
    row(ledger, "ordered", provider_id="case-2")
    assert claim(ledger).status == "done"
    ledger.append(Entry("cancel_case", "cancelled", {"case": "case-2"}, provider_id="case-2"))
    assert ledger.find_order("k1", window=WINDOW) is None
    assert claim(ledger).status == "claimed"


def test_abandoned_attempts_are_recovered_by_looking_first(ledger: OrderLedger, clock: Clock) -> None:
    # Crashed before sending: the POST never left, so nothing to look for.
    claim(ledger)
    clock.t += LEASE + 1
    fresh = claim(ledger)
    assert fresh.status == "claimed" and fresh.known is None
    # Crashed after sending: look for a case outside the snapshot before ordering again.
    assert fresh.row is not None
    row(ledger, "sending", attempt=fresh.row.id, known=["a", "b"])
    clock.t += LEASE + 1
    recovering = claim(ledger)
    assert recovering.status == "claimed" and recovering.known == ["a", "b"]
    # That recovery was interrupted too: the snapshot is carried forward.
    clock.t += LEASE + 1
    assert claim(ledger).known == ["a", "b"]


def test_uncertain_and_failed(ledger: OrderLedger) -> None:
    row(ledger, "uncertain", known=["a"])
    assert claim(ledger).known == ["a"]
    row(ledger, "failed", attempt=99)
    assert claim(ledger).known is None
    row(ledger, "failed", attempt=7, message="refused")
    refused = claim(ledger, after=7)
    assert refused.status == "failed" and refused.row is not None and refused.row.entry.detail["message"] == "refused"


def test_a_confirmation_is_used_once(ledger: OrderLedger) -> None:
    assert claim(ledger, nonce="n1").status == "claimed"
    row(ledger, "failed")
    assert claim(ledger, nonce="n1").status == "replayed"
    assert ledger.consume("n2") and not ledger.consume("n2")


def test_twenty_threads_one_claim(ledger: OrderLedger) -> None:
    results: list[str] = []
    barrier = threading.Barrier(20)

    def worker() -> None:
        barrier.wait()
        results.append(claim(ledger).status)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["busy"] * 19 + ["claimed"]


WRITER = """
import sys
from pathlib import Path
from casebridge.server.ledger import OrderLedger
from casebridge.tools.actions import Entry
ledger = OrderLedger(Path(sys.argv[1]))
claims = [ledger.claim(Entry("order_case", "pending", {}, key="shared"), window=86400, lease=60, nonce=None).status]
for i in range(40):
    ledger.append(Entry("order_case", "quoted", {"n": i}, key=sys.argv[2]))
print(claims[0])
"""


def test_concurrent_processes(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", WRITER, str(tmp_path), f"p{i}"],
            cwd=ROOT,
            env={**subprocess_env(), "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(outputs) == ["busy", "busy", "busy", "claimed"]
    rows = OrderLedger(tmp_path).recent(1000)
    assert len(rows) == 4 * 40 + 1 and len({r.id for r in rows}) == len(rows)


CRASHER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO entries (at, tool, outcome, provider, request, detail, sandbox) "
           "VALUES (0, 't', 'half', 'certn', '{}', '{}', 0)")
print("inside", flush=True)
time.sleep(60)
"""


def test_a_writer_killed_mid_transaction_leaves_nothing_behind(ledger: OrderLedger) -> None:
    ledger.append(pending())
    proc = subprocess.Popen([PYTHON, "-c", CRASHER, str(ledger.path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "inside"
    proc.kill()
    proc.wait(timeout=10)
    ledger.append(pending("after"))  # the lock died with the process
    assert [r.entry.outcome for r in ledger.recent()] == ["pending", "pending"]
    with sqlite3.connect(ledger.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -------------------------------------------------------------------------------------- the table


def test_table_is_readable(ledger: OrderLedger) -> None:
    assert "empty" in format_table([])
    ledger.append(
        Entry(
            "order_case",
            "ordered",
            {"email": "jane@example.com", "checks": ["CRIMINAL_RECORD_REPORT_1"], "invite": "email_invite"},
            provider_id="7c1f0e4e",
            key="k",
            sandbox=True,
        )
    )
    ledger.append(
        Entry("cancel_case", "refused", {"case": "7c1f0e4e"}, provider_id="7c1f0e4e", detail={"note": "late"})
    )
    lines = format_table(ledger.recent()).splitlines()
    assert lines[0].split() == ["#", "time", "(UTC)", "user", "tool", "outcome", "provider", "id", "request", "note"]
    assert set(lines[1]) <= {"-", " "}
    assert "order_case" in lines[2] and "ordered [sandbox]" in lines[2] and "certn:7c1f0e4e" in lines[2]
    assert "jane@example.com CRIMINAL_RECORD_REPORT_1 email_invite" in lines[2]
    assert "cancel_case" in lines[3] and "late" in lines[3]


def test_ledger_command(tmp_path: Path) -> None:
    env = subprocess_env({"CASEBRIDGE_DATA_DIR": str(tmp_path)})

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "server", "ledger", "--limit", "5"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )

    empty = run()
    assert empty.returncode == 0 and "No ledger yet" in empty.stdout
    assert not (tmp_path / FILE_NAME).exists()  # reading does not create it
    ledger = OrderLedger(tmp_path)
    for i in range(7):
        ledger.append(Entry("generate_report", "report_started", {"case": f"case-{i}"}, provider_id=f"case-{i}"))
    out = run()
    assert out.returncode == 0, out.stderr
    body = out.stdout.splitlines()
    assert body[0] == f"Ledger: {tmp_path / FILE_NAME}"
    assert len(body) == 1 + 2 + 5  # path, header, rule, the five newest
    assert "case-6" in body[-1] and "case-1" not in out.stdout
