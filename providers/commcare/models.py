"""CommCare HQ wire models: v0.5 and v2 cases, their pages and the v2 bulk answer (unknown fields are kept)."""

# No "from __future__ import annotations": pydantic would have to compile and evaluate every field's
# annotation string when the wire models are defined, ~4 ms of every start-up for the three clients.

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

# Case fields v0.5 keeps inside ``properties`` (v2 has them top level).
V05_CORE = frozenset({"case_name", "case_type", "date_opened", "external_id", "owner_id"})


class _Wire(BaseModel):
    # defer_build: validators are built on first use, not at start-up (bench/, cold start).
    model_config = ConfigDict(extra="allow", defer_build=True)


class CaseIndex(_Wire):
    case_id: str
    case_type: str | None = None
    relationship: str | None = None


class CaseV05(_Wire):
    """A v0.5 case: the core fields (name, type, owner, external id, opened) live in ``properties``."""

    case_id: str
    id: str | None = None
    domain: str | None = None
    user_id: str | None = None
    closed: bool = False
    date_closed: datetime | None = None
    date_modified: datetime | None = None
    server_date_modified: datetime | None = None
    server_date_opened: datetime | None = None
    indexed_on: datetime | None = None
    opened_by: str | None = None
    closed_by: str | None = None
    xform_ids: list[str] = Field(default_factory=list)
    properties: dict[str, Any] = Field(default_factory=dict)
    indices: dict[str, CaseIndex] = Field(default_factory=dict)
    resource_uri: str | None = None
    child_cases: dict[str, "CaseV05"] | None = None
    parent_cases: dict[str, "CaseV05"] | None = None

    def _prop(self, name: str) -> str | None:
        value = self.properties.get(name)
        return None if value is None else str(value)

    @property
    def case_name(self) -> str | None:
        return self._prop("case_name")

    @property
    def case_type(self) -> str | None:
        return self._prop("case_type")

    @property
    def owner_id(self) -> str | None:
        return self._prop("owner_id")

    @property
    def external_id(self) -> str | None:
        return self._prop("external_id")

    def to_v2(self) -> "CaseV2":
        """The same case in the v2 shape: core fields top level, custom properties (as strings) apart."""
        custom = {k: "" if v is None else str(v) for k, v in self.properties.items() if k not in V05_CORE}
        return CaseV2.model_validate(
            {
                "case_id": self.case_id,
                "domain": self.domain,
                "case_type": self.case_type,
                "case_name": self.case_name,
                "external_id": self.external_id,
                "owner_id": self.owner_id,
                "date_opened": self.properties.get("date_opened") or self.server_date_opened,
                "last_modified": self.date_modified,
                "server_last_modified": self.server_date_modified,
                "indexed_on": self.indexed_on,
                "closed": self.closed,
                "date_closed": self.date_closed,
                "properties": custom,
                "indices": self.indices,
                "user_id": self.user_id,
            }
        )


class V05Meta(_Wire):
    limit: int
    offset: int
    total_count: int
    next: str | None = None
    previous: str | None = None


class V05Page(_Wire):
    """The Tastypie list envelope; ``meta.next``/``previous`` are relative URLs or null."""

    meta: V05Meta
    objects: list[CaseV05]


class CaseV2(_Wire):
    """A v2 case: core fields top level, only custom properties (all strings) in ``properties``."""

    case_id: str
    domain: str | None = None
    case_type: str | None = None
    case_name: str | None = None
    external_id: str | None = None
    owner_id: str | None = None
    date_opened: datetime | None = None
    last_modified: datetime | None = None
    server_last_modified: datetime | None = None
    indexed_on: datetime | None = None
    closed: bool = False
    date_closed: datetime | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    indices: dict[str, CaseIndex] = Field(default_factory=dict)


class V2Page(_Wire):
    """One page of the v2 list. ``cursor`` is the value to pass for the next page (None on the last)."""

    matching_records: int
    cases: list[CaseV2]
    next: str | None = None
    cursor: str | None = Field(default=None, exclude=True)


class BulkMissing(_Wire):
    error: str
    case_id: str | None = None
    external_id: str | None = None


def _bulk_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "missing" if "error" in value else "case"
    return "missing" if isinstance(value, BulkMissing) else "case"


BulkEntry = Annotated[
    Annotated[CaseV2, Tag("case")] | Annotated[BulkMissing, Tag("missing")],
    Discriminator(_bulk_tag),
]


class V2Bulk(_Wire):
    matching_records: int
    missing_records: int
    cases: list[BulkEntry]

    @property
    def found(self) -> list[CaseV2]:
        return [c for c in self.cases if isinstance(c, CaseV2)]

    @property
    def missing(self) -> list[BulkMissing]:
        return [c for c in self.cases if isinstance(c, BulkMissing)]
