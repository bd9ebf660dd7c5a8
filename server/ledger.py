"""The append-only SQLite ledger of every change casebridge makes (orders, cancellations, reports): the default.

Safe for concurrent writers (WAL, ``BEGIN IMMEDIATE``, busy timeout) and crashes (full sync). It holds the
token-signing and request-state keys, so it is used only from a folder and file that only this user can change.
``open_ledger`` picks it, or PostgreSQL (``server.ledger_postgres``) when ``CASEBRIDGE_DATABASE_URL`` is set.
"""

from __future__ import annotations

import contextlib
import os
import secrets as _secrets
import shlex
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casebridge.server.ledger_base import INSERT, Db, SqlLedger, format_table
from casebridge.tools.actions import LedgerError

if TYPE_CHECKING:
    import sqlite3  # imported where used: start-up does not open the ledger

    from casebridge.server.settings import SettingsValues

__all__ = ["FILE_NAME", "OrderLedger", "UntrustedLedger", "format_table", "open_ledger"]

FILE_NAME = "ledger.sqlite3"
SCHEMA_VERSION = 2  # 2: entries.caller

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
    sandbox INTEGER NOT NULL,
    caller TEXT
);
CREATE INDEX IF NOT EXISTS entries_by_key ON entries(idempotency_key, id);
CREATE INDEX IF NOT EXISTS entries_by_provider_id ON entries(provider_id, id);
CREATE TABLE IF NOT EXISTS used_confirmations (nonce TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
"""
_INDEXES = "CREATE INDEX IF NOT EXISTS entries_by_caller ON entries(caller, id);"

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


def open_ledger(
    settings: SettingsValues, *, secrets: Iterable[str] = (), clock: Callable[[], float] = time.time
) -> SqlLedger:
    """The ledger ``settings`` name: PostgreSQL when ``CASEBRIDGE_DATABASE_URL`` is set, else SQLite (data folder)."""
    url = settings.casebridge_database_url
    if url is not None and url.get_secret_value():
        from casebridge.server.ledger_postgres import PostgresLedger

        return PostgresLedger(url.get_secret_value(), secrets=secrets, clock=clock)
    return OrderLedger(settings.casebridge_data_dir, secrets=secrets, clock=clock)


class OrderLedger(SqlLedger):
    """The ledger file in ``data_dir``, opened on first use (start-up never touches the disk)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 10.0,
    ) -> None:
        super().__init__(secrets=secrets, clock=clock)
        self._dir = data_dir  # None: the platform's user data folder, found on first use
        self.busy_timeout = busy_timeout
        self._ready = False
        self._lock = threading.Lock()
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
            from casebridge.server.settings import default_data_dir

            self._dir = default_data_dir()
        return Path(self._dir) / FILE_NAME

    @property
    def where(self) -> str:
        return str(self.path)

    def close(self) -> None:
        if self._temporary:
            shutil.rmtree(self.path.parent, ignore_errors=True)
            self._ready = False

    def exists(self) -> bool:
        return self.path.exists()

    # ------------------------------------------------------------------------------ plumbing

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
                for companion in (folder / f"{FILE_NAME}-wal", folder / f"{FILE_NAME}-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        _refuse_untrusted(companion, os.stat(companion))
                # Openers in other threads and processes take turns: switching to WAL does not wait on
                # SQLite's busy handler, and adding a missing column is check-then-act.
                _lock_file(fd)
                db = self._open()
                try:
                    db.execute("PRAGMA journal_mode = WAL")  # persistent: recorded in the file
                    db.executescript(_SCHEMA + _TRIGGERS)  # idempotent
                    _add_caller_column(db)
                    db.executescript(_INDEXES)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                finally:
                    db.close()
            finally:
                os.close(fd)  # also releases the lock
            self._ready = True

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Db]:
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
    def _read(self) -> Iterator[Db]:
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

    def _insert_row(self, db: Db, values: tuple[Any, ...]) -> int:
        row_id = db.execute(INSERT, values).lastrowid  # type: ignore[attr-defined]
        assert row_id is not None
        return int(row_id)

    def _use_nonce(self, db: Db, nonce: str, at: float) -> bool:
        import sqlite3

        try:
            db.execute("INSERT INTO used_confirmations (nonce, at) VALUES (?, ?)", (nonce, at))
        except sqlite3.IntegrityError:  # the primary key, or the no_replace trigger
            return False
        return True

    def _key(self, db: Db, name: str) -> bytes:
        # Read, and create if missing, under the write lock (BEGIN IMMEDIATE): concurrent first calls agree.
        found = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        if found is None:
            found = (_secrets.token_bytes(32),)
            db.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (name, found[0]))
        return bytes(found[0])


def _add_caller_column(db: sqlite3.Connection) -> None:
    """Ledger files from before ``caller`` gain the column (NULL in old rows); under the write lock, so once."""
    db.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(entries)")}
        if "caller" not in columns:
            db.execute("ALTER TABLE entries ADD COLUMN caller TEXT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


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


def _lock_file(fd: int) -> None:
    """An exclusive lock on ``fd`` until it is closed (POSIX ``flock``, apart from SQLite's own locks)."""
    try:
        import fcntl
    except ImportError:  # Windows: first openings are rare enough there to go without
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
