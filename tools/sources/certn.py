"""The Certn source: background-check cases, their checks, supplementary data and files."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from casebridge.providers.certn.client import CasePage, CertnCase, CertnCheck, CertnClient
from casebridge.providers.certn.vocab import (
    ALL_OVERALL_STATUS,
    CHECK_STATUS,
    CHECK_TYPE_ALIASES,
    CHECK_TYPES,
    CLOSED_CHECK_STATUSES,
    SCORES,
    check_type_label,
    status_label,
)
from casebridge.providers.errors import InvalidRequest
from casebridge.tools.models import CaseDetail, CaseSummary, Fact, Item, Visible
from casebridge.tools.render import fence_inline
from casebridge.tools.sources.base import MAX_PAGE_SIZE, Page, PageState, Source
from casebridge.tools.text import EMAIL_PATTERN, clean, is_uuid, one_line, web_link
from casebridge.tools.vocab import Vocabulary

if TYPE_CHECKING:
    from casebridge.providers.certn.extra import Group

STATUS_VOCAB: Vocabulary[str] = Vocabulary("Certn case status", ALL_OVERALL_STATUS)
CHECK_TYPE_VOCAB: Vocabulary[str] = Vocabulary("Certn check type", CHECK_TYPES, aliases=CHECK_TYPE_ALIASES)

MAX_LIST = 20
MAX_LIMIT = MAX_PAGE_SIZE
# A window of ``limit`` rows spans at most two provider pages (a page is at least ``limit`` long).
MAX_REQUESTS_PER_SEARCH = 2
MAX_PAGE = 100_000
MAX_SECTION = 50
FILES_NOTE = "file links expire 3 hours after this call"
GROUPS_REF = "groups"
MAX_GROUP_PAGES = 3
REPORT_STATUS = {"PENDING": "pending", "COMPLETE": "complete", "FAILED": "failed"}
_REPORT_REF = re.compile(r"^report[/:]([0-9A-Fa-f-]{36})$")
_SHORT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")

StatusCode = Annotated[str, STATUS_VOCAB.field("Case status.")]
CheckTypeCode = Annotated[str, CHECK_TYPE_VOCAB.field("Check type.")]

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Visible]


class CertnFilters(BaseModel):
    """Certn case filters; lists match any of their values, different filters must all match."""

    model_config = ConfigDict(extra="forbid")

    statuses: Annotated[list[StatusCode] | None, Field(max_length=MAX_LIST, description="Case statuses.")] = None
    email: Annotated[
        str | None,
        Field(max_length=254, pattern=EMAIL_PATTERN, description="Applicant e-mail address (exact match)."),
        Visible,
    ] = None
    tags: Annotated[list[Tag] | None, Field(max_length=MAX_LIST, description="Case tags.")] = None
    check_types: Annotated[
        list[CheckTypeCode] | None, Field(max_length=MAX_LIST, description="Cases with any of these checks.")
    ] = None
    group: Annotated[uuid.UUID | None, Field(description="Group id (UUID).")] = None
    ordered_after: Annotated[date | None, Field(description="Ordered on or after (YYYY-MM-DD).")] = None
    ordered_before: Annotated[date | None, Field(description="Ordered on or before (YYYY-MM-DD).")] = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> CertnFilters:
        if self.ordered_after and self.ordered_before and self.ordered_after > self.ordered_before:
            raise ValueError("ordered_after is later than ordered_before")
        return self


class CertnSource(Source):
    name = "certn"
    filters_model: ClassVar[type[BaseModel]] = CertnFilters
    includes = frozenset({"supplementary", "files"})

    def __init__(self, client: CertnClient, *, sandbox: bool = False) -> None:
        super().__init__(sandbox=sandbox)
        self.client = client

    def check_id(self, case_id: str) -> str:
        try:
            return str(uuid.UUID(str(case_id).strip()))
        except ValueError:
            raise ValueError("a Certn case id is a UUID, e.g. certn:7c1f0e4e-3b7a-4c55-9a43-2f4f8f0d9b12") from None

    # -- refs that are not cases: the account's groups, and a report file --------------------

    def check_other(self, ref_id: str) -> str | None:
        text = ref_id.strip() if isinstance(ref_id, str) else ""
        if text.lower() == GROUPS_REF:
            return GROUPS_REF
        match = _REPORT_REF.match(text)
        return f"report/{uuid.UUID(match[1])!s}" if match and is_uuid(match[1].lower()) else None

    async def get_other(self, ref_id: str) -> CaseDetail:
        if ref_id == GROUPS_REF:
            return await self._groups()
        return await self._report_file(ref_id.removeprefix("report/"))

    async def account_groups(self) -> tuple[list[Group], bool]:
        """The account's groups (ids checked to be UUIDs), and whether that is all of them."""
        groups: list[Group] = []
        for page in range(1, MAX_GROUP_PAGES + 1):
            result = await self.client.list_groups(page=page)
            groups.extend(g for g in result.results if is_uuid(g.id.lower()))
            if not result.has_next:
                return groups, True
        return groups, False

    async def _groups(self) -> CaseDetail:
        groups, complete = await self.account_groups()
        items = [
            Item(
                id=g.id.lower(),
                title=one_line(g.name, 100) or g.short_id or g.id,
                kind="group",
                facts={"short_id": one_line(g.short_id, 40)} if g.short_id else {},
            )
            for g in groups
        ]
        notes = ["Give a group's id as order_case's group, or as search_cases' certn.group."]
        if not complete:
            notes.append(f"Only the first {len(items)} groups are listed.")
        return CaseDetail(
            ref=self.ref(GROUPS_REF),
            provider="certn",
            sandbox=self.sandbox,
            title="Groups of this Certn account",
            status=f"{len(items)} group{'' if len(items) == 1 else 's'}",
            sections={"groups": items},
            truncated=not complete,
            notes=notes,
        )

    async def _report_file(self, file_id: str) -> CaseDetail:
        report = await self.client.report_file(file_id)
        status = REPORT_STATUS.get(report.status, "unknown")
        url = web_link(report.pdf_url) if status == "complete" else None
        notes = {
            "complete": "The download link is short-lived (presigned): fetch it soon, or read this ref again.",
            "pending": "Certn is still generating the PDF: read this ref again in a minute.",
            "failed": "Certn could not generate it: call generate_report with the case's ref to start a new one.",
        }.get(status, "Certn answered with an unknown report status.")
        if status == "complete" and url is None:
            notes = "Certn's download link is not a plain https link: take the report from the Certn portal."
        return CaseDetail(
            ref=self.ref(f"report/{file_id}"),
            provider="certn",
            sandbox=self.sandbox,
            title=f"Report file {file_id}",
            status=status,
            url=url,
            facts={"report_id": file_id},
            notes=[notes],
        )

    # -- search and details -----------------------------------------------------------------

    async def search(self, filters: BaseModel, state: PageState | None, limit: int) -> Page:
        if not isinstance(filters, CertnFilters):
            raise TypeError("CertnSource.search needs CertnFilters")
        if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        # The page size is at least ``limit``, so any window of ``limit`` rows spans at most two pages.
        size = min(100, max(limit, 10))
        offset = _offset(state) if state is not None else 0
        page, skip = offset // size + 1, offset % size
        query: dict[str, Any] = {
            "overall_status": filters.statuses or (),
            "email_address": filters.email,
            "tag": filters.tags or (),
            "check_type": filters.check_types or (),
            "group": [str(filters.group)] if filters.group else (),
            "order_timeframe_after": filters.ordered_after,
            "order_timeframe_before": filters.ordered_before,
        }
        cases: list[CertnCase] = []
        notes: list[str] = []
        total: int | None = None
        next_state: PageState | None = None
        for fetch in range(MAX_REQUESTS_PER_SEARCH):
            try:
                result: CasePage = await self.client.list_cases(**query, page=page, page_size=size)
            except InvalidRequest as exc:
                if exc.field != "page":
                    raise
                notes.append("The cursor points past the last result (the cases changed); start a new search.")
                break
            total = result.result_count
            rows = result.results[skip:]
            taken = rows[: limit - len(cases)]
            cases.extend(taken)
            used = skip + len(taken)
            if used < len(result.results):
                next_state = {"p": page, "k": used, "s": size}
                break
            if not result.has_next:
                break
            page, skip = page + 1, 0
            # Short pages (the cases changed, or a provider not honouring page_size) end the call here.
            if len(cases) >= limit or fetch == MAX_REQUESTS_PER_SEARCH - 1:
                next_state = {"p": page, "k": 0, "s": size}
                break
        return Page([self.summary(c, checks=False) for c in cases], next_state, total, notes)

    async def get(self, case_id: str, include: frozenset[str]) -> CaseDetail:
        cid = self.check_id(case_id)
        case = await self.client.get_case(cid)
        truncated = False
        notes: list[str] = []
        sections: dict[str, list[Item]] = {"checks": [_check_item(c) for c in case.checks[:MAX_SECTION]]}
        truncated |= len(case.checks) > MAX_SECTION
        open_checks = [c for c in case.checks if c.status not in CLOSED_CHECK_STATUSES]

        if "supplementary" in include:
            info = await self.client.supplementary_information(cid)
            items = []
            for chk in info.checks[:MAX_SECTION]:
                info_facts, cut = _flat_facts(chk.supplementary_information)
                truncated |= cut
                items.append(
                    Item(
                        id=chk.id,
                        title=check_type_label(chk.type),
                        kind="supplementary",
                        status=_check_status(chk.status),
                        facts=info_facts,
                    )
                )
            truncated |= len(info.checks) > MAX_SECTION
            sections["supplementary"] = items
        if "files" in include:
            files = await self.client.supplementary_files(cid)
            file_items: list[Item] = []
            for fchk in files.checks:
                for f in fchk.supplementary_files:
                    file_items.append(
                        Item(
                            title=one_line(f.name or "file", 120),
                            kind="file",
                            status=_check_status(fchk.status),
                            url=f.url,
                            facts={"check": check_type_label(fchk.type)},
                        )
                    )
            truncated |= len(file_items) > MAX_SECTION
            sections["files"] = file_items[:MAX_SECTION]
            notes.append(FILES_NOTE)
        if open_checks and include & {"supplementary", "files"}:
            notes.append("supplementary data is complete only for closed checks (complete, cancelled, superseded)")

        facts: dict[str, Fact] = {
            "short_id": case.short_id,
            "overall_status": case.overall_status,
            "overall_score": _score(case.overall_score),
            "email": one_line(case.email_address, 254) or None,
            "group": case.group_id,
            "tags": [one_line(t, 60) for t in case.tags[:MAX_LIST]],
            "created": case.created,
            "modified": case.modified,
        }
        return CaseDetail(
            ref=self.ref(case.id),
            provider="certn",
            sandbox=self.sandbox,
            title=_title(case),
            status=status_label(case.overall_status),
            facts={k: v for k, v in facts.items() if v not in (None, [])},
            sections=sections,
            truncated=truncated,
            notes=notes,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def summary(self, case: CertnCase, *, checks: bool = True) -> CaseSummary:
        """One line for ``case``; search lines leave out the checks (get_case lists them)."""
        facts: dict[str, Fact] = {"score": _score(case.overall_score)}
        if checks:
            facts["checks"] = [check_type_label(c.type).lower() for c in case.checks if c.type][:MAX_LIST]
        return CaseSummary(
            ref=self.ref(case.id),
            title=_title(case),
            status=status_label(case.overall_status),
            date=_day(case.created),
            facts={k: v for k, v in facts.items() if v not in (None, [])},
        )


def check_type_text(code: str | None) -> str:
    """A check type for casebridge's own sentences: its label, or the unknown code fenced as data."""
    label = check_type_label(code)
    return label if label != code else fence_inline(code, 60)


def check_status_text(code: str | None) -> str:
    """A check status for casebridge's own sentences (lower case), or the unknown code fenced as data."""
    if not code:
        return "unknown"
    label = CHECK_STATUS.get(code)
    return label.lower() if label else fence_inline(code, 60)


def short_id(case: CertnCase) -> str | None:
    """The case's short id when it has the plain form Certn's have ("C_CA_8K2L9Q"), else None."""
    return case.short_id if case.short_id and _SHORT_ID.fullmatch(case.short_id) else None


def _offset(state: PageState) -> int:
    """The absolute row offset a page state stands for; ``ValueError`` for anything malformed."""
    if not isinstance(state, dict) or set(state) != {"p", "k", "s"}:
        raise ValueError("invalid Certn page state")
    p, k, s = state["p"], state["k"], state["s"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (p, k, s)):
        raise ValueError("invalid Certn page state")
    if not (1 <= p <= MAX_PAGE and 10 <= s <= 100 and 0 <= k < s):
        raise ValueError("invalid Certn page state")
    offset: int = (p - 1) * s + k
    return offset


def _title(case: CertnCase) -> str:
    # Names are typed by the applicant; the e-mail and short id are fallbacks.
    return one_line(case.applicant_name, 100) or one_line(case.email_address, 120) or case.short_id or case.id


def _day(stamp: str | None) -> str | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).date().isoformat()
    except ValueError:
        return stamp[:10] if re.match(r"\d{4}-\d{2}-\d{2}", stamp) else None


