"""Server settings: a typed dataclass read from the environment, with CLI flags overriding.

=====================  ==========================  =============================================
env                    flag                        meaning
=====================  ==========================  =============================================
QA_INDEX               --index DIR                 index directory (default ./qa-index)
QA_HOST                --host                      bind address (default 127.0.0.1)
QA_PORT                --port                      port (default 7860; 0 picks a free one)
QA_API_KEY             --api-key                   when set, /api/search and /api/ask need the
                                                   ``X-API-Key`` header (health stays open)
QA_CORS_ORIGINS        --cors-origins              comma list of origins allowed to call the
                                                   API from browsers *and* to frame /embed
QA_MAX_BODY_BYTES      --max-body-bytes            largest JSON request body (default 16384)
QA_MAX_K               --max-k                     largest ``k`` a request may ask (default 50)
QA_MAX_UPLOAD_MB       --max-upload-mb             largest file the UI accepts (default 50)
QA_WRITE_KEY           --write-key                 enables writes (UI upload, DELETE
                                                   /api/articles/ID) for holders of this key only
QA_ALLOW_WRITES=1      --allow-writes              enables writes for every reader (refused on a
                                                   non-loopback bind without QA_API_KEY)
QA_HEADER_TIMEOUT_S    --header-timeout            seconds a client has to send a request's
                                                   headers (default 10; slow clients are cut)
QA_INDEX_BUDGET_S      --index-budget              seconds an upload may spend indexing (600)
QA_BODY_TIMEOUT_S                                  seconds a client has to send a whole request
                                                   body, however paced (default 30; 408 past it)
QA_UPLOAD_TIMEOUT_S                                the same for the UI's file uploads (600)
=====================  ==========================  =============================================
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from index.defaults import MAX_K, default_index_dir
from index.errors import QAError

from .guard import MIN_KEY_CHARS

#: Largest ``k`` an HTTP request may ask (``QA_MAX_K``).
API_MAX_K = 50
#: Largest HTTP request body (``QA_MAX_BODY_BYTES``).
MAX_BODY_BYTES = 16_384
#: Largest file the UI accepts (``QA_MAX_UPLOAD_MB``).
MAX_UPLOAD_MB = 50

API_KEY_HEADER = "X-API-Key"
EMBED_TOKEN_HEADER = "X-Embed-Token"

_ORIGIN = re.compile(r"^https?://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


class ConfigError(QAError):
    code = "bad_config"


def _loopback(host: str) -> bool:
    from .guard import is_loopback

    return is_loopback(host)


def parse_origins(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"https://wiki.example.org, http://localhost:8080"`` -> a tuple of origins, checked.

    ``*`` allows any origin. An origin is ``scheme://host[:port]`` with no path or slash.
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for raw in items:
        origin = raw.strip()
        if origin.endswith("/") and origin.count("/") == 3:  # "https://wiki.example.org/" as pasted
            origin = origin[:-1]
        if not origin:
            continue
        if origin != "*" and not _ORIGIN.match(origin):
            raise ConfigError(f"bad origin {origin!r} in the CORS allow-list: expected scheme://host[:port] (no path), or *")
        if origin not in out:
            out.append(origin)
    return tuple(out)


def _int(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class ServeConfig:
    index_dir: Path = Path("qa-index")
    host: str = "127.0.0.1"
    port: int = 7860
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = MAX_BODY_BYTES
    max_k: int = API_MAX_K
    max_upload_mb: int = MAX_UPLOAD_MB
    #: Lifetime of the token the /embed page gets when an API key is set (see docs/serving.md).
    embed_token_ttl_s: int = 3600
    #: Writes (see docs/security.md): a key of their own, or on for every reader.
    write_key: str | None = None
    allow_writes: bool = False
    #: Slow clients: seconds to send the request head, and idle seconds while sending a body.
    header_timeout_s: int = 10
    body_idle_timeout_s: int = 30
    #: Total seconds to receive one request body (UI uploads: ``upload_timeout_s``); see ui/api.py.
    body_timeout_s: int = 30
    upload_timeout_s: int = 600
    #: Time budget of one upload's indexing job (it is abandoned, index unchanged, past it).
    index_budget_s: int = 600

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.api_key.strip():
            object.__setattr__(self, "api_key", None)
        _int("max_k", str(self.max_k), 1, MAX_K)
        _int("max_body_bytes", str(self.max_body_bytes), 256, 64 * 1024 * 1024)
        _int("port", str(self.port), 0, 65535)
        _int("max_upload_mb", str(self.max_upload_mb), 1, 10_000)
        _int("header_timeout_s", str(self.header_timeout_s), 1, 3600)
        _int("body_idle_timeout_s", str(self.body_idle_timeout_s), 1, 3600)
        _int("body_timeout_s", str(self.body_timeout_s), 1, 3600)
        _int("upload_timeout_s", str(self.upload_timeout_s), 1, 24 * 3600)
        _int("index_budget_s", str(self.index_budget_s), 1, 24 * 3600)
        if self.write_key is not None and not self.write_key.strip():
            object.__setattr__(self, "write_key", None)
        for name in ("api_key", "write_key"):
            value = getattr(self, name)
            if value is not None and (not value.isascii() or not value.isprintable()):
                raise ConfigError(f"{name} must be printable ASCII (it travels in an HTTP header)")
        for name in ("api_key", "write_key"):
            value = getattr(self, name)
            if value is not None and len(value) < MIN_KEY_CHARS:
                raise ConfigError(f"{name} is {len(value)} characters; use at least {MIN_KEY_CHARS} "
                                  "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')")
        if self.write_key and self.write_key == self.api_key:
            raise ConfigError("the write key must differ from the API key")
        if self.allow_writes and not self.write_key and not self.api_key and not _loopback(self.host):
            raise ConfigError(f"--allow-writes on {self.host} would let anyone on the network change the index: "
                              "set QA_WRITE_KEY (or QA_API_KEY), or bind 127.0.0.1")
        object.__setattr__(self, "cors_origins", parse_origins(self.cors_origins))
        object.__setattr__(self, "index_dir", Path(self.index_dir))

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
        """Read ``QA_*`` variables, then apply ``overrides`` whose value is not ``None``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {"index_dir": Path(env["QA_INDEX"]) if env.get("QA_INDEX") else default_index_dir()}
        if env.get("QA_HOST"):
            values["host"] = env["QA_HOST"]
        if env.get("QA_PORT"):
            values["port"] = _int("QA_PORT", env["QA_PORT"], 0, 65535)
        if env.get("QA_API_KEY"):
            values["api_key"] = env["QA_API_KEY"]
        if env.get("QA_CORS_ORIGINS"):
            values["cors_origins"] = parse_origins(env["QA_CORS_ORIGINS"])
        if env.get("QA_MAX_BODY_BYTES"):
            values["max_body_bytes"] = _int("QA_MAX_BODY_BYTES", env["QA_MAX_BODY_BYTES"], 256, 64 * 1024 * 1024)
        if env.get("QA_MAX_K"):
            values["max_k"] = _int("QA_MAX_K", env["QA_MAX_K"], 1, MAX_K)
        if env.get("QA_WRITE_KEY"):
            values["write_key"] = env["QA_WRITE_KEY"]
        if env.get("QA_ALLOW_WRITES"):
            flag = env["QA_ALLOW_WRITES"].strip().lower()
            if flag not in ("1", "0", "true", "false", "yes", "no"):
                raise ConfigError(f"QA_ALLOW_WRITES must be 1 or 0, got {env['QA_ALLOW_WRITES']!r}")
            values["allow_writes"] = flag in ("1", "true", "yes")
        if env.get("QA_HEADER_TIMEOUT_S"):
            values["header_timeout_s"] = _int("QA_HEADER_TIMEOUT_S", env["QA_HEADER_TIMEOUT_S"], 1, 3600)
        if env.get("QA_BODY_TIMEOUT_S"):
            values["body_timeout_s"] = _int("QA_BODY_TIMEOUT_S", env["QA_BODY_TIMEOUT_S"], 1, 3600)
        if env.get("QA_UPLOAD_TIMEOUT_S"):
            values["upload_timeout_s"] = _int("QA_UPLOAD_TIMEOUT_S", env["QA_UPLOAD_TIMEOUT_S"], 1, 24 * 3600)
        if env.get("QA_INDEX_BUDGET_S"):
            values["index_budget_s"] = _int("QA_INDEX_BUDGET_S", env["QA_INDEX_BUDGET_S"], 1, 24 * 3600)
        if env.get("QA_MAX_UPLOAD_MB"):
            values["max_upload_mb"] = _int("QA_MAX_UPLOAD_MB", env["QA_MAX_UPLOAD_MB"], 1, 10_000)
        names = {f.name for f in fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_port(self, port: int) -> "ServeConfig":
        return replace(self, port=port)
