"""The JSON API and the /embed widget: a FastAPI app over one :class:`qa.engine.Engine`.

Routes: ``POST /api/search``, ``POST /api/ask``, ``POST /api/timeline``, ``GET|HEAD /api/health``, ``DELETE
/api/articles/{id}`` (any id, ``/`` included), ``GET /embed`` (+ its script and stylesheet), OpenAPI
at ``/docs`` (Swagger UI served from the ``swagger-ui-bundle-v2`` package under ``/docs-assets``,
so it works offline). Search, ask and timeline take the filter fields ``since``, ``until``, ``source`` and
``sort`` (:class:`FilterFields`). Every error this app answers (any path it owns and any method,
a refused CORS preflight, an unreadable body, a slow body, an unexpected exception) has the shape
and one of the codes in :mod:`ui.errors`. Blocking work runs in Starlette's thread pool.

Middleware, outermost first: CORS (:class:`ShapedCORSMiddleware`) → :class:`BodyTimeoutMiddleware`
→ :class:`EarlyAuthMiddleware` → :class:`BodyLimitMiddleware` (every path: the API, Gradio's events,
its uploads) → :class:`ui.guard.EventFilesMiddleware` → :class:`OwnPathsMiddleware` →
:class:`InternalErrorMiddleware` → routes (and the Gradio app that :mod:`ui.app` mounts at ``/``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from index import __version__
from index.errors import QAError, QueryError
from index.defaults import ASK_K, MAX_QUERY_CHARS, SEARCH_K as DEFAULT_SEARCH_K
from qa.engine import Engine
from qa.filters import SearchFilter
from qa.query import is_blank
from qa.timeline import TIMELINE_K

from .config import API_KEY_HEADER, EMBED_TOKEN_HEADER, ServeConfig
from .errors import (ERROR_RESPONSES, ErrorResponse, Forbidden, InvalidRequest, TooManyRequests, Unauthorized,
                     UnsupportedMediaType,
                     error_payload, error_response, qa_error_response)
from .guard import EMBED_MAX_K, MULTIPART_UPLOAD_PATHS, client_address, UI_EVENT_MAX_BYTES, UPLOAD_OVERHEAD_BYTES, UPLOAD_PATHS, EventFilesMiddleware, Guard, Role

log = logging.getLogger("ui.api")
STATIC = Path(__file__).parent / "static"
#: Where Swagger UI's script, stylesheet and icon are served from (package swagger-ui-bundle-v2).
DOCS_ASSETS = "/docs-assets"

#: Every path this app (not Gradio) answers, with its methods: under these, an unknown path is a
#: 404 and a wrong method a 405, both in the error shape (:func:`own_methods`).
OWN_ROUTES: dict[str, tuple[str, ...]] = {
    "/api/search": ("POST",), "/api/ask": ("POST",), "/api/timeline": ("POST",), "/api/health": ("GET", "HEAD"),
    "/embed": ("GET", "HEAD"), "/embed.js": ("GET", "HEAD"), "/embed.css": ("GET", "HEAD"),
    "/docs": ("GET", "HEAD"), "/openapi.json": ("GET", "HEAD"),
}
API_ROUTES = {path: methods for path, methods in OWN_ROUTES.items() if path.startswith("/api/")}
ARTICLE_PREFIX = "/api/articles/"


def own_methods(path: str) -> tuple[str, ...] | None:
    """The methods of ``path`` when this app owns it (``()``: owned, but no such endpoint), or
    ``None`` for a path that belongs to the Gradio UI."""
    if path in OWN_ROUTES:
        return OWN_ROUTES[path]
    if path.startswith(ARTICLE_PREFIX) and len(path) > len(ARTICLE_PREFIX):
        return ("DELETE",)
    if path.startswith(DOCS_ASSETS + "/"):
        return ("GET", "HEAD")
    if path in ("/api", "/docs-assets") or path.startswith(("/api/", "/embed", "/docs/")):
        return ()
    return None


def not_empty(value: str, name: str) -> str:
    """``value`` unless it is blank (:func:`qa.query.is_blank`): the engine refuses it too, but the
    API names the field (``question is empty`` on /api/ask)."""
    if is_blank(value):
        raise QueryError(f"{name} is empty")
    return value


def _no_surrogates(value: str) -> str:
    """A lone UTF-16 surrogate (``"\\ud800"`` in JSON) is valid JSON but no text: reject it (422)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains a lone surrogate (\\u{ord(value[exc.start]):04x}), which is not text") from None
    return value


