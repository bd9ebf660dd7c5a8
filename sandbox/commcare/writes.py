"""The CommCare emulator's Case Data API v2 writes: create, update, ``ext/<id>/`` upsert and bulk.

Faithful to the fact sheet: create is not an upsert, ``ext/<id>/`` PUT is; a bulk request is at most
100 rows, each with ``create``, validated as a whole (one form: all or nothing, "Error in row <n>");
property values are strings; an update of a missing case is a 400; success is 200 with ``form_id``.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from casebridge.sandbox.commcare.data import CaseRecord, Dataset

MAX_BULK = 100
FIELDS = frozenset(
    {"case_id", "case_type", "case_name", "owner_id", "external_id", "temporary_id", "properties", "indices", "close"}
)
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class WriteRefused(Exception):
    """A 400 answer: ``message`` is the body's ``error``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def copy_dataset(data: Dataset) -> Dataset:
    """A private copy to write to (the seed's data set is shared by every emulator in the process)."""
    return Dataset(
        cases=list(data.cases),
        owners=data.owners,
        users=data.users,
        by_id=dict(data.by_id),
        by_external_id={k: list(v) for k, v in data.by_external_id.items()},
        children={k: list(v) for k, v in data.children.items()},
    )


class CaseWriter:
    """Applies v2 write bodies to a data set; every method validates everything before changing anything."""

    def __init__(self, data: Dataset, user: str, render: Callable[[CaseRecord], dict[str, Any]]) -> None:
        self.data = data
        self.user = user
        self.render = render  # a case as the v2 wire object

    # -- routes ------------------------------------------------------------------------------

    def post(self, body: Any) -> dict[str, Any]:
        if isinstance(body, list):
            return self.bulk(body)
        if not isinstance(body, dict):
            raise WriteRefused("Payload must be a JSON object or array")
        return self._single(self._plan(body, create=True))

    def put(self, body: Any) -> dict[str, Any]:
        if isinstance(body, list):
            return self.bulk(body)
        if not isinstance(body, dict):
            raise WriteRefused("Payload must be a JSON object or array")
        return self._single(self._plan(body, create=False))

    def put_case(self, case_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise WriteRefused("Payload must be a single JSON object")  # the real server answers 500 here
        return self._single(self._plan({**body, "case_id": case_id}, create=False))

    def put_external(self, external_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise WriteRefused("Payload must be a single JSON object")
        return self._single(self._plan({**body, "external_id": external_id}, create=None))

    def bulk(self, rows: list[Any]) -> dict[str, Any]:
        if len(rows) > MAX_BULK:
            raise WriteRefused(f"You cannot submit more than {MAX_BULK} updates in a single request")
        plans: list[Callable[[dict[str, str]], CaseRecord]] = []
        for n, row in enumerate(rows):
            if not isinstance(row, dict) or "create" not in row:
                raise WriteRefused("A 'create' flag is required for each update.")
            create = row["create"]
            if create not in (True, False, None):
                raise WriteRefused(f"Error in row {n}: 'create' must be true, false or null")
            fields = {k: v for k, v in row.items() if k != "create"}
            try:
                plans.append(self._plan(fields, create=create))
            except WriteRefused as exc:
                raise WriteRefused(f"Error in row {n}: {exc.message}") from None
        temporary: dict[str, str] = {}
        written = [self.render(plan(temporary)) for plan in plans]
        return {"form_id": str(uuid.uuid4()), "cases": written}

    # -- one row -----------------------------------------------------------------------------

    def _single(self, plan: Callable[[dict[str, str]], CaseRecord]) -> dict[str, Any]:
        return {"form_id": str(uuid.uuid4()), "case": self.render(plan({}))}

    def _plan(self, body: dict[str, Any], *, create: bool | None) -> Callable[[dict[str, str]], CaseRecord]:
        """Validate one row now; the returned step writes it (``create`` None: upsert on external_id)."""
        for key in body:
            if key not in FIELDS:
                raise WriteRefused(f"'{key}' is not a valid field.")
        for key in ("case_id", "case_type", "case_name", "owner_id", "external_id", "temporary_id"):
            value = body.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > 255):
                raise WriteRefused(f"'{key}' must be a string of at most 255 characters")
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise WriteRefused("'properties' must be an object")
        for name, value in properties.items():
            if not _XML_NAME.match(name) or name.lower().startswith("xml"):
                raise WriteRefused(f"Invalid property name '{name}'")
            if not isinstance(value, str):
                raise WriteRefused(f"Property values must be strings ('{name}')")
        indices = body.get("indices") or {}
        if not isinstance(indices, dict) or not all(isinstance(v, dict) for v in indices.values()):
            raise WriteRefused("'indices' must be an object of objects")
        for index in indices.values():
            if index.get("relationship", "child") not in ("child", "extension"):
                raise WriteRefused("Index relationship must be 'child' or 'extension'")
        close = body.get("close")
        if close is not None and not isinstance(close, bool):
            raise WriteRefused("'close' must be a boolean")
        existing: CaseRecord | None = None
        if create is None:
            external_id = body.get("external_id")
            if not external_id:
                raise WriteRefused("An 'external_id' is required to create or update by external_id")
            found = self.data.by_external_id.get(external_id, [])
            if len(found) > 1:
                ids = ", ".join(c.case_id for c in found)
                raise WriteRefused(f"Multiple cases found with external_id '{external_id}': {ids}")
            existing = found[0] if found else None
            create = existing is None
        elif not create:
            existing = self._target(body)
        if create:
            if body.get("case_id"):
                raise WriteRefused("'case_id' cannot be set when creating a case")
            missing = [k for k in ("case_type", "case_name", "owner_id") if not body.get(k)]
            if missing:
                raise WriteRefused(f"'{missing[0]}' is required when creating a case")
        elif body.get("temporary_id"):
            raise WriteRefused("'temporary_id' can only be set when creating a case")

        def write(temporary: dict[str, str]) -> CaseRecord:
            record = self._apply(existing, body, temporary)
            self._store(existing, record)
            if body.get("temporary_id"):
                temporary[body["temporary_id"]] = record.case_id
            return record

        return write

    def _target(self, body: dict[str, Any]) -> CaseRecord:
        case_id, external_id = body.get("case_id"), body.get("external_id")
        if case_id:
            case = self.data.by_id.get(case_id)
            if case is None:
                raise WriteRefused(f"Could not find a case with id '{case_id}'")
            return case
        if external_id:
            found = self.data.by_external_id.get(external_id, [])
            if not found:
                raise WriteRefused(f"Could not find a case with external_id '{external_id}'")
            if len(found) > 1:
                ids = ", ".join(c.case_id for c in found)
                raise WriteRefused(f"Multiple cases found with external_id '{external_id}': {ids}")
            return found[0]
        raise WriteRefused("A 'case_id' or 'external_id' is required to update a case")

    def _apply(self, old: CaseRecord | None, body: dict[str, Any], temporary: dict[str, str]) -> CaseRecord:
        now = self._now()
        indices = dict(old.indices) if old is not None else {}
        for name, index in (body.get("indices") or {}).items():
            target = index.get("case_id") or temporary.get(index.get("temporary_id") or "")
            if not target and index.get("external_id"):
                found = self.data.by_external_id.get(index["external_id"], [])
                target = found[0].case_id if found else None
            if not target:
                indices.pop(name, None)  # an index with no target deletes it
                continue
            indices[name] = {
                "case_id": target,
                "case_type": str(index.get("case_type") or ""),
                "relationship": str(index.get("relationship") or "child"),
            }
        properties = {**(old.properties if old is not None else {}), **(body.get("properties") or {})}
        closing = body.get("close") is True
        if old is None:
            return CaseRecord(
                case_id=str(uuid.uuid4()),
                case_type=body["case_type"],
                case_name=body["case_name"],
                external_id=body.get("external_id"),
                owner_id=body["owner_id"],
                user_id=self.user,
                opened_by=self.user,
                closed_by=self.user if closing else None,
                date_opened=now,
                date_modified=now,
                server_date_modified=now,
                indexed_on=now,
                date_closed=now if closing else None,
                properties=properties,
                indices=indices,
                xform_ids=(str(uuid.uuid4()),),
            )
        changes: dict[str, Any] = {
            k: body[k] for k in ("case_type", "case_name", "owner_id", "external_id") if k in body
        }
        if closing and old.date_closed is None:
            changes.update(date_closed=now, closed_by=self.user)
        return dataclasses.replace(
            old,
            **changes,
            user_id=self.user,
            date_modified=now,
            server_date_modified=now,
            indexed_on=now,
            properties=properties,
            indices=indices,
            xform_ids=(*old.xform_ids, str(uuid.uuid4())),
        )

    def _now(self) -> datetime:
        # Later than every case already indexed, so a written case sorts last (v2 lists by indexed_on).
        now = datetime.now(UTC)
        last = self.data.cases[-1].indexed_on if self.data.cases else now
        return max(now, last + timedelta(milliseconds=1))

    def _store(self, old: CaseRecord | None, new: CaseRecord) -> None:
        data = self.data
        if old is not None:
            data.cases.remove(data.by_id[old.case_id])
            if old.external_id:
                data.by_external_id[old.external_id] = [
                    c for c in data.by_external_id.get(old.external_id, []) if c.case_id != old.case_id
                ]
            for index in old.indices.values():
                siblings = data.children.get(index["case_id"], [])
                data.children[index["case_id"]] = [c for c in siblings if c.case_id != old.case_id]
        data.cases.append(new)
        data.by_id[new.case_id] = new
        if new.external_id:
            data.by_external_id.setdefault(new.external_id, []).append(new)
        for index in new.indices.values():
            data.children.setdefault(index["case_id"], []).append(new)
