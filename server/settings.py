"""Configuration from the process environment, with the variable names DESIGN.md fixes; a file only when named.

Nothing is read implicitly from the working directory (an MCP host may start the server in a cloned
repository): a file of the same names is read only from ``--env-file`` or ``CASEBRIDGE_ENV_FILE``.
``load_settings`` reads the variables exactly as pydantic-settings would (``server.env_settings.Settings``,
which the tests compare it with) without importing it: that costs about 20 ms of every start-up (bench/).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

if TYPE_CHECKING:
    from casebridge.tools.privacy import PrivacyPolicy

DEFAULT_CLEARINGHOUSE_URL = "https://clearinghouse.net/api/v2p1"
DEFAULT_COMMCARE_URL = "https://www.commcarehq.org"
DEFAULT_CERTN_URL = "https://api.sandbox.certn.co"
ENV_FILE_VARIABLE = "CASEBRIDGE_ENV_FILE"  # names a file of variables; --env-file does the same


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


class SettingsValues(BaseModel):
    """The settings' fields and helpers; ``Settings`` (pydantic-settings) adds reading them from the environment."""

    # As pydantic-settings configures its models, so both validate the variables alike.
    model_config = ConfigDict(extra="ignore", validate_default=True, title="Settings")

    clearinghouse_api_token: SecretStr | None = None
    clearinghouse_base_url: str = DEFAULT_CLEARINGHOUSE_URL
    commcare_username: str | None = None
    commcare_api_key: SecretStr | None = None
    commcare_domain: str | None = None
    commcare_base_url: str = DEFAULT_COMMCARE_URL
    # Which CommCare case API serves searches and reads: auto = v2, or v0.5 where v2 cannot or is missing.
    commcare_case_api: Literal["auto", "v2", "v0.5"] = "auto"
    certn_api_key: SecretStr | None = None
    certn_base_url: str = DEFAULT_CERTN_URL
    casebridge_read_only: bool = False
    commcare_writes: Annotated[Literal["on", "off"], BeforeValidator(_lower)] = "on"  # update_case offered or not
    casebridge_data_dir: Path | None = None
    casebridge_http_token: SecretStr | None = None
    casebridge_sandbox: bool = False  # same as --sandbox: synthetic data, no credentials
    # HTTP transports' limits against slow or greedy clients (server/http_guard.py).
    casebridge_http_header_timeout: float = Field(default=10.0, gt=0)  # seconds for a request's headers
    casebridge_http_body_timeout: float = Field(default=30.0, gt=0)  # seconds for a request's body
    casebridge_session_idle_minutes: float = Field(default=10.0, gt=0)
    casebridge_max_sessions: int = Field(default=1000, gt=0)  # Streamable HTTP (2025-11-25 era) sessions
    casebridge_max_sessions_per_peer: int = Field(default=100, gt=0)  # per client address, each transport
    casebridge_max_sse_sessions: int = Field(default=1000, gt=0)
    # Decoded bytes of one provider answer (providers.http.DEFAULT_MAX_BODY_BYTES, 8 MiB).
    casebridge_max_response_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    # OAuth 2.1 resource server on the HTTP transports (server/oauth.py), and operations (server/operations.py).
    casebridge_oauth_issuer: str | None = None  # the authorization server; its metadata names the JWKS
    casebridge_oauth_jwks_url: str | None = None  # the JWKS directly, instead of the issuer's metadata
    casebridge_resource_url: str | None = None  # this server's canonical URL: the audience tokens must name
    casebridge_log_format: Literal["text", "json"] = "text"
    casebridge_shutdown_seconds: float = Field(default=50.0, gt=0)  # SIGTERM: how long calls in flight get
    # postgresql://user:password@host/db: the ledger shared by every worker (server/ledger_postgres.py).
    casebridge_database_url: SecretStr | None = None
    # Privacy (tools/privacy.py): masking level, CommCare properties masked or never shown (comma lists; unset
    # sensitive list = the documented default), and the providers whose cases get_case may reveal ("all").
    casebridge_privacy: Annotated[Literal["standard", "strict", "off"], BeforeValidator(_lower)] = "standard"
    commcare_sensitive_properties: str | None = None
    commcare_hidden_properties: str | None = None
    casebridge_allow_reveal: str | None = None

    @model_validator(mode="after")
    def _privacy_lists_are_valid(self) -> SettingsValues:
        self.privacy_policy()  # a bad name in a list stops start-up, naming the variable and the entry
        return self

    def privacy_policy(self) -> PrivacyPolicy:
        from casebridge.tools.privacy import PrivacyPolicy

        return PrivacyPolicy.from_settings(
            self.casebridge_privacy,
            self.commcare_sensitive_properties,
            self.commcare_hidden_properties,
            self.casebridge_allow_reveal,
        )

    def secret_values(self) -> list[str]:
        """Every credential value, for redaction and canary checks."""
        values = [
            self.clearinghouse_api_token,
            self.commcare_api_key,
            self.certn_api_key,
            self.casebridge_http_token,
        ]
        found = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
        if self.casebridge_database_url is not None:  # its password only: the rest (host, names) is not secret
            from urllib.parse import unquote, urlsplit

            password = urlsplit(self.casebridge_database_url.get_secret_value()).password
            found += [p for p in {password or "", unquote(password or "")} if p]
        return found

    def provider_status(self) -> list[ProviderStatus]:
        """Which providers are configured, and which are only half set (with what is missing)."""
        set_ = self.model_fields_set

        def present(name: str) -> bool:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                return bool(value.get_secret_value())
            return bool(value)

        def status(provider: str, required: list[str], optional: list[str]) -> ProviderStatus:
            missing = [n.upper() for n in required if not present(n)]
            mentioned = [n for n in required + optional if n in set_ and present(n)]
            if not missing:
                return ProviderStatus(provider, configured=True, missing=[])
            return ProviderStatus(provider, configured=False, missing=missing if mentioned else [])

        return [
            status("clearinghouse", ["clearinghouse_api_token"], ["clearinghouse_base_url"]),
            status(
                "commcare",
                ["commcare_username", "commcare_api_key", "commcare_domain"],
                ["commcare_base_url"],
            ),
            status("certn", ["certn_api_key"], ["certn_base_url"]),
        ]


