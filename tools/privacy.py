"""The privacy policy (``CASEBRIDGE_PRIVACY`` and its lists) and the pass that masks results before rendering.

Every tool result, resource and error goes through ``Masking`` (tools/render.py, server/app.py), so a
field any source adds to a case's facts, title or items is masked without the source doing anything.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from casebridge.tools.models import CaseDetail, CaseRow, CaseSummary, Fact, Item, SearchResult
from casebridge.tools.support import personal_data as pd

Level = Literal["standard", "strict", "off"]
LEVELS: tuple[Level, ...] = ("standard", "strict", "off")

# Masked whatever their values look like (COMMCARE_SENSITIVE_PROPERTIES replaces the list).
DEFAULT_SENSITIVE_PROPERTIES = (
    "dob",
    "date_of_birth",
    "birth_date",
    "birthdate",
    "phone",
    "phone_number",
    "mobile",
    "mobile_number",
    "email",
    "email_address",
    "national_id",
    "id_number",
    "ssn",
    "passport",
    "passport_number",
    "drivers_licence",
    "drivers_license",
    "address",
    "street",
    "street_address",
    "gps",
)
REVEAL_ALL = "all"
_LIST_ITEM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_SHORT_CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_DROP = object()

M = TypeVar("M", bound=BaseModel)


def parse_list(value: str | None, what: str) -> frozenset[str]:
    """A comma-separated list of names (lower-cased); ``ValueError`` naming the bad entry."""
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    for name in names:
        if not _LIST_ITEM.match(name):
            raise ValueError(f"{what}: {name[:40]!r} is not a property name (letters, digits, _ . -)")
    return frozenset(n.lower() for n in names)


@dataclass(frozen=True)
class PrivacyPolicy:
    """What reaches the model. ``reveal_providers``: whose cases ``get_case(reveal=...)`` may unmask."""

    level: Level = "standard"
    sensitive_properties: frozenset[str] = frozenset(DEFAULT_SENSITIVE_PROPERTIES)
    hidden_properties: frozenset[str] = frozenset()
    reveal_providers: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, level: str, sensitive: str | None, hidden: str | None, reveal: str | None) -> PrivacyPolicy:
        if level not in LEVELS:
            raise ValueError(f"CASEBRIDGE_PRIVACY must be one of {', '.join(LEVELS)}")
        chosen = parse_list(reveal, "CASEBRIDGE_ALLOW_REVEAL")
        providers = {"clearinghouse", "commcare", "certn"}
        if REVEAL_ALL in chosen:
            chosen = frozenset(providers)
        if not chosen <= providers:
            bad = sorted(chosen - providers)[0]
            raise ValueError(f"CASEBRIDGE_ALLOW_REVEAL: {bad!r} is not a provider (or 'all')")
        return cls(
            level=level,
            sensitive_properties=(
                frozenset(DEFAULT_SENSITIVE_PROPERTIES)
                if sensitive is None
                else parse_list(sensitive, "COMMCARE_SENSITIVE_PROPERTIES")
            ),
            hidden_properties=parse_list(hidden, "COMMCARE_HIDDEN_PROPERTIES"),
            reveal_providers=chosen,
        )

    @property
    def masks(self) -> bool:
        return self.level != "off"

    def allows_reveal(self, provider: str) -> bool:
        return self.masks and provider in self.reveal_providers


DEFAULT_POLICY = PrivacyPolicy()
_CURRENT: ContextVar[PrivacyPolicy | None] = ContextVar("casebridge_privacy", default=None)


@contextlib.contextmanager
def applied(policy: PrivacyPolicy) -> Iterator[None]:
    """``policy`` for every result built inside (the server wraps each tool call and resource read)."""
    token = _CURRENT.set(policy)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> PrivacyPolicy:
    """The policy of the call being answered; outside one, the default (privacy by default)."""
    return _CURRENT.get() or DEFAULT_POLICY


def mask_text(text: str, policy: PrivacyPolicy | None = None) -> str:
    """Free text (an error message, a note) with personal data masked, as the policy says."""
    return pd.mask_text(text) if (policy or current()).masks else text


def mask_failure(failure: Any, policy: PrivacyPolicy) -> None:
    """A ``tools.errors.ToolFailure``'s words (casebridge's and the provider's) with personal data masked."""
    if policy.masks:
        failure.message = pd.mask_text(failure.message)
        if failure.provider_message:
            failure.provider_message = pd.mask_text(failure.provider_message)


