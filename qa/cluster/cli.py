"""The ``--ray ADDRESS`` / ``--shards N`` flags of ``qa index``, ``qa search``
and ``qa serve``: each command adds them with :func:`add_args` and hands over here when
``--ray`` is given. Without ``--ray`` nothing in this module imports Ray."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from index.errors import QAError


def add_args(p: argparse.ArgumentParser, *, shards: bool = False, replicas: bool = False) -> None:
    from ..cli.common import positive_int

    g = p.add_argument_group("cluster (pip install 'newsqa[ray]'; see docs/scaling.md)")
    g.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run on the Ray cluster at ADDRESS (HOST:PORT, or 'auto' on a cluster node)")
    if shards:
        g.add_argument("--shards", type=positive_int, default=2, metavar="N",
                       help="with --ray: split the index into N shard actors (default 2)")
    if replicas:
        g.add_argument("--replicas", type=positive_int, default=None, metavar="R",
                       help="with --ray: serve the API from R Ray Serve replicas (plus one for the web UI) behind "
                            "Serve's HTTP proxy on --host/--port; default: one server process in this shell")


def _connect(args: argparse.Namespace) -> None:
    from . import connect

    connect(args.ray)


def index_embedder(args: argparse.Namespace, index_dir: Path) -> Any:
    """``qa index --ray``: an embedder that runs on the cluster (None without ``--ray``)."""
    if not getattr(args, "ray", None):
        return None
    from index.manifest import read_manifest

    model, backend = args.model, args.backend
    if not args.rebuild:
        try:
            settings = read_manifest(Path(index_dir))["settings"]
            model = model or settings.get("model")
            backend = backend or settings.get("embedding_backend") or "torch"
        except (QAError, KeyError, OSError):
            pass  # no index yet: the defaults
    _connect(args)
    from .embed import RayEmbedder

    return RayEmbedder(model, backend=backend)


def search_engine(args: argparse.Namespace, index_dir: Path) -> Any:
    """``qa search --ray --shards N``: a loaded sharded engine (None without ``--ray``)."""
    if not getattr(args, "ray", None):
        return None
    _connect(args)
    from .coordinator import open_sharded

    return open_sharded(index_dir, args.shards)


def serve_engine(args: argparse.Namespace, index_dir: Path, max_k: int) -> Any:
    """``qa serve --ray --shards N``: the engine the API/UI serve, with sharded retrieval (None
    without ``--ray``). Shards are deployed when the server warms up."""
    if not getattr(args, "ray", None):
        return None
    _connect(args)
    from .coordinator import ShardedEngine

    return ShardedEngine(index_dir, shards=args.shards, max_k=max_k)


def serve_replicas(args: argparse.Namespace, config: Any) -> int | None:
    """``qa serve --ray --shards N --replicas R``: deploy the app as Ray Serve replicas over one set
    of shard actors, print the URL and wait for Ctrl-C; then remove the replicas and the shards.
    None when ``--replicas`` is not given."""
    import signal
    import sys
    import threading

    replicas = getattr(args, "replicas", None)
    if replicas is None:
        return None
    if not getattr(args, "ray", None):
        raise QAError("--replicas needs --ray ADDRESS (Ray Serve runs the replicas on a cluster)")
    from qa.engine import Engine

    Engine(config.index_dir).load()  # a missing or invalid index: one line, exit 2, before touching the cluster
    _connect(args)
    from .serve import ReplicaSpec, deploy, shard_prefix, undeploy

    index_dir = str(Path(config.index_dir).resolve())
    spec = ReplicaSpec(index_dir, args.shards, config, shard_prefix(index_dir), uploads=config.ui_uploads,
                       threads=config.threads, reload=config.reload)
    print(f"qa: deploying {replicas} API replica(s) and the UI over {args.shards} shard(s) with Ray Serve…",
          file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        url = deploy(spec, replicas)
        print(f"Serving on {url}", flush=True)
        stop.wait()
    finally:
        print("qa: removing the replicas and the shards", file=sys.stderr, flush=True)
        undeploy(spec)
    return 0
