"""Configuration from the environment and ``.env``, with the variable names DESIGN.md fixes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CLEARINGHOUSE_URL = "https://clearinghouse.net/api/v2p1"
DEFAULT_COMMCARE_URL = "https://www.commcarehq.org"
DEFAULT_CERTN_URL = "https://api.sandbox.certn.co"


class Settings(BaseSettings):
    # An empty variable counts as unset: bundle hosts pass "" for every optional field left blank.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

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


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("casebridge", appauthor=False))
