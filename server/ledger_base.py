"""What both ledger backends share: the order-state queries, the claim, row conversion, and the printed table.

A backend (``server.ledger`` for SQLite, ``server.ledger_postgres`` for PostgreSQL) supplies transactions
and the few statements whose SQL or atomicity differ; the queries here are written with ``?`` parameters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from casebridge.server.terminal import printable
from casebridge.tools.actions import DONE_STATES, ORDER_STATES, Claim, Entry, Row

COLUMNS = "id, at, tool, outcome, provider, provider_id, idempotency_key, request, detail, sandbox, caller"
INSERT = f"INSERT INTO entries ({COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Db(Protocol):
    """What the shared queries use of a connection (``sqlite3.Connection``, or psycopg's through ``_Pg``)."""

    def execute(self, sql: str, params: Any = ..., /) -> Cursor: ...


class SqlLedger:
    """The ``tools.actions.ActionLedger`` protocol over any SQL backend; subclasses open the database.

    ``secrets`` (API keys and tokens) are scrubbed from anything written, as a last line of defence:
    tools already write only normalised requests. ``clock`` is injectable for tests.
    """

    def __init__(self, *, secrets: Iterable[str] = (), clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._keys: dict[str, bytes] = {}

    # ------------------------------------------------------------------ what a backend provides

    @property
    def where(self) -> str:
        """Where the ledger lives, for messages: a path, or a database URL without its password."""
        raise NotImplementedError

    def exists(self) -> bool:
        """False when nothing was ever recorded there (no file yet)."""
        return True

    def close(self) -> None:
        """Release connections (and a temporary ledger's folder)."""

    def _tx(self) -> contextlib.AbstractContextManager[Db]:
        """One write transaction, serialised against every other writer of the same order key."""
        raise NotImplementedError

    def _read(self) -> contextlib.AbstractContextManager[Db]:
        raise NotImplementedError

    def _insert_row(self, db: Db, values: tuple[Any, ...]) -> int:
        """Insert ``values`` (``INSERT``'s columns) and return the new row id."""
        raise NotImplementedError

    def _use_nonce(self, db: Db, nonce: str, at: float) -> bool:
        """Record ``nonce`` as used; False (and the transaction still usable) when it already was."""
        raise NotImplementedError

    def _key(self, db: Db, name: str) -> bytes:
        """The key ``name`` in ``meta``, created once: concurrent first calls from any process agree."""
        raise NotImplementedError

    def _lock_order(self, db: Db, key: str) -> None:
        """Serialise this transaction with every other one that writes rows of the order ``key``."""

    # ------------------------------------------------------------------ the protocol

    def now(self) -> float:
        return self.clock()

    def secret(self, name: str) -> bytes:
        if name not in self._keys:
            with self._tx() as db:
                self._keys[name] = self._key(db, name)
        return self._keys[name]

    def append(self, entry: Entry) -> Row:
        with self._tx() as db:
            if entry.key:
                self._lock_order(db, entry.key)
            return self._insert(db, entry)

    def claim(
        self, entry: Entry, *, window: float, lease: float, nonce: str | None, after_attempt: int | None = None
    ) -> Claim:
        if not entry.key:
            raise ValueError("an order claim needs an idempotency key")
        with self._tx() as db:
            self._lock_order(db, entry.key)
            now = self.now()
            latest = self._order_state(db, entry.key, window)
            known: list[str] | None = None
            if latest is not None:
                detail = latest.entry.detail
                if latest.outcome in DONE_STATES:
                    if not self._cancelled(db, latest):
                        return Claim("done", latest)
                elif latest.outcome in ("pending", "sending") and latest.at >= now - lease:
                    return Claim("busy", latest)
                elif (
                    latest.outcome == "failed" and after_attempt is not None and detail.get("attempt") == after_attempt
                ):
                    return Claim("failed", latest)
                if latest.outcome not in DONE_STATES and isinstance(detail.get("known"), list):
                    known = [str(k) for k in detail["known"]]
            if nonce is not None and not self._use_nonce(db, nonce, now):
                return Claim("replayed", latest)
            pending = entry if known is None else dataclasses.replace(entry, detail={**entry.detail, "known": known})
            return Claim("claimed", self._insert(db, pending), known)

    def find_order(self, key: str, *, window: float) -> Row | None:
        with self._read() as db:
            latest = self._order_state(db, key, window)
            if latest is None or latest.outcome not in DONE_STATES or self._cancelled(db, latest):
                return None
            return latest

    def order_state(self, key: str, *, window: float) -> Row | None:
        with self._read() as db:
            return self._order_state(db, key, window)

    def consume(self, nonce: str) -> bool:
        with self._tx() as db:
            return self._use_nonce(db, nonce, self.now())

    def last(self, *, tool: str, provider_id: str, outcomes: Collection[str], window: float) -> Row | None:
        marks = ",".join("?" for _ in outcomes)
        with self._read() as db:
            found = db.execute(
                f"SELECT {COLUMNS} FROM entries WHERE provider_id = ? AND tool = ? AND outcome IN ({marks})"
                " AND at >= ? ORDER BY id DESC LIMIT 1",
                (provider_id, tool, *outcomes, self.now() - window),
            ).fetchone()
        return self._row(found) if found else None

    def recent(self, limit: int = 50, *, caller: str | None = None) -> list[Row]:
        """The latest ``limit`` rows, newest first; only ``caller``'s when given (a ``sub`` also finds
        its rows recorded as ``sub via client``)."""
        where: str = ""
        params: tuple[Any, ...] = ()
        if caller is not None:
            prefix = f"{caller} via "
            where, params = "WHERE (caller = ? OR substr(caller, 1, ?) = ?) ", (caller, len(prefix), prefix)
        with self._read() as db:
            rows = db.execute(f"SELECT {COLUMNS} FROM entries {where}ORDER BY id DESC LIMIT ?", (*params, limit))
            return [self._row(r) for r in rows.fetchall()]

    def rows(self, key: str) -> list[Row]:
        """Every row of one idempotency key, oldest first."""
        with self._read() as db:
            rows = db.execute(f"SELECT {COLUMNS} FROM entries WHERE idempotency_key = ? ORDER BY id", (key,))
            return [self._row(r) for r in rows.fetchall()]

    # ------------------------------------------------------------------ shared queries

    def _order_state(self, db: Db, key: str, window: float) -> Row | None:
        marks = ",".join("?" for _ in ORDER_STATES)
        found = db.execute(
            f"SELECT {COLUMNS} FROM entries WHERE idempotency_key = ? AND outcome IN ({marks}) AND at >= ?"
            " ORDER BY id DESC LIMIT 1",
            (key, *ORDER_STATES, self.now() - window),
        ).fetchone()
        return self._row(found) if found else None

    @staticmethod
    def _cancelled(db: Db, ordered: Row) -> bool:
        """Cancelled through casebridge, or found ended at Certn by a later identical order ("lapsed")."""
        found = db.execute(
            "SELECT 1 FROM entries WHERE provider_id = ? AND id > ? AND ((tool = 'cancel_case' AND outcome ="
            " 'cancelled') OR (tool = 'order_case' AND outcome = 'lapsed')) LIMIT 1",
            (ordered.entry.provider_id, ordered.id),
        ).fetchone()
        return found is not None

    def _scrub(self, value: dict[str, Any]) -> str:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        # A lone surrogate (JSON "\ud800" from a provider) cannot be stored as UTF-8: keep it as that escape.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    def _insert(self, db: Db, entry: Entry) -> Row:
        at = self.now()
        values = (
            at,
            entry.tool,
            entry.outcome,
            entry.provider,
            entry.provider_id,
            entry.key,
            self._scrub(entry.request),
            self._scrub(entry.detail),
            int(entry.sandbox),
            entry.caller,
        )
        return Row(self._insert_row(db, values), at, entry)

    @staticmethod
    def _row(values: Any) -> Row:
        row_id, at, tool, outcome, provider, provider_id, key, request, detail, sandbox, caller = values
        entry = Entry(
            tool=tool,
            outcome=outcome,
            request=json.loads(request),
            provider=provider,
            provider_id=provider_id,
            key=key,
            detail=json.loads(detail),
            sandbox=bool(sandbox),
            caller=caller,
        )
        return Row(int(row_id), float(at), entry)


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
    if req.get("fields"):  # a get_case reveal: the field names, never their values
        parts.append("fields " + ",".join(str(f) for f in req["fields"]))
    return " ".join(parts)


def format_table(rows: list[Row]) -> str:
    """``rows`` as a plain-text table, oldest at the top."""
    if not rows:
        return "The ledger is empty: casebridge has not ordered, cancelled or requested anything yet."
    header = ("#", "time (UTC)", "user", "tool", "outcome", "provider id", "request", "note")
    lines = []
    for row in sorted(rows, key=lambda r: r.id):
        e = row.entry
        when = datetime.fromtimestamp(row.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        note = str(e.detail.get("note") or e.detail.get("message") or "")
        outcome = e.outcome + (" [sandbox]" if e.sandbox else "")
        provider_id = f"{e.provider}:{e.provider_id}" if e.provider_id else "-"
        user = (e.caller or "-")[:40]
        cells = (str(row.id), when, user, e.tool, outcome, provider_id, _describe(e)[:60], note[:60])
        lines.append(tuple(printable(cell) for cell in cells))
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out.extend("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)
    return "\n".join(out)
