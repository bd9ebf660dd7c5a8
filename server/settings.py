"""Configuration from the environment and ``.env``, with the variable names DESIGN.md fixes.

``load_settings`` is what the server reads at start-up. With no ``.env`` file (the usual case for a
server an MCP client starts) it reads the variables itself, exactly as pydantic-settings would: importing
pydantic-settings (and python-dotenv) costs about 20 ms of every start-up (bench/, cold start). With a
``.env`` file, or wherever ``Settings`` is used, pydantic-settings does the reading.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, SecretStr

if TYPE_CHECKING:
    # What ``from server.settings import Settings`` gives (module ``__getattr__`` below), for type checkers.
    from server.env_settings import Settings as Settings

DEFAULT_CLEARINGHOUSE_URL = "https://clearinghouse.net/api/v2p1"
DEFAULT_COMMCARE_URL = "https://www.commcarehq.org"
DEFAULT_CERTN_URL = "https://api.sandbox.certn.co"
ENV_FILE = ".env"


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
    certn_api_key: SecretStr | None = None
    certn_base_url: str = DEFAULT_CERTN_URL
    casebridge_read_only: bool = False
    casebridge_data_dir: Path | None = None
    casebridge_http_token: SecretStr | None = None
    casebridge_sandbox: bool = False  # same as --sandbox: synthetic data, no credentials

    def secret_values(self) -> list[str]:
        """Every credential value, for redaction and canary checks."""
        values = [
            self.clearinghouse_api_token,
            self.commcare_api_key,
            self.certn_api_key,
            self.casebridge_http_token,
        ]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]

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


def load_settings() -> SettingsValues:
    """The settings from the environment and ``.env``, as ``Settings()`` reads them."""
    env_file = Path(ENV_FILE).expanduser()
    if env_file.is_file() or env_file.is_fifo():
        from server.env_settings import Settings

        return Settings()
    return SettingsValues.model_validate(_environment())


def _environment() -> dict[str, str]:
    """The variables naming a field, as pydantic-settings matches them (``env_ignore_empty``, any case)."""
    # Later spellings win, as in pydantic-settings: it lower-cases the names into one dict the same way.
    variables = {name.lower(): value for name, value in os.environ.items() if value != ""}
    return {name: variables[name] for name in SettingsValues.model_fields if name in variables}


def __getattr__(name: str) -> Any:
    # ``Settings`` imports pydantic-settings, which the server's start-up does without (load_settings).
    if name == "Settings":
        from server.env_settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("casebridge", appauthor=False))
