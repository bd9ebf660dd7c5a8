"""Every ledger table keeps its history: UPDATE, DELETE, REPLACE and upserts are refused on the real file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from casebridge.server.ledger import FILE_NAME, OrderLedger
from casebridge.tools.actions import Entry

ENTRY_VALUES = "(1, 0, 'order_case', 'ordered', 'certn', '{}', '{}', 0)"
ENTRY_COLUMNS = "(id, at, tool, outcome, provider, request, detail, sandbox)"

# One statement of each kind that would rewrite the row each table already holds.
REWRITES = {
    "entries": {
        "update": "UPDATE entries SET outcome = 'ordered'",
        "delete": "DELETE FROM entries",
        "replace": f"INSERT OR REPLACE INTO entries {ENTRY_COLUMNS} VALUES {ENTRY_VALUES}",
        "upsert": f"INSERT INTO entries {ENTRY_COLUMNS} VALUES {ENTRY_VALUES}"
        " ON CONFLICT(id) DO UPDATE SET outcome = excluded.outcome",
    },
    "used_confirmations": {
        "update": "UPDATE used_confirmations SET at = 0",
        "delete": "DELETE FROM used_confirmations",
        "replace": "REPLACE INTO used_confirmations (nonce, at) VALUES ('n1', 0)",
        "upsert": "INSERT INTO used_confirmations (nonce, at) VALUES ('n1', 0)"
        " ON CONFLICT(nonce) DO UPDATE SET at = excluded.at",
    },
    "meta": {
        "update": "UPDATE meta SET value = x'00'",
        "delete": "DELETE FROM meta",
        "replace": "INSERT OR REPLACE INTO meta (name, value) VALUES ('k', x'00')",
        "upsert": "INSERT INTO meta (name, value) VALUES ('k', x'00') ON CONFLICT(name) DO UPDATE SET value = x'00'",
    },
}
CASES = [(table, kind) for table, kinds in REWRITES.items() for kind in kinds]

# The schema before the tables other than ``entries`` were protected: files written by earlier versions.
OLDER_SCHEMA = """
CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, tool TEXT NOT NULL,
    outcome TEXT NOT NULL, provider TEXT NOT NULL, provider_id TEXT, idempotency_key TEXT,
    request TEXT NOT NULL, detail TEXT NOT NULL, sandbox INTEGER NOT NULL);
CREATE TABLE used_confirmations (nonce TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
INSERT INTO meta VALUES ('k', x'0102');
"""


def filled(folder: Path) -> OrderLedger:
    ledger = OrderLedger(folder)
    ledger.append(Entry("order_case", "pending", {"email": "a@example.com"}, key="k1"))
    assert ledger.consume("n1")
    ledger.secret("k")
    return ledger


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() for table in REWRITES}


@pytest.mark.parametrize(("table", "kind"), CASES)
def test_history_cannot_be_rewritten(tmp_path: Path, table: str, kind: str) -> None:
    ledger = filled(tmp_path)
    before = snapshot(ledger.path)
    db = sqlite3.connect(ledger.path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(REWRITES[table][kind])
    finally:
        db.close()
    assert snapshot(ledger.path) == before


def test_every_table_is_covered(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    with sqlite3.connect(ledger.path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables - {"sqlite_sequence"} == set(REWRITES)  # a new table needs its triggers (and a case here)


def test_an_older_ledger_file_gains_the_triggers_when_opened(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as db:
        db.executescript(OLDER_SCHEMA)
    path.chmod(0o600)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('k', x'0102')")  # allowed before opening
    assert OrderLedger(tmp_path).secret("k") == b"\x01\x02"
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('k', x'00')")
    db.close()


def test_keys_are_created_once_and_concurrent_first_calls_agree(tmp_path: Path) -> None:
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def first_call() -> None:
        ledger = OrderLedger(tmp_path)
        start.wait()
        keys.append(ledger.secret("shared"))

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert OrderLedger(tmp_path).secret("shared") == keys[0]


def test_a_used_confirmation_is_still_refused_as_a_replay(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    assert not ledger.consume("n1")
    entry = Entry("order_case", "pending", {}, key="k2")
    assert ledger.claim(entry, window=3600, lease=60, nonce="n1").status == "replayed"
    assert ledger.claim(entry, window=3600, lease=60, nonce="n2").status == "claimed"
