"""The ledger holds the signing keys: it is used only from a folder and file that only this user can change."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from mcp import Client

from casebridge.server.ledger import FILE_NAME, OrderLedger
from casebridge.tools import consent
from casebridge.tools.actions import Entry, LedgerError
from tests.support import hold
from tests.tools.write_support import ORDER, World, call, certn, world

ARGS = {
    "applicant": {"email": "planted@example.com", "given_name": "Jane", "family_name": "Doe"},
    "invite": "email_invite",
    "check_types": ["IDENTITY_VERIFICATION_1"],
}
OTHER_USER = 65534  # nobody
__all__ = ["certn", "world"]  # the write tools' fixtures: a Certn emulator and a ledger folder

# How a ledger someone else prepared can reach the data folder, and the fix the refusal names.
PLANTS = {
    "checked-out file 0644": (0o755, 0o644, None, "chmod 600"),
    "group-readable file 0640": (0o700, 0o640, None, "chmod 600"),
    "shared folder 0777": (0o777, 0o600, None, "chmod 700"),
    "group-writable folder 0770": (0o770, 0o600, None, "chmod 700"),
    "another user's file": (0o700, 0o600, OTHER_USER, "chown"),
}


def plant(source: OrderLedger, folder: Path, folder_mode: int, file_mode: int, owner: int | None) -> Path:
    """A complete copy of ``source``'s ledger (and so its keys) in ``folder``, with these modes."""
    folder.mkdir(parents=True)
    target = folder / FILE_NAME
    with sqlite3.connect(source.path) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    os.chmod(target, file_mode)
    os.chmod(folder, folder_mode)
    if owner is not None:
        if os.geteuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(target, owner, owner)
    return target


@pytest.mark.parametrize("how", PLANTS)
async def test_a_token_signed_with_a_planted_ledger_key_orders_nothing(world: World, how: str) -> None:
    folder_mode, file_mode, owner, fix = PLANTS[how]
    # The attacker's preparation: a ledger whose key they know, and a token it signs for their order.
    async with hold(Client(world.server(), mode="auto")) as client:
        token = (await call(client, "order_case", ARGS)).data["confirmation_token"]
    planted = plant(world.ledger(), world.data_dir / "checkout" / "data", folder_mode, file_mode, owner)
    world.data_dir = planted.parent
    async with hold(Client(world.server(), mode="auto")) as client:
        refused = await call(client, "order_case", {**ARGS, "confirmation_token": token})
    assert refused.is_error and refused.data["error"]["category"] == "not_configured", refused.text
    message = refused.data["error"]["message"]
    where = planted if "file" in how else planted.parent
    assert f"{where}:" in message and "does not trust the keys" in message and fix in message
    assert fix in refused.data["error"]["fix"] and "CASEBRIDGE_DATA_DIR" in refused.data["error"]["fix"]
    assert world.requests(ORDER) == []


@pytest.mark.parametrize("how", PLANTS)
def test_no_key_is_read_from_an_untrusted_ledger(tmp_path: Path, how: str) -> None:
    folder_mode, file_mode, owner, fix = PLANTS[how]
    source = OrderLedger(tmp_path / "prepared")
    source.secret(consent.KEY_NAME)
    planted = plant(source, tmp_path / "checkout", folder_mode, file_mode, owner)
    ledger = OrderLedger(planted.parent)
    for name in (consent.KEY_NAME, "request-state"):  # the token-signing and request-state sealing keys
        with pytest.raises(LedgerError) as refused:
            ledger.secret(name)
        assert fix in str(refused.value) and "CASEBRIDGE_DATA_DIR" in str(refused.value)
        assert "\n" not in str(refused.value)
    with pytest.raises(LedgerError):
        ledger.recent()


def test_a_planted_write_ahead_log_is_refused(tmp_path: Path) -> None:
    ledger = OrderLedger(tmp_path / "data")
    ledger.append(Entry("order_case", "quoted", {}))
    wal = tmp_path / "data" / f"{FILE_NAME}-wal"
    wal.write_bytes(b"")
    wal.chmod(0o644)
    with pytest.raises(LedgerError, match="chmod 600"):
        OrderLedger(tmp_path / "data").secret(consent.KEY_NAME)


def test_casebridge_own_folders_and_files_pass(tmp_path: Path) -> None:
    fresh = OrderLedger(tmp_path / "new" / "data")
    fresh.append(Entry("order_case", "quoted", {}))
    assert stat.S_IMODE((tmp_path / "new" / "data").stat().st_mode) == 0o700
    for path in (tmp_path / "new" / "data").iterdir():  # the file and SQLite's -wal and -shm beside it
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert len(OrderLedger(tmp_path / "new" / "data").secret(consent.KEY_NAME)) == 32
    existing = tmp_path / "mine"
    existing.mkdir(mode=0o755)  # a folder of the user's own, readable by others: casebridge makes the file 0600
    OrderLedger(existing).append(Entry("order_case", "quoted", {}))
    assert stat.S_IMODE((existing / FILE_NAME).stat().st_mode) == 0o600