#: A JSON string that is real Unicode text.
Text = Annotated[StrictStr, AfterValidator(_no_surrogates)]


# --------------------------------------------------------------------------- schemas
def k_description(default: int, what: str, max_k: int | None = None) -> str:
    """``k``'s OpenAPI text; :func:`create_api` rewrites it with the server's ``max_k``."""
    if max_k is None:
        return f"{what}, 1..max_k (max_k: a server setting; default {default}, or max_k when that is smaller)"
    return f"{what}, 1..{max_k} (default {min(default, max_k)})"


def k_of(body: BaseModel, default: int, max_k: int) -> int:
    """The request's ``k``; omitted, the route's default capped at the server's ``max_k``."""
    return body.k if "k" in body.model_fields_set else min(default, max_k)  # type: ignore[attr-defined]


class FilterFields(BaseModel):
    """``since``/``until``/``source``/``sort``: the same names as ``qa search --since ...``."""

    since: Text | None = Field(None, description="only articles published on or after this day (exactly YYYY-MM-DD)",
                               examples=["2024-01-01"])
    until: Text | None = Field(None, description="only articles published on or before this day (exactly YYYY-MM-DD)")
    source: Text | list[Text] | None = Field(
        None, description="only these publishers, case-insensitive exact names: a list of names, or one string "
                          "that is split on commas like `qa search --source` (\"Alwaght,Insight News Media\" is two)")
    sort: Literal["relevance", "newest"] = Field("relevance", description="relevance, or newest first")

    def search_filter(self) -> SearchFilter:
        """The :class:`SearchFilter`; a bad date raises :class:`QueryError` (400 ``bad_query``). A string
        ``source`` goes to :meth:`SearchFilter.parse` as is, which splits it on commas exactly as for the CLI."""
        return SearchFilter.parse(since=self.since, until=self.until, sources=self.source, sort=self.sort)


class SearchRequest(FilterFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"query": "Why did Russia withdraw its peacekeepers from Karabakh?", "k": 5, "mode": "hybrid"},
        {"query": "Armenia", "k": 5, "since": "2024-01-01", "sort": "newest"}]})

    query: Text = Field(description=f"the question or keywords (at most {MAX_QUERY_CHARS} characters)")
    k: StrictInt = Field(DEFAULT_SEARCH_K, description=k_description(DEFAULT_SEARCH_K, "number of passages"))
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class AskRequest(FilterFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"question": "Why did Russia withdraw from Karabakh?"},
        {"question": "Why are relations between Russia and Armenia strained?", "source": ["Alwaght"]}]})

    question: Text = Field(description=f"the question (at most {MAX_QUERY_CHARS} characters)")
    k: StrictInt = Field(ASK_K, description=k_description(ASK_K, "passages to read"))
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class TimelineRequest(FilterFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"topic": "Russia Armenia relations"},
        {"topic": "Russia Armenia relations", "since": "2023-09-01", "source": ["Alwaght"]}]})

    topic: Text = Field(description=f"the story to trace (at most {MAX_QUERY_CHARS} characters)")
    k: StrictInt = Field(TIMELINE_K, description=k_description(TIMELINE_K, "passages whose articles are read"))


class HitOut(BaseModel):
    rank: int
    score: float
    passage_id: str
    doc_id: str
    title: str = Field(description="the article's headline")
    source: str = Field(description="its publisher; empty when unknown")
    date: str = Field(description="its publication date, ISO 8601; empty when unknown")
    author: str = Field("", description="its byline; empty when unknown")
    url: str
    text: str
    start: int = Field(description="offset of the passage in the article's cleaned text")
    end: int


class SearchResponse(BaseModel):
    query: str
    mode: str
    filters: dict[str, Any] = Field(description="the filters applied: since, until, source, sort")
    results: list[HitOut]


