"""One guard for every entry point: who may read, who may write, and the browser session.

Roles (:class:`Role`) come from credentials, never from what a client says about itself:

* no API key configured: everybody may read; with a key, only callers that present it
  (``X-API-Key`` for the JSON API, the signed session cookie for the web UI);
* writes (UI upload, ``DELETE /api/articles/{id}``) are off unless the server is started with
  ``--allow-writes`` or a write key (``QA_WRITE_KEY``). With a write key only its holders may
  write; ``--allow-writes`` without one grants writes to readers, which :class:`ui.config.ServeConfig`
  refuses on a non-loopback bind unless an API key is set.

:class:`GuardMiddleware` sits in front of the whole ASGI app. For every path outside the JSON API
and the ``/embed`` widget (i.e. the Gradio page and *all* its routes: ``/config``,
``/gradio_api/queue/*``, ``/gradio_api/upload``, ``/gradio_api/file=``…) it requires a valid
session cookie when a key is set, requires the write role for Gradio's routes that store client
bytes (upload, multipart ``component_server``), refuses ``process_recording`` (the UI never uses
it), records which upload paths each session received, and adds ``frame-ancestors`` /
``X-Frame-Options`` to every response outside ``/api`` and ``/embed`` (the open ``/docs``,
``/docs-assets/``, ``/openapi.json`` and ``/login`` included). See docs/security.md.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import IntEnum
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.errors import QAError, printable

from .config import API_KEY_HEADER, EMBED_TOKEN_HEADER
from .errors import Forbidden, TooManyRequests, Unauthorized, error_response, shaped_error_body

SESSION_COOKIE = "qa_session"
SESSION_TTL_S = 12 * 3600
#: Paths the guard leaves to their own checks: the JSON API (X-API-Key), the widget (embed
#: token), the login form and the OpenAPI docs (which hold no data).
OPEN_PATHS = frozenset({"/embed", "/embed.js", "/embed.css", "/login", "/logout", "/docs", "/docs/oauth2-redirect",
                        "/openapi.json"})
#: ``/docs-assets/``: Swagger UI's script, stylesheet and icon, open exactly as ``/docs`` is.
OPEN_PREFIXES = ("/api/", "/docs-assets/")
#: Open paths that set their own framing policy (the API's JSON and the widget, which other sites
#: may frame); every other response gets :func:`frame_headers`.
OWN_FRAMING = ("/api", "/embed")
#: Gradio routes that store client bytes on the server: write role only. ``component_server``
#: takes files only as ``multipart/form-data`` (:data:`MULTIPART_UPLOAD_PATHS`).
UPLOAD_PATHS = ("/gradio_api/upload", "/upload")
MULTIPART_UPLOAD_PATHS = ("/gradio_api/component_server", "/component_server")
#: Gradio routes the UI never uses that store client bytes (``process_recording`` keeps a video in
#: Gradio's temp folder): refused for everybody with 404.
REFUSED_PATHS = ("/gradio_api/process_recording", "/process_recording")
#: Most upload paths remembered per session (old ones are forgotten first).
MAX_UPLOADS_PER_SESSION = 256
#: Largest body of a Gradio route other than the upload routes: an event's JSON (a question, the
#: filters, the descriptions of a few uploaded files) is a few KiB; 20 MB once cost 1.1 GB of RSS.
UI_EVENT_MAX_BYTES = 64 * 1024
#: What one multipart upload may carry beyond its files' bytes (boundaries, names, headers).
UPLOAD_OVERHEAD_BYTES = 1 << 20
#: Wrong keys (``/login`` or ``X-API-Key``) one client address may send per ``KEY_FAILURE_WINDOW_S``;
#: past it, every key it sends is refused (429) for a back-off that doubles with each lockout.
KEY_FAILURES = 10
KEY_FAILURE_WINDOW_S = 60.0
KEY_BACKOFF_S = 60.0
KEY_BACKOFF_MAX_S = 3600.0
#: Questions an embed-token caller may ask per minute, per client address and per token.
EMBED_ASKS_PER_CLIENT = 30
EMBED_ASKS_PER_TOKEN = 120
#: Passages an embed-token caller's question may read (the widget needs the answer, not a result list).
EMBED_MAX_K = 5
#: Methods whose body the event check reads (a GET or HEAD body is never looked at by Gradio).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Role(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


class RateLimiter:
    """At most ``limit`` events per ``window_s`` for each key (a client address, a token), counted in
    a sliding window; memory stays bounded (``max_keys``, least recently seen forgotten first).
    Thread-safe; ``clock`` is injectable for tests."""

    def __init__(self, limit: int, window_s: float, *, max_keys: int = 10_000, clock: Any = time.monotonic) -> None:
        self.limit, self.window_s, self.max_keys, self.clock = int(limit), float(window_s), int(max_keys), clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _window(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        self._events.move_to_end(key)
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def hit(self, key: str) -> float:
        """Count one event for ``key``: 0 when it is within the limit, else the seconds until it would be."""
        with self._lock:
            now = self.clock()
            events = self._window(key, now)
            if len(events) >= self.limit:
                return max(0.001, events[0] + self.window_s - now)
            events.append(now)
            return 0.0


class KeyFailures:
    """Wrong keys per client address: the :data:`KEY_FAILURES`-th within :data:`KEY_FAILURE_WINDOW_S`
    locks the address out for :data:`KEY_BACKOFF_S`; each lockout that follows within
    :data:`KEY_BACKOFF_MAX_S` of the last one doubles it (at most :data:`KEY_BACKOFF_MAX_S`). While
    locked out no key is looked at, the right one neither. Memory is bounded (``max_keys`` addresses)."""

    def __init__(self, *, limit: int = KEY_FAILURES, window_s: float = KEY_FAILURE_WINDOW_S,
                 backoff_s: float = KEY_BACKOFF_S, max_backoff_s: float = KEY_BACKOFF_MAX_S,
                 clock: Any = time.monotonic, max_keys: int = 10_000) -> None:
        self.limit, self.window_s, self.backoff_s, self.max_backoff_s = max(1, int(limit)), window_s, backoff_s, max_backoff_s
        self.clock, self.max_keys = clock, max_keys
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        self._until: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (locked until, its back-off)
        self._lock = threading.Lock()

    def locked(self, client: str) -> float:
        """Seconds this address must still wait before a key it sends is looked at (0: none)."""
        with self._lock:
            until = self._until.get(client, (0.0, 0.0))[0]
        return max(0.0, until - self.clock())

    def failed(self, client: str) -> float:
        """Record a wrong key from ``client``; returns the lockout it starts (0: none)."""
        with self._lock:
            now = self.clock()
            fails = self._fails.setdefault(client, deque())
            self._fails.move_to_end(client)
            while fails and fails[0] <= now - self.window_s:
                fails.popleft()
            fails.append(now)
            if len(fails) < self.limit:
                self._bound()
                return 0.0
            fails.clear()
            until, last = self._until.get(client, (0.0, 0.0))
            backoff = min(self.max_backoff_s, last * 2) if last and now - until < self.max_backoff_s else self.backoff_s
            self._until[client] = (now + backoff, backoff)
            self._until.move_to_end(client)
            self._bound()
            return backoff

    def _bound(self) -> None:
        for table in (self._fails, self._until):
            while len(table) > self.max_keys:
                table.popitem(last=False)


def client_address(scope_or_request: Any) -> str:
    """The peer address of an ASGI scope or a Starlette request (no proxy header is trusted)."""
    client = scope_or_request.get("client") if isinstance(scope_or_request, dict) else getattr(scope_or_request, "client", None)
    if client is None:
        return "?"
    return str(client[0] if isinstance(client, (tuple, list)) else getattr(client, "host", "?"))


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: only this machine can connect."""
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _eq(given: str | None, want: str | None) -> bool:
    if not given or not want:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), want.encode("utf-8", "surrogatepass"))


