"""A confirmation token claims its expiry; one later than issue time + TTL is refused, even correctly signed."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from casebridge.server.ledger import OrderLedger
from casebridge.tools import consent
from tests.support import hold
from tests.tools.write_support import ORDER, FakeClock, World, call

TTL = 15 * 60  # ActionSettings.confirm_ttl, what the server issues with
YEAR_2100 = 4_102_444_800
SUBJECT = {"order": "exactly this"}
NOTHING, FIX = "Nothing was ordered", "Ask for a new quote."


def resigned(ledger: OrderLedger, token: str, expires: int) -> str:
    """``token`` claiming ``expires``, signed with the ledger's own key: what anyone holding the key can mint."""
    _, purpose, _, nonce, digest, _ = token.split(".")
    signature = consent._sign(ledger.secret(consent.KEY_NAME), purpose, expires, nonce, digest)
    return f"cb1.{purpose}.{expires}.{nonce}.{digest}.{signature}"


def check(ledger: OrderLedger, token: str) -> str:
    return consent.verify(ledger, token, "order", SUBJECT, ttl=TTL, nothing=NOTHING, fix=FIX)


def test_expiry_is_capped_at_now_plus_the_ttl(tmp_path: Path) -> None:
    clock = FakeClock()
    ledger = OrderLedger(tmp_path, clock=clock)
    token = consent.issue(ledger, "order", SUBJECT, TTL).token
    assert check(ledger, token)
    now = int(clock())
    assert check(ledger, resigned(ledger, token, now + TTL))  # the minting is right: the longest a token lives
    forged = refusal(ledger, token[:-1] + ("B" if token.endswith("A") else "A"))  # a wrong signature
    for expires in (now + TTL + 1, YEAR_2100):
        refused = refusal(ledger, resigned(ledger, token, expires))
        assert (refused.reason, refused.message) == ("tampered", forged.message)  # the same words as a forgery
    clock.advance(TTL + 1)
    assert refusal(ledger, token).reason == "expired"


def refusal(ledger: OrderLedger, token: str) -> consent.ConfirmationRefused:
    with pytest.raises(consent.ConfirmationRefused) as refused:
        check(ledger, token)
    return refused.value


async def test_a_correctly_signed_token_expiring_in_2100_orders_nothing(world: World, era: str) -> None:
    args = {
        "applicant": {"email": f"year2100.{era}@example.com", "given_name": "Jane", "family_name": "Doe"},
        "invite": "email_invite",
        "check_types": ["IDENTITY_VERIFICATION_1"],
    }
    async with hold(Client(world.server(), mode=era)) as client:
        quoted = await call(client, "order_case", args)
        assert quoted.data["status"] == "confirmation_required", quoted.text
        lasting = resigned(world.ledger(), quoted.data["confirmation_token"], YEAR_2100)
        refused = await call(client, "order_case", {**args, "confirmation_token": lasting})
    assert refused.is_error and "Nothing was ordered" in refused.text and "altered or forged" in refused.text
    assert refused.data["error"]["field"] == "confirmation_token"
    assert world.requests(ORDER) == []
    last = world.ledger().recent(1)[0].entry
    assert (last.outcome, last.detail["note"]) == ("not_confirmed", "tampered")


async def test_a_correctly_signed_cancellation_expiring_in_2100_cancels_nothing(world: World) -> None:
    case = world.emu.store.place_order(
        "cancel.year2100@example.com", {"IDENTITY_VERIFICATION_1": {}}, invite="email", claims={}, group=None, tags=[]
    )
    ref = f"certn:{case.id}"
    async with hold(Client(world.server(), mode="legacy")) as client:
        quoted = await call(client, "cancel_case", {"ref": ref})
        assert quoted.data["status"] == "confirmation_required", quoted.text
        lasting = resigned(world.ledger(), quoted.data["confirmation_token"], YEAR_2100)
        refused = await call(client, "cancel_case", {"ref": ref, "confirmation_token": lasting})
    assert refused.is_error and "Nothing was cancelled" in refused.text and "altered or forged" in refused.text
    assert world.emu.store.cases[case.id].overall_status != "CANCELLED"
    assert not [r for r in world.emu.requests if r.method == "POST" and r.path.endswith("/cancel/")]
