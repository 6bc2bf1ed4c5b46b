"""Server settings: :class:`ServeConfig`, a frozen dataclass whose fields, defaults and checks come
from :data:`ui.settings.SETTINGS` (the table of them, with their variables and flags, is in
docs/serving.md#settings). Read from the ``QA_*`` environment with :meth:`ServeConfig.from_env`;
``qa serve`` flags override it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .settings import SETTINGS, ConfigError, from_env, parse_origins

__all__ = ["API_KEY_HEADER", "EMBED_TOKEN_HEADER", "ConfigError", "ServeConfig", "parse_origins"]

API_KEY_HEADER = "X-API-Key"
EMBED_TOKEN_HEADER = "X-Embed-Token"


def _loopback(host: str) -> bool:
    from .guard import is_loopback

    return is_loopback(host)


def _with_settings(cls: type) -> type:
    """``cls`` as a frozen dataclass with one field per setting, in :data:`SETTINGS` order."""
    cls.__annotations__ = {s.field: s.field_annotation for s in SETTINGS}
    for s in SETTINGS:
        setattr(cls, s.field, s.default)
    return dataclass(frozen=True)(cls)


@_with_settings
class ServeConfig:
    """The settings of one server (fields: :data:`ui.settings.SETTINGS`). Every value is checked by
    its setting's rule when the config is made, so a bad one is a one-line :class:`ConfigError`."""

    def __post_init__(self) -> None:
        for s in SETTINGS:
            object.__setattr__(self, s.field, s.convert(s.field, getattr(self, s.field)))
        # The checks that involve two settings:
        if self.write_key and self.write_key == self.api_key:
            raise ConfigError("the write key must differ from the API key")
        if self.allow_writes and not self.write_key and not self.api_key and not _loopback(self.host):
            raise ConfigError(f"--allow-writes on {self.host} would let anyone on the network change the index: "
                              "set QA_WRITE_KEY (or QA_API_KEY), or bind 127.0.0.1")

    @property
    def auth_required(self) -> bool:
        return bool(self.api_key)

    @property
    def writes_enabled(self) -> bool:
        return bool(self.write_key) or self.allow_writes

    @property
    def frame_ancestors(self) -> str:
        """The CSP ``frame-ancestors`` value for /embed: this origin plus the allow-list."""
        if "*" in self.cors_origins:
            return "*"
        return " ".join(["'self'", *self.cors_origins])

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "ServeConfig":
        """Read the ``QA_*`` variables of ``env`` (default: this process's), then apply ``overrides``
        whose value is not ``None`` (a variable whose setting is overridden is not read)."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        given = {k: v for k, v in overrides.items() if v is not None}
        values = from_env(os.environ if env is None else env, skip=set(given))
        values.update(given)  # checked with the rest by __post_init__, errors naming the field
        return cls(**values)

    def with_port(self, port: int) -> "ServeConfig":
        return replace(self, port=port)