class CitationOut(BaseModel):
    n: int = Field(description="the number used by the [n] markers in the answer")
    passage_id: str
    doc_id: str
    title: str
    source: str
    date: str
    url: str
    text: str = Field(description="the whole cited passage")
    quote: str = Field(description="the cited sentence; equals article text[start:end]")
    start: int
    end: int
    score: float


class AskResponse(BaseModel):
    question: str
    status: Literal["answered", "evidence", "none"] = Field(
        description="answered: a sentence is judged to answer; evidence: the articles are about the question but no "
                    "sentence is judged a direct answer, so the closest sentences are quoted under `label`; none: "
                    "nothing retrieved is about the question (no quotes)")
    label: str = Field("", description="the line to show above the quotes of an `evidence` answer")
    answer: str = Field(description="answer text with [n] citation markers (status none: a sentence saying so)")
    confident: bool = Field(description="true exactly when status is answered")
    citations: list[CitationOut]
    results: list[HitOut]
    question_type: str = Field("", description="why, how, how many, when, where, who, which, yes/no or other")
    related: list[CitationOut] = Field(default_factory=list,
                                       description="always empty: an evidence answer quotes the closest sentences "
                                                   "as citations (kept for older clients)")
    reason: str = Field("", description="why the answer is (not) marked answered")
    timeline: TimelineOffer | None = Field(
        None, description="present only when the question asks how a story developed (\"How did X evolve?\"): "
                          "the topic to send to /api/timeline")


class TimelineOffer(BaseModel):
    topic: str = Field(description="the story the question asks about: POST it to /api/timeline")
    hint: str


class MentionOut(BaseModel):
    text: str = Field(description="the date phrase as the article writes it (\"four days later\")")
    start: int = Field(description="its offset in the article's cleaned text")
    end: int
    date: str = Field(description="what this report dates the event to (ISO at its precision)")
    precision: Literal["day", "range", "month", "year"]
    end_date: str | None = Field(description="a range's last day")
    basis: Literal["absolute", "publication", "paragraph"] = Field(
        description="what the phrase was resolved against: its own year, the publication date, or a date "
                    "stated earlier in the paragraph")


class TimelineCitationOut(BaseModel):
    doc_id: str
    title: str
    source: str
    date: str = Field(description="the article's publication date, ISO 8601; empty when unknown")
    quote: str = Field(description="the sentence that reports the event; equals article text[start:end]")
    start: int
    end: int
    mention: MentionOut


class TimelineEventOut(BaseModel):
    date: str = Field(description="2023-10-03 (day), 2023-09 (month), 2018 (year) or a range's first day")
    precision: Literal["day", "range", "month", "year"]
    end: str | None = Field(description="a range's last day; null otherwise")
    text: str = Field(description="the sentence that tells the event")
    citations: list[TimelineCitationOut] = Field(description="every report of the event, one per sentence")


class TimelineResponse(BaseModel):
    topic: str
    filters: dict[str, Any] = Field(description="the filters that chose the articles: since, until, source, sort")
    events: list[TimelineEventOut] = Field(description="in date order (first day, then last day)")


class DeleteResponse(BaseModel):
    deleted: list[str] = Field(description="the doc ids removed from the index")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    version: str
    model: str
    index: dict[str, Any]
    auth_required: bool
    limits: dict[str, int]


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


