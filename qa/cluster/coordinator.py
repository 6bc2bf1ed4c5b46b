"""The coordinator: the product's :class:`~qa.engine.Engine` with its retrieval step fanned out
to shard actors.

:class:`ShardedEngine` subclasses the one engine and replaces only :meth:`Engine.rankings` (each
retriever's ranking, filters applied before the cut) with a fan-out: the query is embedded
here once, every shard returns its top-``depth`` candidates with global row ids, and the lists
are merged into the global top-``depth`` (score descending, ties by row, as the single index
orders them). Everything after that (``Fusion.rank``, Hits, newest-first sorting, answers,
writes, reloads) is the engine's own code, so sharded and single-index results are the same.

A shard that dies is restarted by Ray and calls made meanwhile are retried; if a shard still
cannot answer within ``timeout_s`` the query fails with :class:`ShardUnavailableError` (HTTP
503 in the API's error shape), never with a silently partial ranking.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.defaults import Mode
from index.errors import QAError

from ..engine import Engine, Snapshot
from ..filters import NO_FILTER, SearchFilter
from ..fusion import Ranking
from .bm25 import merge_stats
from .shard import ShardSpec, compute_slice_stats, shard_actor, split_rows

log = logging.getLogger(__name__)

#: The Ray namespace of named (shared) shard actors: processes in other namespaces (the CLI's
#: driver, Serve replicas) find the same actors by name.
SHARD_NAMESPACE = "newsqa"

#: How long one fan-out may wait for its shards (including a restart) before failing with 503.
DEFAULT_TIMEOUT_S = 60.0


class ShardUnavailableError(QAError):
    """A shard could not answer (dead beyond its restarts, or too slow): the query fails whole."""

    code = "shard_unavailable"


def merge_rankings(parts: Iterable[Ranking], depth: int) -> list[tuple[int, float]]:
    """The global top-``depth`` of several shards' rankings: score descending, ties by row."""
    return heapq.nsmallest(depth, (item for part in parts for item in part), key=lambda rs: (-rs[1], rs[0]))


