"""``casebridge doctor``: check the configuration, make one cheap authenticated request per
configured provider, and print one table with a concrete fix for each failure."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio

from casebridge.providers.errors import (
    AuthenticationFailed,
    MalformedResponse,
    NotFound,
    ProviderError,
    RateLimited,
    Timeout,
    Unavailable,
)
from casebridge.providers.http import AsyncBaseTransport, HttpPolicy, Redactor
from casebridge.server.settings import SettingsValues, load_settings
from casebridge.server.terminal import printable
from casebridge.tools.catalog import BUILTIN, Catalog, ProviderSpec

# Short limits: a diagnosis should answer in seconds, and one retry is enough to ride out a blip.
DOCTOR_POLICY = HttpPolicy(
    connect_timeout=3.0,
    read_timeout=8.0,
    deadline=10.0,
    attempts=2,
    wait_initial=0.2,
    wait_max=0.5,
    wait_jitter=0.1,
    max_retry_after=2.0,
)

COLUMNS = ("provider", "configured", "reachable", "authenticated", "fix")


@dataclass(frozen=True)
class Row:
    provider: str
    configured: str
    reachable: str
    authenticated: str
    fix: str
    failed: bool

    def cells(self) -> tuple[str, ...]:
        return (self.provider, self.configured, self.reachable, self.authenticated, self.fix or "-")


def shown_url(url: str) -> str:
    """``url`` without user info, query or fragment: what may be printed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


async def check_all(
    settings: SettingsValues,
    *,
    transports: dict[str, AsyncBaseTransport] | None = None,
    policy: HttpPolicy = DOCTOR_POLICY,
    sandbox: bool = False,
    catalog: Catalog = BUILTIN,
) -> list[Row]:
    """One row per provider of ``catalog``, the configured ones checked concurrently."""
    statuses = {s.provider: s for s in settings.provider_status(catalog)}
    rows: dict[str, Row] = {}

    async def check(spec: ProviderSpec[Any, Any]) -> None:
        rows[spec.name] = await _check_one(spec, settings, transports or {}, policy, sandbox)

    async with anyio.create_task_group() as tg:
        for spec in catalog:
            status = statuses[spec.name]
            if status.configured:
                tg.start_soon(check, spec)
            elif status.half_set:
                rows[spec.name] = Row(
                    spec.name,
                    "partial",
                    "-",
                    "-",
                    f"set {', '.join(status.missing)} (the provider stays off until all of {spec.needed} are set)",
                    failed=True,
                )
            else:
                rows[spec.name] = Row(spec.name, "no", "-", "-", f"optional: set {spec.needed} to use it", failed=False)
    if not any(statuses[s.name].configured or statuses[s.name].half_set for s in catalog):
        rows = {
            spec.name: replace(
                rows[spec.name],
                fix=f"no provider is configured: set {spec.needed} (or try casebridge --sandbox)",
                failed=True,
            )
            for spec in catalog
        }
    return [rows[spec.name] for spec in catalog]


async def _check_one(
    spec: ProviderSpec[Any, Any],
    settings: SettingsValues,
    transports: dict[str, AsyncBaseTransport],
    policy: HttpPolicy,
    sandbox: bool,
) -> Row:
    url = str(getattr(settings, spec.url))
    where = "the in-process sandbox" if sandbox else shown_url(url)
    try:
        client = spec.open(settings, transports.get(spec.name), policy)
    except (ValueError, ProviderError) as exc:
        return Row(spec.name, "invalid", "-", "-", f"{_message(exc)} (check {spec.needed})", True)
    try:
        said = await spec.probe(client)
    except AuthenticationFailed as exc:
        fix = f"{where} refused the credentials (HTTP {exc.status}): check {spec.needed}"
        if spec.denied_fix is not None and exc.status == 403:
            fix = spec.denied_fix(spec.config(settings), where)
        return Row(spec.name, "yes", "yes", "no", fix, True)
    except (Timeout, Unavailable) as exc:
        if exc.status is not None:
            fix = (
                f"{where} answered HTTP {exc.status}: the service is failing; retry later, or check {spec.url_variable}"
            )
            return Row(spec.name, "yes", f"no (HTTP {exc.status})", "?", fix, True)
        reason = type(exc.__cause__).__name__ if isinstance(exc.__cause__, Exception) else _message(exc)
        fix = f"could not reach {where} ({reason}): check {spec.url_variable} and the network"
        if url.rstrip("/") != spec.default_url:
            fix += f"; the default is {spec.default_url}"
        return Row(spec.name, "yes", "no", "?", fix, True)
    except NotFound as exc:
        fix = f"{where} has no {spec.name} API (HTTP {exc.status or 404}): check {spec.url_variable}"
        fix += f" (default {spec.default_url})"
        if spec.not_found_also is not None:
            fix += spec.not_found_also(spec.config(settings))
        return Row(spec.name, "yes", "yes", "?", fix, True)
    except MalformedResponse as exc:
        fix = (
            f"{where} does not answer like the {spec.name} API ({_message(exc)}): "
            f"check {spec.url_variable} (default {spec.default_url})"
        )
        return Row(spec.name, "yes", "yes", "?", fix, True)
    except RateLimited as exc:
        wait = f" {exc.retry_after:g} s" if exc.retry_after is not None else " a minute"
        return Row(spec.name, "yes", "yes", "?", f"rate limited by {where}: run doctor again in{wait}", True)
    except ProviderError as exc:
        return Row(spec.name, "yes", "yes", "?", f"{where} refused the check request: {_message(exc)}", True)
    except Exception as exc:  # a bug, not a configuration problem: report it in the row, not as a traceback
        return Row(spec.name, "yes", "?", "?", f"unexpected {type(exc).__name__} while checking {where}", True)
    finally:
        with anyio.CancelScope(shield=True):
            await client.aclose()
    # A probe may answer a remark for a passing row (CommCare: which case API serves it).
    return Row(spec.name, "yes", "yes", "yes", said if isinstance(said, str) else "", False)


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, ProviderError) else str(exc)


def render(rows: list[Row]) -> str:
    # Cells quote provider answers: control characters are shown escaped, never sent to the terminal.
    table = [COLUMNS, *(tuple(printable(cell) for cell in row.cells()) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS) - 1)]
    lines = []
    for i, line in enumerate(table):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "  " + line[-1])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * len(COLUMNS[-1]))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def run_doctor(*, sandbox: bool = False, settings: SettingsValues | None = None, catalog: Catalog = BUILTIN) -> int:
    """Print the table on stdout; 1 when a configured provider fails (or none is configured)."""
    settings = settings or load_settings(catalog=catalog)
    secrets = settings.secret_values()
    transports = None
    sandbox = sandbox or settings.casebridge_sandbox
    if sandbox:
        from casebridge.server.sandbox import build_emulators, in_process_transports, sandbox_settings

        settings = sandbox_settings(settings, catalog=catalog)
        transports = in_process_transports(build_emulators(catalog))
    logging.getLogger("stamina").setLevel(logging.ERROR)  # retries are part of the check, not news
    rows = anyio.run(lambda: check_all(settings, transports=transports, sandbox=sandbox, catalog=catalog))
    # Belt and braces: the clients redact already, but nothing configured may ever be printed.
    redact = Redactor([*secrets, *settings.secret_values()])
    sys.stdout.write(redact(render(rows)))
    sys.stdout.flush()
    return 1 if any(row.failed for row in rows) else 0
