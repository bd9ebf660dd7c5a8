"""Deterministic synthetic CommCare project data: households, patients, pregnancies, referrals.

Built once per seed and process from a seeded ``random.Random`` against a fixed reference "now".
"""

from __future__ import annotations

import functools
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
START = datetime(2021, 1, 1, tzinfo=UTC)
DEPRECATED_CASE_TYPES = frozenset({"legacy_visit"})
# Two households share this external_id, so ``ext/<id>/`` answers "Multiple cases found".
DUPLICATE_EXTERNAL_ID = "HH-00041"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Amina Grace Ravi Priya Joseph Fatuma Kwame Lakshmi Maria Samuel Esther Arjun Halima Daniel Ruth "
    "Sunita Peter Zainab Emmanuel Meera Juma Anjali Thomas Neema David Kavita Ibrahim Rose Suresh Mercy"
)
_LAST = _words(
    "Okafor Sharma Mwangi Patel Banda Nair Otieno Singh Phiri Reddy Kamau Gupta "
    "Mensah Das Njoroge Iyer Tembo Kumar Achieng Rao Mutua Joshi Boateng Verma Wanjiru"
)
_VILLAGES = (
    "Rampur",
    "Kibera",
    "Sitapur",
    "Lunga",
    "Mkuranga",
    "Bhimtal",
    "Kisumu",
    "Chikwawa",
    "Anandpur",
    "Nyeri",
    "Mzimba",
    "Gopalganj",
)
_FACILITIES = ("District Hospital", "Health Centre II", "Health Centre III", "Mission Clinic", "Referral Hospital")
_REASONS = ("danger sign", "malnutrition", "high fever", "ANC follow-up", "TB screening", "immunisation")
_UPPER_ALNUM = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One case, independent of API version; both wire formats are rendered from it."""

    case_id: str
    case_type: str
    case_name: str
    external_id: str | None
    owner_id: str
    user_id: str  # last modified by
    opened_by: str
    closed_by: str | None
    date_opened: datetime
    date_modified: datetime  # phone time; v2 "last_modified"
    server_date_modified: datetime  # v2 "server_last_modified"
    indexed_on: datetime
    date_closed: datetime | None
    properties: dict[str, str]
    indices: dict[str, dict[str, str]]
    xform_ids: tuple[str, ...]

    @property
    def closed(self) -> bool:
        return self.date_closed is not None

    @property
    def deprecated(self) -> bool:
        return self.case_type in DEPRECATED_CASE_TYPES


@dataclass
class Dataset:
    cases: list[CaseRecord]  # ordered by (indexed_on, case_id)
    owners: tuple[str, ...]
    users: tuple[str, ...]
    by_id: dict[str, CaseRecord] = field(default_factory=dict)
    by_external_id: dict[str, list[CaseRecord]] = field(default_factory=dict)
    children: dict[str, list[CaseRecord]] = field(default_factory=dict)  # by any index target


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.users = tuple(self.hex_id() for _ in range(40))
        groups = tuple(self.hex_id() for _ in range(8))
        self.owners = self.users[:32] + groups
        self.cases: list[CaseRecord] = []

    def hex_id(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def uuid_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def legacy_id(self) -> str:
        return "".join(self.rng.choices(_UPPER_ALNUM, k=25))

    def when(self, after: datetime, before: datetime = NOW) -> datetime:
        span = max(1, int((before - after).total_seconds()))
        return after + timedelta(seconds=self.rng.randrange(span), microseconds=self.rng.randrange(1000) * 1000)

    def person(self) -> str:
        return f"{self.rng.choice(_FIRST)} {self.rng.choice(_LAST)}"

    def add(
        self,
        *,
        case_type: str,
        name: str,
        opened: datetime,
        owner: str,
        properties: dict[str, str],
        external_id: str | None = None,
        indices: dict[str, dict[str, str]] | None = None,
        close_chance: float = 0.1,
        case_id: str | None = None,
    ) -> CaseRecord:
        rng = self.rng
        user = owner if owner in self.users else rng.choice(self.users)
        # Most cases are touched again within months; skew the last change towards the opening date.
        horizon = min(NOW, opened + timedelta(days=rng.choice((2, 30, 120, 400, 1500))))
        modified = self.when(opened, horizon) if horizon > opened else opened
        server_modified = min(NOW - timedelta(seconds=1), modified + timedelta(seconds=rng.randrange(1, 900)))
        indexed = server_modified + timedelta(microseconds=rng.randrange(1, 999_999))
        closed = rng.random() < close_chance
        forms = tuple(self.legacy_id() for _ in range(rng.randrange(1, 4)))
        record = CaseRecord(
            case_id=case_id or self.uuid_id(),
            case_type=case_type,
            case_name=name,
            external_id=external_id,
            owner_id=owner,
            user_id=user,
            opened_by=user if rng.random() < 0.8 else rng.choice(self.users),
            closed_by=user if closed else None,
            date_opened=opened,
            date_modified=modified,
            server_date_modified=server_modified,
            indexed_on=indexed,
            date_closed=modified if closed else None,
            properties=properties,
            indices=indices or {},
            xform_ids=forms,
        )
        self.cases.append(record)
        return record

    def build(self) -> Dataset:
        rng = self.rng
        households: list[CaseRecord] = []
        for n in range(620):
            head = self.person()
            ext = f"HH-{n:05d}" if n != 42 else DUPLICATE_EXTERNAL_ID
            households.append(
                self.add(
                    case_type="household",
                    name=f"{head.split()[1]} household",
                    opened=self.when(START, NOW - timedelta(days=60)),
                    owner=rng.choice(self.owners),
                    external_id=ext,
                    close_chance=0.08,
                    properties={
                        "village": rng.choice(_VILLAGES),
                        "head_of_household": head,
                        "household_size": str(rng.randrange(1, 11)),
                        "water_source": rng.choice(("borehole", "piped", "river", "well", "")),
                    },
                )
            )
        patients: list[CaseRecord] = []
        for hh in households:
            village = hh.properties["village"]
            last = hh.case_name.split()[0]
            for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 3))):
                opened = self.when(hh.date_opened)
                born = (opened - timedelta(days=rng.randrange(0, 70 * 365))).date()
                sex = rng.choice(("female", "male"))
                first = rng.choice(_FIRST)
                props = {
                    "dob": born.isoformat(),
                    "sex": sex,
                    "village": village,
                    "risk_level": rng.choice(("low", "low", "medium", "high", "")),
                }
                if rng.random() < 0.5:
                    props["phone_number"] = f"+000{rng.randrange(10**8, 10**9)}"
                n = len(patients)
                patients.append(
                    self.add(
                        case_type="patient",
                        name=f"{first} {last}",
                        opened=opened,
                        owner=hh.owner_id if rng.random() < 0.85 else rng.choice(self.owners),
                        external_id=f"PAT-{n + 1000:05d}" if rng.random() < 0.9 else None,
                        close_chance=0.15,
                        indices={"parent": _index(hh, "child")},
                        properties=props,
                    )
                )
        women = [
            p
            for p in patients
            if p.properties["sex"] == "female" and _age(p.properties["dob"], p.date_opened) in range(15, 46)
        ]
        household_by_id = {h.case_id: h for h in households}
        for mother in rng.sample(women, min(250, len(women))):
            household = household_by_id[mother.indices["parent"]["case_id"]]
            lmp = self.when(mother.date_opened).date()
            edd = lmp + timedelta(days=280)
            registered = datetime.combine(lmp, datetime.min.time(), UTC) + timedelta(days=rng.randrange(40, 120))
            self.add(
                case_type="pregnancy",
                name=f"Pregnancy: {mother.case_name}",
                opened=min(registered, NOW - timedelta(hours=rng.randrange(1, 48))),
                owner=mother.owner_id,
                case_id=self.legacy_id(),
                close_chance=0.6 if edd < NOW.date() else 0.05,
                indices={"parent": _index(household, "child"), "mother": _index(mother, "child")},
                properties={
                    "lmp": lmp.isoformat(),
                    "edd": edd.isoformat(),
                    "gravida": str(rng.randrange(1, 7)),
                    "anc_visits": str(rng.randrange(0, 9)),
                    "risk_level": rng.choice(("low", "medium", "high")),
                    "village": mother.properties["village"],
                },
            )
        for patient in rng.sample(patients, 60):
            opened = self.when(patient.date_opened)
            self.add(
                case_type="referral",
                name=f"Referral: {patient.case_name}",
                opened=opened,
                owner=patient.owner_id,
                close_chance=0.6,
                indices={"host": _index(patient, "extension")},
                properties={
                    "reason": rng.choice(_REASONS),
                    "facility": rng.choice(_FACILITIES),
                    "referral_date": opened.date().isoformat(),
                },
            )
        for patient in rng.sample(patients, 40):
            opened = self.when(START, datetime(2022, 6, 1, tzinfo=UTC))
            self.add(
                case_type="legacy_visit",
                name=f"Visit: {patient.case_name}",
                opened=opened,
                owner=patient.owner_id,
                close_chance=0.9,
                indices={"parent": _index(patient, "child")},
                properties={"visit_date": opened.date().isoformat(), "notes": "migrated from the old app"},
            )
        cases = sorted(self.cases, key=lambda c: (c.indexed_on, c.case_id))
        data = Dataset(cases=cases, owners=self.owners, users=self.users)
        for case in cases:
            data.by_id[case.case_id] = case
            if case.external_id:
                data.by_external_id.setdefault(case.external_id, []).append(case)
            for index in case.indices.values():
                data.children.setdefault(index["case_id"], []).append(case)
        return data


def _index(target: CaseRecord, relationship: str) -> dict[str, str]:
    return {"case_id": target.case_id, "case_type": target.case_type, "relationship": relationship}


def _age(dob: str, at: datetime) -> int:
    born = date.fromisoformat(dob)
    return (at.date() - born).days // 365


@functools.cache
def dataset(seed: int = 2026) -> Dataset:
    """The synthetic project for ``seed`` (cached for the process)."""
    return _Gen(seed).build()
