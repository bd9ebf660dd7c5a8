"""Shared pieces of the reliability suite: canary credentials, canary emulators, a log spy, checks.

Every credential the suite configures is a canary: a value that must never come back out of
casebridge (tool results, resources, logs, exceptions, ledger rows, doctor output). The emulators
are built to accept exactly these values, so the server works normally with them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from casebridge.providers.http import HttpPolicy
from casebridge.sandbox.emulation import Emulator
from casebridge.server.app import CasebridgeServer, build_server
from casebridge.server.wiring import build_registry
from tests.support import TEST_POLICY, Emulators

# Distinctive values, so any appearance is a leak and not a coincidence.
CANARIES: dict[str, str] = {
    "CLEARINGHOUSE_API_TOKEN": "canary-ch-Zq8vT3kP9wX2mL7rQ4",
    "COMMCARE_API_KEY": "canary-cc-Hn4sJ6bV1cY8eR5tW2",
    "CERTN_API_KEY": "sk_canary_ce_Wd2fG7hK3jM9pQ4uE6",
    "CASEBRIDGE_HTTP_TOKEN": "canary-http-Bx5nC8vZ1aS6dF3gK9",
}
# A leak may be partial (a key cut to fit a message): the distinctive tail of each canary counts too.
CANARY_PARTS: tuple[str, ...] = tuple(CANARIES.values()) + tuple(v[-12:] for v in CANARIES.values())

PROVIDERS = ("clearinghouse", "commcare", "certn")
WRITE_TOOLS = ("order_case", "cancel_case", "generate_report")

# Fast limits for fault tests. read_timeout leaves room for a loaded 2-core CI machine; the slow
# faults sleep past it.
FAULT_POLICY = replace(TEST_POLICY, read_timeout=1.0, deadline=2.5)

ERROR_CATEGORIES = frozenset(
    {
        "invalid_input",
        "not_configured",
        "authentication",
        "not_found",
        "rate_limited",
        "provider_unavailable",
        "provider_rejected",
        "timeout",
        "malformed_response",
        "may_have_been_placed",
    }
)


class CanaryEmulators(Emulators):
    """The three emulators on loopback, accepting only the canary credentials."""

    def __init__(self, *, in_process: bool = False) -> None:
        super().__init__()
        if in_process:  # served through ASGI transports (see transports()), never on a port
            self.servers = {name: _Unserved(f"http://{name}.invalid") for name in PROVIDERS}  # type: ignore[misc]
        ch, cc, ce = (self.modules[p] for p in PROVIDERS)
        self.emulators = {
            "clearinghouse": ch.build(token=CANARIES["CLEARINGHOUSE_API_TOKEN"]),
            "commcare": cc.build(api_key=CANARIES["COMMCARE_API_KEY"]),
            "certn": ce.build(api_key=CANARIES["CERTN_API_KEY"]),
        }

    def env(self, **overrides: str) -> dict[str, str]:
        env = super().env()
        env.update({k: v for k, v in CANARIES.items() if k != "CASEBRIDGE_HTTP_TOKEN"})
        env.update(overrides)
        return env

    def transports(self) -> dict[str, Any]:
        from casebridge.server.sandbox import in_process_transports

        return in_process_transports(self.emulators)

    def request_count(self) -> dict[str, int]:
        return {name: len(emu.requests) for name, emu in self.emulators.items()}


class _Unserved:
    def __init__(self, url: str) -> None:
        self.url = url


def canary_server(
    emulators: Emulators,
    *,
    policy: HttpPolicy = FAULT_POLICY,
    read_only: bool = False,
    tool_deadline: float | None = None,
    transports: dict[str, Any] | None = None,
    actions: Any = None,
    **settings: Any,
) -> CasebridgeServer:
    """A server over ``emulators`` with canary credentials.

    Pass ``casebridge_data_dir`` whenever write tools may be registered (loopback emulators, not
    read-only): the ledger would otherwise go to the user's real data folder.
    """
    registry = build_registry(emulators.settings(**settings), read_only=read_only, policy=policy, transports=transports)
    if actions is not None:
        registry.actions = actions
    server = build_server(registry)
    if tool_deadline is not None:
        server.tool_deadline = tool_deadline
    return server


def leaks(text: str) -> list[str]:
    """The canary fragments found in ``text``."""
    return [part for part in CANARY_PARTS if part in text]


def dump(value: Any) -> str:
    """Everything in ``value`` (a result, model, exception, list...) as searchable text."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, BaseException):
        import traceback

        return "".join(traceback.format_exception(value)) + repr(value) + repr(getattr(value, "__dict__", {}))
    if isinstance(value, str | bytes):
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    try:
        return json.dumps(value, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def assert_no_canary(value: Any, where: str = "") -> None:
    found = leaks(dump(value))
    assert not found, f"credential canary {found} leaked in {where or type(value).__name__}"


class LogSpy(logging.Handler):
    """Captures every log record (message, arguments and traceback) anywhere in the process."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.count = 0
        self.leaked: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record whose arguments do not format still counts, raw
            text = f"{record.msg!r} {record.args!r}"
        self.count += 1
        if leaks(text):
            self.leaked.append(text[:2000])

    def install(self, loggers: Iterable[str] = ("", "casebridge", "httpx2", "httpcore2", "mcp")) -> list[Any]:
        """Attach to the root logger at DEBUG; returns what ``uninstall`` needs to restore."""
        saved = []
        for name in loggers:
            logger = logging.getLogger(name)
            saved.append((logger, logger.level))
            logger.setLevel(logging.DEBUG)
        logging.getLogger().addHandler(self)
        return saved

    def uninstall(self, saved: list[Any]) -> None:
        logging.getLogger().removeHandler(self)
        for logger, level in saved:
            logger.setLevel(level)


def error_of(result: Any) -> dict[str, Any]:
    """The structured error of an ``isError`` result, checked for the shape every failure has."""
    assert result.is_error, "expected an isError result"
    text = "\n".join(b.text for b in result.content if getattr(b, "type", "") == "text")
    assert not re.fullmatch(r"Error executing tool \w+", text.strip()), text
    assert result.structured_content and "error" in result.structured_content, text
    error: dict[str, Any] = result.structured_content["error"]
    assert error["category"] in ERROR_CATEGORIES, error
    assert isinstance(error["retryable"], bool) and error["message"], error
    assert error.get("fix"), f"no 'fix' in {error}"
    assert error["category"] in text and error["message"] in text, (error, text)
    return error


def emulator_of(emulators: Emulators, provider: str) -> Emulator:
    return emulators[provider]
