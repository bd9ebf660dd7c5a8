"""CommCare case changes for ``update_case``: the input model, the current cases, the before/after plan.

A plan is the exact normalised change: the wire body of each entry, only what differs from the case
as read now, and those fields' current values (bound into the confirmation and the idempotency key).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from casebridge.providers.commcare.client import CaseV2, CommCareClient
from casebridge.providers.commcare.writes import CommCareWriter
from casebridge.providers.errors import NotFound, ProviderError, Rejected
from casebridge.tools import consent, privacy
from casebridge.tools.errors import ToolFailure
from casebridge.tools.models import Model, Visible
from casebridge.tools.render import fence_inline
from casebridge.tools.support import personal_data as pd
from casebridge.tools.text import one_line

CORE = ("case_type", "case_name", "owner_id", "external_id")


def _few(most: int) -> AfterValidator:
    def check(value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and len(value) > most:
            raise ValueError(f"at most {most} properties")
        return value

    return AfterValidator(check)


_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_CASE_ID = re.compile(r"^[A-Za-z0-9-]{6,64}$")


def _sized(most: int, least: int = 1) -> AfterValidator:
    """A length check kept out of the published schema (every schema byte is in every conversation)."""

    def check(value: str) -> str:
        value = value.strip()
        if not least <= len(value) <= most:
            raise ValueError(f"must be {least} to {most} characters")
        return value

    return AfterValidator(check)


# CommCare's limit for case_type, case_name, owner_id and external_id.
Text = Annotated[str, _sized(255), Visible]
Action = Literal["create", "update", "upsert"]


class ParentIndex(Model):
    case_id: Annotated[str, _sized(64, 6), Visible]
    case_type: Text
    relationship: Literal["child", "extension"] = "child"

    @field_validator("case_id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _CASE_ID.match(value):
            raise ValueError("a case id is 6-64 letters, digits or '-'")
        return value


class CaseChange(Model):
    action: Annotated[Action, Field(description="update goes by case_id, upsert by external_id.")]
    case_id: Annotated[str | None, _sized(80), Visible] = None
    external_id: Text | None = None
    case_type: Text | None = None
    case_name: Text | None = None
    owner_id: Text | None = None
    properties: Annotated[dict[str, Annotated[str, _sized(2000, 0), Visible]] | None, _few(100)] = None
    close: bool = False
    parent: ParentIndex | None = None

    @field_validator("properties")
    @classmethod
    def _names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name in value or {}:
            if not _PROPERTY.match(name) or name.lower().startswith("xml") or name in CORE or name == "case_id":
                raise ValueError(
                    f"{name[:64]!r} cannot be a property name (letters, digits, _ . -; not a field of its own "
                    "or starting with xml)"
                )
        return value


@dataclass
class Planned:
    """One entry: what is sent and what it changes (``rows``: field, before, after; ``before`` None: no case)."""

    index: int
    change: CaseChange
    case_id: str | None = None
    before: CaseV2 | None = None
    body: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, str | None, str]] = field(default_factory=list)
    error: str | None = None

    @property
    def creates(self) -> bool:
        return self.before is None and self.change.action != "update"

    @property
    def changed(self) -> list[str]:
        return [name for name, _, _ in self.rows]

    @property
    def target(self) -> str:
        c = self.change
        if self.case_id:
            return f"commcare:{self.case_id}"
        if c.external_id:
            return f"external_id {c.external_id}"
        return f"new {c.case_type or 'case'}"

    def wire(self) -> dict[str, Any]:
        """The bulk row of this entry (create true, false, or null for an upsert)."""
        if self.change.action == "upsert":
            return {**self.body, "external_id": self.change.external_id, "create": None}
        if self.case_id:
            return {**self.body, "case_id": self.case_id, "create": False}
        return {**self.body, "create": True}


@dataclass
class Plan:
    entries: list[Planned]
    domain: str

    @property
    def to_write(self) -> list[Planned]:
        return [e for e in self.entries if e.rows]

    def material(self) -> dict[str, Any]:
        """What the user confirms and the idempotency key covers: each write and the values it replaces."""
        writes = []
        for e in self.to_write:
            before = {name: was for name, was, _ in e.rows}
            writes.append({"action": e.change.action, "row": e.wire(), "before": before})
        return {"commcare": self.domain, "writes": writes}

    @property
    def key(self) -> str:
        return hashlib.sha256(consent.canonical(self.material()).encode()).hexdigest()

    def record(self) -> dict[str, Any]:
        """The ledger's request: targets and changed field NAMES; values only where the policy shows all."""
        show = not privacy.current().masks
        changes = []
        for e in self.to_write:
            item: dict[str, Any] = {"action": e.change.action, "case": e.target, "fields": e.changed}
            if show:
                item["values"] = {name: after for name, _, after in e.rows if _plain(name)}
            changes.append(item)
        first = changes[0] if changes else {"case": "-", "fields": []}
        more = f" (+{len(changes) - 1} more)" if len(changes) > 1 else ""
        return {"case": f"{first['case']}{more}", "fields": first["fields"], "changes": changes}

    def summary(self, sandbox: bool) -> str:
        head = "[SANDBOX: synthetic, nothing real is changed] " if sandbox else ""
        lines = [f"{head}Change CommCare cases in project space {self.domain}:"]
        for e in self.entries:
            lines.append(_entry_head(e))
            lines.extend(f"   {name}: {_before(name, was)} -> {_after(name, now)}" for name, was, now in e.rows)
        return "\n".join(lines)


