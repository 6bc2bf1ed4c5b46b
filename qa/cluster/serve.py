"""``qa serve --ray ADDRESS --shards N --replicas R``: the one app (ui/app.py) as Ray Serve replicas.

Two Serve applications share Serve's HTTP proxy, which runs on the head node only and listens on
``--host``/``--port``:

- ``newsqa-api`` at ``/api``: R replicas of the JSON API (``ui.app.create_app(ui=False)``). The
  proxy spreads ``/api/search``, ``/api/ask``, … over them; a replica that dies is restarted by
  Serve and requests go to the live ones meanwhile;
- ``newsqa`` at ``/``: one replica of the whole app (web UI, ``/embed`` widget, ``/docs``). The
  Gradio UI keeps per-session state in its process (its event queue), which needs every request
  of a browser session on the same replica, so it is not spread; its searches run on the same
  shards. The widget's calls go to ``/api``, i.e. to the R replicas.

Every replica is the one engine (:class:`~qa.cluster.coordinator.ShardedEngine`) over the SAME N
shard actors: named, detached actors (``<prefix>-<generation>-<N>-<i>``) that the first replica
creates and the others look up. The security guard is the app's own middleware, so API keys and
write permission are enforced in every replica exactly as in ``qa serve`` without Ray. Serve's
proxy (not uvicorn) reads requests here, so its ``keep_alive_timeout_s`` replaces ``ui.server``'s
header timeouts.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from index.errors import QAError

#: Serve application names and the deployment name of the API replicas.
API_APP, UI_APP, UI_DEPLOYMENT = "newsqa-api", "newsqa", "newsqa-ui"
#: CPUs a replica reserves (logical: the replica mostly waits on its shards; the coordinator's
#: query embedding is its only CPU work).
REPLICA_CPUS = 0.1


@dataclass(frozen=True)
class ReplicaSpec:
    """Everything a replica needs to build the engine and the app (pickled to every replica)."""

    index_dir: str
    shards: int
    config: Any  # ui.config.ServeConfig
    shard_prefix: str
    ui: bool = False
    uploads: bool = True
    threads: int = 1
    reload: bool = True
    #: for an extra API app at another route prefix (benchmarks/cluster.py): the prefix to strip
    strip_prefix: str = ""
    #: query vectors each replica keeps (``Engine(query_cache=)``; None: the engine's default,
    #: 0: none, so a benchmark's repeated queries are embedded every time)
    query_cache: int | None = None


def shard_prefix(index_dir: Path | str) -> str:
    """The name prefix of the shard actors of ``index_dir``: every replica derives the same one."""
    return "qa-shard-" + hashlib.sha1(str(Path(index_dir).resolve()).encode()).hexdigest()[:10]


class QAReplicaCore:
    """One replica: the sharded engine (loaded, shards found or deployed, model warm) and the app."""

    def __init__(self, spec: ReplicaSpec) -> None:
        from index.embedding import set_threads

        from .coordinator import ShardedEngine

        set_threads(spec.threads)
        self.spec = spec
        cache = {} if spec.query_cache is None else {"query_cache": spec.query_cache}
        self.engine = ShardedEngine(spec.index_dir, shards=spec.shards, max_k=spec.config.max_k,
                                    name_prefix=spec.shard_prefix, detached=True, **cache)
        self.engine.load()
        self.engine.fleet()
        self.engine.warm_up()
        if spec.reload:
            self.engine.watch()

    def build_app(self) -> Any:
        from ui.app import create_app

        app = create_app(self.engine, self.spec.config, ui=self.spec.ui, uploads=self.spec.uploads)
        return app if self.spec.ui else _Mounted(app, self.spec.strip_prefix)

    def shards(self) -> list[dict[str, Any]]:
        """The shard actors this replica queries (``ShardCore.info``: rows, pid), through a Serve
        handle: every replica reports the same actors."""
        return self.engine.fleet().wait_ready()

    def check_health(self) -> None:
        """Serve's periodic health check: the engine still has an index to serve."""
        self.engine.load()


class _Mounted:
    """ASGI wrapper that routes the path the client sent (minus ``strip``) whatever Serve's route
    prefix is: Serve passes the full path (``/api/search``) with ``root_path`` set to the route
    prefix, which Starlette would strip before routing; the app's own routes start with ``/api``."""

    def __init__(self, app: Any, strip: str = "") -> None:
        self.app, self.strip = app, strip.rstrip("/")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") in ("http", "websocket"):
            path = scope.get("path", "")
            if self.strip and path.startswith(self.strip):
                path = path[len(self.strip):] or "/"
            scope = {**scope, "root_path": "", "path": path}
        await self.app(scope, receive, send)


