"""The ``casebridge`` command: serve MCP (stdio, Streamable HTTP, SSE) or run a helper command."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from casebridge.providers import __version__

if TYPE_CHECKING:
    from casebridge.server.app import LogLevel
    from casebridge.server.oauth import OAuthConfig

log = logging.getLogger("casebridge")

ENV_FILE_HELP = (
    "read variables from this file too (dotenv syntax; the environment wins); default: the file "
    "CASEBRIDGE_ENV_FILE names, else none: a .env in the working folder is never read"
)
MAX_REQUEST_BODY = 1_000_000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
USAGE = (
    "%(prog)s [OPTIONS]              serve MCP (stdio unless --transport)\n"
    "       %(prog)s COMMAND [ARGS]       sandbox, doctor, ledger or config (%(prog)s COMMAND --help)"
)
EPILOG = """\
main environment variables (all of them: README.md, section "Configuration"):
  CLEARINGHOUSE_API_TOKEN                               Clearinghouse API token
  COMMCARE_USERNAME, COMMCARE_API_KEY, COMMCARE_DOMAIN  CommCare web user, API key and project space
  CERTN_API_KEY                                         Certn API key (also enables ordering)
  CASEBRIDGE_READ_ONLY=true                             offer no tool that changes anything
  CASEBRIDGE_SANDBOX=true                               same as --sandbox
  CASEBRIDGE_DATA_DIR                                   where the order ledger lives
  CASEBRIDGE_HTTP_TOKEN                                 bearer token required on http/sse
A provider is offered only when its credentials are set. A .env file is read only when named
(--env-file PATH or CASEBRIDGE_ENV_FILE). Configuration table: https://github.com/casebridge/casebridge#configuration
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="casebridge",
        usage=USAGE,
        description="MCP server for case lookup in the Civil Rights Litigation Clearinghouse, CommCare HQ and Certn.\n"
        "With no COMMAND it serves MCP: on stdio (for Claude Desktop and other MCP hosts), or on\n"
        "Streamable HTTP or SSE with --transport http|sse.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"casebridge {__version__}")
    parser.add_argument(
        "--transport",
        choices=["stdio", "http", "sse"],
        default="stdio",
        help="MCP transport (default: stdio)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address for http/sse (default: 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="port for http/sse (default: 8000)")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="use the built-in emulators with synthetic data; no credentials needed",
    )
    parser.add_argument("--read-only", action="store_true", help="offer no tool that changes anything")
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        metavar="LEVEL",
        help=f"stderr log level: {', '.join(LOG_LEVELS)} (default: WARNING; INFO for casebridge's own lines on "
        "http/sse, such as the address it serves)",
    )
    parser.add_argument("--env-file", metavar="PATH", help=ENV_FILE_HELP)
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=None,
        help="stderr lines as text, or JSON lines with request id and caller "
        "(default: CASEBRIDGE_LOG_FORMAT, else text)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands (optional; none: serve MCP)")
    sb = sub.add_parser("sandbox", help="serve the three emulators on loopback for other clients")
    sb.add_argument("--port", type=_port, default=8765, dest="sandbox_port", help="port (default: 8765)")
    doc = sub.add_parser("doctor", help="check the configuration and each provider's credentials, print one table")
    doc.add_argument("--sandbox", action="store_true", dest="doctor_sandbox", help="check the built-in sandbox")
    led = sub.add_parser("ledger", help="print the recent orders, cancellations and report requests")
    led.add_argument("--limit", type=int, default=30, help="entries to show (default: 30)")
    led.add_argument("--user", metavar="SUB", help="only the entries of this caller (the OAuth subject)")
    cfg = sub.add_parser("config", help="print the MCP client configuration that starts this installation")
    cfg.add_argument("client", choices=["claude"], help="claude: a claude_desktop_config.json block")
    cfg.add_argument("--sandbox", action="store_true", dest="config_sandbox", help="the sandbox: no credentials")
    for command in (doc, led):  # also accepted after the command; SUPPRESS keeps one given before it
        command.add_argument("--env-file", metavar="PATH", default=argparse.SUPPRESS, help=ENV_FILE_HELP)
    return parser.parse_args(argv)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0-65535)")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    # Start-up imports the SDK and builds every schema: long-lived objects the cyclic collector would
    # scan again and again while they are made, about a tenth of a cold start (docs/benchmarks.md).
    _collector.paused = gc.isenabled()
    gc.disable()
    try:
        return _command(argv)
    finally:
        collect_from_now_on()


