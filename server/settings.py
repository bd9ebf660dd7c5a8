"""Configuration from the process environment, with the variable names DESIGN.md fixes; a file only when named.

Nothing is read implicitly from the working directory (an MCP host may start the server in a cloned
repository): a file of the same names is read only from ``--env-file`` or ``CASEBRIDGE_ENV_FILE``.
``load_settings`` reads the variables exactly as pydantic-settings would (the tests compare it with a
pydantic-settings model of the same fields) without importing it: that costs about 20 ms of every start-up (bench/).
Each provider's fields are its catalog declaration's (``tools.catalog``); ``SettingsValues`` inherits the built-in ones.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, SecretStr, create_model, model_validator

from casebridge.tools.catalog import BUILTIN, Catalog, ProviderStatus
from casebridge.tools.catalog.certn import DEFAULT_URL as DEFAULT_CERTN_URL
from casebridge.tools.catalog.certn import CertnVariables
from casebridge.tools.catalog.clearinghouse import DEFAULT_URL as DEFAULT_CLEARINGHOUSE_URL
from casebridge.tools.catalog.clearinghouse import ClearinghouseVariables
from casebridge.tools.catalog.commcare import DEFAULT_URL as DEFAULT_COMMCARE_URL
from casebridge.tools.catalog.commcare import CommCareVariables

if TYPE_CHECKING:
    from casebridge.tools.privacy import PrivacyPolicy

__all__ = ["DEFAULT_CERTN_URL", "DEFAULT_CLEARINGHOUSE_URL", "DEFAULT_COMMCARE_URL", "ProviderStatus"]
ENV_FILE_VARIABLE = "CASEBRIDGE_ENV_FILE"  # names a file of variables; --env-file does the same


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


# The built-in providers' fields come first, in catalog order (pydantic lists the last base's first).
class SettingsValues(CertnVariables, CommCareVariables, ClearinghouseVariables):
    """The settings' fields and helpers; ``Settings`` (pydantic-settings) adds reading them from the environment."""

    # As pydantic-settings configures its models, so both validate the variables alike.
    model_config = ConfigDict(extra="ignore", validate_default=True, title="Settings")

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
        """Every credential value (each ``SecretStr`` field's, any provider's), for redaction and canary checks."""
        values = [getattr(self, name) for name in type(self).model_fields if name != "casebridge_database_url"]
        found = [v.get_secret_value() for v in values if isinstance(v, SecretStr) and v.get_secret_value()]
        if self.casebridge_database_url is not None:  # its password only: the rest (host, names) is not secret
            from urllib.parse import unquote, urlsplit

            password = urlsplit(self.casebridge_database_url.get_secret_value()).password
            found += [p for p in {password or "", unquote(password or "")} if p]
        return found

    def provider_status(self, catalog: Catalog = BUILTIN) -> list[ProviderStatus]:
        """Which providers are configured, and which are only half set (with what is missing)."""
        return [spec.status(self) for spec in catalog]


@cache
def settings_model(catalog: Catalog = BUILTIN) -> type[SettingsValues]:
    """``SettingsValues`` plus the fields of every provider of ``catalog`` it does not have yet."""
    extra = tuple(spec.variables for spec in catalog if not issubclass(SettingsValues, spec.variables))
    if not extra:
        return SettingsValues
    return create_model("Settings", __base__=(SettingsValues, *extra), __module__=__name__)


class EnvFileError(Exception):
    """The file named by ``--env-file`` or ``CASEBRIDGE_ENV_FILE`` cannot be read (one line, for stderr)."""


def load_settings(env_file: str | os.PathLike[str] | None = None, *, catalog: Catalog = BUILTIN) -> SettingsValues:
    """The settings from the environment, plus the file ``env_file`` names (else ``CASEBRIDGE_ENV_FILE``).

    As ``Settings(_env_file=...)`` reads them: a variable set in the environment wins over the file.
    ``catalog`` adds the variables of providers declared outside casebridge (``settings_model``).
    """
    model = settings_model(catalog)
    environment = _variables(os.environ)
    named = env_file if env_file is not None else environment.get(ENV_FILE_VARIABLE.lower())
    values: dict[str, str | None] = {}
    if named is not None:
        values.update(_fields(read_env_file(Path(named)), model))
    values.update(_fields(environment, model))
    return model.model_validate(values)


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


def _fields(variables: Mapping[str, str | None], model: type[SettingsValues]) -> dict[str, str | None]:
    return {name: variables[name] for name in model.model_fields if name in variables}


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("casebridge", appauthor=False))
