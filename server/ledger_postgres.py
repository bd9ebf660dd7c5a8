"""The ledger on PostgreSQL (``CASEBRIDGE_DATABASE_URL``): one history, used tokens and keys for every worker.

psycopg 3 with a connection pool (the ``team`` extra). Claims are atomic across processes and machines
through a transaction-scoped advisory lock per order key; append-only is enforced by triggers in the database.
"""

from __future__ import annotations

import contextlib
import secrets as _secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from casebridge.server.ledger_base import INSERT, Cursor, Db, SqlLedger
from casebridge.tools.actions import LedgerError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

SCHEMA_VERSION = 2
# Any constant: concurrent first openings by several workers create the schema one at a time.
_SCHEMA_LOCK = 0x63_61_73_65_62_72  # "casebr"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
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
ALTER TABLE entries ADD COLUMN IF NOT EXISTS caller TEXT;
CREATE INDEX IF NOT EXISTS entries_by_key ON entries(idempotency_key, id);
CREATE INDEX IF NOT EXISTS entries_by_provider_id ON entries(provider_id, id);
CREATE INDEX IF NOT EXISTS entries_by_caller ON entries(caller, id);
CREATE TABLE IF NOT EXISTS used_confirmations (nonce TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE OR REPLACE FUNCTION casebridge_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""
# Rows are never rewritten or removed: UPDATE (which an upsert's ON CONFLICT DO UPDATE is), DELETE and
# TRUNCATE raise. An INSERT over an existing key already fails on the primary key.
_TABLES = ("entries", "used_confirmations", "meta")
_TRIGGERS = {
    "no_update_or_delete": "BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW",
    "no_truncate": "BEFORE TRUNCATE ON {table} FOR EACH STATEMENT",
}


class DatabaseFailure(LedgerError):
    """PostgreSQL refused or could not be reached; ``fix`` is what the tool result tells the model to ask for."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.fix = (
            f"Ask whoever runs casebridge to check CASEBRIDGE_DATABASE_URL and that PostgreSQL at {where} is up. "
            "If an order or cancellation was already sent, search_cases shows it."
        )


class PostgresLedger(SqlLedger):
    """The ledger in the PostgreSQL database ``url`` names; connects on first use (start-up never does)."""

    def __init__(
        self,
        url: str,
        *,
        secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
        pool_size: int = 10,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise LedgerError("CASEBRIDGE_DATABASE_URL must be a postgresql://user:password@host:port/database URL")
        password = parts.password or ""
        super().__init__(secrets=[*secrets, password, unquote(password)], clock=clock)
        self._url = url
        self.timeout = timeout
        self.pool_size = pool_size
        # Shown in errors and by `casebridge ledger`: never the password.
        self._where = f"postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        self._pool: ConnectionPool[Any] | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return self._where

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # ------------------------------------------------------------------------------ plumbing

    def _failure(self, exc: BaseException) -> LedgerError:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return DatabaseFailure(f"{self.where}: {text}", self.where)

    def _connected(self) -> ConnectionPool[Any]:
        with self._lock:
            if self._pool is not None:
                return self._pool
            try:
                from psycopg_pool import ConnectionPool
            except ImportError as exc:
                raise LedgerError(
                    "CASEBRIDGE_DATABASE_URL names PostgreSQL, but psycopg is not installed: "
                    'pip install "casebridge[team]"'
                ) from exc
            pool: ConnectionPool[Any] = ConnectionPool(
                self._url,
                min_size=1,
                max_size=self.pool_size,
                timeout=self.timeout,
                open=False,
                check=ConnectionPool.check_connection,  # a server restart costs one failed check, not a call
                kwargs={"connect_timeout": max(1, int(self.timeout))},
                name="casebridge-ledger",
            )
            try:
                pool.open(wait=True, timeout=self.timeout)
                with pool.connection() as conn:
                    _create_schema(conn)
            except Exception as exc:  # psycopg.Error, PoolTimeout, OSError: one line naming the database
                pool.close()
                raise self._failure(exc) from exc
            self._pool = pool
            return pool

    @contextlib.contextmanager
    def _session(self) -> Iterator[Db]:
        import psycopg
        from psycopg_pool import PoolTimeout

        pool = self._connected()
        try:
            # READ COMMITTED: every statement sees what was committed before it, so a claim that has
            # waited for its order's lock reads the rows its predecessor wrote.
            with pool.connection() as conn:  # commits on success, rolls back on an exception
                yield _Pg(conn)
        except (psycopg.Error, PoolTimeout) as exc:
            raise self._failure(exc) from exc

    def _tx(self) -> contextlib.AbstractContextManager[Db]:
        return self._session()

    def _read(self) -> contextlib.AbstractContextManager[Db]:
        return self._session()

    def _lock_order(self, db: Db, key: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (f"casebridge order {key}",))

    def _insert_row(self, db: Db, values: tuple[Any, ...]) -> int:
        return int(db.execute(INSERT + " RETURNING id", values).fetchone()[0])

    def _use_nonce(self, db: Db, nonce: str, at: float) -> bool:
        # DO NOTHING, not an error: an error would abort the whole transaction. A concurrent insert of the
        # same nonce waits for the first to commit, then does nothing.
        inserted = db.execute(
            "INSERT INTO used_confirmations (nonce, at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
            (nonce, at),
        ).fetchone()
        return inserted is not None

    def _key(self, db: Db, name: str) -> bytes:
        db.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (name, _secrets.token_bytes(32)),
        )
        return bytes(db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0])


class _Pg:
    """A psycopg connection behind the shared queries' ``?`` placeholders."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Any = (), /) -> Cursor:
        return self._conn.execute(sql.replace("?", "%s"), params)


def _create_schema(conn: psycopg.Connection[Any]) -> None:
    """Tables, indexes and append-only triggers, created once whatever the number of workers starting."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        conn.execute(_SCHEMA)
        present = {
            (table, trigger)
            for table, trigger in conn.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE c.relname = ANY(%s) AND c.relnamespace = current_schema()::regnamespace",
                (list(_TABLES),),
            )
        }
        for table in _TABLES:
            for suffix, when in _TRIGGERS.items():
                name = f"{table}_{suffix}"
                if (table, name) not in present:
                    conn.execute(
                        f"CREATE TRIGGER {name} {when.format(table=table)} EXECUTE FUNCTION casebridge_append_only()"
                    )
        conn.execute(
            "INSERT INTO meta (name, value) VALUES ('schema_version', %s) ON CONFLICT (name) DO NOTHING",
            (str(SCHEMA_VERSION).encode(),),
        )
