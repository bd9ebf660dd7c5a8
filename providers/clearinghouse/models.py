"""Clearinghouse v2.1 wire models: cases, their documents, dockets and resources, and cursor pages."""

# No "from __future__ import annotations": pydantic would have to compile and evaluate every field's
# annotation string when the wire models are defined, ~4 ms of every start-up for the three clients.

from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _labels(value: Any) -> list[str]:
    """A label list from strings, ``{"value": ...}`` objects or null (the API uses all three)."""
    if value is None:
        return []
    if isinstance(value, str | int):
        return [str(value)]
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = item.get("value")
        if item is not None and item != "":
            out.append(str(item))
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


Labels = Annotated[list[str], BeforeValidator(_labels)]
Text = Annotated[str | None, BeforeValidator(_text)]


class Wire(BaseModel):
    # defer_build: validators are built on first use, not at start-up (bench/, cold start).
    model_config = ConfigDict(extra="allow", defer_build=True)


class Defendant(Wire):
    name: Text = None
    institution: Text = None
    institution_city: Text = None
    institution_county: Text = None
    institution_alt_state: Text = None
    defendant_level: Text = None


class DocketEntry(Wire):
    id: int | None = None
    row_number: int | None = None
    entry_number: Text = None
    date_filed: Text = None
    description: Text = None
    url: Text = None
    recap_pdf_url: Text = None
    pacer_doc_id: Text = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)


class Docket(Wire):
    id: int | None = None
    docket_entries: list[DocketEntry] = Field(default_factory=list)
    docket_case_type: Text = None
    docket_year: int | None = None
    docket_filing_number: int | None = None
    docket_office_number: Text = None
    docket_number_manual: Text = None
    is_main_docket: bool | None = None
    court: Text = None
    state: Text = None
    recap_link: Text = None
    is_active: bool | None = None

    @property
    def number(self) -> str | None:
        """The docket number as courts write it, e.g. ``2:15-cv-04567``."""
        if self.docket_number_manual:
            return self.docket_number_manual
        if self.docket_year is None or self.docket_filing_number is None:
            return None
        office = f"{self.docket_office_number}:" if self.docket_office_number else ""
        kind = self.docket_case_type or "cv"
        return f"{office}{self.docket_year % 100:02d}-{kind}-{self.docket_filing_number:05d}"


class Document(Wire):
    id: int
    title: Text = None
    description: Text = None
    document_status: Text = None
    date: Text = None
    document_type: Text = None
    document_source: Text = None
    court: Text = None
    is_core_document: bool | None = None
    file: Text = None
    external_url: Text = None
    ecf_number: Text = None
    clearinghouse_link: Text = None
    has_text: bool = False
    text_url: Text = None
    docket_id: int | None = None


class Resource(Wire):
    id: int | None = None
    title: Text = None
    abstract: Text = None
    author: Text = None
    author_role: Text = None
    institution: Text = None
    citation: Text = None
    display_date: Text = None
    date: Text = None
    resource_types: Labels = Field(default_factory=list)
    external_url: Text = None
    file: Text = None
    source: Text = None
    status: Text = None


class ClearinghouseCase(Wire):
    """A v2.1 case object. Lookups arrive as labels; only ``id`` is required."""

    id: int
    name: str = ""
    clearinghouse_link: Text = None
    is_active: bool | None = None
    last_checked_date: Text = None
    case_status: Text = None
    case_types: Labels = Field(default_factory=list)
    state: Text = None
    court: Text = None
    special_collections: Labels = Field(default_factory=list)
    special_case_type: Labels = Field(default_factory=list)
    issues: Labels = Field(default_factory=list)
    case_ongoing: Text = None
    docket_status: Text = None
    filing_date: Text = None
    filing_year: int | None = None
    terminating_date: Text = None
    closing_year: int | None = None
    case_defendants: list[Defendant] = Field(default_factory=list)
    defendant_type: Labels = Field(default_factory=list)
    plaintiff_type: Labels = Field(default_factory=list)
    plaintiff_description: Text = None
    facility_type: Labels = Field(default_factory=list)
    class_action_sought: Text = None
    class_action_granted: Text = None
    causes: Labels = Field(default_factory=list)
    constitutional_clause: Labels = Field(default_factory=list)
    relief_natures: Labels = Field(default_factory=list)
    relief_sources: Labels = Field(default_factory=list)
    settlement_agreement: Labels = Field(default_factory=list)
    main_docket: Docket | None = None
    summary: Text = None
    summary_short: Text = None
    summary_tiny: Text = None
    case_documents_url: Text = None
    case_dockets_url: Text = None
    case_resources_url: Text = None


T = TypeVar("T", bound=BaseModel)


def cursor_of(url: str | None) -> str | None:
    """The ``cursor`` query value of a ``next``/``previous`` URL (its host is deliberately ignored)."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("cursor")
    return values[0] if values else None


class Envelope(BaseModel, Generic[T]):
    """DRF cursor pagination: absolute ``next``/``previous`` URLs, no ``count``."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    next: str | None = None
    previous: str | None = None
    results: list[T] = Field(default_factory=list)

    @property
    def next_cursor(self) -> str | None:
        return cursor_of(self.next)


class CasePage(Envelope[ClearinghouseCase]):
    pass