def _entry_head(e: Planned) -> str:
    n = e.index + 1
    if not e.rows:
        return f"{n}. {e.target}: nothing to change (it already has these values)"
    if e.creates:
        how = "upsert: no case has this external_id, so one is created" if e.change.action == "upsert" else "create"
        return f"{n}. Create a {one_line(e.change.case_type, 60)} case ({how}):"
    name = fence_inline(e.before.case_name) if e.before is not None and e.before.case_name else "unnamed"
    closing = (
        " and CLOSE it (closing cannot be undone through the API)" if e.change.close and "closed" in e.changed else ""
    )
    return f"{n}. Update {e.target} ({name}){closing}:"


def _plain(name: str) -> bool:
    policy = privacy.current()
    prop = name.removeprefix("properties.").lower()
    return prop not in policy.sensitive_properties and prop not in policy.hidden_properties


def _before(name: str, value: str | None) -> str:
    """A current value for the quote: provider text, fenced; a sensitive property's masked."""
    if value is None or value == "":
        return "(none)"
    policy = privacy.current()
    prop = name.removeprefix("properties.").lower()
    if prop in policy.hidden_properties:
        return "(set, not shown)"
    if policy.masks and prop in policy.sensitive_properties:
        return pd.mask_as(pd.kind_of_field(prop) or pd.SENSITIVE, value)
    return fence_inline(value, 200)


def _after(name: str, value: str) -> str:
    return "(none)" if value == "" else f'"{one_line(value, 200)}"'


# ------------------------------------------------------------------------------------------- planning


async def plan(client: CommCareClient, changes: list[CaseChange], check_id: Any) -> Plan:
    """Read the cases ``changes`` touch and work out each entry's before/after; entries with errors are
    collected and refused together (``ToolFailure`` naming each), before anything is asked or written."""
    if client.has_v2 is False:
        raise ToolFailure(
            "not_configured",
            "this CommCare server has no Case Data API v2, which case changes need; nothing was changed",
            provider="commcare",
        )
    entries = [Planned(i, c) for i, c in enumerate(changes)]
    for e in entries:
        _check_shape(e, check_id)
    await _read_targets(client, [e for e in entries if e.error is None])
    for e in entries:
        if e.error is None:
            _diff(e)
    bad = [e for e in entries if e.error]
    if bad:
        parts = [f"changes[{e.index}]: {e.error}" for e in bad[:10]]
        ok = len(entries) - len(bad)
        raise ToolFailure(
            "invalid_input",
            "Nothing was changed: "
            + "; ".join(parts)
            + (f" (and {len(bad) - 10} more)" if len(bad) > 10 else "")
            + (f". The other {ok} entries are valid." if ok else "."),
            provider="commcare",
            field=f"changes[{bad[0].index}]",
            fix="Fix or drop the entries named, then call again with every change (nothing was asked or written).",
        )
    return Plan(entries, client.domain)