@dataclass
class Guard:
    """The access policy of one server, plus its session signer and upload registry."""

    api_key: str | None = None
    write_key: str | None = None
    allow_writes: bool = False
    loopback: bool = True
    frame_ancestors: str = "'self'"
    secret: bytes = field(default=b"", repr=False)
    _uploads: dict[str, OrderedDict[str, None]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: session ids logged out before their expiry (id -> expiry), kept until they would have expired
    _revoked: dict[str, int] = field(default_factory=dict, repr=False)
    key_failures: KeyFailures = field(default_factory=KeyFailures, repr=False)
    embed_clients: RateLimiter = field(default_factory=lambda: RateLimiter(EMBED_ASKS_PER_CLIENT, 60.0), repr=False)
    embed_tokens: RateLimiter = field(default_factory=lambda: RateLimiter(EMBED_ASKS_PER_TOKEN, 60.0), repr=False)

    def __post_init__(self) -> None:
        if not self.secret:
            if self.api_key or self.write_key:  # sessions survive a restart with the same keys
                material = f"newsqa-session\0{self.api_key or ''}\0{self.write_key or ''}".encode("utf-8", "surrogatepass")
                self.secret = hashlib.sha256(material).digest()
            else:
                self.secret = secrets.token_bytes(32)

    @classmethod
    def from_config(cls, config: Any) -> "Guard":
        return cls(api_key=config.api_key, write_key=getattr(config, "write_key", None),
                   allow_writes=bool(getattr(config, "allow_writes", False)), loopback=is_loopback(config.host),
                   frame_ancestors=config.frame_ancestors)

    # ------------------------------------------------------------------ policy
    @property
    def writes_enabled(self) -> bool:
        return bool(self.write_key) or self.allow_writes

    @property
    def login_required(self) -> bool:
        """Whether the web UI asks for a key before it shows anything."""
        return bool(self.api_key)

    def anonymous_role(self) -> Role:
        """What a caller without credentials may do."""
        if self.api_key:
            return Role.NONE
        if self.allow_writes and not self.write_key and self.loopback:
            return Role.WRITE
        return Role.READ

    def role_for_key(self, given: str | None) -> Role:
        """The role a presented key grants (the anonymous role when it matches nothing)."""
        if _eq(given, self.write_key):
            return Role.WRITE
        if _eq(given, self.api_key):
            return Role.WRITE if self.allow_writes and not self.write_key else Role.READ
        return self.anonymous_role()

    def key_is_known(self, given: str | None) -> bool:
        return _eq(given, self.write_key) or _eq(given, self.api_key)

    def api_access_error(self, scope: str, headers: Any, client: str | None = None) -> QAError | None:
        """Why an API request may not do ``scope`` (``search``, ``ask`` and ``timeline`` need the read
        role or, for ``ask`` and ``timeline``, a valid embed token; ``write`` the write role), or
        ``None`` when it may. With ``client`` (the first check, before the body is read:
        :class:`ui.middleware.EarlyAuthMiddleware`) wrong keys count against that address and the
        embed token's rate limits are applied."""
        given = headers.get(API_KEY_HEADER)
        if client is not None and given is not None:
            wait = self.key_failures.locked(client)
            if wait:
                return TooManyRequests(f"too many wrong keys from this address; try again in {math.ceil(wait)} s")
        if given is not None and not self.key_is_known(given):
            if client is not None:
                self.key_failures.failed(client)
            return Unauthorized("wrong API key")
        role = self.role_for_key(given)
        if scope == "write":
            if not self.writes_enabled:
                return Forbidden("writes are disabled on this server (start it with --allow-writes or QA_WRITE_KEY)")
            if role >= Role.WRITE:
                return None
            if given is None:
                return Unauthorized(f"this needs the write key: send it in the {API_KEY_HEADER} header")
            return Forbidden("this key may read but not write; send the write key")
        if role >= Role.READ:
            return None
        token = headers.get(EMBED_TOKEN_HEADER)
        if scope in ("ask", "timeline") and token and self.api_key and check_embed_token(self.api_key, token):
            if client is not None:  # the widget's questions: limited per address and per token
                wait = self.embed_clients.hit(client) or self.embed_tokens.hit(token)
                if wait:
                    return TooManyRequests(f"too many questions; try again in {math.ceil(wait)} s")
            return None
        if given is None and not token:
            return Unauthorized(f"this server needs an API key: send it in the {API_KEY_HEADER} header")
        return Unauthorized("embed token is invalid or expired; reload the page")

    # ------------------------------------------------------------------ sessions
    def _sign(self, payload: str) -> str:
        return hmac.new(self.secret, f"session:{payload}".encode(), hashlib.sha256).hexdigest()[:48]

    def make_session(self, role: Role, now: float | None = None) -> str:
        """``v1.<role>.<expiry>.<nonce>.<sig>``: an HMAC over the rest with the server's secret."""
        expiry = int((time.time() if now is None else now) + SESSION_TTL_S)
        payload = f"v1.{int(role)}.{expiry}.{secrets.token_hex(12)}"
        return f"{payload}.{self._sign(payload)}"

    def read_session(self, token: str | None, now: float | None = None) -> tuple[Role, str] | None:
        """``(role, session id)`` of a valid, unexpired cookie value, else ``None``."""
        if not token or not token.isascii() or len(token) > 200:
            return None
        parts = token.split(".")
        if len(parts) != 5 or parts[0] != "v1" or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        payload, sig = ".".join(parts[:4]), parts[4]
        if not hmac.compare_digest(self._sign(payload).encode(), sig.encode()):
            return None
        if int(parts[2]) < (time.time() if now is None else now):
            return None
        with self._lock:
            if parts[3] in self._revoked:
                return None
        role = int(parts[1])
        if role not in (1, 2):
            return None
        if role == Role.WRITE and not self.writes_enabled:
            role = Role.READ
        return Role(role), parts[3]

    def revoke(self, token: str | None, now: float | None = None) -> bool:
        """Log a session out on the server: its cookie is refused from now on, even if a copy of it
        was kept (until the server restarts; expired sessions are forgotten)."""
        if not token or self.read_session(token, now) is None:
            return False
        parts = token.split(".")
        t = time.time() if now is None else now
        with self._lock:
            self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp >= t}
            self._revoked[parts[3]] = int(parts[2])
        return True

    def session_cookie(self, token: str, secure: bool = False, max_age: int = SESSION_TTL_S) -> str:
        attrs = f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
        return attrs + ("; Secure" if secure else "")

    def request_session(self, headers: Any) -> tuple[Role, str | None]:
        """Role and session id for a request's headers (a ``Mapping`` or ASGI header list)."""
        cookie_header = _header(headers, "cookie")
        session = self.read_session(_cookie(cookie_header, SESSION_COOKIE)) if cookie_header else None
        if session is None:
            return self.anonymous_role(), None
        role, sid = session
        return max(role, self.anonymous_role()), sid

    # ------------------------------------------------------------------ uploads
    def remember_uploads(self, sid: str, paths: list[str]) -> None:
        """Record the paths Gradio's upload route stored for session ``sid`` (as Gradio wrote
        them, and resolved): the only paths an event of this session may name."""
        with self._lock:
            seen = self._uploads.setdefault(sid, OrderedDict())
            for p in paths:
                for form in dict.fromkeys((os.path.normpath(p), os.path.realpath(p))):
                    seen[form] = None
                    seen.move_to_end(form)
            while len(seen) > 2 * MAX_UPLOADS_PER_SESSION:
                seen.popitem(last=False)

    def uploaded_by(self, sid: str | None, path: str) -> bool:
        """Whether session ``sid`` uploaded ``path``: a comparison of strings, so nothing on the
        file system is touched (a FIFO or ``/dev/zero`` named here is never opened or stat'ed)."""
        if not sid or not isinstance(path, str) or not os.path.isabs(path) or "\0" in path:
            return False
        with self._lock:
            return os.path.normpath(path) in self._uploads.get(sid, {})

    def event_files_error(self, role: Role, sid: str | None, refs: list[Any]) -> tuple[int, str, str] | None:
        """Why an event naming the files ``refs`` (``FileData`` paths or URLs) may not run, as
        ``(status, code, message)``, or ``None`` when every one is a file this session uploaded
        and the session may write."""
        if not refs:
            return None
        if not self.writes_enabled:
            return 403, "forbidden", "writes are disabled on this server"
        if role < Role.WRITE:
            return 403, "forbidden", "adding articles needs the write key: log in with it at /login"
        for ref in refs:
            if not self.uploaded_by(sid, ref):
                name = os.path.basename(ref) if isinstance(ref, str) else "a file"
                name = printable(name if len(name) <= 120 else name[:119] + "…")
                return 403, "forbidden", f"{name}: not a file this server received from you; upload it again"
        return None


