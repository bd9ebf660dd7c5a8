"""The Clearinghouse as a case source: filters by label or id, cursor paging, compact case details."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

import anyio
from pydantic import BaseModel, ConfigDict, Field

from casebridge.providers.clearinghouse import vocab
from casebridge.providers.clearinghouse.client import ClearinghouseCase, ClearinghouseClient, Docket, Document, Resource
from casebridge.tools.models import CaseDetail, CaseSummary, Fact, Item, Visible
from casebridge.tools.sources.base import Page, PageState, Source
from casebridge.tools.text import clean, one_line
from casebridge.tools.vocab import Vocabulary

# Provider requests one search call may make while filling ``limit``.
MAX_REQUESTS_PER_SEARCH = 5
SECTION_CAP = 20
_ID = re.compile(r"^[1-9][0-9]{0,8}$")
_CURSOR = re.compile(r"^[A-Za-z0-9_=+/-]{1,256}$")
_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f]{1,500}$")
MAX_SKIP = 1000

VOCABULARIES: dict[str, Vocabulary[int]] = {
    name: Vocabulary(name.replace("_", " "), table) for name, table in vocab.FILTERS.items()
}

# Each resolves a label (any case) or id to the id; the schema lists the labels.
CaseStatus = Annotated[int, VOCABULARIES["case_status"].field("Editorial status.")]
CaseOngoing = Annotated[int, VOCABULARIES["case_ongoing"].field("Whether the case is ongoing.")]
CaseType = Annotated[int, VOCABULARIES["case_type"].field("Case type.")]
DefendantLevel = Annotated[int, VOCABULARIES["defendant_level"].field("Level of a defendant.")]
DefendantType = Annotated[int, VOCABULARIES["defendant_type"].field("Type of a defendant.")]
FacilityType = Annotated[int, VOCABULARIES["facility_type"].field("Facility type.")]
PlaintiffType = Annotated[int, VOCABULARIES["plaintiff_type"].field("Type of a plaintiff.")]
ClassActionGranted = Annotated[int, VOCABULARIES["class_action_granted"].field("Class action outcome.")]
SpecialCaseType = Annotated[int, VOCABULARIES["special_case_type"].field("Special case type.")]
ConstitutionalClause = Annotated[int, VOCABULARIES["constitutional_clause"].field("Constitutional clause at issue.")]
SettlementAgreement = Annotated[int, VOCABULARIES["settlement_agreement"].field("Settlement status.")]
ReliefSources = Annotated[int, VOCABULARIES["relief_sources"].field("Source of relief.")]
ReliefNatures = Annotated[int, VOCABULARIES["relief_natures"].field("Nature of relief.")]
TrialCourtStatus = Annotated[int, VOCABULARIES["trial_court_litigation_status"].field("Trial court status.")]
AppellateCourtStatus = Annotated[int, VOCABULARIES["appellate_court_litigation_status"].field("Appellate status.")]

_NUMERIC_ID = "numeric Clearinghouse id; only {} is documented"
StateId = Annotated[int | None, Field(gt=0, lt=10**9, description=_NUMERIC_ID.format("5853 (Puerto Rico)"))]
CourtId = Annotated[
    int | None, Field(gt=0, lt=10**9, description=_NUMERIC_ID.format("1790 (U. S. Court of International Trade)"))
]
CollectionId = Annotated[int | None, Field(gt=0, lt=10**9, description="Numeric Clearinghouse special collection id.")]


class ClearinghouseFilters(BaseModel):
    """Clearinghouse search filters; all are combined with AND."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="Full-text search over case documents."),
        Visible,
    ] = None
    case_type: CaseType | None = None
    case_ongoing: CaseOngoing | None = None
    case_status: CaseStatus | None = None
    defendant_level: DefendantLevel | None = None
    defendant_type: DefendantType | None = None
    facility_type: FacilityType | None = None
    plaintiff_type: PlaintiffType | None = None
    class_action_granted: ClassActionGranted | None = None
    special_case_type: SpecialCaseType | None = None
    constitutional_clause: ConstitutionalClause | None = None
    settlement_agreement: SettlementAgreement | None = None
    relief_sources: ReliefSources | None = None
    relief_natures: ReliefNatures | None = None
    trial_court_litigation_status: TrialCourtStatus | None = None
    appellate_court_litigation_status: AppellateCourtStatus | None = None
    state: StateId = None
    court: CourtId = None
    special_collection: CollectionId = None


