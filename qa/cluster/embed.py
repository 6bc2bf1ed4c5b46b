"""``qa index --ray``: embed passages with Ray Data across the cluster.

:class:`RayEmbedder` is an :class:`index.embedding.Embedder`: :mod:`index.builder` ingests,
chunks, writes BM25 and the index files exactly as on one machine, and only the ``encode`` call
runs on the cluster. Ray Data streams the passages in blocks to a pool of embedding actors, one
per worker slot; each actor loads the model once (in its constructor) and embeds its batches.
With GPUs in the cluster and the ``torch`` backend, each actor takes one GPU; the ONNX backends
are CPU-only. Rows come back tagged with their position, so the vectors are in passage order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from index.embedding import ATTENTION_BUDGET, SORT_WINDOW, SentenceTransformerEmbedder, token_batches

#: Model batches per Ray Data batch handed to one embedding actor.
GROUPS_PER_TASK = 8


def single_process_batches(lengths: Sequence[int], batch_size: int, window: int = SORT_WINDOW,
                           budget: int | None = None) -> list[list[int]]:
    """The row groups :class:`index.embedding.SentenceTransformerEmbedder` embeds together: rows
    sorted longest first within windows of ``window`` rows, cut by :func:`index.embedding.token_batches`
    (every ``batch_size`` rows; for the ONNX backends also at ``budget``,
    :data:`index.embedding.ATTENTION_BUDGET`: int8 vectors depend on the batch)."""
    out: list[list[int]] = []
    for w0 in range(0, len(lengths), window):
        order = sorted(range(w0, min(w0 + window, len(lengths))), key=lambda i: -lengths[i])
        out.extend(token_batches(order, lengths, batch_size, budget if budget is not None else 1 << 62))
    return out


class _EmbedBatch:
    """A Ray Data actor: the model loaded once, then one call per batch of rows."""

    def __init__(self, model: str, backend: str, device: str, batch_size: int, threads: int | None) -> None:
        from index.embedding import set_threads

        if threads:
            set_threads(threads)
        self.embedder = SentenceTransformerEmbedder(model, backend=backend, device=device)
        self.batch_size = batch_size
        self.embedder.warm_up()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows, vecs = [], []
        for group_rows, texts in zip(batch["rows"], batch["texts"]):  # one model call per group
            texts = [str(t) for t in texts]
            vecs.append(self.embedder.encode(texts, batch_size=max(len(texts), 1)))
            rows.append(np.asarray(group_rows, dtype=np.int64))
        return {"row": np.concatenate(rows), "vector": np.vstack(vecs)}


class RayEmbedder:
    """Embeds on the Ray cluster this process is connected to (:func:`qa.cluster.connect`).

    ``workers``: embedding actors (default: one per CPU the cluster has, or one per GPU when
    GPUs are present and the backend is torch). ``name``, ``backend``, ``dim`` and
    ``count_tokens`` (used by chunking) come from a local copy of the model's tokenizer/config.
    """

    def __init__(self, model: str | None = None, *, backend: str | None = None, workers: int | None = None,
                 threads_per_worker: int | None = 1, groups_per_task: int = GROUPS_PER_TASK) -> None:
        self._local = SentenceTransformerEmbedder(model, backend=backend)
        self.name = self._local.name
        self.backend = self._local.backend
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        self.groups_per_task = groups_per_task
        self.last_workers = 0

    def __getattr__(self, name: str) -> Any:  # dim, max_tokens, count_tokens: from the local model
        return getattr(self._local, name)

    @property
    def dim(self) -> int:
        return self._local.dim

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._local.count_tokens(texts)

    def _plan(self) -> tuple[int, dict[str, Any], str]:
        import ray

        res = ray.cluster_resources()
        gpus = int(res.get("GPU", 0))
        if gpus and self.backend == "torch":
            return self.workers or gpus, {"num_gpus": 1}, "cuda"
        cpus = max(int(res.get("CPU", 1)), 1)
        return self.workers or cpus, {"num_cpus": 1}, "cpu"

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = show_progress
        ctx.print_on_execution_start = False
        workers, resources, device = self._plan()
        cap = self._local.max_tokens
        lengths = [min(n, cap) for n in self._local.count_tokens(texts)]
        groups = single_process_batches(lengths, batch_size,
                                        budget=None if self._local.backend == "torch" else ATTENTION_BUDGET)
        workers = max(1, min(workers, len(groups)))
        self.last_workers = workers
        blocks = max(workers, -(-len(groups) // self.groups_per_task))
        items = [{"rows": g, "texts": [texts[i] for i in g]} for g in groups]
        ds = ray.data.from_items(items, override_num_blocks=min(blocks, len(items)))
        out = ds.map_batches(
            _EmbedBatch,
            fn_constructor_kwargs={"model": self.name, "backend": self.backend, "device": device,
                                   "batch_size": batch_size, "threads": self.threads_per_worker},
            batch_size=self.groups_per_task, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers),
            **resources,
        )
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        seen = np.zeros(len(texts), dtype=bool)
        for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
            rows = np.asarray(batch["row"], dtype=np.int64)
            vectors[rows] = np.asarray(batch["vector"], dtype=np.float32)
            seen[rows] = True
        if not seen.all():  # never write an index with missing vectors
            raise RuntimeError(f"the cluster returned {int(seen.sum())} of {len(texts)} vectors")
        return vectors
