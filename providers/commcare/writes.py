"""CommCare Case Data API v2 writes: create, update, upsert by external id, bulk; never retried.

Errors map to the shared types: an update of a missing case (v2 answers 400) is ``NotFound``; the
``ext/<id>/`` multiple-match 400 and a bulk row's "Error in row <n>" are ``Rejected`` naming the field.
Any failure after the request may have arrived (no answer, 5xx, an unreadable 200) has ``maybe_sent``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from casebridge.providers.commcare.client import PROVIDER, CaseV2, CommCareClient, _segment
from casebridge.providers.errors import MalformedResponse, NotFound, ProviderError, Rejected
from casebridge.providers.http import Response, json_body

MAX_BULK = 100
_ROW = re.compile(r"^Error in row (\d{1,3}): ")
_MISSING = re.compile(r"^Could not find a case")
_MULTIPLE = re.compile(r"^Multiple cases found with external_id")


class _WriteAnswer(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)
    form_id: str | None = None
    case: CaseV2 | None = None
    cases: list[CaseV2] | None = None


class CommCareWriter:
    """The v2 write endpoints of one client's project space (its HTTP layer, budget and redaction)."""

    def __init__(self, client: CommCareClient) -> None:
        self.client = client
        self._base = client._root + "case/v2/"

    async def create(self, body: dict[str, Any]) -> CaseV2:
        """``POST`` an object: creates a new case, even when its external_id is taken (not an upsert)."""
        return self._one(await self.client.http.post(self._base, json=body))

    async def update(self, case_id: str, body: dict[str, Any]) -> CaseV2:
        """``PUT <case_id>``: send only what changes. A missing case is ``NotFound``."""
        return self._one(await self.client.http.put(self._base + _segment(case_id), json=body))

    async def upsert(self, external_id: str, body: dict[str, Any]) -> CaseV2:
        """``PUT ext/<external_id>/``: creates the case if no case has that external id, else updates it."""
        return self._one(await self.client.http.put(self._base + f"ext/{_segment(external_id)}/", json=body))

    async def bulk(self, rows: Sequence[dict[str, Any]]) -> list[CaseV2]:
        """``POST`` an array (each row with ``create``: true, false or null for an upsert); all or nothing."""
        if not 1 <= len(rows) <= MAX_BULK or any("create" not in r for r in rows):
            raise ValueError(f"a bulk write is 1 to {MAX_BULK} rows, each with 'create'")
        answer = self._answer(await self.client.http.post(self._base, json=list(rows)))
        if answer.cases is None or len(answer.cases) != len(rows):
            raise self._unreadable("the bulk answer does not list one case per row")
        return answer.cases

    async def find(self, **filters: str | Sequence[str]) -> list[CaseV2]:
        """Cases matching exact ``filters`` (e.g. ``external_id`` as a list, or type + name + owner)."""
        page = await self.client.list_cases_v2({**filters}, limit=1000)
        return page.cases

    # -- answers ---------------------------------------------------------------------------

    def _one(self, response: Response) -> CaseV2:
        answer = self._answer(response)
        if answer.case is None:
            raise self._unreadable("the answer has no case")
        return answer.case

    def _answer(self, response: Response) -> _WriteAnswer:
        status = response.status_code
        client = self.client
        try:
            if status == 200:
                try:
                    return _WriteAnswer.model_validate(json_body(PROVIDER, response))
                except ValidationError:
                    raise self._unreadable("unexpected write answer shape") from None
            text = client._error_text(response) or ""
            if status == 400 and _MISSING.match(text):
                raise NotFound(
                    PROVIDER, text, status=400, field="case_id", hint="Search for the case to find its current id."
                )
            if status == 400 and _MULTIPLE.match(text):
                raise Rejected(
                    PROVIDER,
                    text,
                    status=400,
                    field="external_id",
                    hint="Several cases share that external id: update one of them by case id instead.",
                )
            row = _ROW.match(text)
            if status == 400 and row:
                raise Rejected(
                    PROVIDER,
                    text,
                    status=400,
                    field=f"changes[{int(row.group(1))}]",
                    hint="CommCare writes a bulk request all at once, so nothing was written; fix that entry.",
                )
            err = client._error(response, "not found")
            if status >= 500:
                err.maybe_sent = True  # it arrived: the form may have been processed before the failure
            raise err
        except ProviderError as err:
            if isinstance(err, MalformedResponse):
                err.maybe_sent = True
            raise client.http.scrub(err) from err.__cause__

    @staticmethod
    def _unreadable(what: str) -> MalformedResponse:
        return MalformedResponse(PROVIDER, what, status=200, maybe_sent=True)