class ClearinghouseSource(Source):
    name = "clearinghouse"
    filters_model = ClearinghouseFilters
    includes: ClassVar[frozenset[str]] = frozenset({"documents", "dockets", "resources"})

    def __init__(self, client: ClearinghouseClient, *, sandbox: bool = False) -> None:
        super().__init__(sandbox=sandbox)
        self.client = client

    async def aclose(self) -> None:
        await self.client.aclose()

    def check_id(self, case_id: str) -> str:
        text = str(case_id).strip()
        if not _ID.match(text):
            raise ValueError("a Clearinghouse case id is a positive integer, e.g. clearinghouse:15150")
        return text

    async def search(self, filters: BaseModel, state: PageState | None, limit: int) -> Page:
        if not isinstance(filters, ClearinghouseFilters):
            raise TypeError("expected ClearinghouseFilters")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        params = _query(filters)
        cursor, skip = _check_state(state)
        cases: list[CaseSummary] = []
        for _ in range(MAX_REQUESTS_PER_SEARCH):
            page = await self.client.search(params, cursor)
            rows = page.results[skip:]
            taken = rows[: limit - len(cases)]
            cases.extend(self._summary(case) for case in taken)
            if len(taken) < len(rows):  # stopped inside this provider page
                return Page(cases, {"c": cursor, "k": skip + len(taken)})
            cursor, skip = page.next_cursor, 0
            if cursor is None:
                return Page(cases, None)
            if len(cases) >= limit:
                break
        return Page(cases, {"c": cursor, "k": 0})

    async def get(self, case_id: str, include: frozenset[str]) -> CaseDetail:
        number = int(self.check_id(case_id))
        case = await self.client.get(number)
        wanted = include & self.includes
        sections: dict[str, list[Item]] = {}

        async def fetch(kind: str) -> None:
            # One more than shown, so a cut is detected.
            if kind == "documents":
                sections[kind] = _documents(await self.client.documents(number, limit=SECTION_CAP + 1))
            elif kind == "dockets":
                sections[kind] = _docket_entries(await self.client.dockets(number, limit=SECTION_CAP + 1))
            else:
                sections[kind] = _resources(await self.client.resources(number, limit=SECTION_CAP + 1))

        async with anyio.create_task_group() as group:
            for kind in sorted(wanted):
                group.start_soon(fetch, kind)

        detail = CaseDetail(
            ref=self.ref(case.id),
            provider=self.name,
            sandbox=self.sandbox,
            title=one_line(case.name, 200) or f"Case {case.id}",
            status=_status(case),
            url=_url(case.clearinghouse_link),
            facts=_facts(case),
            summary=clean(case.summary or case.summary_short or case.summary_tiny, 1500) or None,
        )
        for kind in sorted(sections):
            items = sections[kind]
            if len(items) > SECTION_CAP:
                items = items[:SECTION_CAP]
                detail.truncated = True
                detail.notes.append(f"{kind}: only the first {SECTION_CAP} are shown; see the case page for the rest.")
            detail.sections[kind] = items
        return detail

    def _summary(self, case: ClearinghouseCase) -> CaseSummary:
        facts: dict[str, Fact] = {}
        if case.case_types:
            facts["types"] = one_line("; ".join(case.case_types), 120)
        if case.state:
            facts["state"] = one_line(case.state, 60)
        if case.court:
            facts["court"] = one_line(case.court, 80)
        return CaseSummary(
            ref=self.ref(case.id),
            title=one_line(case.name, 160) or f"Case {case.id}",
            status=_status(case),
            date=one_line(case.filing_date, 10) or None,
            facts=facts,
        )