@dataclass(frozen=True)
class ProviderStatus:
    provider: str
    configured: bool
    missing: list[str]  # non-empty only when the provider is half set

    @property
    def half_set(self) -> bool:
        return not self.configured and bool(self.missing)


class EnvFileError(Exception):
    """The file named by ``--env-file`` or ``CASEBRIDGE_ENV_FILE`` cannot be read (one line, for stderr)."""


def load_settings(env_file: str | os.PathLike[str] | None = None) -> SettingsValues:
    """The settings from the environment, plus the file ``env_file`` names (else ``CASEBRIDGE_ENV_FILE``).

    As ``Settings(_env_file=...)`` reads them: a variable set in the environment wins over the file.
    """
    environment = _variables(os.environ)
    named = env_file if env_file is not None else environment.get(ENV_FILE_VARIABLE.lower())
    values: dict[str, str | None] = {}
    if named is not None:
        values.update(_fields(read_env_file(Path(named))))
    values.update(_fields(environment))
    return SettingsValues.model_validate(values)


def read_env_file(path: Path) -> dict[str, str | None]:
    """The variables of a dotenv file (UTF-8), named as ``_variables`` names them; read once (a pipe works)."""
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise EnvFileError(f"cannot read the env file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise EnvFileError(f"cannot read the env file {path}: it is not UTF-8 text") from exc
    from dotenv import dotenv_values  # what pydantic-settings parses env files with

    return _variables(dotenv_values(stream=io.StringIO(text)))


def _variables(source: Mapping[str, str | None]) -> dict[str, str | None]:
    """``source`` as pydantic-settings matches it (``env_ignore_empty``, names in any case)."""
    # Later spellings win, as in pydantic-settings: it lower-cases the names into one dict the same way.
    return {name.lower(): value for name, value in source.items() if value != ""}


def _fields(variables: Mapping[str, str | None]) -> dict[str, str | None]:
    return {name: variables[name] for name in SettingsValues.model_fields if name in variables}


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("casebridge", appauthor=False))
