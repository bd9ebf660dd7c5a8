"""``Settings``: the settings read by pydantic-settings, from the environment and ``.env``."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from server.settings import ENV_FILE, SettingsValues


class Settings(BaseSettings, SettingsValues):
    # An empty variable counts as unset: bundle hosts pass "" for every optional field left blank.
    model_config = SettingsConfigDict(
        env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True, title="Settings"
    )