class _collector:
    paused = False  # main() turned the collector off, and it is to come back on


def collect_from_now_on() -> None:
    """Turn the collector back on, with what start-up made frozen out of its later scans."""
    if _collector.paused:
        _collector.paused = False
        gc.freeze()
        gc.enable()


def _command(argv: Sequence[str] | None) -> int:
    args = parse_args(argv)
    if args.command is not None:
        collect_from_now_on()
    logging.basicConfig(
        level=args.log_level or "WARNING", stream=sys.stderr, format="casebridge %(levelname)s %(name)s: %(message)s"
    )
    if args.log_level is None and args.command is None and args.transport != "stdio":
        # Someone reading a terminal runs an HTTP server: casebridge's own INFO lines (the address it
        # serves, connections it closed) are shown; the SDK's per-session lines stay at WARNING.
        log.setLevel(logging.INFO)
    args.log_level = args.log_level or "WARNING"
    if args.command == "sandbox":
        from casebridge.server.sandbox import serve_emulators

        return serve_emulators(args.sandbox_port)
    if args.command == "config":
        from casebridge.server.client_config import print_claude_config

        return print_claude_config(sandbox=args.config_sandbox)
    from casebridge.server.settings import EnvFileError

    try:
        if args.command == "ledger":
            from casebridge.server.ledger_command import print_ledger

            return print_ledger(args.limit, args.env_file, user=args.user)
        if args.command == "doctor":
            from casebridge.server.doctor import run_doctor
            from casebridge.server.settings import load_settings

            return run_doctor(sandbox=args.sandbox or args.doctor_sandbox, settings=load_settings(args.env_file))
        return serve(args)
    except EnvFileError as exc:
        sys.stderr.write(f"casebridge: {exc}\n")
        return 2


def serve(args: argparse.Namespace) -> int:
    from casebridge.server.oauth import OAuthConfig, OAuthConfigError
    from casebridge.server.settings import load_settings

    settings = load_settings(args.env_file)
    token = settings.casebridge_http_token.get_secret_value() if settings.casebridge_http_token else None
    try:
        oauth = OAuthConfig.from_settings(settings) if args.transport != "stdio" else None
    except OAuthConfigError as exc:
        sys.stderr.write(f"casebridge: {exc}\n")
        return 2
    if args.transport != "stdio":
        from casebridge.server.http_listen import PortUnavailable, bind, is_loopback

        if not is_loopback(args.host) and not token and not oauth:
            sys.stderr.write(
                f"casebridge: refusing to serve on {args.host} without CASEBRIDGE_HTTP_TOKEN or OAuth "
                "(CASEBRIDGE_OAUTH_ISSUER and CASEBRIDGE_RESOURCE_URL); set one, or bind 127.0.0.1.\n"
            )
            return 2
        try:  # bound before anything else, so a busy port is one line and no "serving" message
            args.listener = bind(args.host, args.port)
        except PortUnavailable as exc:
            sys.stderr.write(f"casebridge: {exc}\n")
            return 1

    from casebridge.server.app import build_server
    from casebridge.server.wiring import build_registry

    transports = None
    sandbox = bool(args.sandbox or settings.casebridge_sandbox)
    if sandbox:
        from casebridge.server.sandbox import build_emulators, in_process_transports, sandbox_settings

        settings = sandbox_settings(settings)
        transports = in_process_transports(build_emulators())
    registry = build_registry(settings, read_only=args.read_only, transports=transports)
    registry.sandbox = sandbox
    if not registry.configured:
        log.warning(
            "no provider is configured: every tool will explain how to configure one "
            "(or run with --sandbox to try casebridge on synthetic data)"
        )
    from casebridge.server.operations import configure_logging

    configure_logging(args.log_level, args.log_format or settings.casebridge_log_format, registry.redactor)
    verifier = None
    if oauth is not None:
        from casebridge.server.oauth import JwtVerifier

        verifier = JwtVerifier(oauth)
    server = build_server(
        registry,
        log_level=_log_level(args.log_level),
        shared_request_state=args.transport != "stdio",
        oauth=(oauth.auth_settings(), verifier) if oauth and verifier else None,
    )
    collect_from_now_on()  # built: from here on it serves

    async def run() -> None:
        try:
            if args.transport == "stdio":
                if sys.stdin.isatty():  # a person at a terminal, not an MCP client: say what is going on
                    sys.stderr.write(
                        f"casebridge {__version__}{' (sandbox)' if registry.sandbox else ''} is serving MCP on "
                        f"stdio for: {', '.join(registry.configured) or 'no provider'}. Connect an MCP client "
                        "(see README), or try --transport http. Ctrl-D or Ctrl-C stops it.\n"
                    )
                await _until_signal(server.run_stdio_async, registry.aclose)
            else:
                await _serve_http(server, args, token, settings, oauth)
        finally:
            with anyio.CancelScope(shield=True):
                await registry.aclose()
                if verifier is not None:
                    await verifier.aclose()

    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(run)
    return 0


