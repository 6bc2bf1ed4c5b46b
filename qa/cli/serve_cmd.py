"""``qa serve [--index DIR] [--host 127.0.0.1] [--port 7860]``: web UI at /, JSON API at /api, /embed.

Loads the index (a missing one is a one-line error, exit 2), warms the model, binds the port,
prints ``Serving on http://HOST:PORT`` and runs uvicorn until Ctrl-C. Settings come from
``QA_*`` environment variables; flags override them (every setting: :data:`ui.settings.SETTINGS`,
tabled in docs/serving.md#settings).
"""

from __future__ import annotations

import argparse
import socket
import sys

from index.errors import QAError


def register(sub: argparse._SubParsersAction) -> None:
    from ui.settings import add_flags  # the flags of ui.settings.SETTINGS (no web framework imported)

    p = sub.add_parser("serve", help="serve the web UI, the JSON API and the /embed widget",
                       description="Serve the web UI at /, the JSON API at /api (OpenAPI at /docs) and the wiki "
                                   "widget at /embed. Flags override the QA_* environment variables "
                                   "(docs/serving.md#settings).")
    add_flags(p)
    from ..cluster.cli import add_args as add_cluster_args  # --ray ADDRESS --shards N --replicas R

    add_cluster_args(p, shards=True, replicas=True)
    p.set_defaults(handler=run)


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise QAError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        reason = "is already in use" if exc.errno in (98, 48) else f"cannot be bound ({exc.strerror})"
        raise QAError(f"port {port} on {host} {reason}; pick another with --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_config(args: argparse.Namespace):  # noqa: ANN201 - ui.config.ServeConfig, imported lazily
    """The server's settings: the ``QA_*`` environment, overridden by the flags given (a bad value
    is a one-line error naming the variable or the flag)."""
    from ui.config import ServeConfig
    from ui.settings import flag_values

    return ServeConfig.from_env(**flag_values(args))


def run(args: argparse.Namespace) -> int:
    config = serve_config(args)
    from index.embedding import set_threads

    # One thread per request unless asked: concurrent requests already run in parallel threads,
    # and several multi-threaded matmuls on a few busy cores are many times slower than one each.
    set_threads(config.threads)

    from qa.engine import Engine

    from ..cluster.cli import serve_engine, serve_replicas

    done = serve_replicas(args, config)  # --replicas R: Ray Serve runs the app
    if done is not None:
        return done

    service = serve_engine(args, config.index_dir, config.max_k) or Engine(config.index_dir, max_k=config.max_k)
    service.load()  # a missing or invalid index: QAError, one line, exit 2
    sock = _bind(config.host, config.port)
    try:
        port = sock.getsockname()[1]
        config = config.with_port(port)
        print(f"qa: loading the model and warming up ({service.stats().passages:,} passages)…", file=sys.stderr, flush=True)
        service.warm_up()
        if config.reload:
            service.watch()  # serve index generations written by `qa index` / `qa delete` in other processes

        import uvicorn

        from ui.app import create_app
        from ui.server import uvicorn_config

        app = create_app(service, config, uploads=config.ui_uploads)
        server = uvicorn.Server(uvicorn_config(app, header_timeout_s=config.header_timeout_s,
                                               body_idle_timeout_s=config.body_idle_timeout_s,
                                               log_level="warning", access_log=False, timeout_graceful_shutdown=5))
        shown = f"[{config.host}]" if ":" in config.host else config.host
        print(f"Serving on http://{shown}:{port}", flush=True)
        if config.api_key:
            print("qa: /api/search and /api/ask need the X-API-Key header; the web UI asks for the key",
                  file=sys.stderr, flush=True)
        print(f"qa: writes (UI upload, DELETE /api/articles/ID) are "
              f"{'on for write-key holders' if config.write_key else 'on for every reader' if config.allow_writes else 'off'}",
              file=sys.stderr, flush=True)
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
