"""CommCare HQ as a case source: search via the v2 list API (cursor paging), details via v2 reads."""

from __future__ import annotations

import base64
import contextlib
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from providers.commcare.client import MAX_LIMIT, CaseV2, CommCareClient
from providers.errors import NotFound
from tools.models import CaseDetail, CaseSummary, Fact, Visible
from tools.sources.base import FORGED, MAX_PAGE_SIZE, Page, PageState, Source
from tools.text import one_line

MAX_PROPERTIES_SHOWN = 25
MAX_CHILDREN = 25
MAX_FETCHES_PER_PAGE = 3

_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_CASE_ID = re.compile(r"^[A-Za-z0-9-]{6,64}$")
_CURSOR = re.compile(r"^[A-Za-z0-9_\-+/=%.]{1,4096}$")
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"

Id = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_ID_PATTERN), Visible]
CaseType = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{1,64}$"), Visible]
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.:@#+/-]{0,99}$"), Visible
]
# The pattern is what the schema shows; Visible also refuses C1 controls and format (bidi, zero-width) marks.
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=_NO_CONTROL), Visible
]
PropertyValue = Annotated[str, StringConstraints(max_length=200, pattern=_NO_CONTROL), Visible]


def _check_properties(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not _PROPERTY_NAME.match(name) or name.lower().startswith("xml"):
            raise ValueError(f"property name {name[:40]!r} is not valid: use letters, digits and _ (e.g. 'village')")
    return value


class CommCareFilters(BaseModel):
    """CommCare search filters; all are optional and combine with AND."""

    model_config = ConfigDict(extra="forbid")

    case_type: CaseType | None = Field(None, description="Case type, e.g. 'patient', 'household'.")
    owner_id: Id | None = Field(None, description="Owner (user, group or location) id.")
    status: Literal["open", "closed", "any"] = Field("any", description="Open or closed cases.")
    name: Text | None = Field(None, description="Case name, exact match.")
    external_id: ExternalId | None = Field(None, description="External id, exact match.")
    modified_after: date | None = Field(None, description="Last modified on or after this date.")
    modified_before: date | None = Field(None, description="Last modified on or before this date.")
    opened_after: date | None = Field(None, description="Opened on or after this date.")
    opened_before: date | None = Field(None, description="Opened on or before this date.")
    closed_after: date | None = Field(None, description="Closed on or after this date.")
    closed_before: date | None = Field(None, description="Closed on or before this date.")
    properties: Annotated[dict[str, PropertyValue], Field(max_length=10), AfterValidator(_check_properties)] | None = (
        Field(None, description="Case property equals value, e.g. {'village': 'Rampur'}; '' matches unset.")
    )
    parent_case_id: Id | None = Field(None, description="Only children of this case.")

    @model_validator(mode="after")
    def _ranges(self) -> CommCareFilters:
        for what in ("modified", "opened", "closed"):
            after, before = getattr(self, f"{what}_after"), getattr(self, f"{what}_before")
            if after and before and after > before:
                raise ValueError(f"{what}_after must not be later than {what}_before")
        return self

    def to_params(self) -> dict[str, Any]:
        """The v2 list query for these filters."""
        params: dict[str, Any] = {
            "case_type": self.case_type,
            "owner_id": self.owner_id,
            "case_name": self.name,
            "external_id": self.external_id,
            "indices.parent": self.parent_case_id,
        }
        if self.status != "any":
            params["closed"] = self.status == "closed"
        for what, wire in (("modified", "last_modified"), ("opened", "date_opened"), ("closed", "date_closed")):
            after, before = getattr(self, f"{what}_after"), getattr(self, f"{what}_before")
            if after:
                params[f"{wire}.gte"] = after.isoformat()
            if before:
                # A bare date as "lte" covers that whole day.
                params[f"{wire}.lte"] = before.isoformat()
        for name, value in (self.properties or {}).items():
            params[f"properties.{name}"] = value
        return {k: v for k, v in params.items() if v is not None}


class CommCareSource(Source):
    name = "commcare"
    filters_model = CommCareFilters
    includes = frozenset({"parent", "children"})

    def __init__(self, client: CommCareClient, *, sandbox: bool = False) -> None:
        super().__init__(sandbox=sandbox)
        self.client = client

    async def aclose(self) -> None:
        await self.client.aclose()

    def check_id(self, case_id: str) -> str:
        text = case_id.strip() if isinstance(case_id, str) else ""
        if not _CASE_ID.match(text):
            raise ValueError(
                "a CommCare case id is 6-64 letters, digits or '-', e.g. "
                "'2fd2b0a3-5c1c-4d2b-9ab3-6e4f9c8d1a77' or '45WKYXQRFFU3AT4Y022EX7HF2'"
            )
        return text

    # -- search ----------------------------------------------------------------------------

    async def search(self, filters: BaseModel, state: PageState | None, limit: int) -> Page:
        if not isinstance(filters, CommCareFilters):
            filters = CommCareFilters.model_validate(filters.model_dump())
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        cursor, skip = _read_state(state)
        params = filters.to_params()

        # State = (provider cursor of the page we are in, items of it already returned). A provider
        # page may be longer than ours (a cursor keeps the limit it was made with), hence the skip.
        # The skip is below MAX_PAGE_SIZE, so the first fetch asks for fewer than two full pages.
        out: list[CaseV2] = []
        total: int | None = None
        next_state: PageState | None = None
        for fetch in range(MAX_FETCHES_PER_PAGE):
            want = min(MAX_LIMIT, skip + limit - len(out))
            page = await self.client.list_cases_v2(params if cursor is None else None, cursor=cursor, limit=want)
            if total is None:
                total = page.matching_records
            take = page.cases[skip : skip + limit - len(out)]
            out.extend(take)
            consumed = skip + len(take)
            if consumed < len(page.cases):
                next_state = _pack(cursor, consumed)
                break
            if page.cursor is None:
                break
            cursor, skip = page.cursor, 0
            if len(out) >= limit or fetch == MAX_FETCHES_PER_PAGE - 1:
                next_state = _pack(cursor, 0)
                break
        return Page(cases=[self._summary(c, filters.case_type) for c in out], state=next_state, total=total)

    def _summary(self, case: CaseV2, searched_type: str | None = None) -> CaseSummary:
        """A search line: the type (unless the search fixed it) and external id; get_case has the rest."""
        facts: dict[str, Fact] = {}
        if case.case_type != searched_type:
            facts["case_type"] = case.case_type
        if case.external_id:
            facts["external_id"] = one_line(case.external_id, 100)
        return CaseSummary(
            ref=self.ref(case.case_id),
            title=one_line(case.case_name) or "(unnamed case)",
            status="closed" if case.closed else "open",
            date=case.date_opened.date().isoformat() if case.date_opened else None,
            facts={k: v for k, v in facts.items() if v is not None},
        )

    # -- details ---------------------------------------------------------------------------

    async def get(self, case_id: str, include: frozenset[str]) -> CaseDetail:
        case_id = self.check_id(case_id)
        unknown = include - self.includes
        if unknown:
            raise ValueError(f"unknown include {sorted(unknown)}; choose from {sorted(self.includes)}")
        case = await self.client.get_case_v2(case_id)
        notes: list[str] = []
        truncated = False
        facts: dict[str, Fact] = {
            "case_type": case.case_type,
            "owner_id": case.owner_id,
            "external_id": case.external_id,
            "opened": _iso(case.date_opened),
            "modified": _iso(case.last_modified),
            "closed": _iso(case.date_closed),
        }
        for name, index in case.indices.items():
            facts[f"indices.{one_line(name, 64)}"] = f"{index.case_type or 'case'} {index.case_id}"
        props = sorted(case.properties.items())
        for name, value in props[:MAX_PROPERTIES_SHOWN]:
            facts[f"properties.{one_line(name, 64)}"] = one_line(value)
        if len(props) > MAX_PROPERTIES_SHOWN:
            truncated = True
            notes.append(f"Showing {MAX_PROPERTIES_SHOWN} of {len(props)} case properties.")
        facts = {k: v for k, v in facts.items() if v is not None}

        parent: CaseSummary | None = None
        if "parent" in include:
            link = case.indices.get("parent")
            if link is None:
                notes.append("This case has no parent.")
            else:
                try:
                    parent = self._summary(await self.client.get_case_v2(link.case_id))
                except NotFound:
                    notes.append(f"The parent case {link.case_id} was not found.")

        related: list[CaseSummary] = []
        if "children" in include:
            page = await self.client.list_cases_v2({"indices.parent": case.case_id}, limit=MAX_CHILDREN)
            related = [self._summary(c) for c in page.cases]
            if page.matching_records > len(related):
                truncated = True
                notes.append(
                    f"Showing {len(related)} of {page.matching_records} child cases; "
                    f"search with parent_case_id='{case.case_id}' for all."
                )
            elif not related:
                notes.append("This case has no child cases.")

        return CaseDetail(
            ref=self.ref(case.case_id),
            provider="commcare",
            sandbox=self.sandbox,
            title=one_line(case.case_name) or "(unnamed case)",
            status="closed" if case.closed else "open",
            url=None if self.sandbox else self.client.case_page_url(case.case_id),
            facts=facts,
            parent=parent,
            related=related,
            truncated=truncated,
            notes=notes,
        )


def _pack(cursor: str | None, skip: int) -> PageState:
    """Page state for a position in CommCare's paging.

    CommCare's cursors are base64 of JSON: kept as that JSON text, they compress inside our cursor,
    which comes out about 40% shorter. A cursor of any other form is kept as it came.
    """
    if cursor is not None:
        with contextlib.suppress(ValueError):
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            text = raw.decode()
            if base64.urlsafe_b64encode(raw).decode().rstrip("=") == cursor:
                return {"j": text, "k": skip}
            if base64.b64encode(raw).decode() == cursor:
                return {"b": text, "k": skip}
    return {"c": cursor, "k": skip}


def _read_state(state: PageState | None) -> tuple[str | None, int]:
    if state is None:
        return None, 0
    if not isinstance(state, dict) or len(state) != 2 or "k" not in state:
        raise ValueError("invalid CommCare page state")
    skip = state["k"]
    if "c" in state:
        cursor = state["c"]
    elif isinstance(state.get("j"), str):
        cursor = base64.urlsafe_b64encode(state["j"].encode()).decode().rstrip("=")
    elif isinstance(state.get("b"), str):
        cursor = base64.b64encode(state["b"].encode()).decode()
    else:
        raise ValueError("invalid CommCare page state")
    if cursor is not None and (not isinstance(cursor, str) or not _CURSOR.match(cursor)):
        raise ValueError("invalid CommCare page state (cursor)")
    # Items already returned from one provider page: fewer than the largest page this server asks for.
    if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip < MAX_PAGE_SIZE:
        raise ValueError(f"{FORGED} (its position is beyond any page casebridge reads)")
    return cursor, skip


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