@dataclass
class Masking:
    """One result's masking: the policy, the fields revealed for its case, and what was masked or hidden."""

    policy: PrivacyPolicy = field(default_factory=current)
    reveal: frozenset[str] = frozenset()
    masked: list[str] = field(default_factory=list)  # fact keys of the top-level case that were masked
    hidden: int = 0
    # Strict policy: the words of the case's own name, masked wherever the case's text repeats them.
    names: re.Pattern[str] | None = None

    # -- whole models ------------------------------------------------------------------------

    def model(self, model: M) -> M:
        """``model`` with every case in it masked (cases inside other results too, e.g. an order's case)."""
        if isinstance(model, CaseDetail):
            return self.detail(model)  # type: ignore[return-value]
        if isinstance(model, CaseSummary):
            return self.summary(model)  # type: ignore[return-value]
        if isinstance(model, SearchResult):
            return model.model_copy(update={"cases": [self.row(c) for c in model.cases]})
        update: dict[str, Any] = {}
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                update[name] = self.model(value)
            elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
                update[name] = [self.model(v) for v in value]
        return model.model_copy(update=update) if update else model

    def row(self, case: CaseRow) -> CaseRow:
        if isinstance(case, CaseSummary):
            return self.summary(case)
        provider = _provider(case.ref)
        return case.model_copy(update={"title": self.title(case.title, provider, self.keep(provider, case.title))})

    def summary(self, case: CaseSummary) -> CaseSummary:
        if not self.policy.masks and not self.policy.hidden_properties:
            return case
        provider = _provider(case.ref)
        keep = self.keep(provider, case.title)
        self.names = self.name_words(case.title, provider)
        title = self.title(case.title, provider, keep)
        facts = self.facts(case.facts, provider, keep, top=False)
        if title == case.title and facts == case.facts:
            return case  # nothing to mask: most search rows (a copy costs more than all the checks)
        return case.model_copy(update={"title": title, "facts": facts})

    def detail(self, case: CaseDetail) -> CaseDetail:
        if not self.policy.masks and not self.policy.hidden_properties:
            return case
        provider = case.provider
        keep = self.keep(provider, case.title, case.facts.get("email") if provider == "certn" else None)
        revealed = bool({"title", "name"} & self.reveal)
        self.names = None if revealed else self.name_words(case.title, provider)
        facts = self.facts(case.facts, provider, keep, top=True)
        sections = {name: [self.item(i, provider, keep) for i in items] for name, items in case.sections.items()}
        summary = case.summary
        if summary and "summary" not in self.reveal and self.policy.masks:
            summary = pd.mask_text(summary, keep)
            if summary != case.summary:
                self.masked.append("summary")
        title = case.title if revealed else self.title(case.title, provider, keep)
        if title != case.title:
            self.masked.append("title")
        parent = self.summary(case.parent) if case.parent else None
        related = [self.summary(c) for c in case.related]
        return case.model_copy(
            update={
                "parent": parent,
                "related": related,
                "title": title,
                "facts": facts,
                "summary": summary,
                "sections": sections,
                "notes": [mask_text(n, self.policy) for n in case.notes],
            }
        )

    def item(self, item: Item, provider: str, keep: frozenset[str]) -> Item:
        title = item.title if not self.policy.masks else pd.mask_text(item.title, keep)
        return item.model_copy(update={"title": title, "facts": self.facts(item.facts, provider, keep, top=True)})

    # -- parts -------------------------------------------------------------------------------

    def name_words(self, title: str, provider: str) -> re.Pattern[str] | None:
        """Under the strict policy, the words of a CommCare or Certn case's name (labels like "Referral:" left out)."""
        if self.policy.level != "strict" or provider not in ("commcare", "certn") or "@" in title:
            return None
        label, sep, rest = title.partition(": ")
        words = {w for w in re.findall(r"[^\W\d_][\w'-]+", rest if sep and " " not in label else title)}
        words -= {"household", "case", "unnamed"}
        if not words:
            return None
        return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b")

    def keep(self, provider: str, *candidates: object) -> frozenset[str]:
        """E-mail addresses left as they are: in a Certn case, the applicant's own (the user ordered the check).

        Not under the strict policy: an address usually spells the person's name.
        """
        if provider != "certn" or self.policy.level == "strict":
            return frozenset()
        return frozenset(c.lower() for c in candidates if isinstance(c, str) and "@" in c)

    def title(self, title: str, provider: str, keep: frozenset[str]) -> str:
        if not self.policy.masks:
            return title
        if self.policy.level == "strict" and provider in ("commcare", "certn"):
            return _person_title(title, keep)
        return pd.mask_text(title, keep)

    def facts(self, facts: dict[str, Fact], provider: str, keep: frozenset[str], *, top: bool) -> dict[str, Fact]:
        out: dict[str, Fact] = {}
        for key, value in facts.items():
            masked = self.fact(key, value, provider, keep, revealed=top and bool(_named(key) & self.reveal))
            if masked is _DROP:
                if top:
                    self.hidden += 1
                continue
            if top and masked != value:
                self.masked.append(key)
            out[key] = masked
        return out

    def fact(self, key: str, value: Fact, provider: str, keep: frozenset[str], *, revealed: bool) -> Any:
        name = key.removeprefix("properties.").lower()
        if provider == "commcare" and name in self.policy.hidden_properties:
            return _DROP
        if revealed or not self.policy.masks or value is None or isinstance(value, bool):
            return value
        if isinstance(value, list):
            return [self._one(key, name, v, provider, keep) for v in value]
        return self._one(key, name, value, provider, keep)

    def _one(self, key: str, name: str, value: str | int | float, provider: str, keep: frozenset[str]) -> Any:
        text = str(value)
        if not text:
            return value
        kind = _kind_of_field(name)
        if provider == "commcare" and name in self.policy.sensitive_properties:
            return pd.mask_as(kind or pd.SENSITIVE, text)
        if self.policy.level == "strict" and pd.is_person_name_field(name):
            return pd.mask_as(pd.NAME, text)
        if kind is not None and isinstance(value, str):
            if kind == pd.EMAIL and text.lower() in keep:
                return value
            if _looks_like(kind, text):
                return pd.mask_as(kind, text)
        if not isinstance(value, str):
            return value
        masked = pd.mask_text(value, keep)
        if self.names is not None:
            masked = self.names.sub(lambda m: pd.initials(m.group(0)), masked)
        return masked


