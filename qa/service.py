"""One long-lived object behind every server front end (JSON API, Gradio UI, ``/embed``).

:class:`QAService` owns an index directory, loads its :class:`Searcher` and :class:`Answerer`
lazily (once), answers ``search`` / ``ask`` from any number of threads, and adds articles
incrementally: :func:`index.builder.add_articles` writes a new index aside and swaps it in, then
the service loads a fresh :class:`Searcher` with the *same* embedding model (no second model
load) and swaps it in under a lock. Requests already running finish on the old searcher.

>>> service = QAService("qa-index").load()
>>> answer = service.ask("why did Russia withdraw peacekeepers?")
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.builder import BuildReport, add_articles
from index.embedding import Embedder, SentenceTransformerEmbedder
from index.errors import IndexMissingError, QueryError
from index.ingest import load_articles
from index.records import Hit

from .answer import Answer, Answerer
from .filters import SearchFilter
from .fusion import Mode
from .search import MAX_K, IndexStats, Searcher, validate_query

#: ``progress(fraction in [0, 1], description)``; called from the thread doing the work.
ProgressCallback = Callable[[float, str], None]

DEFAULT_SEARCH_K = 10
DEFAULT_ASK_K = 8


def _no_progress(fraction: float, description: str) -> None:
    return None


class _ProgressEmbedder:
    """Wraps an :class:`Embedder` to report progress while a build embeds passages in batches."""

    def __init__(self, inner: Embedder, report: Callable[[int, int], None]) -> None:
        self._inner = inner
        self._report = report

    def __getattr__(self, name: str) -> Any:  # name, dim, count_tokens, ... come from the real model
        return getattr(self._inner, name)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        texts = list(texts)
        total = len(texts)
        if total == 0:
            return self._inner.encode(texts, batch_size=batch_size, show_progress=False)
        step = max(batch_size, 1) * 4
        parts = []
        self._report(0, total)
        for start in range(0, total, step):
            parts.append(self._inner.encode(texts[start:start + step], batch_size=batch_size, show_progress=False))
            self._report(min(start + step, total), total)
        return np.vstack(parts)


class QAService:
    """Thread-safe search, cited answers and incremental indexing over one index directory.

    ``max_k`` caps ``k`` for both calls (the API's limit); ``embedder`` lets tests and callers
    share an already loaded model. Nothing is loaded until the first call (or :meth:`load`).
    """

    def __init__(self, index_dir: Path | str, *, embedder: Embedder | None = None, max_k: int = MAX_K,
                 answer_k: int = DEFAULT_ASK_K, max_sentences: int = 3, threshold: float | None = None) -> None:
        if isinstance(max_k, bool) or not isinstance(max_k, int) or not 1 <= max_k <= MAX_K:
            raise ValueError(f"max_k must be an integer between 1 and {MAX_K}, got {max_k!r}")
        self.index_dir = Path(index_dir)
        self.max_k = max_k
        self.answer_k = min(answer_k, max_k)
        self._answer_opts: dict[str, Any] = {"max_sentences": max_sentences, "threshold": threshold}
        self._embedder = embedder
        self._searcher: Searcher | None = None
        self._answerer: Answerer | None = None
        self._lock = threading.Lock()  # guards the (searcher, answerer) pair
        self._write_lock = threading.Lock()  # one add_files at a time in this process

    # ------------------------------------------------------------------ loading
    def _components(self) -> tuple[Searcher, Answerer]:
        with self._lock:
            if self._searcher is None or self._answerer is None:
                searcher = Searcher.load(self.index_dir, embedder=self._embedder)
                self._searcher, self._answerer = searcher, self._make_answerer(searcher)
            return self._searcher, self._answerer

    def _make_answerer(self, searcher: Searcher) -> Answerer:
        return Answerer(searcher, k=self.answer_k, **self._answer_opts)

    def load(self) -> "QAService":
        """Load the index now (raises :class:`IndexMissingError` / :class:`IndexFormatError`)."""
        self._components()
        return self

    @property
    def embedder(self) -> Embedder:
        """The query model (loaded on first use, then shared by every searcher this service makes)."""
        searcher, _ = self._components()
        model = searcher.embedder
        self._embedder = model
        return model

    @property
    def model_name(self) -> str:
        return self._components()[0].store.settings.model

    def warm_up(self) -> None:
        """Load the model and run one question end to end, so the first user does not wait."""
        _, answerer = self._components()
        answerer.ask("What happened?", k=1)

    # ------------------------------------------------------------------ queries
    def _check(self, query: Any, k: Any, mode: Any) -> tuple[str, int, Mode]:
        query, k = validate_query(query, k, max_k=self.max_k)
        return query, k, Mode.parse(mode)

    def search(self, query: str, k: int = DEFAULT_SEARCH_K, mode: str | Mode = Mode.HYBRID,
               filters: SearchFilter | None = None) -> list[Hit]:
        query, k, parsed = self._check(query, k, mode)
        searcher, _ = self._components()
        return searcher.search(query, k=k, mode=parsed, filters=filters)

    def ask(self, question: str, k: int | None = None, mode: str | Mode = Mode.HYBRID,
            filters: SearchFilter | None = None) -> Answer:
        question, k, parsed = self._check(question, self.answer_k if k is None else k, mode)
        _, answerer = self._components()
        return answerer.ask(question, k=k, mode=parsed.value, filters=filters)

    def stats(self) -> IndexStats:
        return self._components()[0].stats()

    # ------------------------------------------------------------------ indexing
    def add_files(self, paths: Iterable[str | Path], progress_callback: ProgressCallback | None = None) -> BuildReport:
        """Ingest ``paths`` into the index (incrementally, atomically) and start serving the result.

        ``progress_callback(fraction, description)`` is called as files are read, passages are
        embedded and the new index is loaded. Raises :class:`QAError` for bad files; the served
        index is then unchanged.
        """
        progress = progress_callback or _no_progress
        paths = list(paths)
        if not paths:
            raise QueryError("no files to add")
        with self._write_lock:
            progress(0.0, "reading files")
            articles = load_articles(paths)
            try:
                model: Embedder = self.embedder
            except IndexMissingError:  # no index yet: start one with the default model
                model = self._embedder or SentenceTransformerEmbedder()
                self._embedder = model
            progress(0.1, f"read {len(articles)} article(s); embedding new passages")

            def on_batch(done: int, total: int) -> None:
                progress(0.1 + 0.8 * done / total, f"embedding passages {done}/{total}")

            report = add_articles(articles, self.index_dir, embedder=_ProgressEmbedder(model, on_batch))  # type: ignore[arg-type]
            if report.written:
                progress(0.92, "loading the updated index")
                fresh = Searcher.load(self.index_dir, embedder=model)
                answerer = self._make_answerer(fresh)
                with self._lock:
                    self._searcher, self._answerer = fresh, answerer
            progress(1.0, "done")
            return report
