"""Every setting of ``qa serve``, declared once.

Each :class:`Setting` names its :class:`ui.config.ServeConfig` field, type, default, range or
parser, environment variable, flag and help. From :data:`SETTINGS` come the config's fields and
the checks of their values (``ui/config.py``), the ``qa serve`` flags (:func:`add_flags`,
``qa/cli/serve_cmd.py``) and the table in docs/serving.md (``ui/settings_doc.py``; regenerate it
with ``python scripts/settings_table.py``). A value is read the same way from a variable, a flag
or Python, and a bad one is a one-line :class:`ConfigError` naming where it came from
(``QA_MAX_K``, ``--max-k`` or ``max_k``).

This module imports no web framework: ``qa`` adds the serve flags to its parser on every run.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.defaults import DEFAULT_INDEX, MAX_K, THREADS, THREADS_ENV, WholeNumber
from index.errors import QAError

#: Largest ``k`` an HTTP request may ask, unless ``QA_MAX_K`` says otherwise.
API_MAX_K = 50
#: Largest HTTP request body, unless ``QA_MAX_BODY_BYTES`` says otherwise.
MAX_BODY_BYTES = 16_384
#: Largest file the UI accepts, unless ``QA_MAX_UPLOAD_MB`` says otherwise.
MAX_UPLOAD_MB = 50
#: Shortest API / write key a server starts with: a guessable key is a configuration error, not a
#: runtime risk.
MIN_KEY_CHARS = 12

_ORIGIN = re.compile(r"^https?://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")
_DAY_S = 24 * 3600


class ConfigError(QAError):
    code = "bad_config"


def parse_origins(value: str | list[str] | tuple[str, ...] | None, name: str = "the CORS allow-list") -> tuple[str, ...]:
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
            raise ConfigError(f"bad origin {origin!r} in {name}: expected scheme://host[:port] (no path), or *")
        if origin not in out:
            out.append(origin)
    return tuple(out)


def _origins(name: str, value: object) -> tuple[str, ...]:
    return parse_origins(value, name)  # type: ignore[arg-type]


def _key(name: str, value: object) -> str | None:
    """An API or write key: blank is none; it travels in an HTTP header and must resist guessing."""
    if value is None or not str(value).strip():
        return None
    key = str(value)
    if not key.isascii() or not key.isprintable():
        raise ConfigError(f"{name} must be printable ASCII (it travels in an HTTP header)")
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(f"{name} is {len(key)} characters; use at least {MIN_KEY_CHARS} "
                          "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')")
    return key


def _switch(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE + _FALSE:
        raise ConfigError(f"{name} must be 1 or 0, got {value!r}")
    return text in _TRUE


@dataclass(frozen=True)
class Setting:
    """One server setting. ``field`` is its :class:`ui.config.ServeConfig` attribute; ``env`` and
    ``flag`` are how a user sets it (either may be ``None``); ``help`` is one sentence of Markdown
    (the docs table shows it as is, ``qa serve --help`` without the markup). A whole number has a
    ``number`` range; other values may have a ``parser`` ``(name, value) -> value``. A switch
    (``bool``) is off by default when it has a variable (``QA_ALLOW_WRITES=1``), and its flag
    turns its default around (``--allow-writes``, ``--no-reload``)."""

    field: str
    type: type
    default: Any
    help: str
    env: str | None = None
    flag: str | None = None
    metavar: str | None = None
    number: WholeNumber | None = None
    parser: Callable[[str, object], Any] | None = None
    #: The Python annotation of the config field (default: the name of ``type``).
    annotation: str | None = None
    #: How the docs show the default (default: the value itself).
    shown_default: str | None = None

    def __post_init__(self) -> None:
        if self.type is int and self.number is None:
            raise TypeError(f"setting {self.field}: a whole number needs its range")
        if self.type is bool and self.env and self.default:
            raise TypeError(f"setting {self.field}: a switch with a variable must be off by default")

    def convert(self, name: str, value: object) -> Any:
        """``value`` (a variable's or a flag's text, or a Python value) as this setting's value, or a
        one-line :class:`ConfigError` naming ``name``."""
        try:
            if self.number is not None:
                return self.number.parse(name, value, ConfigError)
            if self.parser is not None:
                return self.parser(name, value)
            if self.type is bool:
                return _switch(name, value)
            return self.type(value)
        except ConfigError:
            raise
        except QAError as exc:
            raise ConfigError(exc.message) from None

    @property
    def field_annotation(self) -> str:
        return self.annotation or self.type.__name__

    @property
    def default_text(self) -> str:
        """The default as the docs and ``--help`` show it."""
        if self.shown_default is not None:
            return self.shown_default
        if self.type is bool:
            return "off"
        if self.default in (None, ()):
            return "none"
        return str(self.default)


SETTINGS: tuple[Setting, ...] = (
    Setting("index_dir", Path, Path(DEFAULT_INDEX), "index directory; a missing index is a one-line error, exit 2",
            env="QA_INDEX", flag="--index", metavar="DIR"),
    Setting("host", str, "127.0.0.1", "bind address", env="QA_HOST", flag="--host", metavar="HOST"),
    Setting("port", int, 7860, "port; `0` picks a free one (the printed URL has it)",
            env="QA_PORT", flag="--port", metavar="PORT", number=WholeNumber(0, 65535)),
    Setting("api_key", str, None,
            f"when set ({MIN_KEY_CHARS} characters or more), `/api/search`, `/api/ask` and `/api/timeline` need the "
            "header `X-API-Key: <key>` (`/api/health` stays open) and the UI asks for the key first; prefer the "
            "variable: flags show up in `ps`",
            env="QA_API_KEY", flag="--api-key", metavar="KEY", parser=_key, annotation="str | None"),
    Setting("cors_origins", tuple, (),
            "comma list of origins, e.g. `https://wiki.example.org`, that may call the API from browsers **and** "
            "frame `/embed`; `*` allows all",
            env="QA_CORS_ORIGINS", flag="--cors-origins", metavar="LIST", parser=_origins, annotation="tuple[str, ...]"),
    Setting("max_body_bytes", int, MAX_BODY_BYTES, "largest JSON request body; larger ones get 413 before they are parsed",
            env="QA_MAX_BODY_BYTES", flag="--max-body-bytes", metavar="BYTES", number=WholeNumber(256, 64 * 1024 * 1024)),
    Setting("max_k", int, API_MAX_K, "largest `k` a request may ask (400 above it); also caps the default `k` of "
            "search and ask (10)", env="QA_MAX_K", flag="--max-k", metavar="K", number=WholeNumber(1, MAX_K)),
    Setting("max_upload_mb", int, MAX_UPLOAD_MB, "largest UI upload in MB, each file and all files of one "
            "\"Add articles\" together; over it, nothing is changed",
            env="QA_MAX_UPLOAD_MB", flag="--max-upload-mb", metavar="MB", number=WholeNumber(1, 10_000)),
    Setting("threads", int, 1, "CPU threads one request's embedding may use, torch and ONNX Runtime alike (requests "
            "already run in parallel threads; `qa index` and `qa eval` use every core unless the variable is set)",
            env=THREADS_ENV, flag="--threads", metavar="N", number=THREADS),
    Setting("write_key", str, None, "enables writes (UI upload, `DELETE /api/articles/{id}`) for this key's holders "
            "only; it must differ from the API key; prefer the variable: flags show up in `ps`",
            env="QA_WRITE_KEY", flag="--write-key", metavar="KEY", parser=_key, annotation="str | None"),
    Setting("allow_writes", bool, False, "enables writes for every reader; refused on a non-loopback `--host` "
            "without an API or write key", env="QA_ALLOW_WRITES", flag="--allow-writes"),
    Setting("ui_uploads", bool, True, "hide the UI's \"Add articles\" even when writes are enabled (see "
            "docs/security.md)", flag="--no-ui-uploads"),
    Setting("reload", bool, True, "do not watch the index for generations written by other processes "
            "(`qa index`, `qa delete`)", flag="--no-reload"),
    Setting("header_timeout_s", int, 10, "seconds a client has to send a request's headers; slower ones are cut",
            env="QA_HEADER_TIMEOUT_S", flag="--header-timeout", metavar="S", number=WholeNumber(1, 3600)),
    Setting("body_idle_timeout_s", int, 30, "seconds a client may pause while sending a request body",
            env="QA_BODY_IDLE_TIMEOUT_S", flag="--body-idle-timeout", metavar="S", number=WholeNumber(1, 3600)),
    Setting("body_timeout_s", int, 30, "seconds a client has to send a whole request body, however paced (408 past it)",
            env="QA_BODY_TIMEOUT_S", flag="--body-timeout", metavar="S", number=WholeNumber(1, 3600)),
    Setting("upload_timeout_s", int, 600, "seconds a client has to send one of the UI's file uploads, however paced "
            "(writers only)",
            env="QA_UPLOAD_TIMEOUT_S", flag="--upload-timeout", metavar="S", number=WholeNumber(1, _DAY_S)),
    Setting("index_budget_s", int, 600, "seconds one UI upload may spend indexing; past it, it is abandoned and "
            "nothing is changed", env="QA_INDEX_BUDGET_S", flag="--index-budget", metavar="S",
            number=WholeNumber(1, _DAY_S)),
    Setting("embed_token_ttl_s", int, 3600, "seconds the token an `/embed` page carries stays valid (with an API key)",
            env="QA_EMBED_TOKEN_TTL_S", flag="--embed-token-ttl", metavar="S", number=WholeNumber(60, _DAY_S)),
)

BY_FIELD: dict[str, Setting] = {s.field: s for s in SETTINGS}


def from_env(env: Mapping[str, str], skip: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """Field -> value of every setting whose variable is set (non-blank) in ``env``, except the
    fields in ``skip`` (given otherwise: a flag overrides its variable, which is then not read)."""
    values: dict[str, Any] = {}
    for s in SETTINGS:
        if s.env and s.field not in skip and env.get(s.env, "").strip():
            values[s.field] = s.convert(s.env, env[s.env])
    return values


def _plain(markdown: str) -> str:
    """``help`` without Markdown (for ``--help``; ``%`` escaped for argparse)."""
    return markdown.replace("`", "").replace("**", "").replace("%", "%%")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting that has one, each ``dest`` the setting's field and ``None`` when not
    given (the text is read by :func:`flag_values`, so its error names the flag)."""
    for s in SETTINGS:
        if not s.flag:
            continue
        notes = [] if s.type is bool else [f"default {s.default_text}" + (f", {s.number}" if s.number else "")]
        notes += [f"${s.env}" + ("=1" if s.type is bool else "")] if s.env else []
        text = _plain(s.help) + (f" ({'; '.join(notes)})" if notes else "")
        if s.type is bool:
            parser.add_argument(s.flag, dest=s.field, action="store_const", const=not s.default, default=None, help=text)
        else:
            parser.add_argument(s.flag, dest=s.field, default=None, metavar=s.metavar, help=text)


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """Field -> value of every setting whose flag was given, read by the setting's rule."""
    return {s.field: s.convert(s.flag, getattr(args, s.field)) for s in SETTINGS
            if s.flag and getattr(args, s.field, None) is not None}
