"""Generated personal data planted in all three emulators never reaches the model unmasked by default.

Each example plants a person's id numbers, date of birth, phones, e-mail and street line into a CommCare
case, a Clearinghouse case's summary and docket, and a Certn check's supplementary data and error body,
then reads them every way a model can (search rows, details, includes, resources, errors, a filter by
date of birth) with every log record captured at DEBUG. ``standard`` and ``strict`` show none of them
(``strict`` no names either); ``off`` shows them exactly.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from casebridge.sandbox.certn import app as certn
from casebridge.sandbox.certn.app import error_body
from casebridge.sandbox.clearinghouse import app as clearinghouse
from casebridge.sandbox.clearinghouse import data as clearinghouse_data
from casebridge.sandbox.commcare import app as commcare
from casebridge.sandbox.commcare import data as commcare_data
from casebridge.sandbox.emulation import Emulator
from casebridge.server.app import build_server
from casebridge.server.env_settings import Settings
from casebridge.server.sandbox import in_process_transports, sandbox_settings
from casebridge.server.wiring import build_registry


@dataclasses.dataclass(frozen=True)
class Person:
    name: str
    ssn: str
    sin: str
    passport: str
    dob: date
    phone: str
    other_phone: str
    email: str
    street: str

    def secrets(self) -> dict[str, str]:
        """Every planted value as it must never appear (a date of birth keeps only its year)."""
        return {
            "ssn": self.ssn,
            "sin": self.sin,
            "passport": self.passport,
            "dob": self.dob.isoformat(),
            "phone": self.phone,
            "other_phone": self.other_phone,
            "email": self.email,
            "street": self.street,
        }

    def prose(self) -> str:
        return (
            f"{self.name} (DOB {self.dob.isoformat()}, SSN {self.ssn}, SIN {self.sin}, passport {self.passport}) "
            f"can be reached on {self.phone} or {self.other_phone}, at {self.email}, and lives at {self.street}, "
            "Springfield, ON."
        )


_WORD = st.from_regex(r"[A-Z][a-z]{2,9}", fullmatch=True)
PEOPLE = st.builds(
    Person,
    name=st.builds(lambda a, b: f"{a} {b}", _WORD, _WORD),
    ssn=st.builds(
        lambda a, b, c: f"{a}-{b:02d}-{c:04d}", st.integers(100, 899), st.integers(10, 99), st.integers(0, 9999)
    ),
    sin=st.builds(lambda a, b, c, sep: f"{a}{sep}{b}{sep}{c}", *[st.integers(100, 999)] * 3, st.sampled_from(" -")),
    passport=st.from_regex(r"[A-Z]{2}[0-9]{7}", fullmatch=True),
    dob=st.dates(date(1925, 1, 1), date(2012, 12, 31)),
    phone=st.builds(
        lambda a, b, c: f"+1 {a} {b} {c:04d}", st.integers(200, 999), st.integers(200, 999), st.integers(0, 9999)
    ),
    other_phone=st.builds(
        lambda a, b, c: f"({a}) {b}-{c:04d}", st.integers(200, 999), st.integers(200, 999), st.integers(0, 9999)
    ),
    email=st.builds(
        lambda u, d: f"{u}@{d}.example",
        st.from_regex(r"[a-z]{2,8}\.[a-z]{2,8}", fullmatch=True),
        st.from_regex(r"[a-z]{3,9}", fullmatch=True),
    ),
    street=st.builds(
        lambda n, name, kind: f"{n} {name} {kind}",
        st.integers(1, 99999),
        _WORD,
        st.sampled_from(["Street", "St", "Avenue", "Ave", "Road", "Drive", "Blvd", "Lane"]),
    ),
)


def plant_commcare(person: Person) -> tuple[Emulator, str]:
    data = commcare_data.dataset(2026)
    n, case = next((i, c) for i, c in enumerate(data.cases) if c.case_type == "patient")
    props = {
        **case.properties,
        "dob": person.dob.isoformat(),
        "phone_number": person.phone,
        "national_id": person.ssn,
        "notes": person.prose(),
    }
    planted = dataclasses.replace(case, case_name=person.name, properties=props)
    data.cases[n] = data.by_id[case.case_id] = planted
    return commcare.build(data=data), case.case_id


def plant_clearinghouse(person: Person) -> tuple[Emulator, int]:
    data = clearinghouse_data.dataset(2026)
    n, case = next((i, c) for i, c in enumerate(data.cases) if c.dockets and c.resources)
    dockets = json.loads(json.dumps(case.dockets))
    dockets[0]["docket_entries"][0]["description"] = f"Declaration of {person.prose()}"
    resources = [{**case.resources[0], "abstract": person.prose(), "title": f"Letter from {person.email}"}]
    planted = dataclasses.replace(
        case, body={**case.body, "summary": person.prose()}, dockets=dockets, resources=resources
    )
    cases = list(data.cases)
    cases[n] = planted
    copy = dataclasses.replace(data, cases=cases, by_id={**data.by_id, case.id: planted})
    return clearinghouse.build(data=copy), case.id


def plant_certn(person: Person) -> tuple[Emulator, str]:
    emu = certn.build()
    case = next(c for c in emu.store.cases.values() if c.overall_status == "COMPLETE" and c.checks)
    given_name, family_name = person.name.split()
    case.input_claims["name"] = {"given_name": given_name, "family_name": family_name}
    case.checks[0].supplementary_information = {
        "reference_phone": person.phone,
        "reference_email": person.email,
        "date_of_birth": person.dob.isoformat(),
        "address": f"{person.street}, Springfield, ON",
        "ssn": person.ssn,
        "note": person.prose(),
    }
    return emu, case.id


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[Captured]:
    handler = Captured()
    loggers = [logging.getLogger(name) for name in ("", "casebridge", "httpx2", "httpcore2", "mcp")]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    for logger, level in saved:
        logger.setLevel(level)


async def read_everything(person: Person, level: str) -> list[tuple[str, str]]:
    """Every tool result, resource and error a model could get about the planted cases: (provider, JSON text)."""
    (cc, cc_id), (ch, ch_id), (ce, ce_id) = plant_commcare(person), plant_clearinghouse(person), plant_certn(person)
    emulators = {"commcare": cc, "clearinghouse": ch, "certn": ce}
    registry = build_registry(
        sandbox_settings(Settings(_env_file=None, casebridge_privacy=level)),  # type: ignore[call-arg]
        transports=in_process_transports(emulators),
    )
    registry.sandbox = True
    out: list[tuple[str, str]] = []
    async with Client(build_server(registry)) as client:
        calls: list[tuple[str, dict[str, Any]]] = [
            ("search_cases", {"provider": "commcare", "commcare": {"properties": {"dob": person.dob.isoformat()}}}),
            ("get_case", {"ref": f"commcare:{cc_id}"}),
            ("get_case", {"ref": f"clearinghouse:{ch_id}", "include": ["dockets", "resources"]}),
            ("search_cases", {"provider": "certn", "limit": 50}),
            ("get_case", {"ref": f"certn:{ce_id}", "include": ["supplementary"]}),
        ]
        for tool, args in calls:
            result = await client.call_tool(tool, args)
            assert not result.is_error, result.content
            out.append((args.get("provider") or args["ref"].split(":")[0], result.model_dump_json()))
        for provider, case_id in (("commcare", cc_id), ("clearinghouse", ch_id), ("certn", ce_id)):
            out.append((provider, (await client.read_resource(f"case://{provider}/{case_id}")).model_dump_json()))
        said = f"{person.email} with date of birth {person.dob.isoformat()} and phone {person.phone} is not valid"
        ce.inject(kind="status", status=400, body=error_body("validation_error", "invalid", said), times=1)
        failed = await client.call_tool("get_case", {"ref": f"certn:{ce_id}"})
        assert failed.is_error
        out.append(("certn", failed.model_dump_json()))
    await registry.aclose()
    return out


def unmasked(texts: list[str], person: Person) -> dict[str, str]:
    joined = "\n".join(texts)
    return {what: value for what, value in person.secrets().items() if value in joined}


EXAMPLES = settings(
    max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("level", ["standard", "strict"])
def test_planted_personal_data_never_appears_unmasked(level: str, captured: Captured) -> None:
    @EXAMPLES
    @given(person=PEOPLE)
    def check(person: Person) -> None:
        captured.lines.clear()
        read = anyio.run(read_everything, person, level)
        texts = [text for _, text in read]
        assert not unmasked(texts, person), (unmasked(texts, person), person)
        joined = "\n".join(texts)
        assert "(masked: date of birth)" in joined and "(masked: phone number)" in joined
        assert "(masked: id number)" in joined and "(masked: street address)" in joined
        assert "(masked: e-mail address)" in joined
        assert person.dob.isoformat()[:4] + "-**-**" in joined  # the year is kept
        if level == "strict":  # names of people in CommCare and Certn cases (Clearinghouse's are court records)
            named = "\n".join(text for provider, text in read if provider != "clearinghouse")
            assert not [w for w in person.name.split() if re.search(rf"\b{w}\b", named)], person.name
            assert "(masked: name)" in named
        assert captured.lines, "the log capture saw nothing"
        logged = unmasked(captured.lines, person)
        assert not logged, [line for line in captured.lines if any(v in line for v in logged.values())][:3]

    check()


def test_off_shows_the_planted_data_exactly(captured: Captured) -> None:
    @settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(person=PEOPLE)
    def check(person: Person) -> None:
        captured.lines.clear()
        texts = [text for _, text in anyio.run(read_everything, person, "off")]
        assert unmasked(texts, person) == person.secrets()
        assert "(masked:" not in "\n".join(texts)
        assert not unmasked(captured.lines, person)  # logs stay clean whatever the policy

    check()
