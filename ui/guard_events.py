"""Guards around the Gradio UI's event handlers (the second line behind :class:`ui.guard.GuardMiddleware`).

``reader(guard, fn)`` and ``writer(guard, fn, budget_s)`` return functions with ``fn``'s
signature plus a ``gr.Request`` parameter, so Gradio hands them the HTTP request of the
``/gradio_api/queue/join`` call. They re-check the caller's role from the session cookie, refuse
text with lone surrogates, and (``writer``) replace the client's file list with the paths this
session itself uploaded (:func:`ui.guard.checked_upload_paths`) and give the indexing job a time
budget. A refusal is a ``gr.Error``: one line in the UI, nothing run. :func:`upload_panel` shows
the upload panel to writers only.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import gradio as gr

from index.errors import QAError

from .guard import Denied, Guard, Role, checked_upload_paths, request_role


#: The indexing budget's clock (a name of its own so tests can move it).
_clock = time.monotonic


class BudgetExceeded(QAError):
    code = "budget_exceeded"


def _check_text(args: tuple[Any, ...]) -> None:
    for value in args:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise gr.Error("That text contains an invalid character (a lone surrogate).", print_exception=False) from None


def _with_request(fn: Callable[..., Any], body: Callable[[Any, tuple[Any, ...]], Any]) -> Callable[..., Any]:
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    index = len(params)
    request_param = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                      annotation=gr.Request)

    def wrapped(*args: Any) -> Any:
        args = list(args)
        request = args.pop(index) if len(args) > index else None
        return body(request, tuple(args))

    wrapped.__signature__ = sig.replace(parameters=[*params, request_param])  # type: ignore[attr-defined]
    wrapped.__annotations__ = {**getattr(fn, "__annotations__", {}), "request": gr.Request}
    wrapped.__name__ = getattr(fn, "__name__", "event")
    return wrapped


def reader(guard: Guard, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` runs only for callers with the read role."""

    def body(request: Any, args: tuple[Any, ...]) -> Any:
        role, _ = request_role(guard, request)
        if role < Role.READ:
            raise gr.Error("Log in first: this server needs its key.", print_exception=False)
        _check_text(args)
        return fn(*args)

    return _with_request(fn, body)


class _Budgeted:
    """Stands in for ``gr.Progress``: forwards updates and stops the job past its deadline."""

    def __init__(self, progress: Any, budget_s: float) -> None:
        self._progress = progress
        self._deadline = _clock() + budget_s
        self._budget_s = budget_s

    def __call__(self, fraction: float, desc: str | None = None, **kw: Any) -> Any:
        if _clock() > self._deadline:
            raise BudgetExceeded(f"indexing took longer than the {self._budget_s:.0f}-second budget; "
                                 "nothing was changed (split the file, or index it with `qa index`)")
        if self._progress is not None:
            return self._progress(fraction, desc=desc, **kw)
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._progress, name)


def writer(guard: Guard, fn: Callable[..., Any], budget_s: float) -> Callable[..., Any]:
    """``fn(files, progress)`` runs only for callers with the write role, on the files this session
    uploaded, with a progress object that ends the job after ``budget_s`` seconds."""
    progress_default = next((p.default for p in inspect.signature(fn).parameters.values()
                             if isinstance(p.default, gr.Progress)), None)

    def body(request: Any, args: tuple[Any, ...]) -> Any:
        files, *rest = args
        try:
            paths = checked_upload_paths(guard, request, files)
        except Denied as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        rest = [_Budgeted(r, budget_s) if (r is progress_default or isinstance(r, gr.Progress)) else r for r in rest]
        return fn(paths, *rest)

    return _with_request(fn, body)


def upload_panel(guard: Guard) -> Callable[..., Any]:
    """The page-load event that shows the "Add articles" panel (built hidden) only to visitors
    with the write role: a reader never sees a form that would answer 403."""

    def show_uploads(request: gr.Request) -> Any:
        role, _ = request_role(guard, request)
        return gr.update(visible=bool(guard.writes_enabled and role >= Role.WRITE))

    return show_uploads
