"""CommCare search filters and their wire forms: v2 Case API parameters or the v0.5 seed's own names."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from casebridge.tools.models import Visible
from casebridge.tools.text import refuse_invisible

MAX_IDS = 20
MAX_SHOWN = 10

_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
_WHEN = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")

# Parameter names v0.5 reads itself: a case property of one of these names cannot be a v0.5 filter.
V05_RESERVED = frozenset(
    {
        "owner_id",
        "user_id",
        "type",
        "case_type",
        "closed",
        "name",
        "case_name",
        "external_id",
        "limit",
        "offset",
        "order_by",
        "format",
        "indexed_on_start",
        "indexed_on_end",
        "date_modified_start",
        "date_modified_end",
        "server_date_modified_start",
        "server_date_modified_end",
        "xforms_by_name__full",
        "xforms_by_xmlns__full",
        "child_cases__full",
        "parent_cases__full",
    }
)


def _when(value: Any) -> str:
    """A date or date-time as both APIs take it: ``2021-01-01`` or ``2021-01-01T06:05:42`` (UTC, no offset)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value.isoformat()
    elif isinstance(value, str) and _WHEN.match(value.strip()):
        text = value.strip()
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        raise ValueError("use a date or a date-time: 2021-01-01 or 2021-01-01T06:05:42 (UTC)")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


def _start(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _end(value: str) -> datetime:
    # A bare date as an upper bound covers that whole day, as both APIs read it.
    moment = datetime.fromisoformat(value)
    return moment + timedelta(days=1) - timedelta(microseconds=1) if len(value) == 10 else moment


When = Annotated[str, BeforeValidator(_when), WithJsonSchema({"type": "string"})]
Id = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_ID_PATTERN), Visible]
CaseType = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_ID_PATTERN), Visible]
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.:@#+/-]{0,99}$"), Visible
]
# The pattern is what the schema shows; Visible also refuses C1 controls and format (bidi, zero-width) marks.
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=_NO_CONTROL), Visible
]
PropertyValue = Annotated[str, StringConstraints(max_length=200, pattern=_NO_CONTROL), Visible]
Sort = Literal["indexed", "-indexed", "server_modified", "-server_modified", "device_modified", "-device_modified"]


def _property_name(name: str) -> str:
    if not _PROPERTY_NAME.match(name) or name.lower().startswith("xml"):
        raise ValueError(f"property name {name[:40]!r} is not valid: use letters, digits and _ (e.g. 'village')")
    return name


