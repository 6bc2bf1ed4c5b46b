"""The JSON API and the /embed widget: a FastAPI app over one :class:`qa.engine.Engine`.

Routes: ``POST /api/search``, ``POST /api/ask``, ``POST /api/timeline``, ``GET|HEAD /api/health``, ``DELETE
/api/articles/{id}`` (any id, ``/`` included), ``GET /embed`` (+ its script and stylesheet), OpenAPI
at ``/docs`` (Swagger UI served from the ``swagger-ui-bundle-v2`` package under ``/docs-assets``,
so it works offline). Search, ask and timeline take the filter fields ``since``, ``until``, ``source`` and
``sort`` (:class:`ui.schemas.FilterFields`; every body is a model of :mod:`ui.schemas`). Every error
this app answers (any path it owns and any method, a refused CORS preflight, an unreadable body, a
slow body, an unexpected exception) has the shape and one of the codes in :mod:`ui.errors`.
Blocking work runs in Starlette's thread pool. Who may call what (keys, the embed token, rate
limits and lockouts) is :mod:`ui.guard`'s.

Middleware (:mod:`ui.middleware`), outermost first: CORS (:class:`ui.middleware.ShapedCORSMiddleware`)
→ :class:`ui.middleware.BodyTimeoutMiddleware` → :class:`ui.middleware.EarlyAuthMiddleware` →
:class:`ui.middleware.BodyLimitMiddleware` (every path: the API, Gradio's events, its uploads) →
:class:`ui.guard.EventFilesMiddleware` → :class:`ui.middleware.OwnPathsMiddleware` →
:class:`ui.middleware.InternalErrorMiddleware` → routes (and the Gradio app that :mod:`ui.app` mounts at ``/``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

from index import __version__
from index.defaults import ASK_K, MAX_QUERY_CHARS, SEARCH_K as DEFAULT_SEARCH_K
from index.errors import QAError
from qa.engine import Engine
from qa.timeline import TIMELINE_K

from .config import API_KEY_HEADER, EMBED_TOKEN_HEADER, ServeConfig
from .errors import ERROR_RESPONSES, ErrorResponse, InvalidRequest, UnsupportedMediaType, error_response, qa_error_response
from .guard import (EMBED_MAX_K, UI_EVENT_MAX_BYTES, UPLOAD_OVERHEAD_BYTES, EventFilesMiddleware, Guard, Role,
                    make_embed_token)
from .middleware import (ARTICLE_PREFIX, DOCS_ASSETS, BodyLimitMiddleware, BodyTimeoutMiddleware, EarlyAuthMiddleware,
                         InternalErrorMiddleware, OwnPathsMiddleware, ShapedCORSMiddleware)
from .schemas import (AskRequest, AskResponse, DeleteResponse, HealthResponse, SearchRequest, SearchResponse,
                      TimelineRequest, TimelineResponse, k_description, k_of, no_surrogates, not_empty)

log = logging.getLogger("ui.api")
STATIC = Path(__file__).parent / "static"


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
    access_error = guard.api_access_error

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
            no_surrogates(doc_id)
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


__all__ = ["create_api"]