async def _until_signal(fn: Any, cleanup: Any) -> None:
    """Run ``fn`` until it returns (stdin EOF) or SIGTERM/SIGINT arrives.

    On a signal, provider clients are closed and the process exits at once: the stdio reader
    blocks in a thread that cancellation cannot interrupt, so waiting for it could hang.
    """
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    log.info("received signal %s, shutting down", signum)
                    with anyio.CancelScope(shield=True), anyio.move_on_after(3):
                        await cleanup()
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(0)

        tg.start_soon(watch)
        await fn()
        tg.cancel_scope.cancel()


async def _serve_http(
    server: Any, args: argparse.Namespace, token: str | None, settings: Any, oauth: OAuthConfig | None = None
) -> None:
    import uvicorn

    from casebridge.server.http_guard import (
        BearerTokenMiddleware,
        BodyDeadline,
        HttpLimits,
        SessionLimits,
        guarded_protocol,
    )
    from casebridge.server.http_listen import transport_security
    from casebridge.server.oauth import ResourceMetadata
    from casebridge.server.operations import Operations, log_context

    limits = HttpLimits.from_settings(settings)
    security = transport_security(args.host)
    live_sessions = None
    if args.transport == "http":
        app = server.streamable_http_app(
            host=args.host,
            max_request_body_size=MAX_REQUEST_BODY,
            transport_security=security,
            session_idle_timeout=limits.session_idle_seconds,
            max_sessions=limits.max_sessions,
        )
        live_sessions = server.session_manager._server_instances.keys  # no public view of the open sessions
    else:
        app = server.sse_app(host=args.host, max_request_body_size=MAX_REQUEST_BODY, transport_security=security)
    server.middleware.insert(0, log_context)
    app = SessionLimits(app, limits, live_sessions=live_sessions)
    if token:
        app = BearerTokenMiddleware(app, token)
    if oauth is not None:
        app = ResourceMetadata(app, oauth)
    app = BodyDeadline(app, limits.body_timeout)
    app = Operations(app, server.registry)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        http=guarded_protocol(limits),
        # SIGTERM: stop listening at once, let calls in flight finish for this long, then cancel them.
        timeout_graceful_shutdown=max(1, round(settings.casebridge_shutdown_seconds)),
        log_config=None,  # keep casebridge's own stderr handler (JSON lines when asked)
    )
    from casebridge.server.http_listen import (
        ENDPOINT_PATHS,
        TRANSPORT_NAMES,
        AnnouncingServer,
        base_url,
    )

    url = base_url(args.listener) + ENDPOINT_PATHS[args.transport]
    name = TRANSPORT_NAMES[args.transport]

    def announce() -> None:
        log.info("casebridge %s is serving MCP (%s) at %s", __version__, name, url)

    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler that
    # was installed before it; a no-op one there makes a requested shutdown exit with status 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    await AnnouncingServer(config, args.listener, announce).serve_bound()


def _log_level(name: str) -> LogLevel:
    upper = name.upper()
    for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        if upper == level:
            return level
    return "WARNING"
