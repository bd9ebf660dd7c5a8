"""``Settings``: the settings' fields read by pydantic-settings, the reference ``load_settings`` agrees with.

Environment only, as in ``load_settings``: a file is read only when named (``Settings(_env_file=path)``).
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from casebridge.server.settings import SettingsValues


class Settings(BaseSettings, SettingsValues):
    # An empty variable counts as unset: bundle hosts pass "" for every optional field left blank.
    model_config = SettingsConfigDict(
        env_file=None, env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True, title="Settings"
    )
