"""The contract every provider adapter meets, so ``search_cases``/``get_case`` stay generic."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from casebridge.tools.models import CaseDetail, CaseSummary, ProviderName

# Continuation state a source needs to fetch the next page. It travels inside the opaque cursor,
# so it must be JSON-serialisable and small; sources re-validate it when it comes back.
PageState = dict[str, Any]

# The largest page search_cases asks of a source. Positions inside a cursor are bounded by it, so no
# cursor, forged or not, makes a source fetch more than about twice this many rows in one call.
MAX_PAGE_SIZE = 50
# How a source refuses page state it could never have issued (search_cases adds what to do).
FORGED = "the cursor is not one this server issued"


@dataclass
class Page:
    cases: list[CaseSummary]
    state: PageState | None = None  # None: no more pages
    total: int | None = None
    notes: list[str] = field(default_factory=list)


class Source(ABC):
    """One provider as the tools see it.

    ``filters_model`` is the pydantic model of the provider's search filters (it becomes part of
    ``search_cases``' input schema); ``includes`` names the extra sections ``get_case`` can add.
    Provider errors (``providers.errors.ProviderError``) propagate; the tools turn them into
    actionable results. Bad page state raises ``ValueError``.
    """

    name: ClassVar[ProviderName]
    filters_model: ClassVar[type[BaseModel]]
    includes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, sandbox: bool = False) -> None:
        self.sandbox = sandbox

    def ref(self, case_id: str | int) -> str:
        return f"{self.name}:{case_id}"

    @abstractmethod
    def check_id(self, case_id: str) -> str:
        """The id normalised, or ``ValueError`` saying what a valid id looks like."""

    @abstractmethod
    async def search(self, filters: BaseModel, state: PageState | None, limit: int) -> Page: ...

    @abstractmethod
    async def get(self, case_id: str, include: frozenset[str]) -> CaseDetail: ...

    def check_other(self, ref_id: str) -> str | None:
        """For a ref naming something other than a case that ``get_case`` reads (``certn:groups``):
        its normalised id; None for anything else (then it must be a case id)."""
        return None

    async def get_other(self, ref_id: str) -> CaseDetail:
        """The detail of a ``check_other`` ref."""
        raise ValueError(f"{self.name} has no ref {ref_id[:40]!r}")

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        pass
