"""The append-only SQLite ledger of every change casebridge makes (orders, cancellations, reports).

Safe for concurrent writers (WAL, ``BEGIN IMMEDIATE``, busy timeout) and crashes (full sync). It holds the
token-signing and request-state keys, so it is used only from a folder and file that only this user can change.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as _secrets
import shlex
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.terminal import printable
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
"""

# Every table (and its primary key) keeps its history: no UPDATE, no DELETE, and no INSERT over an
# existing key, which is how REPLACE and upserts rewrite a row (REPLACE's implicit delete fires no
# delete trigger). Created on every opening, so older ledger files gain them.
_APPEND_ONLY_TABLES = {"entries": "id", "used_confirmations": "nonce", "meta": "name"}
_REFUSE = "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
_TRIGGERS = "".join(
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} {_REFUSE}\n"
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} {_REFUSE}\n"
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table}"
    f" WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key}) {_REFUSE}\n"
    for table, key in _APPEND_ONLY_TABLES.items()
)

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
            folder = self.path.parent
            folder.mkdir(parents=True, exist_ok=not self._temporary, mode=0o700)
            _refuse_untrusted(folder, os.stat(folder))
            # Created owner-only before SQLite opens it: the ledger names applicants and holds keys.
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                _refuse_untrusted(self.path, os.fstat(fd))
            finally:
                os.close(fd)
            for companion in (folder / f"{FILE_NAME}-wal", folder / f"{FILE_NAME}-shm"):
                with contextlib.suppress(FileNotFoundError):
                    _refuse_untrusted(companion, os.stat(companion))
            db = self._open()
            try:
                db.execute("PRAGMA journal_mode = WAL")  # persistent: recorded in the file
                db.executescript(_SCHEMA + _TRIGGERS)  # idempotent, so concurrent first openings are harmless
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
        # A lone surrogate (JSON "\ud800" from a provider) cannot be stored as UTF-8: keep it as that escape.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

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
            # Read, and create if missing, under the write lock: concurrent first calls agree on one key.
            with self._tx() as db:
                found = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
                if found is None:
                    found = (_secrets.token_bytes(32),)
                    db.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (name, found[0]))
            self._keys[name] = bytes(found[0])
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

    def order_state(self, key: str, *, window: float) -> Row | None:
        with self._read() as db:
            return self._order_state(db, key, window)

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
        """Cancelled through casebridge, or found ended at Certn by a later identical order ("lapsed")."""
        found = db.execute(
            "SELECT 1 FROM entries WHERE provider_id = ? AND id > ? AND ((tool = 'cancel_case' AND outcome ="
            " 'cancelled') OR (tool = 'order_case' AND outcome = 'lapsed')) LIMIT 1",
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


class UntrustedLedger(LedgerError):
    """A data folder or ledger file someone else could have written: casebridge uses no key from it."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}, so casebridge does not trust the keys in it. Fix: {fix}.")
        self.fix = f"{fix[:1].upper()}{fix[1:]}."  # the tool result's "what to do"


def _refuse_untrusted(path: Path, info: os.stat_result) -> None:
    """``UntrustedLedger`` unless only this user can change ``path`` (the data folder or a ledger file).

    A folder or file someone else could have written (a cloned repository, a shared folder, a copy) may
    hold keys they know, which would let them forge confirmations. POSIX only: elsewhere modes differ.
    """
    if not hasattr(os, "geteuid"):
        return
    me, mode, is_folder = os.geteuid(), stat.S_IMODE(info.st_mode), stat.S_ISDIR(info.st_mode)
    what = "data folder" if is_folder else "ledger file"
    quoted = shlex.quote(str(path))
    elsewhere = "or set CASEBRIDGE_DATA_DIR to a folder of your own (casebridge creates it)"
    if info.st_uid != me:
        problem = f"the {what} belongs to another user (uid {info.st_uid}; casebridge runs as uid {me})"
        fix = f"if it is yours, `chown` it to this user; {elsewhere}"
    elif is_folder and mode & 0o022:
        problem = f"other users may write in the data folder (mode {mode:04o})"
        fix = f"if the folder and its ledger are yours, run `chmod 700 {quoted}`; {elsewhere}"
    elif not is_folder and mode & 0o077:
        problem = f"other users may read or write the ledger file (mode {mode:04o}, as a copied or checked-out file is)"
        fix = f"if it is your ledger, run `chmod 600 {quoted}`; if it came from elsewhere, delete it {elsewhere}"
    else:
        return
    raise UntrustedLedger(f"{path}: {problem}", fix)


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
        cells = (str(row.id), when, e.tool, outcome, provider_id, _describe(e)[:60], note[:60])
        lines.append(tuple(printable(cell) for cell in cells))
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out.extend("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)
    return "\n".join(out)
