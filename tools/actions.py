"""What the write tools need from the server: an append-only action ledger, and their time limits.

The server injects the concrete ledger (``server.ledger.OrderLedger``); tools only see this protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import anyio.to_thread

# Outcomes of the rows that make up an order's idempotency state, in the order one attempt writes them:
# pending (claimed) -> sending (POST about to leave) -> ordered | failed | uncertain. A "sending" row
# that stays the latest means the outcome could not be recorded: the order may exist. A later
# "lapsed" row (not a state) says the ordered case was found cancelled or expired at Certn.
ORDER_STATES = ("pending", "sending", "ordered", "written", "failed", "uncertain")
# The outcomes that finish a claim: an order placed, or a CommCare change written (update_case).
DONE_STATES = ("ordered", "written")


class LedgerError(Exception):
    """The ledger cannot be read or written (unwritable folder, full disk, corrupt file)."""


@dataclass(frozen=True)
class Entry:
    """One ledger row as a tool writes it. ``request`` is the normalised request: never a secret."""

    tool: str
    outcome: str
    request: dict[str, Any]
    provider: str = "certn"
    provider_id: str | None = None
    key: str | None = None  # idempotency key
    detail: dict[str, Any] = field(default_factory=dict)
    sandbox: bool = False
    caller: str | None = None  # who asked: the authenticated caller (tools.support.elicited.caller_id), if known


@dataclass(frozen=True)
class Row:
    id: int
    at: float  # seconds since the epoch, on the ledger's clock
    entry: Entry

    @property
    def outcome(self) -> str:
        return self.entry.outcome


@dataclass(frozen=True)
class Claim:
    """The answer to "may I place this order now?".

    ``claimed``: yes; ``row`` is the new pending row, and ``known`` (when not None) says an earlier
    attempt may have created the order: look for a case outside ``known`` before ordering.
    ``done``: already ordered (``row``). ``busy``: an identical order is in flight (``row``).
    ``replayed``: the confirmation was already used. ``failed``: the attempt waited on was refused.
    """

    status: Literal["claimed", "done", "busy", "replayed", "failed"]
    row: Row | None = None
    known: list[str] | None = None


class ActionLedger(Protocol):
    def now(self) -> float: ...

    def secret(self, name: str) -> bytes:
        """A random key created once per ledger (e.g. to sign confirmation tokens)."""
        ...

    def append(self, entry: Entry) -> Row: ...

    def claim(
        self, entry: Entry, *, window: float, lease: float, nonce: str | None, after_attempt: int | None = None
    ) -> Claim:
        """Atomically decide whether ``entry`` (a pending order with a key) may be placed, and if so
        record it as pending and use up ``nonce``. Rows older than ``window`` are ignored; a pending
        or sending row younger than ``lease`` is in flight."""
        ...

    def find_order(self, key: str, *, window: float) -> Row | None:
        """The ``ordered`` row of a current order with this key placed within ``window`` (and not cancelled)."""
        ...

    def order_state(self, key: str, *, window: float) -> Row | None:
        """The latest row of ``ORDER_STATES`` with this key within ``window``: where its last attempt got to."""
        ...

    def consume(self, nonce: str) -> bool:
        """Mark a confirmation nonce used; False when it already was."""
        ...

    def last(self, *, tool: str, provider_id: str, outcomes: Collection[str], window: float) -> Row | None: ...

    def recent(self, limit: int = 50) -> list[Row]: ...


@dataclass
class ActionSettings:
    """Time limits of the write tools (seconds); tests shorten them."""

    confirm_ttl: float = 15 * 60
    order_window: float = 24 * 3600
    inflight_lease: float = 60.0  # an in-flight order older than this was abandoned (crash)
    inflight_wait: float = 20.0  # how long a call waits for an identical in-flight order
    poll_interval: float = 0.1
    report_wait: float = 20.0  # following a report, well under the client's ~60 s limit
    report_poll: float = 1.0


T = TypeVar("T")


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking ledger call in a worker thread (SQLite may wait on another writer's lock)."""
    from casebridge.tools.errors import ToolFailure

    try:
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    except LedgerError as exc:
        raise ToolFailure(
            "not_configured",
            f"casebridge could not use its ledger ({exc}); it changes nothing it cannot record",
            fix=getattr(exc, "fix", None)  # the ledger's own, when it knows better (an untrusted data folder)
            or (
                "Ask whoever runs casebridge to make CASEBRIDGE_DATA_DIR a writable folder. If an order or "
                "cancellation was already sent, search_cases shows it."
            ),
        ) from exc
