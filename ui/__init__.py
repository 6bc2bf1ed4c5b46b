"""Serving: the JSON API, the Gradio web UI and the /embed widget, over :class:`qa.engine.Engine`.

>>> from qa.engine import Engine
>>> from ui import ServeConfig, create_app
>>> app = create_app(Engine("qa-index"), ServeConfig())   # then run it with uvicorn
"""

__all__ = ["ServeConfig", "create_app", "create_api"]


def __getattr__(name: str):  # import FastAPI / Gradio only when asked for
    if name == "ServeConfig":
        from .config import ServeConfig

        return ServeConfig
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "create_api":
        from .api import create_api

        return create_api
    raise AttributeError(name)
