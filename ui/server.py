"""uvicorn settings that time out slow clients.

uvicorn's h11 protocol has a keep-alive timeout but no deadline for reading a request: a client
sending its headers at 1 byte/s holds a connection forever (slowloris). :class:`TimedH11Protocol`
adds two timers per connection:

* **header timeout**: from the first byte of a request (or the connection's opening) until its
  headers are complete; past it the connection is closed;
* **body idle timeout**: while a request body is being received, the longest gap between two
  chunks;
* **unread body deadline**: when the app has answered but the client is still sending the body
  (the app did not read it, or gave up on it), the rest must arrive within ``body_timeout_s``
  (not reset by each chunk) or the connection is closed.

The total time to receive a body the app *is* reading is :class:`ui.middleware.BodyTimeoutMiddleware`'s
(``QA_BODY_TIMEOUT_S``, 30 s; answered 408 in the error shape).

:func:`uvicorn_config` also caps incomplete events (16 KiB of headers), open connections
(``limit_concurrency``: beyond it, 503) and keep-alive idle time (5 s).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_HEADER_BYTES = 16 * 1024
MAX_CONNECTIONS = 512
KEEP_ALIVE_S = 5


class TimedH11Protocol(H11Protocol):
    header_timeout_s: float = 10.0
    body_idle_timeout_s: float = 30.0
    body_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.SEND_BODY and self._drain_timer is None and not self.transport.is_closing():
            self._drain_timer = self.loop.call_later(self.body_timeout_s, self._read_timed_out)

    def data_received(self, data: bytes) -> None:
        their = self.conn.their_state
        if their is h11.IDLE and self._read_timer is None:  # first bytes of a keep-alive request
            self._arm(self.header_timeout_s)
        elif their is h11.SEND_BODY:  # body chunks: restart the idle timer
            self._arm(self.body_idle_timeout_s)
        super().data_received(data)
        their = self.conn.their_state
        if their is h11.SEND_BODY and self._read_timer is None:
            self._arm(self.body_idle_timeout_s)
        elif their in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._disarm()
            if self._drain_timer is not None:
                self._drain_timer.cancel()
                self._drain_timer = None

    def handle_events(self) -> None:
        super().handle_events()
        their = self.conn.their_state
        if their is h11.SEND_BODY:
            if self._read_timer is None:
                self._arm(self.body_idle_timeout_s)
        elif their is not h11.IDLE:
            self._disarm()


def protocol_class(header_timeout_s: float, body_idle_timeout_s: float,
                   body_timeout_s: float = 30.0) -> type[TimedH11Protocol]:
    return type("ServeH11Protocol", (TimedH11Protocol,),
                {"header_timeout_s": float(header_timeout_s), "body_idle_timeout_s": float(body_idle_timeout_s),
                 "body_timeout_s": float(body_timeout_s)})


def uvicorn_config(app: Any, *, header_timeout_s: float, body_idle_timeout_s: float,
                   body_timeout_s: float | None = None, **kw: Any) -> Any:
    """``body_timeout_s`` defaults to the app's ``ServeConfig.body_timeout_s`` (``app.state.config``)."""
    import uvicorn

    if body_timeout_s is None:
        body_timeout_s = getattr(getattr(getattr(app, "state", None), "config", None), "body_timeout_s", 30)
    return uvicorn.Config(app, http=protocol_class(header_timeout_s, body_idle_timeout_s, body_timeout_s), ws="none",
                          timeout_keep_alive=KEEP_ALIVE_S, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                          limit_concurrency=MAX_CONNECTIONS, **kw)
