"""The whole server: the JSON API and /embed (:mod:`ui.api`) with the Gradio UI mounted at ``/``."""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from qa.engine import Engine

from .api import create_api
from .config import ServeConfig
from .guard import GuardMiddleware
from .login import add_login_routes

log = logging.getLogger("ui.app")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry calls


def create_app(service: Engine, config: ServeConfig, *, ui: bool = True, uploads: bool = True) -> FastAPI:
    """FastAPI app with ``/api/*``, ``/embed`` and ``/docs``; the Gradio UI at ``/`` unless ``ui`` is false.

    The UI's "Add articles" panel exists only when writes are enabled (``--allow-writes`` or a
    write key) and ``uploads`` is true. :class:`ui.guard.GuardMiddleware` guards every non-API path.
    """
    app = create_api(service, config)
    guard = app.state.guard
    add_login_routes(app, guard)
    if ui:
        import gradio as gr

        from .web import CSS, build_blocks, theme

        blocks = build_blocks(service, config, uploads=uploads and guard.writes_enabled, guard=guard)
        gr.mount_gradio_app(
            app, blocks, path="/",
            server_name=config.host, server_port=config.port,
            footer_links=[],  # our header links to /docs and /embed
            run_history=False,
            max_file_size=config.max_upload_mb * 1024 * 1024,
            show_error=True,
            ssr_mode=False,
            mcp_server=False,
            theme=theme(),
            css=CSS,
        )
        shape_gradio_errors(app)
    app.add_middleware(GuardMiddleware, guard=guard)
    return app


def shape_gradio_errors(app: FastAPI) -> None:
    """Give the mounted Gradio app our 500 handler (the error shape instead of a plain-text
    "Internal Server Error"), and answer an event id it does not have (``queue/join`` with
    ``fn_index: 99``: a ``KeyError`` from Gradio's lookup) with 422 ``invalid_request``."""
    from starlette.routing import Mount

    from .errors import error_response

    async def gradio_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, KeyError) and request.url.path.rstrip("/").endswith(("/queue/join", "/run/predict")):
            return error_response(422, "invalid_request", f"no UI event with the id {exc.args[0]!r} (fn_index)")
        log.error("unhandled error in the UI on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal_error", "internal server error; the server log has details")

    for route in app.routes:
        if isinstance(route, Mount) and route.path == "":
            route.app.add_exception_handler(Exception, gradio_error)  # type: ignore[union-attr]
