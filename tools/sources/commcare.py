"""CommCare HQ as a case source: the v2 Case API where the server has it, the v0.5 List Cases API where
a search needs what only v0.5 has or the server has no v2; same rows, refs and paging either way."""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from pydantic import BaseModel

from casebridge.providers.commcare.client import MAX_LIMIT, CaseV2, CommCareClient
from casebridge.providers.errors import NotFound
from casebridge.tools.errors import invalid
from casebridge.tools.models import CaseDetail, CaseSummary, Fact
from casebridge.tools.sources.base import FORGED, MAX_PAGE_SIZE, Page, PageState, Source
from casebridge.tools.sources.commcare_filters import MAX_IDS, CommCareFilters
from casebridge.tools.text import one_line

__all__ = ["CommCareFilters", "CommCareSource"]

MAX_PROPERTIES_SHOWN = 25
MAX_CHILDREN = 25
MAX_FETCHES_PER_PAGE = 3
# Where a v0.5 search may start: its own offset filter plus every page after it.
MAX_OFFSET = 20_000_000

_CASE_ID = re.compile(r"^[A-Za-z0-9-]{6,64}$")
_CURSOR = re.compile(r"^[A-Za-z0-9_\-+/=%.]{1,4096}$")
_CORE = {"case_name", "case_type", "external_id", "owner_id", "date_opened"}
_SORT_KEY = {"indexed": "indexed_on", "server_modified": "server_last_modified", "device_modified": "last_modified"}


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
        if filters.case_ids is not None:
            return await self._by_ids(filters, _position(state, "i", MAX_IDS), limit)
        if state is not None:
            # A cursor continues on the API that served its first page.
            if "o" in state:
                return await self._search_v05(filters, _position(state, "o", MAX_OFFSET), limit)
            return await self._search_v2(filters, state, limit)
        if self._api_for(filters) == "v0.5":
            return await self._search_v05(filters, None, limit)
        try:
            return await self._search_v2(filters, None, limit)
        except NotFound:
            if self.client.case_api != "auto" or self.client.has_v2:
                raise
            # The list route itself is missing: a server without the v2 case API, not a missing case.
            self.client.has_v2 = False
            self._api_for(filters)
            return await self._search_v05(filters, None, limit)

    def _api_for(self, filters: CommCareFilters) -> str:
        """The API that can serve ``filters`` here, or ``invalid_input`` saying why none can."""
        v05, v2 = filters.v05_only(), filters.v2_only()
        if v05 and v2:
            raise invalid(
                f"commcare.{v05[0]}",
                f"{v05[0]} needs CommCare's v0.5 List Cases API and {v2[0]} its v2 Case API: "
                "one search cannot use both",
                f"Drop {v05[0]} or {v2[0]}.",
                provider="commcare",
            )
        if v05 and self.client.case_api == "v2":
            raise invalid(
                f"commcare.{v05[0]}",
                f"{v05[0]} needs CommCare's v0.5 List Cases API, and this server is pinned to v2 (COMMCARE_CASE_API)",
                f"Drop {v05[0]}, or set COMMCARE_CASE_API=auto.",
                provider="commcare",
            )
        if v2 and self.client.uses_v05:
            why = "pinned to v0.5 (COMMCARE_CASE_API)" if self.client.case_api == "v0.5" else "without the v2 API"
            raise invalid(
                f"commcare.{v2[0]}",
                f"this CommCare server is {why}; its v0.5 List Cases API cannot filter by {v2[0]}",
                "Drop that filter (search by type, owner, dates of indexing or modification instead).",
                provider="commcare",
            )
        return "v0.5" if v05 or self.client.uses_v05 else "v2"

    async def _search_v2(self, filters: CommCareFilters, state: PageState | None, limit: int) -> Page:
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
            if self.client.has_v2 is None:
                self.client.has_v2 = True
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
        return Page(cases=[self._row(c, filters) for c in out], state=next_state, total=total)

    async def _search_v05(self, filters: CommCareFilters, offset: int | None, limit: int) -> Page:
        """One v0.5 page at ``offset`` (the filter's own offset on the first page); state ``{"o": next offset}``."""
        start = (filters.offset or 0) if offset is None else offset
        ids = filters.external_ids
        if len(ids) > 1:
            return await self._v05_external_ids(filters, ids, start, limit)
        page = await self.client.list_cases_v05(limit=limit, offset=start, **filters.to_v05_params())
        cases = [c.to_v2() for c in page.objects]
        more = bool(page.meta.next) and bool(cases) and start + len(cases) < page.meta.total_count
        state = {"o": start + len(cases)} if more else None
        return Page(cases=[self._row(c, filters) for c in cases], state=state, total=page.meta.total_count)

    async def _v05_external_ids(self, filters: CommCareFilters, ids: list[str], start: int, limit: int) -> Page:
        """Several external ids on v0.5, which takes one a request: the matches merged in the search's order."""
        found: dict[str, CaseV2] = {}
        notes: list[str] = []
        for external_id in ids:
            page = await self.client.list_cases_v05(
                limit=MAX_PAGE_SIZE, offset=0, **filters.to_v05_params(external_id=external_id)
            )
            for case in page.objects:
                found.setdefault(case.case_id, case.to_v2())
            if page.meta.total_count > len(page.objects):
                notes.append(f"Only the first {MAX_PAGE_SIZE} cases with external id {external_id!r} are included.")
        sort = filters.sort or "indexed"
        key = _SORT_KEY[sort.lstrip("-")]
        floor = datetime.min.replace(tzinfo=None)

        def order(case: CaseV2) -> tuple[datetime, str]:
            value = getattr(case, key)
            return (value.replace(tzinfo=None) if value else floor), case.case_id

        merged = sorted(found.values(), key=order, reverse=sort.startswith("-"))
        rows = merged[start : start + limit]
        state = {"o": start + len(rows)} if start + len(rows) < len(merged) and rows else None
        return Page([self._row(c, filters) for c in rows], state, len(merged), notes)

    async def _by_ids(self, filters: CommCareFilters, at: int | None, limit: int) -> Page:
        """Exactly the cases named: v2's multi-id read, or one v0.5 read each; unknown ids are named in a note."""
        ids = list(dict.fromkeys(filters.case_ids or []))
        start = at or 0
        chunk = ids[start : start + limit]
        if self.client.case_api == "auto" and self.client.has_v2 is None:
            await self.client.probe_v2()
        found: list[CaseV2] = []
        missing: list[str] = []
        if self.client.uses_v05:
            for case_id in chunk:
                try:
                    found.append((await self.client.get_case_v05(case_id)).to_v2())
                except NotFound:
                    missing.append(case_id)
        elif chunk:
            bulk = await self.client.get_cases_v2(chunk)
            found = bulk.found
            missing = [m.case_id or m.external_id or "?" for m in bulk.missing]
        notes = [f"No case with id {', '.join(one_line(m, 64) for m in missing)}."] if missing else []
        state = {"i": start + len(chunk)} if start + len(chunk) < len(ids) else None
        total = len(found) if start == 0 and state is None else None
        return Page([self._row(c, filters) for c in found], state, total, notes)

    def _row(self, case: CaseV2, filters: CommCareFilters) -> CaseSummary:
        row = self._summary(case, filters.case_type)
        for name in filters.show_properties or ():
            value = getattr(case, name, None) if name in _CORE else case.properties.get(name)
            if isinstance(value, datetime):
                value = _iso(value)
            if value not in (None, ""):
                row.facts[f"properties.{name}"] = one_line(str(value), 100)
        return row

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
        if self.client.uses_v05:
            return await self._get_v05(case_id, include)
        try:
            case = await self.client.get_case_v2(case_id)
        except NotFound:
            # A 404 is a missing case only where the v2 API exists: ask its list once to tell.
            if self.client.case_api == "auto" and not await self.client.probe_v2():
                return await self._get_v05(case_id, include)
            raise
        notes: list[str] = []
        truncated = False
        parent = await self._parent(case, include, notes, self.client.get_case_v2)
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
        return self._detail(case, parent, related, notes, truncated)

    async def _get_v05(self, case_id: str, include: frozenset[str]) -> CaseDetail:
        wire = await self.client.get_case_v05(case_id, children="children" in include)
        case = wire.to_v2()
        notes: list[str] = []
        truncated = False

        async def read_v05(case_id: str) -> CaseV2:
            return (await self.client.get_case_v05(case_id)).to_v2()

        parent = await self._parent(case, include, notes, read_v05)
        related: list[CaseSummary] = []
        if "children" in include:
            children = [c.to_v2() for c in (wire.child_cases or {}).values()]
            related = [self._summary(c) for c in children[:MAX_CHILDREN]]
            if len(children) > MAX_CHILDREN:
                truncated = True
                notes.append(f"Showing {MAX_CHILDREN} of {len(children)} child cases.")
            elif not related:
                notes.append("This case has no child cases.")
        return self._detail(case, parent, related, notes, truncated)

    async def _parent(
        self, case: CaseV2, include: frozenset[str], notes: list[str], read: Callable[[str], Awaitable[CaseV2]]
    ) -> CaseSummary | None:
        """The parent's summary when asked for (``read`` fetches a case on the API serving this one)."""
        if "parent" not in include:
            return None
        link = case.indices.get("parent")
        if link is None:
            notes.append("This case has no parent.")
            return None
        try:
            return self._summary(await read(link.case_id))
        except NotFound:
            notes.append(f"The parent case {link.case_id} was not found.")
            return None

    def _detail(
        self, case: CaseV2, parent: CaseSummary | None, related: list[CaseSummary], notes: list[str], truncated: bool
    ) -> CaseDetail:
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
        return CaseDetail(
            ref=self.ref(case.case_id),
            provider="commcare",
            sandbox=self.sandbox,
            title=one_line(case.case_name) or "(unnamed case)",
            status="closed" if case.closed else "open",
            url=None if self.sandbox else self.client.case_page_url(case.case_id),
            facts={k: v for k, v in facts.items() if v is not None},
            parent=parent,
            related=related,
            truncated=truncated,
            notes=notes,
        )


def _position(state: PageState | None, key: str, most: int) -> int | None:
    """The position a ``{key: n}`` page state holds (None without state); ``ValueError`` for anything else."""
    if state is None:
        return None
    if not isinstance(state, dict) or set(state) != {key}:
        raise ValueError("invalid CommCare page state")
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
        raise ValueError(f"{FORGED} (its position is beyond any page casebridge reads)")
    return value


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