def _header(headers: Any, name: str) -> str | None:
    if hasattr(headers, "get") and not isinstance(headers, list):
        return headers.get(name)
    raw = name.encode()
    for k, v in headers:
        if k == raw:
            return v.decode("latin-1")
    return None


def _cookie(header: str, name: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # noqa: BLE001 - a malformed Cookie header is just "no session"
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def file_references(data: Any, max_nodes: int = 100_000) -> list[Any]:
    """The file references in a Gradio event's JSON: the ``path`` (or, without one, the ``url``)
    of every object that has either key, at any depth (``FileData`` in every Gradio version; an
    event of this UI that takes no file has no such object). Iterative, so depth costs nothing;
    past ``max_nodes`` values the body counts as a file reference (refused unless uploaded)."""
    refs: list[Any] = []
    stack = [data]
    seen = 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > max_nodes:
            return [*refs, None]
        if isinstance(value, dict):
            if "path" in value or "url" in value:
                refs.append(value.get("path", value.get("url")))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return refs


def upload_folder() -> Path:
    """Gradio's upload cache (where ``/gradio_api/upload`` stores what it received)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path == "/api" or path.startswith(OPEN_PREFIXES)


def frame_headers(frame_ancestors: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-security-policy", f"frame-ancestors {frame_ancestors}".encode()),
               (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
    if frame_ancestors != "*":
        headers.append((b"x-frame-options", b"SAMEORIGIN"))
    return headers


class GuardMiddleware:
    """Applies :class:`Guard` to every non-API path of the server (see the module docstring)."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard
        self._frame = frame_headers(guard.frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if _is_open(path):
            if scope["type"] == "http" and not path.startswith(OWN_FRAMING):
                await self.app(scope, receive, self._framed(send))  # /docs, /openapi.json, /login…
            else:
                await self.app(scope, receive, send)
            return
        guard = self.guard
        role, sid = guard.request_session(scope.get("headers", []))
        if scope["type"] == "websocket":  # the UI uses none; refuse rather than leave a door
            await send({"type": "websocket.close", "code": 1008})
            return
        method = scope.get("method", "GET")
        if role < Role.READ:
            if method in ("GET", "HEAD") and path in ("/", ""):
                await self._redirect(scope, receive, send, "/login")
            else:
                await error_response(401, "unauthorized", "log in first: this server needs its key (open /login)")(
                    scope, receive, send)
            return
        if path.rstrip("/") in REFUSED_PATHS:
            await error_response(404, "not_found", f"this server does not offer {path}")(scope, receive, send)
            return
        is_upload = path.rstrip("/") in UPLOAD_PATHS
        stores_files = is_upload or (path.rstrip("/") in MULTIPART_UPLOAD_PATHS and "multipart/" in
                                     (_header(scope.get("headers", []), "content-type") or "").lower())
        if stores_files and role < Role.WRITE:
            reason = ("writes are disabled on this server" if not guard.writes_enabled
                      else "uploading needs the write key: log in with it at /login")
            await error_response(403, "forbidden", reason)(scope, receive, send)
            return
        issue_cookie = sid is None and path in ("/", "") and method == "GET"
        new_token = guard.make_session(role) if issue_cookie else None
        if new_token:  # an anonymous session (no key configured) so uploads can be tied to it
            sid = new_token.split(".")[3]
        body_parts: list[bytes] = []
        status = {"code": 0}
        held: dict[str, Any] = {}  # an error response's start, sent once its body is reshaped
        error_parts: list[bytes] = []

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"content-security-policy", b"x-frame-options")]
                headers.extend(self._frame)
                if new_token:
                    headers.append((b"set-cookie", guard.session_cookie(new_token, scope.get("scheme") == "https").encode()))
                message = {**message, "headers": headers}
                if message["status"] >= 400 and method != "HEAD":  # Gradio's own errors: into the one shape
                    held["start"] = message
                    return
            elif message["type"] == "http.response.body" and held:
                error_parts.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start = held.pop("start")
                ctype = next((v.decode("latin-1") for k, v in start["headers"] if k.lower() == b"content-type"), "")
                body = shaped_error_body(start["status"], b"".join(error_parts), ctype)
                headers = [(k, v) for k, v in start["headers"] if k.lower() not in (b"content-type", b"content-length")]
                headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            elif message["type"] == "http.response.body" and is_upload and status["code"] == 200:
                body_parts.append(message.get("body", b""))
                if not message.get("more_body", False) and sid:
                    try:
                        paths = json.loads(b"".join(body_parts))
                    except ValueError:
                        paths = []
                    if isinstance(paths, list):
                        guard.remember_uploads(sid, [p for p in paths if isinstance(p, str)])
            await send(message)

        await self.app(scope, receive, send_wrapped)

    def _framed(self, send: Send) -> Send:
        """``send`` with this server's framing headers added where the app set none (``/login``
        sends its own, stricter CSP with the same ``frame-ancestors``: kept)."""

        async def framed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, v in headers if k.lower() != b"content-security-policy" or b"frame-ancestors" in v}
                headers.extend((k, v) for k, v in self._frame if k not in have)
                message = {**message, "headers": headers}
            await send(message)

        return framed

    async def _redirect(self, scope: Scope, receive: Receive, send: Send, target: str) -> None:
        location = f"{target}?next={quote(scope.get('path') or '/')}"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode()), (b"cache-control", b"no-store"),
                                (b"content-length", b"0"), *self._frame]})
        await send({"type": "http.response.body", "body": b""})


