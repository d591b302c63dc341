"""Typed settings read once from the environment (and an optional YAML file), failing fast when wrong."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

SettingsT = TypeVar("SettingsT", bound="ServiceSettings")


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads settings from the YAML file named by `<PREFIX>CONFIG_FILE`, below the environment in priority."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        prefix = settings_cls.model_config.get("env_prefix", "")
        path = os.environ.get(f"{prefix}CONFIG_FILE")
        self._data: dict[str, Any] = {}
        if path:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{prefix}CONFIG_FILE={path} must hold a YAML mapping")
            self._data = loaded

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set `env_prefix` (for example `ROUTER_`)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 binds a free port and prints it")
    grace_seconds: float = Field(default=5.0, ge=0, description="SIGTERM drain time")
    max_message_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    readiness_interval_seconds: float = Field(default=1.0, gt=0)
    log_level: str = "INFO"
    log_requests: bool = Field(default=True, description="one JSON log line per call")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))


def load_settings(settings_cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Builds the settings or exits with one line per bad setting, naming its environment variable."""
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        prefix = settings_cls.model_config.get("env_prefix", "")
        lines = [f"invalid settings for {settings_cls.__name__}:"]
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"])
            lines.append(f"  {prefix}{name.upper()}: {err['msg']} (got {err.get('input')!r})")
        sys.stderr.write("\n".join(lines) + "\n")
        raise SystemExit(2) from None
