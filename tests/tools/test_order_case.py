"""order_case: confirmation (elicitation or quote -> token), idempotency, lost answers, crash recovery."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import SecretStr

from casebridge.sandbox.certn.app import build
from casebridge.sandbox.certn.store import PACKAGE_BASIC_ID, PACKAGE_RETIRED_ID
from casebridge.sandbox.emulation import LoopbackServer
from casebridge.server.env_settings import Settings
from casebridge.server.sandbox import build_emulators, in_process_transports, sandbox_settings
from casebridge.server.wiring import build_registry
from casebridge.tools.actions import Entry
from casebridge.tools.sources.certn_orders import Applicant, order_body
from casebridge.tools.support.certn_order import Prepared
from tests.support import hold
from tests.tools.write_support import (
    ORDER,
    ORDER_PACKAGE,
    Elicitation,
    World,
    call,
    ledger_text,
)

TOOL = "order_case"
WRITE_TOOLS = {"order_case", "cancel_case", "generate_report"}


def order_args(email: str, **changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "applicant": {"email": email, "given_name": "Jane", "family_name": "Doe"},
        "invite": "email_invite",
        "check_types": ["criminal record check", "IDENTITY_VERIFICATION_1"],
        "tags": ["warehouse"],
    }
    args.update(changes)
    return args


def prepared(args: dict[str, Any]) -> Prepared:
    from casebridge.tools.sources.certn import CHECK_TYPE_VOCAB

    checks = [CHECK_TYPE_VOCAB.resolve(c) for c in args.get("check_types") or []] or None
    return Prepared(order_body(Applicant(**args["applicant"]), args["invite"], checks, None, args.get("tags"), None))


def outcomes(world: World, args: dict[str, Any]) -> list[str]:
    return [r.entry.outcome for r in world.ledger().rows(prepared(args).key)]


async def quote_and_token(client: Client, args: dict[str, Any]) -> str:
    quoted = await call(client, TOOL, args)
    assert not quoted.is_error, quoted.text
    assert quoted.data["status"] == "confirmation_required"
    token: str = quoted.data["confirmation_token"]
    return token


# ----------------------------------------------------------------------------- the token flow


async def test_quote_then_confirm_places_exactly_that_order(world: World, era: str) -> None:
    email = f"quote.{era}@example.com"
    args = order_args(email.upper())  # normalised to lower case
    async with hold(Client(world.server(), mode=era)) as client:
        quoted = await call(client, TOOL, args)
        assert not quoted.is_error, quoted.text
        assert quoted.data["status"] == "confirmation_required"
        assert quoted.data["order"] == {
            "email": email,
            "name": "Jane Doe",
            "check_types": ["CRIMINAL_RECORD_REPORT_1", "IDENTITY_VERIFICATION_1"],
            "invite": "email_invite",
            "prefill": ["name"],
            "tags": ["warehouse"],
        }
        assert "nothing has been ordered yet" in quoted.text and "explicitly say yes" in quoted.text
        assert quoted.data["confirmation_token"] in quoted.text and quoted.data["expires_at"]
        assert world.requests(ORDER) == [] and world.cases_of(email) == []

        placed = await call(client, TOOL, {**args, "confirmation_token": quoted.data["confirmation_token"]})
    assert not placed.is_error, placed.text
    assert placed.data["status"] == "ordered" and placed.text.startswith("Ordered: certn:")
    (sent,) = world.requests(ORDER)
    body = sent.json()
    assert body["email_address"] == email and body["send_invite_email"] is True and body["tags"] == ["warehouse"]
    assert set(body["check_types_with_arguments"]) == {"CRIMINAL_RECORD_REPORT_1", "IDENTITY_VERIFICATION_1"}
    (case,) = world.cases_of(email)
    assert placed.data["case"]["ref"] == f"certn:{case.id}"
    assert outcomes(world, args) == ["quoted", "pending", "sending", "ordered"]
    last = world.ledger().recent(1)[0]
    assert last.entry.provider_id == case.id and last.entry.request["email"] == email


def _tamper(token: str) -> str:
    head, sig = token.rsplit(".", 1)
    return f"{head}.{('A' if sig[0] != 'A' else 'B')}{sig[1:]}"


@pytest.mark.parametrize(
    ("how", "reason", "words"),
    [
        ("tampered", "tampered", "altered or forged"),
        ("forged", "tampered", "not one this server issued for an order"),
        ("other checks", "mismatch", "differs from the one the user confirmed"),
        ("other invite", "mismatch", "differs"),
        ("other tags", "mismatch", "differs"),
        ("expired", "expired", "expired"),
    ],
)
async def test_every_wrong_confirmation_orders_nothing(
    world: World, era: str, how: str, reason: str, words: str
) -> None:
    args = order_args(f"wrong.{how.replace(' ', '')}.{era}@example.com")
    async with hold(Client(world.server(), mode=era)) as client:
        token = await quote_and_token(client, args)
        sent = dict(args)
        if how == "tampered":
            token = _tamper(token)
        elif how == "forged":
            token = "cb1.order.1.AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBB.CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"[:-1]
        elif how == "other checks":
            sent["check_types"] = ["credit check"]
        elif how == "other invite":
            sent["invite"] = "invite_link"
        elif how == "other tags":
            sent["tags"] = ["rehire"]
        elif how == "expired":
            world.clock.advance(15 * 60 + 1)
        refused = await call(client, TOOL, {**sent, "confirmation_token": token})
    assert refused.is_error
    assert "Nothing was ordered" in refused.text and words in refused.text
    assert refused.data["error"]["field"] == "confirmation_token"
    assert "new quote" in refused.data["error"]["fix"]
    assert world.requests(ORDER) == []
    last = world.ledger().recent(1)[0].entry
    assert (last.outcome, last.detail["note"]) == ("not_confirmed", reason)


async def test_order_token_does_not_cancel(world: World) -> None:
    args = order_args("crossed@example.com")
    async with hold(Client(world.server(), mode="legacy")) as client:
        token = await quote_and_token(client, args)
        placed = await call(client, TOOL, {**args, "confirmation_token": token})
        ref = placed.data["case"]["ref"]
        refused = await call(client, "cancel_case", {"ref": ref, "confirmation_token": token})
    assert refused.is_error and "Nothing was cancelled" in refused.text and "for a cancellation" in refused.text
    assert not [r for r in world.emu.requests if r.path.endswith("/cancel/")]


async def test_token_replayed_after_a_refused_order(world: World) -> None:
    args = order_args("replay.refused@example.com", check_types=None, package_id=PACKAGE_RETIRED_ID)
    async with hold(Client(world.server(), mode="legacy")) as client:
        token = await quote_and_token(client, args)
        refused = await call(client, TOOL, {**args, "confirmation_token": token})
        assert refused.is_error and refused.data["error"]["category"] == "provider_rejected"
        assert "Nothing was ordered" in refused.text and "deactivated" in refused.text
        again = await call(client, TOOL, {**args, "confirmation_token": token})
    assert again.is_error and "already used" in again.text and "Nothing was ordered" in again.text
    assert len(world.requests(ORDER_PACKAGE)) == 1


async def test_token_replayed_after_the_order_was_cancelled(world: World) -> None:
    args = order_args("replay.cancelled@example.com")
    async with hold(Client(world.server(), mode="auto")) as client:
        token = await quote_and_token(client, args)
        placed = await call(client, TOOL, {**args, "confirmation_token": token})
        ref = placed.data["case"]["ref"]
        cancel_token = (await call(client, "cancel_case", {"ref": ref})).data["confirmation_token"]
        cancelled = await call(client, "cancel_case", {"ref": ref, "confirmation_token": cancel_token})
        assert cancelled.data["status"] == "cancelled", cancelled.text
        replay = await call(client, TOOL, {**args, "confirmation_token": token})
    assert replay.is_error and "already used" in replay.text
    assert len(world.requests(ORDER)) == 1


# ------------------------------------------------------------------------------- elicitation


@pytest.mark.parametrize(
    ("action", "confirm"), [("accept", True), ("decline", True), ("cancel", True), ("accept", False)]
)
async def test_elicitation_in_both_eras(world: World, era: str, action: str, confirm: bool) -> None:
    email = f"elicit.{action}.{confirm}.{era}@example.com".lower()
    args = order_args(email)
    asked = Elicitation(action, confirm)
    async with hold(Client(world.server(), mode=era, elicitation_callback=asked)) as client:
        result = await call(client, TOOL, args)
    assert not result.is_error, result.text
    (question,) = asked.messages
    for words in (email, "Jane Doe", "Criminal record check", "Identity verification", "Certn e-mails"):
        assert words in question
    if action == "accept" and confirm:
        assert result.data["status"] == "ordered"
        assert len(world.requests(ORDER)) == 1 and len(world.cases_of(email)) == 1
        assert outcomes(world, args) == ["pending", "sending", "ordered"]
    else:
        assert result.data["status"] == "not_ordered"
        assert result.text.startswith("Nothing was ordered")
        assert world.requests(ORDER) == [] and world.cases_of(email) == []
        assert outcomes(world, args) == ["declined"]
    assert "confirmation_token" not in result.data


async def test_an_existing_order_is_not_asked_about_again(world: World) -> None:
    args = order_args("asked.once@example.com")
    asked = Elicitation()
    async with hold(Client(world.server(), mode="auto", elicitation_callback=asked)) as client:
        first = await call(client, TOOL, args)
        second = await call(client, TOOL, args)
    assert len(asked.messages) == 1
    assert second.data["status"] == "already_ordered" and second.data["case"]["ref"] == first.data["case"]["ref"]
    assert "nothing was ordered again" in second.text
    assert len(world.requests(ORDER)) == 1


# ------------------------------------------------------------------------------------ inputs


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"check_types": ["crimnal recrd"]}, "check_types", "Criminal record check"),
        ({"package_id": PACKAGE_BASIC_ID}, "check_types", "not both"),
        ({"check_types": None}, "check_types", "either check_types or package_id"),
        ({"invite": "quickscreen"}, "applicant.date_of_birth", "date_of_birth, address"),
        ({"invite": "sms"}, "invite", "email_invite"),
        ({"applicant": {"email": "not an email"}}, "applicant.email", "pattern"),
        ({"applicant": {"email": "a@example.com", "date_of_birth": "2999-01-01"}}, "applicant.date_of_birth", "past"),
    ],
)
async def test_bad_input_orders_nothing(world: World, change: dict[str, Any], field: str, words: str) -> None:
    async with hold(Client(world.server(), mode="legacy")) as client:
        result = await call(client, TOOL, order_args("inputs@example.com", **change))
    assert result.is_error, result.text
    error = result.data["error"]
    assert error["category"] == "invalid_input" and error["field"].startswith(field), error
    assert words in result.text
    assert world.emu.requests == []


async def test_package_invite_link_and_quickscreen_flows(world: World) -> None:
    applicant = {
        "email": "flows@example.com",
        "given_name": "Quinn",
        "family_name": "Roy",
        "date_of_birth": "1988-02-03",
        "address": {"street": "1 Main St", "city": "Ottawa", "region": "ON", "country": "ca"},
    }
    cases = [
        ({"check_types": None, "package_id": PACKAGE_BASIC_ID}, ORDER_PACKAGE),
        ({"invite": "invite_link", "check_types": ["credit check"]}, ORDER),
        ({"invite": "quickscreen", "check_types": ["id verification"]}, ORDER),
    ]
    async with hold(Client(world.server(), mode="auto", elicitation_callback=Elicitation())) as client:
        results = [await call(client, TOOL, order_args("", applicant=applicant, **change)) for change, _ in cases]
    assert all(not r.is_error and r.data["status"] == "ordered" for r in results), [r.text for r in results]
    _, link, quick = results
    assert world.requests(ORDER_PACKAGE)[0].json()["package"] == PACKAGE_BASIC_ID
    assert link.data["invite_link"] and "send it to the applicant" in link.text
    link_body, quick_body = (r.json() for r in world.requests(ORDER))
    assert (link_body["send_invite_email"], link_body["return_invite_link"]) == (False, True)
    assert (quick_body["send_invite_email"], quick_body["return_invite_link"]) == (False, False)
    assert quick_body["input_claims"]["residences"][0]["address"]["country"] == "CA"
    assert quick.data["case"]["status"] == "Applicant submitted"
    # The ledger keeps who and what, not the date of birth or the address.
    stored = world.ledger().recent(50)
    assert all("1988-02-03" not in str(r.entry) and "Main St" not in str(r.entry) for r in stored)
    assert any(r.entry.request.get("prefill") == ["name", "date_of_birth", "address"] for r in stored)


# ------------------------------------------------------------------------------- idempotency


async def test_twenty_concurrent_confirmed_calls_post_once(world: World, era: str) -> None:
    args = order_args(f"twenty.{era}@example.com")
    results: list[Any] = []
    async with hold(Client(world.server(), mode=era)) as client:
        token = await quote_and_token(client, args)

        async def one() -> None:
            results.append(await call(client, TOOL, {**args, "confirmation_token": token}))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(one)
    assert len(world.requests(ORDER)) == 1
    assert all(not r.is_error for r in results), [r.text for r in results if r.is_error]
    assert sorted(r.data["status"] for r in results) == ["already_ordered"] * 19 + ["ordered"]
    assert len({r.data["case"]["ref"] for r in results}) == 1


async def test_twenty_concurrent_elicited_calls_post_once(world: World) -> None:
    args = order_args("twenty.elicited@example.com")
    results: list[Any] = []
    async with hold(Client(world.server(), mode="auto", elicitation_callback=Elicitation())) as client:

        async def one() -> None:
            results.append(await call(client, TOOL, args))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(one)
    assert len(world.requests(ORDER)) == 1
    assert sorted(r.data["status"] for r in results) == ["already_ordered"] * 19 + ["ordered"]


async def test_identical_order_across_a_restart_and_after_the_window(world: World) -> None:
    args = order_args("restart@example.com")
    async with hold(Client(world.server(), mode="legacy")) as client:
        token = await quote_and_token(client, args)
        first = await call(client, TOOL, {**args, "confirmation_token": token})
    async with hold(Client(world.server(), mode="auto")) as client:  # a new server object, same ledger file
        again = await call(client, TOOL, {**args, "invite": "invite_link", "tags": ["other"]})
        assert again.data["status"] == "already_ordered"
        assert again.data["case"]["ref"] == first.data["case"]["ref"]
        assert len(world.requests(ORDER)) == 1
        world.clock.advance(24 * 3600 + 1)
        token = await quote_and_token(client, args)
        later = await call(client, TOOL, {**args, "confirmation_token": token})
    assert later.data["status"] == "ordered" and later.data["case"]["ref"] != first.data["case"]["ref"]
    assert len(world.requests(ORDER)) == 2


async def test_lost_response_after_the_order_was_created(world: World, era: str) -> None:
    email = f"lost.{era}@example.com"
    args = order_args(email)
    async with hold(Client(world.server(), mode=era)) as client:
        token = await quote_and_token(client, args)
        world.emu.inject(kind="lose_response", method="POST", path=ORDER)
        placed = await call(client, TOOL, {**args, "confirmation_token": token})
    assert not placed.is_error, placed.text
    assert placed.data["status"] == "ordered" and "answer was lost" in placed.text
    assert len(world.requests(ORDER)) == 1
    (case,) = world.cases_of(email)
    assert placed.data["case"]["ref"] == f"certn:{case.id}"
    assert outcomes(world, args)[-2:] == ["sending", "ordered"]


async def test_timeout_then_the_next_call_finds_the_order_instead_of_resending(world: World) -> None:
    email = "slow.answer@example.com"
    args = order_args(email)
    async with hold(Client(world.server(), mode="legacy")) as client:
        token = await quote_and_token(client, args)
        world.emu.inject(kind="latency", seconds=1.5, method="POST", path=ORDER)  # beyond the 1 s read timeout
        unsure = await call(client, TOOL, {**args, "confirmation_token": token})
        assert unsure.is_error and unsure.data["error"]["retryable"]
        assert "may or may not exist" in unsure.text and "Nothing was ordered" not in unsure.text
        assert outcomes(world, args)[-1] == "uncertain"
        with anyio.fail_after(10):
            while not world.cases_of(email):  # noqa: ASYNC110 - the slow request lands at Certn after all
                await anyio.sleep(0.05)
        token = await quote_and_token(client, args)  # not known as ordered yet: the user confirms again
        found = await call(client, TOOL, {**args, "confirmation_token": token})
    assert found.data["status"] == "ordered" and "interrupted" in found.text
    assert len(world.requests(ORDER)) == 1 and len(world.cases_of(email)) == 1


@pytest.mark.parametrize("reached_certn", [True, False])
async def test_crash_after_sending_is_recovered_by_looking_first(world: World, reached_certn: bool) -> None:
    email = f"crash.{str(reached_certn).lower()}@example.com"
    args = order_args(email)
    order = prepared(args)
    ledger = world.ledger()
    # A previous process claimed the order, took its snapshot, sent the POST and died.
    claim = ledger.claim(Entry(TOOL, "pending", order.record, key=order.key), window=86400, lease=60, nonce=None)
    assert claim.row is not None
    known = [c.id for c in world.cases_of(email)]
    ledger.append(Entry(TOOL, "sending", order.record, key=order.key, detail={"attempt": claim.row.id, "known": known}))
    if reached_certn:
        world.emu.store.place_order(
            email,
            {"IDENTITY_VERIFICATION_1": {}, "CRIMINAL_RECORD_REPORT_1": {}},
            invite="email",
            claims={},
            group=None,
            tags=[],
        )
    world.clock.advance(61)  # past the in-flight lease: that attempt is abandoned
    async with hold(Client(world.server(), mode="auto", elicitation_callback=Elicitation())) as client:
        result = await call(client, TOOL, args)
    assert result.data["status"] == "ordered", result.text
    assert len(world.cases_of(email)) == 1
    assert len(world.requests(ORDER)) == (0 if reached_certn else 1)
    assert any(r.method == "GET" and r.params("email_address") == [email] for r in world.emu.requests)


async def test_an_identical_order_in_flight_is_waited_for_not_duplicated(world: World) -> None:
    args = order_args("in.flight@example.com")
    order = prepared(args)
    world.ledger().claim(Entry(TOOL, "pending", order.record, key=order.key), window=86400, lease=60, nonce=None)
    world.actions.inflight_wait = 0.2
    async with hold(Client(world.server(), mode="auto", elicitation_callback=Elicitation())) as client:
        busy = await call(client, TOOL, args)
    assert busy.is_error and busy.data["error"]["retryable"] and "being placed right now" in busy.text
    assert world.requests(ORDER) == []


# --------------------------------------------------------------------------- surface and config


async def test_write_tools_are_offered_only_when_allowed(world: World) -> None:
    async def names(**kw: Any) -> set[str]:
        async with hold(Client(world.server(**kw), mode="legacy")) as client:
            return {t.name for t in (await client.list_tools()).tools}

    assert await names() >= WRITE_TOOLS
    assert not WRITE_TOOLS & await names(read_only=True)
    assert not WRITE_TOOLS & await names(casebridge_read_only=True)
    assert not WRITE_TOOLS & await names(certn_api_key=None)


async def test_annotations_are_exactly_the_design(world: World) -> None:
    async with hold(Client(world.server(), mode="auto")) as client:
        tools = {t.name: t.annotations for t in (await client.list_tools()).tools}
    expected = {
        "order_case": (False, False, False, True),
        "cancel_case": (False, True, True, True),
        "generate_report": (False, False, True, True),
    }
    for name, hints in expected.items():
        a = tools[name]
        assert a is not None
        assert (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint) == hints


async def test_no_api_key_in_the_ledger_or_any_result(tmp_path: Any) -> None:
    canary = "sk_live_CANARY_7f3a9c1e5b2d4680"
    emu = build(api_key=canary)
    server = LoopbackServer(emu.app).start()  # type: ignore[arg-type]
    canary_world = World(emu, server.url, tmp_path, api_key=canary)
    texts: list[str] = []
    try:
        async with hold(Client(canary_world.server(), mode="legacy")) as client:
            args = order_args("canary@example.com")
            token = await quote_and_token(client, args)
            texts.append((await call(client, TOOL, {**args, "confirmation_token": _tamper(token)})).text)
            emu.inject(kind="lose_response", method="POST", path=ORDER)
            placed = await call(client, TOOL, {**args, "confirmation_token": token})
            ref = placed.data["case"]["ref"]
            texts.append(placed.text)
            bad = order_args("canary2@example.com", check_types=None, package_id=PACKAGE_RETIRED_ID)
            texts.append(
                (await call(client, TOOL, {**bad, "confirmation_token": await quote_and_token(client, bad)})).text
            )
            quote = await call(client, "cancel_case", {"ref": ref})
            texts.append(
                (
                    await call(
                        client, "cancel_case", {"ref": ref, "confirmation_token": quote.data["confirmation_token"]}
                    )
                ).text
            )
            texts.append((await call(client, "generate_report", {"ref": ref})).text)
    finally:
        server.stop()
    assert len(canary_world.ledger().recent(100)) >= 10
    assert canary not in ledger_text(canary_world)
    assert all(canary not in t for t in texts)


async def test_the_sandbox_offers_the_write_tools_with_a_temporary_ledger() -> None:
    registry = build_registry(
        sandbox_settings(Settings(_env_file=None, certn_api_key=SecretStr("x"))),  # type: ignore[call-arg]
        transports=in_process_transports(build_emulators()),
    )
    registry.sandbox = True
    from casebridge.server.app import build_server

    assert registry.ledger is not None
    async with hold(Client(build_server(registry), mode="auto", elicitation_callback=Elicitation())) as client:
        result = await call(client, TOOL, order_args("sandbox@example.com"))
    assert result.data["status"] == "ordered" and result.data["sandbox"] is True
    assert result.text.startswith("[SANDBOX")
    path = registry.ledger.path  # type: ignore[attr-defined]
    assert path.exists()
    await registry.aclose()
    assert not path.parent.exists()


async def test_an_unusable_ledger_changes_nothing(world: World) -> None:
    blocker = world.data_dir / "not-a-folder"
    blocker.write_text("")
    world.data_dir = blocker / "ledger"
    async with hold(Client(world.server(), mode="auto", elicitation_callback=Elicitation())) as client:
        result = await call(client, TOOL, order_args("no.ledger@example.com"))
    assert result.is_error and result.data["error"]["category"] == "not_configured", result.text
    assert "CASEBRIDGE_DATA_DIR" in result.data["error"]["fix"]
    assert world.requests(ORDER) == []