def _replica_class() -> Any:
    from ray import serve

    @serve.ingress()
    class QAReplica(QAReplicaCore):
        def __serve_build_asgi_app__(self) -> Any:
            return self.build_app()

    return QAReplica


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def deploy(spec: ReplicaSpec, replicas: int, *, ui_replica: bool = True, replica_cpus: float = REPLICA_CPUS) -> str:
    """Start Serve's proxy on ``spec.config.host:port`` (head node only) and deploy the API
    replicas (and the UI replica). Blocks until every replica is up; returns the base URL.
    Connect to Ray first (:func:`qa.cluster.connect`)."""
    from ray import serve

    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise QAError(f"--replicas must be a whole number >= 1, got {replicas!r}")
    import ray

    if any(a["name"] == "SERVE_CONTROLLER_ACTOR" for a in ray.util.list_named_actors(all_namespaces=True)):
        raise QAError("Ray Serve already runs on this cluster (another `qa serve --replicas`?): stop it first "
                      "(Ctrl-C in that shell, or `serve shutdown`)")
    host, port = spec.config.host, spec.config.port
    if not port:  # a port free on this host (the proxy runs on the head node: the same host here)
        port = free_port(host)
        spec = replace(spec, config=spec.config.with_port(port))
    try:
        serve.start(proxy_location="HeadOnly",
                    http_options={"host": host, "port": port, "keep_alive_timeout_s": 5})
    except Exception as exc:  # already running with other options, or the port is taken
        raise QAError(f"cannot start Ray Serve's HTTP proxy on {host}:{port}: {str(exc).splitlines()[0]}") from None
    deploy_api(spec, replicas, replica_cpus)
    if ui_replica:
        serve.run(_deployment(UI_DEPLOYMENT, 1, replica_cpus).bind(replace(spec, ui=True)), name=UI_APP, route_prefix="/")
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def deploy_api(spec: ReplicaSpec, replicas: int, replica_cpus: float = REPLICA_CPUS, *, name: str = API_APP,
               route_prefix: str = "/api") -> None:
    """Deploy (or redeploy: Serve then replaces every replica) the API application ``name`` with
    ``replicas`` replicas at ``route_prefix``. Any prefix other than ``/api`` is stripped, so
    ``PREFIX/api/search`` reaches ``/api/search`` (benchmarks run a 1- and a 2-replica app side by
    side this way)."""
    from ray import serve

    strip = "" if route_prefix == "/api" else route_prefix
    serve.run(_deployment(f"{name}-replica", replicas, replica_cpus).bind(replace(spec, ui=False, strip_prefix=strip)),
              name=name, route_prefix=route_prefix)


def _deployment(name: str, replicas: int, replica_cpus: float) -> Any:
    from ray import serve

    from . import runtime_env

    return serve.deployment(_replica_class(), name=name, num_replicas=replicas,
                            ray_actor_options={"num_cpus": replica_cpus, "runtime_env": runtime_env()},
                            health_check_period_s=5, health_check_timeout_s=30, graceful_shutdown_timeout_s=5)


def replica_actors(app: str = API_APP) -> list[Any]:
    """Handles of the live replica actors of ``app`` (to inspect or kill them)."""
    import ray

    names = sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                   if a["namespace"] == "serve" and a["name"].startswith(f"SERVE_REPLICA::{app}#"))
    return [ray.get_actor(n, namespace="serve") for n in names]


def undeploy(spec: ReplicaSpec) -> None:
    """Delete both applications, stop Serve and end the shard actors ``spec`` created."""
    import ray
    from ray import serve

    from .coordinator import SHARD_NAMESPACE

    try:
        serve.shutdown()
    finally:
        for a in ray.util.list_named_actors(all_namespaces=True):
            if a["namespace"] == SHARD_NAMESPACE and a["name"].startswith(spec.shard_prefix + "-"):
                try:
                    ray.kill(ray.get_actor(a["name"], namespace=SHARD_NAMESPACE), no_restart=True)
                except Exception:  # already gone
                    pass


__all__ = ["ReplicaSpec", "deploy", "deploy_api", "undeploy", "replica_actors", "shard_prefix", "API_APP", "UI_APP"]
