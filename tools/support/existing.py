"""Whether the case of an earlier identical order still counts as that order (it is not if it ended unused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from casebridge.providers.certn.client import CertnCase
from casebridge.providers.certn.vocab import status_label
from casebridge.providers.errors import ProviderError
from casebridge.tools.actions import Row
from casebridge.tools.sources.certn import CertnSource
from casebridge.tools.text import one_line

# Terminal statuses of a case that never ran to completion: ordering the same again is not a duplicate.
NOT_LIVE: dict[str, str] = {
    "CANCELLED": "it was cancelled",
    "APPLICANT_EXPIRED": "the applicant did not submit before the invitation expired",
    "APPLICANT_DECLINED": "the applicant declined",
    "SUPERSEDED": "it was superseded",
}


@dataclass(frozen=True)
class Existing:
    """The case an earlier identical order created (``row``), as Certn shows it now."""

    row: Row
    ref: str
    case: CertnCase | None  # None: its status could not be read
    unreadable: str | None = None

    @property
    def case_id(self) -> str:
        return self.row.entry.provider_id or ""

    @property
    def status(self) -> str | None:
        return self.case.overall_status if self.case is not None else None

    @property
    def counts(self) -> bool:
        """True when it is the order (also when unsure: the safe side orders nothing twice)."""
        return self.status not in NOT_LIVE

    def note(self) -> str:
        when = datetime.fromtimestamp(self.row.at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        found = f"Found {self.ref}, the case of an identical order placed at {when}"
        if self.case is None:
            return (
                f"{found}; its current status could not be read ({self.unreadable}), so it is treated as "
                "this order and nothing was ordered again."
            )
        label = one_line(status_label(self.status), 60) or "unknown"  # an unknown code is Certn's own text
        if self.counts:
            return f"{found}, status {label}: it counts as this order, so nothing was ordered again."
        return (
            f"{found}, status {label}: it does not count as this order because {NOT_LIVE[self.status or '']}, "
            "so this is handled as a new order."
        )


async def look(source: CertnSource, row: Row) -> Existing:
    """Read the case of ``row`` (an ``ordered`` ledger row) from Certn."""
    case_id = row.entry.provider_id or ""
    try:
        case = await source.client.get_case(case_id)
    except ProviderError as exc:
        return Existing(row, source.ref(case_id), None, one_line(exc.message, 200))
    return Existing(row, source.ref(case_id), case)