# --------------------------------------------------------------------------- middleware
class BodyLimitMiddleware:
    """Rejects request bodies over their route's limit before anything parses them: by
    ``Content-Length`` up front, and by counting streamed (chunked) bodies as they arrive.

    Limits: ``max_bytes`` under ``prefix`` (the JSON API); ``upload_max_bytes`` on Gradio's
    upload routes; ``ui_max_bytes`` on every other path (Gradio's events, ``/login``...). A
    limit of ``None`` leaves those paths unlimited."""

    def __init__(self, app: ASGIApp, max_bytes: int, prefix: str = "/api/", *, ui_max_bytes: int | None = None,
                 upload_max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix
        self.ui_max_bytes = ui_max_bytes
        self.upload_max_bytes = upload_max_bytes

    def limit(self, path: str) -> int | None:
        if path.startswith(self.prefix):
            return self.max_bytes
        if path.rstrip("/") in UPLOAD_PATHS + MULTIPART_UPLOAD_PATHS:
            return self.upload_max_bytes
        return self.ui_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        too_big = f"request body is larger than the {limit}-byte limit"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await error_response(400, "malformed_body", "invalid Content-Length header")(scope, receive, send)
                    return
                if length > limit:
                    await error_response(413, None, too_big)(scope, receive, send)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise StarletteHTTPException(413, too_big)
            return message

        await self.app(scope, limited_receive, send)


class EarlyAuthMiddleware:
    """Answers 401/403 (429 for an address locked out after wrong keys, or past the embed token's
    rate limits) before the body is read or parsed, so a caller without the key learns nothing from
    how its body would have been judged (the route dependency checks again, without counting)."""

    def __init__(self, app: ASGIApp, check: Any) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            from starlette.datastructures import Headers

            error = self.check(scope["method"], scope["path"], Headers(scope=scope), client_address(scope))
            if error is not None:
                await qa_error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyTimeoutMiddleware:
    """Gives a request ``timeout_s`` in all to send its body (``upload_timeout_s`` on Gradio's upload
    routes), however it paces the bytes. Past it the app sees a disconnect, whatever it answers is
    dropped, and the client gets 408 ``request_timeout`` with ``Connection: close``. Once the body is
    complete, ``receive`` is passed through untouched (streaming responses wait on it for the
    disconnect). The connection-level backstop for bodies nobody reads is in :mod:`ui.server`."""

    def __init__(self, app: ASGIApp, timeout_s: float, upload_timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.upload_timeout_s = upload_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_timeout_s if scope["path"].rstrip("/") in UPLOAD_PATHS else self.timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        state = {"body_done": False, "timed_out": False, "started": False}

        async def timed_receive() -> Message:
            if state["body_done"] or state["timed_out"]:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
            except asyncio.TimeoutError:
                state["timed_out"] = True
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                state["body_done"] = True
            return message

        async def guarded_send(message: Message) -> None:
            if state["timed_out"]:
                return  # the client gets the 408 below, not the app's answer to a "disconnect"
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not state["timed_out"]:
                raise
        if state["timed_out"] and not state["started"]:
            await error_response(408, "request_timeout",
                                 f"the request body did not arrive within {limit:g} seconds",
                                 headers={"Connection": "close"})(scope, receive, send)


class InternalErrorMiddleware:
    """The innermost net: any exception a route (or the mounted Gradio app) lets escape becomes
    a logged 500 in the error shape, inside the CORS middleware (so it carries CORS headers), and
    is not raised on to the server (which would reset the keep-alive connection). When the
    response had already started, the exception is logged and the response ends there."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:  # noqa: BLE001 - this is the net
            if started:  # e.g. Gradio's own 500 (ui.app.shape_gradio_errors logged it)
                log.debug("error after the response started on %s %s", scope.get("method"), scope.get("path"),
                          exc_info=True)
                return
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await error_response(500, "internal_error", "internal server error; the server log has details")(
                scope, receive, send)


class OwnPathsMiddleware:
    """Unknown paths and methods under the paths this app owns (:func:`own_methods`: ``/api``,
    ``/embed*``, ``/docs*``, ``/openapi.json``) get 404/405 in the error shape here, before the
    router, so they never fall through to the Gradio app mounted at ``/`` (whose errors are
    ``{"detail": ...}``), whatever the method (``BREW``, ``TRACE``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        allowed = own_methods(path)
        if allowed is None or method in allowed:
            await self.app(scope, receive, send)
            return
        if not allowed:
            trimmed = path.rstrip("/")
            hint = f"; did you mean {trimmed}?" if trimmed != path and own_methods(trimmed) else ""
            await error_response(404, "not_found", f"no endpoint at {path}{hint}")(scope, receive, send)
            return
        await error_response(405, "method_not_allowed", f"{method} is not allowed on {path}; use {', '.join(allowed)}",
                             headers={"Allow": ", ".join(allowed)})(scope, receive, send)


class ShapedCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, with a refused preflight answered in the error shape
    (400 ``cors_rejected``) instead of ``text/plain``."""

    def preflight_response(self, request_headers: Any) -> Any:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        reason = bytes(response.body).decode("utf-8", "replace") or "refused"
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return error_response(response.status_code, "cors_rejected", f"CORS preflight refused: {reason}",
                              headers=headers)


# --------------------------------------------------------------------------- the app
def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    if not errors:
        return 422, "invalid_request", "invalid request"
    # A union (``source``: a string or a list) reports one error per member: the most specific one
    # (longest location) says what is wrong; pydantic's member tags (``function-after[...]``, ``str``) go.
    longest = max(len(e.get("loc", ())) for e in errors)
    first = next(e for e in errors if len(e.get("loc", ())) == longest)
    kind = first.get("type", "")
    if kind == "json_invalid":
        return 400, "malformed_body", "request body is not valid JSON"
    loc = [str(p) for p in first.get("loc", ()) if p != "body" and (isinstance(p, int) or (
        p.isidentifier() and p not in ("str", "int", "list", "dict")))]
    if kind == "missing" and not loc:
        return 422, "invalid_request", "request body is required: a JSON object"
    if kind in ("model_attributes_type", "dict_type") and not loc:
        return 422, "invalid_request", "request body must be a JSON object"
    where = ".".join(loc)
    msg = first.get("msg", "invalid value").removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return 422, "invalid_request", f"{where}: {msg}{more}" if where else f"{msg}{more}"


def create_api(service: Engine, config: ServeConfig) -> FastAPI:
    """The FastAPI app without the Gradio UI (see :func:`ui.app.create_app` for the whole server)."""
    app = FastAPI(
        title="newsqa API",
        version=__version__,
        description=(
            "Semantic search and cited answers over news articles. Every error has the shape "
            '`{"error": {"code", "message", "status"}}`. When the server has an API key, send it in the '
            f"`{API_KEY_HEADER}` header to /api/search, /api/ask and /api/timeline."
        ),
        docs_url=None,  # served below from the swagger-ui-bundle package: /docs works offline
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    guard = Guard.from_config(config)
    app.state.service = service
    app.state.config = config
    app.state.guard = guard

    # -------------------------------------------------- errors: one shape for all
    @app.exception_handler(QAError)
    async def _qa_error(request: Request, exc: QAError) -> JSONResponse:
        return qa_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        code = None
        if exc.status_code == 404 and message == "Not Found":
            message = f"no endpoint at {request.url.path}"
        elif exc.status_code == 400:  # FastAPI's "There was an error parsing the body": not UTF-8, too deep
            code, message = "malformed_body", "request body could not be read as JSON (not UTF-8, or nested too deeply)"
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _validation_message(exc)
        return error_response(status, code, message)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error; the server log has details")

    # -------------------------------------------------- dependencies
    def access_error(scope: str, headers: Any, client: str | None = None) -> QAError | None:
        """Why a request may not do ``scope`` (``search``/``ask`` need the read role, ``write`` the
        write role; see :mod:`ui.guard`), or ``None`` when it may. With ``client`` (the first check,
        before the body is read: :class:`EarlyAuthMiddleware`) wrong keys count against that address
        and the embed token's rate limits are applied."""
        given = headers.get(API_KEY_HEADER)
        if client is not None and given is not None:
            wait = guard.key_failures.locked(client)
            if wait:
                return TooManyRequests(f"too many wrong keys from this address; try again in {math.ceil(wait)} s")
        if given is not None and not guard.key_is_known(given):
            if client is not None:
                guard.key_failures.failed(client)
            return Unauthorized("wrong API key")
        role = guard.role_for_key(given)
        if scope == "write":
            if not guard.writes_enabled:
                return Forbidden("writes are disabled on this server (start it with --allow-writes or QA_WRITE_KEY)")
            if role >= Role.WRITE:
                return None
            if given is None:
                return Unauthorized(f"this needs the write key: send it in the {API_KEY_HEADER} header")
            return Forbidden("this key may read but not write; send the write key")
        if role >= Role.READ:
            return None
        token = headers.get(EMBED_TOKEN_HEADER)
        if scope in ("ask", "timeline") and token and config.api_key and check_embed_token(config.api_key, token):
            if client is not None:  # the widget's questions: limited per address and per token
                wait = guard.embed_clients.hit(client) or guard.embed_tokens.hit(token)
                if wait:
                    return TooManyRequests(f"too many questions; try again in {math.ceil(wait)} s")
            return None
        if given is None and not token:
            return Unauthorized(f"this server needs an API key: send it in the {API_KEY_HEADER} header")
        return Unauthorized("embed token is invalid or expired; reload the page")

    def auth(scope: str):  # noqa: ANN202 - FastAPI dependency factory
        async def check(request: Request) -> None:
            error = access_error(scope, request.headers)
            if error is not None:
                raise error

        return check

    def scope_of(method: str, path: str) -> str | None:
        if method == "POST" and path in ("/api/search", "/api/ask", "/api/timeline"):
            return path.rsplit("/", 1)[1]
        if method == "DELETE" and path.startswith(ARTICLE_PREFIX):
            return "write"
        return None

    async def json_only(request: Request) -> None:
        ctype = request.headers.get("content-type", "")
        if ctype and ctype.split(";")[0].strip().lower() != "application/json":
            raise UnsupportedMediaType(f"send the body as application/json, not {ctype.split(';')[0].strip()}")

    # -------------------------------------------------- routes
    @app.post("/api/search", response_model=SearchResponse, responses=ERROR_RESPONSES, tags=["api"],
              dependencies=[Depends(auth("search")), Depends(json_only)],
              summary="Rank passages for a query")
    async def api_search(body: SearchRequest) -> dict[str, Any]:
        not_empty(body.query, "query")
        filters = body.search_filter()
        k = k_of(body, DEFAULT_SEARCH_K, config.max_k)
        hits = await run_in_threadpool(service.search, body.query, k, body.mode, filters)
        return {"query": body.query, "mode": body.mode, "filters": filters.to_dict(), "results": [h.to_dict() for h in hits]}

    @app.post("/api/ask", response_model=AskResponse, responses=ERROR_RESPONSES, tags=["api"],
              dependencies=[Depends(auth("ask")), Depends(json_only)], response_model_exclude_unset=True,
              summary="Answer a question with cited sentences")
    async def api_ask(body: AskRequest, request: Request) -> dict[str, Any]:
        not_empty(body.question, "question")
        k = body.k if "k" in body.model_fields_set else None  # omitted: the engine's answer_k (capped at max_k)
        widget = guard.role_for_key(request.headers.get(API_KEY_HEADER)) < Role.READ  # an embed-token caller
        if widget:  # the answer and its citations only: k capped low, no ranked result list
            k = min(k or service.answer_k, EMBED_MAX_K)
        answer = await run_in_threadpool(service.ask, body.question, k, body.mode, body.search_filter())
        out = answer.to_dict()
        if widget:
            out["results"] = []
        return out

    @app.post("/api/timeline", response_model=TimelineResponse, responses=ERROR_RESPONSES, tags=["api"],
              dependencies=[Depends(auth("timeline")), Depends(json_only)],
              summary="The dated events of a story, one entry per event, in date order")
    async def api_timeline(body: TimelineRequest, request: Request) -> dict[str, Any]:
        not_empty(body.topic, "topic")
        k = k_of(body, TIMELINE_K, config.max_k)
        if guard.role_for_key(request.headers.get(API_KEY_HEADER)) < Role.READ:  # the widget: few articles
            k = min(k, EMBED_MAX_K)
        timeline = await run_in_threadpool(service.timeline, body.topic, k, body.search_filter())
        return timeline.to_dict()

    @app.head("/api/health", include_in_schema=False)  # like GET, without the body (load balancers)
    @app.get("/api/health", response_model=HealthResponse, responses={500: {"model": ErrorResponse}}, tags=["api"],
             summary="Index statistics, model and version (no API key needed)",
             description="`index.updated` is when the index last changed; `index.index_dir` (a server "
                         "path) is left out when a key is configured and the caller did not send it.")
    async def api_health(request: Request) -> dict[str, Any]:
        stats = await run_in_threadpool(service.stats)
        index = stats.to_dict()
        if config.api_key and not guard.key_is_known(request.headers.get(API_KEY_HEADER)):
            index.pop("index_dir", None)  # the open health check does not disclose server paths
        return {
            "status": "ok",
            "version": __version__,
            "model": stats.model,
            "index": index,
            "auth_required": config.auth_required,
            "limits": {"max_k": config.max_k, "max_body_bytes": config.max_body_bytes,
                       "max_query_chars": MAX_QUERY_CHARS},
        }

    @app.delete("/api/articles/{doc_id:path}", response_model=DeleteResponse, tags=["api"],
                responses={**ERROR_RESPONSES, 403: {"model": ErrorResponse, "description": "forbidden (writes off, or a read-only key)"},
                           404: {"model": ErrorResponse, "description": "no article with this id"}},
                dependencies=[Depends(auth("write"))],
                summary="Remove an article (needs the write permission)",
                description="Any article id, `/` included (`/api/articles/news/2024/slash-id`, or URL-encoded); "
                            "an id that is not in the index is 404 `not_found`.")
    async def api_delete(doc_id: str) -> Any:
        try:
            _no_surrogates(doc_id)
        except ValueError as exc:
            raise InvalidRequest(f"doc_id: {exc}") from None
        await run_in_threadpool(service.delete, [doc_id])  # unknown id: 404 not_found
        return {"deleted": [doc_id]}

    # -------------------------------------------------- /docs (Swagger UI from a package, no CDN)
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + app.openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None})  # no call to validator.swagger.io
        return HTMLResponse(page.body, headers={"Cache-Control": "no-cache"})

    # -------------------------------------------------- /embed
    embed_html = (STATIC / "embed.html").read_text(encoding="utf-8")
    csp = (f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
           f"base-uri 'none'; form-action 'none'; frame-ancestors {config.frame_ancestors}")

    @app.api_route("/embed", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
    async def embed() -> HTMLResponse:
        token = make_embed_token(config.api_key, config.embed_token_ttl_s) if config.api_key else ""
        page = embed_html.replace("__QA_EMBED_TOKEN__", token).replace("__QA_MAX_K__", str(config.max_k))
        return HTMLResponse(page, headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        })

    @app.api_route("/embed.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def embed_js() -> FileResponse:
        return FileResponse(STATIC / "embed.js", media_type="text/javascript",
                            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    @app.api_route("/embed.css", methods=["GET", "HEAD"], include_in_schema=False)
    async def embed_css() -> FileResponse:
        return FileResponse(STATIC / "embed.css", media_type="text/css",
                            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    # -------------------------------------------------- OpenAPI: this server's max_k and k defaults
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = spec.get("components", {}).get("schemas", {})
            for name, default, what in (("SearchRequest", DEFAULT_SEARCH_K, "number of passages"),
                                        ("AskRequest", ASK_K, "passages to read"),
                                        ("TimelineRequest", TIMELINE_K, "passages whose articles are read")):
                k = schemas.get(name, {}).get("properties", {}).get("k")
                if k is not None:
                    k.update(default=min(default, config.max_k), maximum=config.max_k, minimum=1,
                             description=k_description(default, what, config.max_k))
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    # -------------------------------------------------- middleware (last added = outermost)
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(OwnPathsMiddleware)
    app.add_middleware(EventFilesMiddleware, guard=guard)  # a Gradio event may name only this session's uploads
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes, ui_max_bytes=UI_EVENT_MAX_BYTES,
                       upload_max_bytes=config.max_upload_mb * 2**20 + UPLOAD_OVERHEAD_BYTES)
    app.add_middleware(EarlyAuthMiddleware, check=lambda method, path, headers, client: (
        access_error(kind, headers, client) if (kind := scope_of(method, path)) else None))
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=config.body_timeout_s,
                       upload_timeout_s=max(config.body_timeout_s, config.upload_timeout_s))
    if config.cors_origins:
        app.add_middleware(
            ShapedCORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", API_KEY_HEADER, EMBED_TOKEN_HEADER],
            allow_credentials=False,
            max_age=600,
        )
    return app


__all__ = ["create_api", "Text", "error_payload", "make_embed_token", "check_embed_token", "BodyLimitMiddleware"]
