"""The append-only SQLite ledger of every change casebridge makes (orders, cancellations, reports).

Safe for concurrent writers (WAL, ``BEGIN IMMEDIATE``, busy timeout) and crashes (full sync).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as _secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.actions import ORDER_STATES, Claim, Entry, LedgerError, Row

if TYPE_CHECKING:
    import sqlite3  # imported where used: start-up does not open the ledger

FILE_NAME = "ledger.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    tool TEXT NOT NULL,
    outcome TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_id TEXT,
    idempotency_key TEXT,
    request TEXT NOT NULL,
    detail TEXT NOT NULL,
    sandbox INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_key ON entries(idempotency_key, id);
CREATE INDEX IF NOT EXISTS entries_by_provider_id ON entries(provider_id, id);
CREATE TABLE IF NOT EXISTS used_confirmations (nonce TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"""

_COLUMNS = "id, at, tool, outcome, provider, provider_id, idempotency_key, request, detail, sandbox"


class OrderLedger:
    """The ledger file in ``data_dir``, opened on first use (start-up never touches the disk).

    ``secrets`` (API keys and tokens) are scrubbed from anything written, as a last line of defence:
    tools already write only normalised requests. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 10.0,
    ) -> None:
        self._dir = data_dir  # None: the platform's user data folder, found on first use
        self.clock = clock
        self.busy_timeout = busy_timeout
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._ready = False
        self._lock = threading.Lock()
        self._keys: dict[str, bytes] = {}
        self._temporary = False

    @classmethod
    def temporary(cls, *, secrets: Iterable[str] = ()) -> OrderLedger:
        """A ledger in a new temporary directory (made on first use), removed by ``close``: the sandbox's."""
        name = f"casebridge-sandbox-{_secrets.token_hex(8)}"
        ledger = cls(Path(tempfile.gettempdir()) / name, secrets=secrets)
        ledger._temporary = True
        return ledger

    @property
    def path(self) -> Path:
        if self._dir is None:
            from server.settings import default_data_dir

            self._dir = default_data_dir()
        return Path(self._dir) / FILE_NAME

    def close(self) -> None:
        if self._temporary:
            shutil.rmtree(self.path.parent, ignore_errors=True)
            self._ready = False

    def exists(self) -> bool:
        return self.path.exists()

    # ------------------------------------------------------------------------------ plumbing

    def now(self) -> float:
        return self.clock()

    def _open(self) -> sqlite3.Connection:
        import sqlite3

        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        db.execute("PRAGMA synchronous = FULL")
        return db

    def _init(self) -> None:
        import sqlite3

        try:
            self._create()
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    def _create(self) -> None:
        with self._lock:
            if self._ready:
                return
            # A temporary directory must be new (nobody else's); the data folder may exist already.
            self.path.parent.mkdir(parents=True, exist_ok=not self._temporary, mode=0o700)
            # Created owner-only before SQLite opens it: the ledger names applicants.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            db = self._open()
            try:
                db.execute("PRAGMA journal_mode = WAL")  # persistent: recorded in the file
                db.executescript(_SCHEMA)  # idempotent, so concurrent first openings are harmless
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            finally:
                db.close()
            self._ready = True

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the write lock from its start (so read-then-write is atomic
        across threads and processes)."""
        import sqlite3

        if not self._ready:
            self._init()
        try:
            db = self._open()
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        import sqlite3

        if not self._ready:
            self._init()
        try:
            db = self._open()
            try:
                yield db
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from exc

    def _scrub(self, value: dict[str, Any]) -> str:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _insert(self, db: sqlite3.Connection, entry: Entry) -> Row:
        at = self.now()
        cursor = db.execute(
            f"INSERT INTO entries ({_COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                at,
                entry.tool,
                entry.outcome,
                entry.provider,
                entry.provider_id,
                entry.key,
                self._scrub(entry.request),
                self._scrub(entry.detail),
                int(entry.sandbox),
            ),
        )
        row_id = cursor.lastrowid
        assert row_id is not None
        return Row(row_id, at, entry)

    @staticmethod
    def _row(values: tuple[Any, ...]) -> Row:
        row_id, at, tool, outcome, provider, provider_id, key, request, detail, sandbox = values
        entry = Entry(
            tool=tool,
            outcome=outcome,
            request=json.loads(request),
            provider=provider,
            provider_id=provider_id,
            key=key,
            detail=json.loads(detail),
            sandbox=bool(sandbox),
        )
        return Row(row_id, at, entry)

    # ------------------------------------------------------------------------------ the protocol

    def secret(self, name: str) -> bytes:
        if name not in self._keys:
            with self._tx() as db:
                db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (name, _secrets.token_bytes(32)))
                (value,) = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            self._keys[name] = bytes(value)
        return self._keys[name]

    def append(self, entry: Entry) -> Row:
        with self._tx() as db:
            return self._insert(db, entry)

    def claim(
        self, entry: Entry, *, window: float, lease: float, nonce: str | None, after_attempt: int | None = None
    ) -> Claim:
        if not entry.key:
            raise ValueError("an order claim needs an idempotency key")
        with self._tx() as db:
            now = self.now()
            latest = self._order_state(db, entry.key, window)
            known: list[str] | None = None
            if latest is not None:
                detail = latest.entry.detail
                if latest.outcome == "ordered":
                    if not self._cancelled(db, latest):
                        return Claim("done", latest)
                elif latest.outcome in ("pending", "sending") and latest.at >= now - lease:
                    return Claim("busy", latest)
                elif (
                    latest.outcome == "failed" and after_attempt is not None and detail.get("attempt") == after_attempt
                ):
                    return Claim("failed", latest)
                if latest.outcome != "ordered" and isinstance(detail.get("known"), list):
                    known = [str(k) for k in detail["known"]]
            if nonce is not None:
                import sqlite3

                try:
                    db.execute("INSERT INTO used_confirmations (nonce, at) VALUES (?, ?)", (nonce, now))
                except sqlite3.IntegrityError:
                    return Claim("replayed", latest)
            pending = entry if known is None else _with_detail(entry, known=known)
            return Claim("claimed", self._insert(db, pending), known)

    def find_order(self, key: str, *, window: float) -> Row | None:
        with self._read() as db:
            latest = self._order_state(db, key, window)
            if latest is None or latest.outcome != "ordered" or self._cancelled(db, latest):
                return None
            return latest

    def _order_state(self, db: sqlite3.Connection, key: str, window: float) -> Row | None:
        marks = ",".join("?" for _ in ORDER_STATES)
        found = db.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE idempotency_key = ? AND outcome IN ({marks}) AND at >= ?"
            " ORDER BY id DESC LIMIT 1",
            (key, *ORDER_STATES, self.now() - window),
        ).fetchone()
        return self._row(found) if found else None

    @staticmethod
    def _cancelled(db: sqlite3.Connection, ordered: Row) -> bool:
        found = db.execute(
            "SELECT 1 FROM entries WHERE tool = 'cancel_case' AND outcome = 'cancelled' AND provider_id = ? AND id > ?"
            " LIMIT 1",
            (ordered.entry.provider_id, ordered.id),
        ).fetchone()
        return found is not None

    def consume(self, nonce: str) -> bool:
        import sqlite3

        with self._tx() as db:
            try:
                db.execute("INSERT INTO used_confirmations (nonce, at) VALUES (?, ?)", (nonce, self.now()))
            except sqlite3.IntegrityError:
                return False
            return True

    def last(self, *, tool: str, provider_id: str, outcomes: Collection[str], window: float) -> Row | None:
        marks = ",".join("?" for _ in outcomes)
        with self._read() as db:
            found = db.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE provider_id = ? AND tool = ? AND outcome IN ({marks})"
                " AND at >= ? ORDER BY id DESC LIMIT 1",
                (provider_id, tool, *outcomes, self.now() - window),
            ).fetchone()
        return self._row(found) if found else None

    def recent(self, limit: int = 50) -> list[Row]:
        with self._read() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM entries ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [self._row(r) for r in rows]

    def rows(self, key: str) -> list[Row]:
        """Every row of one idempotency key, oldest first."""
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE idempotency_key = ? ORDER BY id", (key,)
            ).fetchall()
        return [self._row(r) for r in rows]


def _with_detail(entry: Entry, **extra: Any) -> Entry:
    return Entry(
        tool=entry.tool,
        outcome=entry.outcome,
        request=entry.request,
        provider=entry.provider,
        provider_id=entry.provider_id,
        key=entry.key,
        detail={**entry.detail, **extra},
        sandbox=entry.sandbox,
    )


# ---------------------------------------------------------------------------------- the table


def _describe(entry: Entry) -> str:
    req = entry.request
    parts = [str(req[k]) for k in ("email", "case") if req.get(k)]
    if req.get("checks"):
        parts.append("+".join(str(c) for c in req["checks"]))
    if req.get("package"):
        parts.append(f"package {req['package']}")
    if req.get("invite"):
        parts.append(str(req["invite"]))
    return " ".join(parts)


def format_table(rows: list[Row]) -> str:
    """``rows`` as a plain-text table, oldest at the top."""
    if not rows:
        return "The ledger is empty: casebridge has not ordered, cancelled or requested anything yet."
    header = ("#", "time (UTC)", "tool", "outcome", "provider id", "request", "note")
    lines = []
    for row in sorted(rows, key=lambda r: r.id):
        e = row.entry
        when = datetime.fromtimestamp(row.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        note = str(e.detail.get("note") or e.detail.get("message") or "")
        outcome = e.outcome + (" [sandbox]" if e.sandbox else "")
        provider_id = f"{e.provider}:{e.provider_id}" if e.provider_id else "-"
        lines.append((str(row.id), when, e.tool, outcome, provider_id, _describe(e)[:60], note[:60]))
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out.extend("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)
    return "\n".join(out)
