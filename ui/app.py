"""The whole server: the JSON API and /embed (:mod:`ui.api`) with the Gradio UI mounted at ``/``."""

from __future__ import annotations

import os

from fastapi import FastAPI

from qa.engine import Engine

from .api import create_api
from .config import ServeConfig
from .guard import GuardMiddleware
from .login import add_login_routes

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
    app.add_middleware(GuardMiddleware, guard=guard)
    return app