def _query(filters: ClearinghouseFilters) -> dict[str, int | str]:
    """Query params for the API: the validated ids, plus ``text``."""
    return {key: value for key, value in filters.model_dump(exclude_none=True).items()}


def _check_state(state: PageState | None) -> tuple[str | None, int]:
    """The (provider cursor, results of that page already returned) carried by a page state."""
    if state is None:
        return None, 0
    if not isinstance(state, dict) or set(state) != {"c", "k"}:
        raise ValueError("clearinghouse page state must have exactly the keys 'c' and 'k'")
    cursor, skip = state["c"], state["k"]
    if cursor is not None and not (isinstance(cursor, str) and _CURSOR.match(cursor)):
        raise ValueError("clearinghouse page state has a malformed provider cursor")
    if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip <= MAX_SKIP:
        raise ValueError(f"clearinghouse page state offset must be an integer from 0 to {MAX_SKIP}")
    return cursor, skip


def _status(case: ClearinghouseCase) -> str | None:
    return f"ongoing: {one_line(case.case_ongoing, 40)}" if case.case_ongoing else None


def _url(*candidates: str | None) -> str | None:
    """The first candidate that is a plain http(s) URL; provider links are not trusted blindly."""
    for value in candidates:
        if value and _URL.match(value):
            return value
    return None


def _names(values: list[str], cap: int = 5, width: int = 80) -> list[str]:
    names = [one_line(v, width) for v in values[:cap] if v]
    if len(values) > cap:
        names.append(f"(+{len(values) - cap} more)")
    return names


def _facts(case: ClearinghouseCase) -> dict[str, Fact]:
    docket = case.main_docket.number if case.main_docket else None
    candidates: dict[str, Fact] = {
        "case types": _names(case.case_types),
        "state": one_line(case.state, 60) or None,
        "court": one_line(case.court, 80) or None,
        "filed": case.filing_year,
        "closed": case.closing_year,
        "class action": one_line(case.class_action_granted, 40) or None,
        "defendants": _names([d.name or d.institution or "" for d in case.case_defendants]),
        "causes": _names(case.causes),
        "relief": _names(case.relief_natures),
        "docket": one_line(docket, 40) or None,
    }
    return {key: value for key, value in candidates.items() if value not in (None, [], "")}


def _documents(docs: list[Document]) -> list[Item]:
    items = []
    for doc in docs:
        facts: dict[str, Fact] = {}
        if doc.is_core_document:
            facts["core"] = True
        if doc.has_text:
            facts["has_text"] = True
        items.append(
            Item(
                id=str(doc.id),
                title=one_line(doc.title, 160) or f"Document {doc.id}",
                date=one_line(doc.date, 10) or None,
                kind=one_line(doc.document_type, 60) or None,
                url=_url(doc.clearinghouse_link, doc.file, doc.external_url),
                facts=facts,
            )
        )
    return items


def _docket_entries(dockets: list[Docket]) -> list[Item]:
    items = []
    several = len(dockets) > 1
    for docket in sorted(dockets, key=lambda d: not d.is_main_docket):
        number = docket.number
        for entry in docket.docket_entries:
            items.append(
                Item(
                    id=None if entry.id is None else str(entry.id),
                    title=one_line(entry.description, 200) or "(no description)",
                    date=one_line(entry.date_filed, 10) or None,
                    kind=f"entry {one_line(entry.entry_number, 12)}" if entry.entry_number else "docket entry",
                    url=_url(entry.recap_pdf_url, entry.url),
                    facts={"docket": one_line(number, 40)} if several and number else {},
                )
            )
    return items


def _resources(resources: list[Resource]) -> list[Item]:
    return [
        Item(
            id=None if res.id is None else str(res.id),
            title=one_line(res.title, 160) or "(untitled resource)",
            date=one_line(res.display_date or res.date, 20) or None,
            kind=one_line(", ".join(res.resource_types), 60) or None,
            url=_url(res.external_url, res.file),
            facts={"author": one_line(res.author, 80)} if res.author else {},
        )
        for res in resources
    ]