def _check_shape(e: Planned, check_id: Any) -> None:
    c = e.change
    if c.action == "update":
        if not c.case_id:
            e.error = "an update needs case_id (use upsert to go by external_id)"
            return
        try:
            e.case_id = check_id(c.case_id.strip().removeprefix("commcare:"))
        except ValueError as exc:
            e.error = str(exc)
    elif c.case_id:
        e.error = f"case_id is for updates; a {c.action} goes by " + ("external_id" if c.action == "upsert" else "type")
    elif c.action == "upsert" and not c.external_id:
        e.error = "an upsert needs external_id"


async def _read_targets(client: CommCareClient, entries: list[Planned]) -> None:
    ids = [e.case_id for e in entries if e.case_id]
    if ids:
        try:
            found = {c.case_id: c for c in (await client.get_cases_v2(ids)).found}
        except ProviderError as exc:
            raise ToolFailure.from_provider(exc, "Nothing was changed") from exc
        for e in entries:
            if e.case_id:
                e.before = found.get(e.case_id)
                if e.before is None:
                    e.error = f"no case with id {e.case_id} (an update needs an existing case; use create)"
    upserts = [e for e in entries if e.change.action == "upsert"]
    if len(upserts) == 1:
        e = upserts[0]
        try:
            e.before = await client.get_case_by_external_id(str(e.change.external_id))
        except NotFound:
            e.before = None
        except Rejected as exc:
            e.error = "several cases have this external_id; update one of them by case_id"
            del exc
        except ProviderError as exc:
            raise ToolFailure.from_provider(exc, "Nothing was changed") from exc
    elif upserts:
        keys = sorted({str(e.change.external_id) for e in upserts})
        try:
            cases = await CommCareWriter(client).find(external_id=keys)
        except ProviderError as exc:
            raise ToolFailure.from_provider(exc, "Nothing was changed") from exc
        for e in upserts:
            matches = [c for c in cases if c.external_id == e.change.external_id]
            if len(matches) > 1:
                e.error = "several cases have this external_id; update one of them by case_id"
            e.before = matches[0] if matches else None
    for e in upserts:
        if e.before is not None:
            e.case_id = e.before.case_id
        if sum(1 for o in upserts if o.change.external_id == e.change.external_id) > 1 and e.error is None:
            e.error = "the same external_id appears in two entries; merge them"


def _diff(e: Planned) -> None:
    c, old = e.change, e.before
    if old is None:
        missing = [k for k in ("case_type", "case_name", "owner_id") if not getattr(c, k)]
        if missing:
            what = "creating" if c.action == "create" else "an upsert that creates (no case has this external_id)"
            e.error = f"{', '.join(missing)} needed for {what}"
            return
    for name in CORE:
        value = getattr(c, name)
        was = getattr(old, name) if old is not None else None
        if value is not None and value != was:
            e.body[name] = value
            e.rows.append((name, was, value))
    props: dict[str, str] = {}
    for name, value in (c.properties or {}).items():
        was = old.properties.get(name) if old is not None else None
        if (was or "") != value or (old is None and value):
            props[name] = value
            e.rows.append((f"properties.{name}", was, value))
    if props:
        e.body["properties"] = props
    if c.parent is not None:
        current = old.indices.get("parent") if old is not None else None
        wanted = c.parent.model_dump()
        if current is None or (current.case_id, current.case_type, current.relationship) != tuple(wanted.values()):
            e.body["indices"] = {"parent": wanted}
            was_parent = f"{current.case_id} ({current.case_type})" if current is not None else None
            e.rows.append(("parent", was_parent, f"{c.parent.case_id} ({c.parent.case_type}, {c.parent.relationship})"))
    if c.close and not (old is not None and old.closed):
        e.body["close"] = True
        e.rows.append(("closed", "no" if old is not None else None, "yes"))
    if e.creates and e.rows and "case_type" not in e.body:
        e.body.update({k: getattr(c, k) for k in ("case_type", "case_name", "owner_id") if getattr(c, k)})


def applied(e: Planned, case: CaseV2) -> bool:
    """True when ``case`` shows every change of ``e`` (used after a lost answer)."""
    b = e.body
    if any(getattr(case, k) != b[k] for k in CORE if k in b):
        return False
    if any(case.properties.get(k, "") != v for k, v in (b.get("properties") or {}).items()):
        return False
    parent = (b.get("indices") or {}).get("parent")
    if parent is not None:
        index = case.indices.get("parent")
        if index is None or index.case_id != parent["case_id"]:
            return False
    return not b.get("close") or case.closed