def _score(code: str | None) -> str | None:
    return None if code is None else SCORES.get(code, code)


def _check_status(code: str | None) -> str | None:
    return None if code is None else CHECK_STATUS.get(code, code)


def _check_item(check: CertnCheck) -> Item:
    facts: dict[str, Fact] = {"score": _score(check.score), "sub_score": check.sub_score}
    if check.adjudication_score:
        facts["adjudication_score"] = check.adjudication_score
    return Item(
        id=check.id,
        title=check_type_label(check.type),
        kind="check",
        status=_check_status(check.status),
        facts={k: v for k, v in facts.items() if v is not None},
    )


def _flat_facts(data: Any, limit: int = 20) -> tuple[dict[str, Fact], bool]:
    """Supplementary data as at most ``limit`` scalar facts; nested values as compact JSON text."""
    if data is None:
        return {}, False
    if not isinstance(data, dict):
        data = {"data": data}
    facts: dict[str, Fact] = {}
    for key, value in list(data.items())[:limit]:
        name = one_line(key, 60)
        if value is None or isinstance(value, bool | int | float):
            facts[name] = value
        elif isinstance(value, str):
            facts[name] = clean(value, 300)
        else:
            facts[name] = clean(json.dumps(value, ensure_ascii=False, default=str), 300)
    return facts, len(data) > limit
