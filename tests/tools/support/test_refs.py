"""Case refs and a write tool's parts (tools/support/refs.py), on a registry of real sources that send nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from casebridge.providers.certn.client import CertnClient
from casebridge.providers.clearinghouse.client import ClearinghouseClient
from casebridge.server.ledger import OrderLedger
from casebridge.tools.errors import ToolFailure
from casebridge.tools.registry import SourceRegistry
from casebridge.tools.sources.certn import CertnSource
from casebridge.tools.sources.clearinghouse import ClearinghouseSource
from casebridge.tools.support.refs import certn_case_id, certn_parts, commcare_parts, parse_ref, split_ref

CASE = "7c1f0e4e-3b7a-4c55-9a43-2f4f8f0d9b12"


@pytest.fixture
async def registry() -> AsyncIterator[SourceRegistry]:
    # Checking ids sends no request: nothing listens on the discard port.
    certn = CertnSource(CertnClient.connect("http://127.0.0.1:9", "key"))
    clearinghouse = ClearinghouseSource(ClearinghouseClient.connect("http://127.0.0.1:9", "token"))
    registry = SourceRegistry(sources={"certn": certn, "clearinghouse": clearinghouse})
    yield registry
    await registry.aclose()


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("certn:abc", ("certn", "abc")),
        ("case://commcare/x-1", ("commcare", "x-1")),
        ("  clearinghouse:15150 ", ("clearinghouse", "15150")),
        ("certn/report/1", ("certn", "report/1")),
        ("15150", None),
        ("Certn:abc", None),
    ],
)
def test_split_ref(ref: str, parts: tuple[str, str] | None) -> None:
    assert split_ref(ref) == parts


async def test_parse_ref_normalises_the_id(registry: SourceRegistry) -> None:
    source, case_id = parse_ref(f"case://certn/{CASE.upper()}", registry)
    assert (source.name, case_id) == ("certn", CASE)


@pytest.mark.parametrize(
    ("ref", "category", "said"),
    [
        ("certn:\u200b" + CASE, "invalid_input", "U+200B"),
        ("nothing here", "invalid_input", "is not a case ref"),
        ("acme:1", "invalid_input", "unknown provider 'acme'"),
        ("certn:1234", "invalid_input", "a Certn case id is a UUID"),
        ("commcare:abc123", "not_configured", "commcare is not configured"),
    ],
)
async def test_parse_ref_refuses(registry: SourceRegistry, ref: str, category: str, said: str) -> None:
    with pytest.raises(ToolFailure) as failure:
        parse_ref(ref, registry)
    assert failure.value.category == category
    assert said in failure.value.message
    assert failure.value.field == ("ref" if category == "invalid_input" else None)


async def test_certn_case_id_takes_a_bare_id_and_only_certn(registry: SourceRegistry) -> None:
    assert certn_case_id(registry, f" {CASE} ") == CASE
    assert certn_case_id(registry, f"certn:{CASE}") == CASE
    with pytest.raises(ToolFailure, match="only Certn cases can be cancelled"):
        certn_case_id(registry, "clearinghouse:15150")


async def test_parts_need_the_provider_and_a_ledger(registry: SourceRegistry, tmp_path: Path) -> None:
    with pytest.raises(ToolFailure, match="no ledger for changes") as failure:
        certn_parts(registry)
    assert (failure.value.category, failure.value.provider) == ("not_configured", "certn")
    with pytest.raises(ToolFailure, match="commcare is not configured"):
        commcare_parts(registry)
    registry.ledger = OrderLedger(tmp_path)
    source, client, ledger = certn_parts(registry)
    assert (source, client, ledger) == (registry.sources["certn"], source.client, registry.ledger)
