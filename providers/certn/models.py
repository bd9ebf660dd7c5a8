"""Certn wire models every session may need: cases, their checks and case pages (the rest is in ``extra``)."""

# No "from __future__ import annotations": pydantic would have to compile and evaluate every field's
# annotation string when the wire models are defined, ~4 ms of every start-up for the three clients.

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def uuid_text(value: Any) -> Any:
    """Field validator: Certn's ids are UUIDs; any other id is a malformed answer (it would reach result text)."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise ValueError("not a UUID")
    return value


class Wire(BaseModel):
    """Base of the wire models: unknown fields are kept, so API additions never break parsing."""

    # defer_build: validators are built on first use, not at start-up (bench/, cold start).
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class CertnCheck(Wire):
    id: str | None = None
    short_id: str | None = None
    type: str | None = None
    status: str | None = None
    score: str | None = None
    sub_score: str | None = None
    adjudication_score: str | None = None
    adjudication_sub_score: str | None = None
    output_claims: dict[str, Any] | None = None


class CertnCase(Wire):
    id: str
    short_id: str | None = None
    created: str | None = None
    modified: str | None = None
    overall_status: str | None = None
    overall_score: str | None = None
    email_address: str | None = None
    group: str | dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    input_claims: dict[str, Any] | None = None
    checks: list[CertnCheck] = Field(default_factory=list)
    invite_link: str | None = None

    _id_is_uuid = field_validator("id")(uuid_text)

    @field_validator("tags", "checks", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def group_id(self) -> str | None:
        if isinstance(self.group, dict):
            gid = self.group.get("id")
            return None if gid is None else str(gid)
        return self.group

    @property
    def applicant_name(self) -> str | None:
        """Given and family name from the input claims, as the applicant entered them."""
        name = (self.input_claims or {}).get("name")
        if not isinstance(name, dict):
            return None
        parts = [str(name[k]) for k in ("given_name", "family_name") if name.get(k)]
        return " ".join(parts) or None


def _page_number(value: Any) -> int | None:
    """A page number from an int, a numeric string or a DRF-style page URL (no ``page`` = 1)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    query = parse_qs(urlsplit(text).query)
    pages = query.get("page")
    if not pages:
        return 1
    return int(pages[0]) if pages[0].isdigit() else None


class Paged(Wire):
    """The ``pagination`` block flattened; the legacy DRF ``count/next/previous`` shape is accepted."""

    result_count: int | None = None
    page_count: int | None = None
    page_size: int | None = None
    current_page: int | None = None
    next_page: int | None = None
    previous_page: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = {k: v for k, v in data.items() if k not in ("pagination", "count", "next", "previous")}
        block = data.get("pagination")
        if isinstance(block, dict):
            out.update(block)
        else:
            out.setdefault("result_count", data.get("count"))
            out.setdefault("next_page", data.get("next"))
            out.setdefault("previous_page", data.get("previous"))
        out["next_page"] = _page_number(out.get("next_page"))
        out["previous_page"] = _page_number(out.get("previous_page"))
        if out.get("current_page") is None:
            if out["previous_page"] is not None:
                out["current_page"] = out["previous_page"] + 1
            elif out["next_page"] is not None:
                out["current_page"] = out["next_page"] - 1
        # A page with no rows, or a "next" that does not move forward, ends the listing: a service
        # that keeps offering such pages must not keep a caller paging (issue 11, item 6).
        current = out.get("current_page")
        if not out.get("results") or (
            isinstance(current, int) and out["next_page"] is not None and out["next_page"] <= current
        ):
            out["next_page"] = None
        return out

    @property
    def has_next(self) -> bool:
        return self.next_page is not None


class CasePage(Paged):
    results: list[CertnCase] = Field(default_factory=list)
