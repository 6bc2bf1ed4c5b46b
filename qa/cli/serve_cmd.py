"""``qa serve [--index DIR] [--host 127.0.0.1] [--port 7860]``: web UI at /, JSON API at /api, /embed.

Loads the index (a missing one is a one-line error, exit 2), warms the model, binds the port,
prints ``Serving on http://HOST:PORT`` and runs uvicorn until Ctrl-C. Settings come from
``QA_*`` environment variables (see :mod:`ui.config`); flags override them.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from index.errors import QAError

from .common import add_index_arg, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the web UI, the JSON API and the /embed widget",
                       description="Serve the web UI at /, the JSON API at /api (OpenAPI at /docs) and the wiki "
                                   "widget at /embed. Flags override the QA_* environment variables.")
    add_index_arg(p)
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1; $QA_HOST)")
    p.add_argument("--port", type=int, default=None, help="port (default 7860; 0 picks a free one; $QA_PORT)")
    p.add_argument("--api-key", default=None, metavar="KEY",
                   help="require this key in the X-API-Key header of /api/search and /api/ask "
                        "(prefer $QA_API_KEY: flags show up in `ps`)")
    p.add_argument("--cors-origins", default=None, metavar="LIST",
                   help="comma list of origins that may call the API from a browser and frame /embed "
                        "($QA_CORS_ORIGINS), e.g. https://wiki.example.org")
    p.add_argument("--max-k", type=positive_int, default=None, help="largest k a request may ask (default 50; $QA_MAX_K)")
    p.add_argument("--max-body-bytes", type=positive_int, default=None,
                   help="largest JSON request body in bytes (default 16384; $QA_MAX_BODY_BYTES)")
    p.add_argument("--allow-writes", action="store_true", default=None,
                   help="let readers add articles (UI upload) and delete them (DELETE /api/articles/ID); off by "
                        "default, refused on a non-loopback --host without an API key ($QA_ALLOW_WRITES=1)")
    p.add_argument("--write-key", default=None, metavar="KEY",
                   help="enable writes for holders of this key only (prefer $QA_WRITE_KEY: flags show up in `ps`)")
    p.add_argument("--no-ui-uploads", action="store_true",
                   help="hide the UI's 'Add articles' upload even when writes are enabled (see docs/security.md)")
    p.add_argument("--header-timeout", type=positive_int, default=None, metavar="S",
                   help="seconds a client has to send a request's headers; slower ones are cut (default 10; "
                        "$QA_HEADER_TIMEOUT_S)")
    p.add_argument("--max-upload-mb", type=positive_int, default=None, metavar="MB",
                   help="largest UI upload in MB, each file and one 'Add articles' in all (default 50; $QA_MAX_UPLOAD_MB)")
    p.add_argument("--index-budget", type=positive_int, default=None, metavar="S",
                   help="seconds one UI upload may spend indexing before it is abandoned (default 600; $QA_INDEX_BUDGET_S)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="CPU threads one request's embedding may use, torch and ONNX Runtime alike "
                        "(default 1: requests already run in parallel threads; $QA_THREADS)")
    p.add_argument("--no-reload", action="store_true",
                   help="do not watch the index for new generations written by other processes")
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
    """The server's settings: the ``QA_*`` environment, overridden by the flags given."""
    from ui.config import ServeConfig

    return ServeConfig.from_env(
        index_dir=args.index, host=args.host, port=args.port, api_key=args.api_key,
        cors_origins=args.cors_origins, max_k=args.max_k, max_body_bytes=args.max_body_bytes,
        allow_writes=args.allow_writes, write_key=args.write_key, header_timeout_s=args.header_timeout,
        index_budget_s=args.index_budget, max_upload_mb=args.max_upload_mb,
    )


def run(args: argparse.Namespace) -> int:
    config = serve_config(args)
    from index.embedding import set_threads

    # One thread per request unless asked: concurrent requests already run in parallel threads,
    # and several multi-threaded matmuls on a few busy cores are many times slower than one each.
    threads = args.threads or (int(os.environ["QA_THREADS"]) if os.environ.get("QA_THREADS", "").strip().isdigit() else 1)
    set_threads(threads)

    from qa.engine import Engine

    from ..cluster.cli import serve_engine, serve_replicas

    done = serve_replicas(args, config, threads)  # --replicas R: Ray Serve runs the app
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
        if not args.no_reload:
            service.watch()  # serve index generations written by `qa index` / `qa delete` in other processes

        import uvicorn

        from ui.app import create_app
        from ui.server import uvicorn_config

        app = create_app(service, config, uploads=not args.no_ui_uploads)
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
