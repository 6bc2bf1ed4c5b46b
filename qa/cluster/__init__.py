"""Running the engine on a Ray cluster (``pip install newsqa[ray]``): see docs/scaling.md.

- :mod:`qa.cluster.embed`: ``qa index --ray``, embedding with Ray Data across the cluster and
  writing the ordinary index format through :mod:`index.builder`;
- :mod:`qa.cluster.shard` / :mod:`qa.cluster.bm25`: a shard, i.e. a slice of the index with its
  FAISS and BM25 part (tombstones skipped), BM25 scored with the whole index's live statistics;
- :mod:`qa.cluster.coordinator`: :class:`ShardedEngine`, the one engine with its retrieval fanned
  out to the shards (``qa search --ray``);
- ``qa serve --ray --shards N`` (:func:`qa.cluster.cli.serve_engine`): the one API/UI process over a
  :class:`ShardedEngine`; with ``--replicas R`` (:mod:`qa.cluster.serve`) the same app as R Ray
  Serve replicas over one shared set of shard actors.

Ray is imported only here, lazily: the single-machine install does not need it.
"""

from __future__ import annotations

import os
from pathlib import Path

from index.errors import QAError


class RayUnavailableError(QAError):
    code = "ray_unavailable"


def connect(address: str) -> None:
    """Join the Ray cluster at ``address`` (``HOST:PORT``; ``auto`` for the local node's cluster).

    The driver's node IP is the host part of the address when it is a loopback address, because
    Ray would otherwise advertise the machine's external address for this process.
    """
    try:
        import ray
    except ImportError:
        raise RayUnavailableError("Ray is not installed; install the cluster extra: pip install 'newsqa[ray]'") from None
    _reachable(address)  # ray.init retries an unreachable address forever
    if ray.is_initialized():
        return
    # No usage statistics from this driver: Ray Data would poll a Prometheus for them in a thread
    # that prints a traceback at exit when there is none. A user's own setting wins.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DATA_USAGE_DISABLED", "1")
    host = address.rsplit(":", 1)[0] if ":" in address else ""
    kwargs = {}
    node_ip = os.environ.get("QA_RAY_NODE_IP") or (host if host.startswith("127.") else "")
    if node_ip:
        kwargs["_node_ip_address"] = node_ip
    try:
        ray.init(address=address, logging_level="WARNING", log_to_driver=False, runtime_env=runtime_env(), **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RayUnavailableError(f"cannot connect to the Ray cluster at {address}: {first}") from None


def runtime_env() -> dict:
    """Workers (and Serve replicas) import the same code as this driver: a source checkout is
    not on their path otherwise."""
    root = str(Path(__file__).resolve().parents[2])
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}}


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (one line) when nothing listens at ``HOST:PORT``; other forms are left to Ray."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayUnavailableError(f"cannot connect to the Ray cluster at {address}: {exc.strerror or exc}") from None
