"""The ASGI middleware in front of every route (the API's, the widget's and Gradio's), and the paths
this app owns. :func:`ui.api.create_api` stacks them; its docstring gives the order."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response, qa_error_response
from .guard import MULTIPART_UPLOAD_PATHS, UPLOAD_PATHS, client_address

log = logging.getLogger("ui.api")

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