class EventFilesMiddleware:
    """Reads the body of every request to a Gradio route (everything outside :data:`OPEN_PATHS`
    and :data:`OPEN_PREFIXES`, multipart uploads aside) *before* Gradio sees it, and refuses with
    403 any event whose JSON names a file (:func:`file_references`) unless the session may write
    and uploaded that very path (:meth:`Guard.event_files_error`). Gradio hashes and copies a
    ``FileData.path`` on its event loop before any handler runs: a FIFO or ``/dev/zero`` named
    there froze the whole server, an ordinary server file was copied into its upload cache. The
    check compares strings only; nothing the client names is opened, hashed or copied.

    It sits inside :class:`ui.middleware.BodyLimitMiddleware` (so at most ``UI_EVENT_MAX_BYTES`` are
    buffered; over it: 413) and :class:`ui.middleware.BodyTimeoutMiddleware` (a slow body: 408). A body
    that is not JSON goes on unread by it: Gradio parses JSON with the same parser and refuses it."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or _is_open(path) or scope.get("method") not in BODY_METHODS
                or "multipart/" in (_header(scope.get("headers", []), "content-type") or "").lower()):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            try:
                message = await receive()
            except StarletteHTTPException as exc:  # the body limit, counted while it streams
                await error_response(exc.status_code, None, str(exc.detail))(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return  # gone, or past the body deadline (BodyTimeoutMiddleware answers 408)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():  # parsed as Gradio will (json.loads reads UTF-8/16/32 and \u escapes alike)
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                data = None  # Gradio's parser (the same) refuses it
            role, sid = self.guard.request_session(scope.get("headers", []))
            refused = self.guard.event_files_error(role, sid, file_references(data))
            if refused:
                await error_response(*refused)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# ---------------------------------------------------------------------- Gradio event checks
class Denied(Exception):
    """Raised inside a Gradio event when the caller lacks the role; shown as a one-line error."""


def request_role(guard: Guard, request: Any) -> tuple[Role, str | None]:
    """Role and session id of a ``gr.Request`` (``None`` means no HTTP request: deny)."""
    if request is None:
        return Role.NONE, None
    headers = getattr(request, "headers", None)
    if headers is None:
        return Role.NONE, None
    return guard.request_session(headers)


def checked_upload_paths(guard: Guard, request: Any, files: list[Any] | None) -> list[str]:
    """The paths of ``files`` that this session itself uploaded through ``/gradio_api/upload``.

    Raises :class:`Denied` for a caller without the write role, and for any path that is not a
    regular file inside Gradio's upload folder received by this very session: a client-named
    ``FileData.path`` (``/etc/passwd``, another session's upload, a symlink) is never read.
    """
    role, sid = request_role(guard, request)
    if not guard.writes_enabled:
        raise Denied("writes are disabled on this server")
    if role < Role.WRITE:
        raise Denied("adding articles needs the write key: log in with it at /login")
    root = upload_folder()
    out: list[str] = []
    for f in files or []:
        raw = f if isinstance(f, str) else getattr(f, "path", None) or getattr(f, "name", None)
        if not isinstance(raw, str):
            raise Denied("not an uploaded file")
        name = Path(raw).name
        if os.path.islink(raw):
            raise Denied(f"{name}: not a file this server received")
        real = Path(os.path.realpath(raw))
        if root not in real.parents or not real.is_file() or not guard.uploaded_by(sid, str(real)):
            raise Denied(f"{name}: not a file this server received from you; upload it again")
        out.append(str(real))
    return out


# --------------------------------------------------------------------------- embed token
def make_embed_token(api_key: str, ttl_s: int, now: float | None = None) -> str:
    """``"<expiry>.<hmac>"``: lets the /embed page call /api/ask without exposing the API key."""
    expiry = int((time.time() if now is None else now) + ttl_s)
    sig = hmac.new(api_key.encode(), f"embed:{expiry}".encode(), hashlib.sha256).hexdigest()[:40]
    return f"{expiry}.{sig}"


def check_embed_token(api_key: str, token: str, now: float | None = None) -> bool:
    if not token.isascii():  # headers arrive as latin-1 text; only ASCII tokens were ever issued
        return False  # (hmac.compare_digest raises TypeError on non-ASCII str: that was the 500)
    expiry_text, _, sig = token.partition(".")
    if not expiry_text.isdigit() or not sig or len(expiry_text) > 12:
        return False
    want = hmac.new(api_key.encode(), f"embed:{expiry_text}".encode(), hashlib.sha256).hexdigest()[:40]
    return hmac.compare_digest(want.encode(), sig.encode()) and int(expiry_text) >= (time.time() if now is None else now)