# What a field holds by its name: a pure function of the name, asked for every fact of every row.
_kind_of_field = functools.lru_cache(maxsize=1024)(pd.kind_of_field)


def _provider(ref: str) -> str:
    return ref.partition(":")[0]


def _named(key: str) -> set[str]:
    """The names a fact answers to in ``reveal``: its key, and the property name without ``properties.``."""
    return {key.lower(), key.removeprefix("properties.").lower()}


def _person_title(title: str, keep: frozenset[str]) -> str:
    """A case named after a person, under the strict policy: initials (labels such as "Referral:" kept)."""
    if title.lower() in keep or _SHORT_CODE.match(title) or title.startswith("(") or pd.is_masked(title):
        return title
    label, sep, rest = title.partition(": ")
    if sep and rest and " " not in label:
        return f"{label}: {pd.initials(rest)}"
    return pd.initials(title)


def _looks_like(kind: str, text: str) -> bool:
    """True when ``text`` can hold a ``kind`` (a ``phone_verified: yes`` fact is not a phone number)."""
    digits = sum(ch.isdigit() for ch in text)
    if kind == pd.EMAIL:
        return "@" in text
    if kind == pd.PHONE:
        return digits >= 6
    if kind in (pd.ID, pd.DOB):
        return digits >= 4
    return len(text) > 3 and text.lower() not in ("true", "false", "yes", "no", "none", "null")


def masked_summary(masking: Masking, names: Iterable[str], provider: str) -> str | None:
    """The note that tells the model which fields of this case were masked, and how it may see them."""
    shown = sorted(set(names))
    if not shown:
        return None
    listed = ", ".join(shown[:12]) + (f" (+{len(shown) - 12} more)" if len(shown) > 12 else "")
    how = (
        " get_case with reveal=[names] shows them; each reveal is recorded."
        if masking.policy.allows_reveal(provider)
        else " This server does not reveal them."
    )
    return f"Masked by this server's privacy policy ({masking.policy.level}): {listed}.{how}"