class ShardFleet:
    """N shard actors over one index generation, spread across the cluster's nodes."""

    def __init__(self, index_dir: Path | str, generation: Any, n_passages: int, shards: int, *,
                 name_prefix: str | None = None, detached: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        import ray

        self.timeout_s = timeout_s
        self.ranges = split_rows(n_passages, shards)
        self.generation = generation
        index_dir = str(Path(index_dir).resolve())
        if name_prefix:  # another process (a Serve replica) deployed these shards already: use them
            found = _named_actors([f"{name_prefix}-{i}" for i in range(len(self.ranges))])
            if found is not None:
                self.actors = found
                self.wait_ready()
                return
        # map-reduce the global BM25 statistics: one task per slice, summed here
        task = ray.remote(num_cpus=0.25, scheduling_strategy="SPREAD")(compute_slice_stats)
        try:
            stats = merge_stats(ray.get([task.remote(index_dir, lo, hi) for lo, hi in self.ranges], timeout=600))
        except Exception as exc:
            raise ShardUnavailableError(f"could not read the index on the cluster ({type(exc).__name__}: "
                                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
        Actor = shard_actor()
        self.actors = []
        for i, (lo, hi) in enumerate(self.ranges):
            opts: dict[str, Any] = {"scheduling_strategy": "SPREAD"}
            if name_prefix:
                opts.update(name=f"{name_prefix}-{i}", namespace=SHARD_NAMESPACE, get_if_exists=True)
            if detached:
                opts["lifetime"] = "detached"
            self.actors.append(Actor.options(**opts).remote(ShardSpec(index_dir, lo, hi, generation), stats))
        self.wait_ready()

    def wait_ready(self) -> list[dict[str, Any]]:
        return self._get([a.info.remote() for a in self.actors])

    def _get(self, refs: list[Any]) -> list[Any]:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

        try:
            return ray.get(refs, timeout=self.timeout_s)
        except GetTimeoutError as exc:
            raise ShardUnavailableError(f"a shard did not answer within {self.timeout_s:.0f}s; try again") from exc
        except RayActorError as exc:
            raise ShardUnavailableError("a shard is down and could not be restarted; try again later") from exc
        except RayTaskError as exc:
            cause = exc.cause if hasattr(exc, "cause") else exc
            if isinstance(cause, QAError):
                raise ShardUnavailableError(f"a shard failed: {cause}") from exc
            raise

    def rankings(self, vectors: np.ndarray | None, queries: Sequence[str] | None, depth: int,
                 allowed: np.ndarray | None) -> dict[str, list[list[tuple[int, float]]]]:
        import ray

        vec_ref = ray.put(vectors) if vectors is not None else None
        refs = []
        for (lo, hi), actor in zip(self.ranges, self.actors):
            part = np.packbits(allowed[lo:hi]) if allowed is not None else None
            refs.append(actor.rankings.remote(vec_ref, list(queries) if queries is not None else None, depth, part))
        answers = self._get(refs)
        for generation, _ in answers:
            if generation != self.generation:
                raise ShardUnavailableError("a shard serves another index generation; try again")
        out: dict[str, list[list[tuple[int, float]]]] = {}
        for name in answers[0][1]:
            n_q = len(answers[0][1][name])
            out[name] = [merge_rankings((a[1][name][i] for a in answers), depth) for i in range(n_q)]
        return out

    def kill(self) -> None:
        import ray

        for a in self.actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # already gone
                pass


def _named_actors(names: list[str]) -> list[Any] | None:
    """Handles of the named shard actors ``names``, or None unless all of them exist."""
    import ray

    out = []
    for name in names:
        try:
            out.append(ray.get_actor(name, namespace=SHARD_NAMESPACE))
        except ValueError:
            return None
    return out


class ShardedEngine(Engine):
    """An :class:`Engine` whose retrieval runs on ``shards`` Ray actors (see the module doc).

    Connect to Ray first (:func:`qa.cluster.connect`). ``name_prefix``/``detached`` share one set
    of named shards between several processes.
    """

    def __init__(self, index_dir: Path | str | None = None, *, shards: int = 2, name_prefix: str | None = None,
                 detached: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S, **kwargs: Any) -> None:
        if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
            raise QAError(f"--shards must be a whole number >= 1, got {shards!r}")
        super().__init__(index_dir, **kwargs)
        self.shards = shards
        self._name_prefix = name_prefix
        self._detached = detached
        self._timeout_s = timeout_s
        self._fleets: dict[int, ShardFleet] = {}
        self._fleet_lock = threading.Lock()

    def fleet(self, snap: Snapshot | None = None) -> ShardFleet:
        """The shards serving ``snap`` (the current generation by default), deployed on first use."""
        snap = snap or self._current()[0]
        with self._fleet_lock:
            fleet = self._fleets.get(id(snap))
            if fleet is None or fleet.generation != snap.generation:
                prefix = None
                if self._name_prefix:
                    g = snap.generation
                    prefix = f"{self._name_prefix}-{abs(hash(g)) % 10**10}-{self.shards}"
                fleet = ShardFleet(snap.store.directory, snap.generation, len(snap.store.passages), self.shards,
                                   name_prefix=prefix, detached=self._detached, timeout_s=self._timeout_s)
                old = list(self._fleets.values())
                self._fleets = {id(snap): fleet}
                if not self._detached:
                    for f in old:  # requests still on an old snapshot fail over to a retry, never mix generations
                        f.kill()
            return fleet

    def rankings(self, queries: Sequence[str], depth: int, modes: Iterable[Mode] = (Mode.DENSE, Mode.BM25),
                 filters: SearchFilter | None = None, *, _snap: Snapshot | None = None) -> dict[str, list[Ranking]]:
        snap = _snap or self._current()[0]
        f = filters or NO_FILTER
        allowed = snap.allowed(f)
        wanted = {Mode.parse(m) for m in modes}
        dense = Mode.DENSE in wanted or Mode.HYBRID in wanted
        lexical = Mode.BM25 in wanted or Mode.HYBRID in wanted
        vecs = self.embed_queries(queries, _snap=snap) if dense else None
        return self.fleet(snap).rankings(vecs, list(queries) if lexical else None, depth, allowed)

    def close(self) -> None:
        """Stop using the shards; end them unless they are shared (``detached``: the deployment
        that created them, e.g. ``qa serve --replicas``, ends them)."""
        super().close()
        with self._fleet_lock:
            if not self._detached:
                for f in self._fleets.values():
                    f.kill()
            self._fleets = {}


def open_sharded(index_dir: Path | str | None, shards: int, **kwargs: Any) -> ShardedEngine:
    """A loaded :class:`ShardedEngine` with its shards deployed."""
    engine = ShardedEngine(index_dir, shards=shards, **kwargs).load()
    engine.fleet()
    return engine


__all__ = ["ShardedEngine", "ShardFleet", "ShardUnavailableError", "merge_rankings", "open_sharded"]
