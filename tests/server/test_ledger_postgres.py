"""The ledger on a real PostgreSQL server: the same protocol and guarantees as SQLite, across processes.

Protocol tests run on both backends; the rest is PostgreSQL's own: append-only triggers, claims from
separate processes, concurrent first openings, errors without the password, the caller column and
``casebridge ledger --user``.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from casebridge.server.env_settings import Settings
from casebridge.server.ledger import FILE_NAME, OrderLedger, open_ledger
from casebridge.server.ledger_base import SqlLedger
from casebridge.server.ledger_postgres import PostgresLedger
from casebridge.tools.actions import Entry, LedgerError
from tests.postgres import PostgresCluster
from tests.support import PYTHON, ROOT, subprocess_env

WINDOW, LEASE = 24 * 3600.0, 60.0
CANARY = "sk_live_CANARY_7b2e4f9a1c3d"


def pending(key: str = "k1", caller: str | None = None) -> Entry:
    return Entry("order_case", "pending", {"email": "a@example.com"}, key=key, caller=caller)


@pytest.fixture
def database(postgres: PostgresCluster) -> str:
    return postgres.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlLedger]:
    if request.param == "sqlite":
        ledger: SqlLedger = OrderLedger(tmp_path, secrets=[CANARY])
    else:
        url = request.getfixturevalue("database")
        ledger = PostgresLedger(url, secrets=[CANARY])
    yield ledger
    ledger.close()


def again(ledger: SqlLedger) -> SqlLedger:
    """A second ledger object over the same store, as another worker holds it."""
    if isinstance(ledger, PostgresLedger):
        return PostgresLedger(ledger._url)
    assert isinstance(ledger, OrderLedger)
    return OrderLedger(ledger.path.parent)


# ------------------------------------------------------------------------ the protocol, both backends


def test_claim_busy_done_and_used_tokens_are_shared(backend: SqlLedger) -> None:
    other = again(backend)
    first = backend.claim(pending(), window=WINDOW, lease=LEASE, nonce="n1")
    assert first.status == "claimed" and first.row is not None
    assert other.claim(pending(), window=WINDOW, lease=LEASE, nonce="n2").status == "busy"
    backend.append(Entry("order_case", "ordered", {}, provider_id="case-1", key="k1"))
    assert other.find_order("k1", window=WINDOW) is not None
    assert other.claim(pending(), window=WINDOW, lease=LEASE, nonce="n3").status == "done"
    # A token used on one worker is used on every worker.
    assert other.claim(pending("k2"), window=WINDOW, lease=LEASE, nonce="n1").status == "replayed"
    assert not other.consume("n1") and other.consume("n4") and not backend.consume("n4")
    backend.append(Entry("cancel_case", "cancelled", {}, provider_id="case-1"))
    assert other.find_order("k1", window=WINDOW) is None
    other.close()


def test_keys_are_created_once_for_every_worker(backend: SqlLedger) -> None:
    others = [again(backend) for _ in range(6)]
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda o=o: keys.append(o.secret("request-state"))) for o in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert backend.secret("request-state") == keys[0]
    for other in others:
        other.close()


def test_twenty_threads_one_claim(backend: SqlLedger) -> None:
    backend.secret("warm")  # the schema exists: the threads race on the claim only
    results: list[str] = []
    barrier = threading.Barrier(20)

    def go(i: int) -> None:
        barrier.wait()
        results.append(backend.claim(pending(), window=WINDOW, lease=LEASE, nonce=f"n{i}").status)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["busy"] * 19 + ["claimed"]


def test_caller_is_stored_and_filtered(backend: SqlLedger) -> None:
    backend.append(Entry("order_case", "quoted", {"email": "a@example.com"}, caller="alice"))
    backend.append(Entry("order_case", "quoted", {"email": "b@example.com"}, caller="bob"))
    backend.append(Entry("generate_report", "report_started", {"case": "c"}))
    assert [r.entry.caller for r in backend.recent()] == [None, "bob", "alice"]
    assert [r.entry.request["email"] for r in backend.recent(caller="alice")] == ["a@example.com"]
    # An OAuth caller is recorded as "sub via client_id": its sub finds it, a longer sub does not.
    backend.append(Entry("order_case", "quoted", {"email": "c@example.com"}, caller="alice via claude"))
    backend.append(Entry("order_case", "quoted", {"email": "d@example.com"}, caller="alice2 via claude"))
    assert [r.entry.request["email"] for r in backend.recent(caller="alice")] == ["c@example.com", "a@example.com"]


def test_secrets_are_scrubbed(backend: SqlLedger) -> None:
    backend.append(Entry("order_case", "failed", {"note": f"key {CANARY}"}, detail={"m": CANARY}))
    (row,) = backend.recent()
    assert CANARY not in str(row.entry.request) + str(row.entry.detail)


# ------------------------------------------------------------------------ PostgreSQL's own


def test_every_table_is_append_only_in_the_database(postgres: PostgresCluster, database: str) -> None:
    ledger = PostgresLedger(database)
    ledger.append(Entry("order_case", "quoted", {}))
    assert ledger.consume("used-once")
    ledger.secret("k")
    refused = [
        "UPDATE entries SET outcome = 'ordered'",
        "DELETE FROM entries",
        "TRUNCATE entries",
        "UPDATE used_confirmations SET at = 0",
        "DELETE FROM used_confirmations",
        "TRUNCATE used_confirmations",
        "INSERT INTO used_confirmations VALUES ('used-once', 1) ON CONFLICT (nonce) DO UPDATE SET at = 2",
        "INSERT INTO used_confirmations VALUES ('used-once', 1)",
        "UPDATE meta SET value = 'x'",
        "DELETE FROM meta",
        "TRUNCATE meta CASCADE",
        "INSERT INTO meta VALUES ('k', 'x') ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
    ]
    import psycopg

    for statement in refused:  # as the database's superuser, the tables' owner
        with pytest.raises(psycopg.Error):
            postgres.sql(database, statement)
    assert [r.outcome for r in ledger.recent()] == ["quoted"]
    assert not ledger.consume("used-once")
    assert PostgresLedger(database).secret("k") == ledger.secret("k")
    ledger.close()


CLAIM_IN_A_PROCESS = """
import sys
from casebridge.server.ledger_postgres import PostgresLedger
from casebridge.tools.actions import Entry
ledger = PostgresLedger(sys.argv[1])
ledger.secret("warm")
sys.stdin.readline()  # start together
claim = ledger.claim(Entry("order_case", "pending", {}, key="same"), window=86400, lease=60, nonce=sys.argv[2])
print(claim.status)
"""


def test_claims_from_separate_processes_are_atomic(database: str) -> None:
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", CLAIM_IN_A_PROCESS, database, f"n{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=subprocess_env(),
        )
        for i in range(8)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    statuses = sorted(proc.communicate(timeout=60)[0].strip() for proc in procs)
    assert statuses == ["busy"] * 7 + ["claimed"]


def test_errors_name_the_database_never_the_password(postgres: PostgresCluster, database: str) -> None:
    wrong = database.replace(postgres.password, "Wr0ngPassw0rdCanary")
    with pytest.raises(LedgerError) as refused:
        PostgresLedger(wrong, timeout=2).append(Entry("order_case", "quoted", {}))
    assert "Wr0ngPassw0rdCanary" not in str(refused.value) and f":{postgres.port}/" in str(refused.value)
    with pytest.raises(LedgerError, match="postgresql://"):
        PostgresLedger("mysql://u:p@127.0.0.1/x")
    settings = Settings(_env_file=None, casebridge_database_url=database)  # type: ignore[call-arg]
    assert postgres.password in settings.secret_values()  # so the redactor scrubs it from every result
    assert isinstance(open_ledger(settings), PostgresLedger)
    assert isinstance(open_ledger(Settings(_env_file=None)), OrderLedger)  # type: ignore[call-arg]


def test_ledger_command_filters_by_user_on_postgres(database: str) -> None:
    ledger = PostgresLedger(database)
    for caller in ("alice", "bob", "alice"):
        ledger.append(Entry("order_case", "quoted", {"email": f"{caller}@example.com"}, caller=caller))
    ledger.close()
    env = subprocess_env({"CASEBRIDGE_DATABASE_URL": database})
    out = subprocess.run(
        [sys.executable, "-m", "server", "ledger", "--user", "alice"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Ledger: postgresql://127.0.0.1:") and "(user alice)" in lines[0]
    assert database.split("@")[0].split(":")[-1] not in out.stdout  # no password
    assert "user" in lines[1].split() and len(lines) == 1 + 2 + 2
    assert all("alice" in line and "bob" not in line for line in lines[3:])


# ------------------------------------------------------------------------ SQLite: the caller column


OLD_SCHEMA = """
CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, tool TEXT NOT NULL,
    outcome TEXT NOT NULL, provider TEXT NOT NULL, provider_id TEXT, idempotency_key TEXT,
    request TEXT NOT NULL, detail TEXT NOT NULL, sandbox INTEGER NOT NULL);
INSERT INTO entries VALUES (1, 1795000000.0, 'order_case', 'quoted', 'certn', NULL, NULL, '{}', '{}', 0);
PRAGMA user_version = 1;
"""


def test_an_older_sqlite_ledger_gains_the_caller_column(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    path.chmod(0o600)
    tmp_path.chmod(0o700)
    ledger = OrderLedger(tmp_path)
    ledger.append(Entry("order_case", "quoted", {}, caller="alice"))
    assert [r.entry.caller for r in ledger.recent()] == ["alice", None]
    assert [r.id for r in ledger.recent(caller="alice")] == [2]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("UPDATE entries SET caller = 'mallory'")  # still append-only