def _check_properties(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        _property_name(name)
    return value


PropertyName = Annotated[str, AfterValidator(_property_name), Visible]
# Lists of ids show as plain string arrays: each item's pattern is still checked, and named when it fails.
_LIST_SCHEMA = WithJsonSchema({"type": "array", "items": {"type": "string"}, "maxItems": MAX_IDS})


def _one_or_more(value: Any) -> Any:
    # A single id is checked here, so a refusal names the field itself rather than its item 0.
    return [refuse_invisible(value)] if isinstance(value, str) else value


ExternalIds = Annotated[
    list[ExternalId], BeforeValidator(_one_or_more), Field(min_length=1, max_length=MAX_IDS), _LIST_SCHEMA
]

# (filter prefix, v2 field, v0.5 parameter prefix or None when v0.5 has no such range)
RANGES: tuple[tuple[str, str, str | None], ...] = (
    ("indexed", "indexed_on", "indexed_on"),
    ("server_modified", "server_last_modified", "server_date_modified"),
    ("device_modified", "last_modified", "date_modified"),
    ("opened", "date_opened", None),
    ("closed", "date_closed", None),
)
V05_ORDER = {"indexed": "indexed_on", "server_modified": "server_date_modified", "device_modified": "date_modified"}


class CommCareFilters(BaseModel):
    """CommCare filters (AND). *_after/*_before: on or after/before a date or UTC date-time (2021-01-01T06:05:42)."""

    model_config = ConfigDict(extra="forbid")

    case_type: CaseType | None = Field(None, description="Case type, e.g. 'patient', 'household'.")
    owner_id: Id | None = Field(None, description="Owner (user, group or location) id.")
    user_id: Id | None = Field(None, description="Last modified by this user (not with owner_id).")
    status: Literal["open", "closed", "any"] = Field("any", description="Open or closed cases.")
    name: Text | None = Field(None, description="Case name, exact match.")
    external_id: ExternalIds | None = Field(None, description="External id, or a list of them; exact match.")
    case_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_IDS), _LIST_SCHEMA] | None = Field(
        None, description="Exactly these cases (no other filter)."
    )
    # The ranges' names say what they bound; the model's description says how (on or after / before).
    indexed_after: When | None = Field(None, description="Indexed: when any of its data last changed.")
    indexed_before: When | None = None
    server_modified_after: When | None = None
    server_modified_before: When | None = None
    device_modified_after: When | None = None
    device_modified_before: When | None = None
    opened_after: When | None = None
    opened_before: When | None = None
    closed_after: When | None = None
    closed_before: When | None = None
    properties: Annotated[dict[str, PropertyValue], Field(max_length=10), AfterValidator(_check_properties)] | None = (
        Field(None, description="Case property equals value, e.g. {'village': 'Rampur'}; '' matches unset.")
    )
    parent_case_id: Id | None = Field(None, description="Only children of this case.")
    sort: Sort | None = Field(None, description="Order, '-' for newest first (default: indexed).")
    offset: Annotated[int, Field(ge=0, le=10_000_000), WithJsonSchema({"type": "integer", "minimum": 0})] | None = (
        Field(None, description="Skip this many matches.")
    )
    show_properties: Annotated[list[PropertyName], Field(min_length=1, max_length=MAX_SHOWN)] | None = Field(
        None, description="Properties to show in each row, e.g. ['dob']."
    )

    @model_validator(mode="after")
    def _consistent(self) -> CommCareFilters:
        for what, _, _ in RANGES:
            after, before = getattr(self, f"{what}_after"), getattr(self, f"{what}_before")
            if after and before and _start(after) > _end(before):
                raise ValueError(f"{what}_after must not be later than {what}_before")
        if self.owner_id and self.user_id:
            raise ValueError("give owner_id or user_id, not both (CommCare's List Cases API says not to combine them)")
        if self.case_ids is not None:
            others = [k for k in self.model_fields_set if k not in ("case_ids", "show_properties", "status")]
            if others or self.status != "any":
                raise ValueError(f"case_ids fetches exactly those cases; drop {', '.join(sorted(others)) or 'status'}")
        return self

    @property
    def external_ids(self) -> list[str]:
        return list(dict.fromkeys(self.external_id or ()))

    # -- which API can serve it --------------------------------------------------------------

    def v05_only(self) -> list[str]:
        """The filters only CommCare's v0.5 List Cases API can express."""
        needs = [n for n in ("user_id", "offset") if getattr(self, n) is not None]
        if self.sort is not None and self.sort != "indexed":
            needs.append("sort")
        return needs

    def v2_only(self) -> list[str]:
        """The filters only the v2 Case API can express."""
        needs = [f"{what}_{side}" for what, _, v05 in RANGES if v05 is None for side in ("after", "before")]
        needs = [n for n in needs if getattr(self, n) is not None]
        if self.parent_case_id is not None:
            needs.append("parent_case_id")
        for name, value in (self.properties or {}).items():
            if value == "" or name in V05_RESERVED or "." in name:
                needs.append(f"properties.{name}")
        return needs

    # -- wire forms ---------------------------------------------------------------------------

    def to_params(self) -> dict[str, Any]:
        """The v2 list query for these filters (a repeated key means OR)."""
        ids = self.external_ids
        params: dict[str, Any] = {
            "case_type": self.case_type,
            "owner_id": self.owner_id,
            "case_name": self.name,
            "external_id": (ids[0] if len(ids) == 1 else ids) or None,
            "indices.parent": self.parent_case_id,
        }
        if self.status != "any":
            params["closed"] = self.status == "closed"
        for what, wire, _ in RANGES:
            after, before = getattr(self, f"{what}_after"), getattr(self, f"{what}_before")
            if after:
                params[f"{wire}.gte"] = after
            if before:
                params[f"{wire}.lte"] = before
        for name, value in (self.properties or {}).items():
            params[f"properties.{name}"] = value
        return {k: v for k, v in params.items() if v is not None}

    def to_v05_params(self, external_id: str | None = None) -> dict[str, Any]:
        """The v0.5 List Cases query, under the seed page's own parameter names (paging apart).

        ``external_id`` stands in for the filter's ids: v0.5 takes one per request.
        """
        ids = self.external_ids
        params: dict[str, Any] = {
            "owner_id": self.owner_id,
            "user_id": self.user_id,
            "type": self.case_type,
            "name": self.name,
            "external_id": external_id if external_id is not None else (ids[0] if len(ids) == 1 else None),
        }
        if self.status != "any":
            params["closed"] = "true" if self.status == "closed" else "false"
        for what, _, wire in RANGES:
            if wire is None:
                continue
            after, before = getattr(self, f"{what}_after"), getattr(self, f"{what}_before")
            if after:
                params[f"{wire}_start"] = after
            if before:
                params[f"{wire}_end"] = before
        sort = self.sort or "indexed"  # v2's only order, so both APIs list alike by default
        params["order_by"] = ("-" if sort.startswith("-") else "") + V05_ORDER[sort.lstrip("-")]
        # v0.5 reads any other parameter as an exact filter on that case field: the properties.
        for name, value in (self.properties or {}).items():
            params[name] = value
        return {k: v for k, v in params.items() if v is not None}
