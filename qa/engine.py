"""The one engine behind every surface: the ``qa`` CLI, the JSON API, the web UI, the wiki widget,
evaluation and the benchmarks.

An :class:`Engine` owns an index directory. It reads every setting that shapes results from the
index manifest (chunking, BM25, dense index, embedding backend, fusion, answer threshold), loads
the index and the query model once and lazily, and answers from any number of threads:

- :meth:`Engine.search_many` is the single retrieval path (a batch of queries; :meth:`search`
  is the batch of one, and evaluation ranks through :meth:`Engine.rankings` + the same fusion);
- :meth:`Engine.ask` composes a cited answer from :meth:`search`;
- :meth:`Engine.timeline` orders the dated events of the articles :meth:`search` finds for a topic;
- :meth:`Engine.add` / :meth:`add_files` / :meth:`delete` write a new index generation and
  swap it in; :meth:`refresh` (or the :meth:`watch` thread of ``qa serve``) swaps in a generation
  written by any other process. Requests already running finish on the snapshot they started
  with, so a swap never fails or drops a request.

>>> engine = Engine.open("qa-index")
>>> hits = engine.search("why did Russia withdraw peacekeepers?", k=5)
>>> answer = engine.ask("why did Russia withdraw peacekeepers?")
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from index import builder
from index.builder import BuildReport
from index.defaults import ASK_K, MAX_BATCH, MAX_K, RELOAD_INTERVAL_S, SEARCH_K, Mode, default_index_dir
from index.embedding import Embedder, SentenceTransformerEmbedder
from index.errors import IndexFormatError, IndexMissingError, QAError, QueryError
from index.prompts import Prompts
from index.vector_cache import VectorCache
from index.ingest import load_articles
from index.records import Article, Hit
from index.segments import doc_key
from index.manifest import current_generation
from index.settings import IndexSettings
from index.store import IndexStore
from index.tables import ArticleInfo

from .answer import Answer, Answerer
from .filters import NO_FILTER, SearchFilter, Sort, article_day, day_of
from .fusion import Fusion, Ranking
from .learned import AnswerModel, default_answer_model
from .query import validate_query
from .question import story_topic
from .rerank import load_reranker
from .timeline import TIMELINE_K, Timeline, build_timeline

log = logging.getLogger(__name__)

#: ``progress(fraction in [0, 1], description)``; called from the thread doing the work.
ProgressCallback = Callable[[float, str], None]
#: Query vectors an engine keeps (1.5 kB each with the bundled model).
QUERY_CACHE = 1024
#: ``Engine(reranker=...)``'s default: what :func:`qa.rerank.load_reranker` resolves (the shipped
#: reader unless ``$QA_RERANKER`` names another or ``QA_READER=off``); ``None`` means none.
DEFAULT_RERANKER: Any = "default"


@dataclass(frozen=True)
class IndexStats:
    index_dir: str
    articles: int
    passages: int
    model: str
    dim: int
    created: str
    package_version: str
    backend: str = ""
    generation: int = 0
    fusion: dict[str, Any] = field(default_factory=dict)
    #: when the index last changed (an add, a delete, a settings update); ``created`` for an index never changed
    updated: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _no_progress(fraction: float, description: str) -> None:
    return None


class Snapshot:
    """One loaded index generation with everything derived from it. Never mutated after load."""

    def __init__(self, store: IndexStore, fusion: Fusion, generation: object) -> None:
        self.store = store
        self.fusion = fusion
        self.generation = generation
        self._filter_cache: tuple[np.ndarray, np.ndarray, list[str]] | None = None
        self._lock = threading.Lock()

    def row_metadata(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Per row: the article's day (ordinal, 0 = unknown) and publisher (index into a list, -1
        for rows of no live article). Computed once per generation from the articles (not the
        passages), then mapped to rows through the rows' doc-id hashes."""
        with self._lock:
            if self._filter_cache is None:
                sources: dict[str, int] = {}
                keys, days_of, srcs_of = [], [], []
                for doc_id, a in self.store.articles.items():
                    day = article_day(a)
                    src = " ".join(a.source.split()).casefold()
                    keys.append(doc_key(doc_id))
                    days_of.append(day.toordinal() if day else 0)
                    srcs_of.append(sources.setdefault(src, len(sources)))
                k = np.asarray(keys, dtype=np.uint64)
                order = np.argsort(k)
                k, d, sr = k[order], np.asarray(days_of, np.int64)[order], np.asarray(srcs_of, np.int64)[order]
                row_keys = np.asarray(self.store.doc_keys, dtype=np.uint64)
                pos = np.clip(np.searchsorted(k, row_keys), 0, max(len(k) - 1, 0))
                found = (k[pos] == row_keys) if len(k) else np.zeros(len(row_keys), bool)
                days = np.where(found, d[pos] if len(k) else 0, 0)
                srcs = np.where(found, sr[pos] if len(k) else -1, -1)
                self._filter_cache = (days, srcs, list(sources))
            return self._filter_cache

    def allowed(self, f: SearchFilter) -> np.ndarray | None:
        """Boolean mask of the rows ``f`` lets through (None: every row)."""
        if not f.active:
            return None
        days, srcs, names = self.row_metadata()
        mask = np.ones(len(days), dtype=bool)
        if f.sources:
            wanted = {" ".join(s.split()).casefold() for s in f.sources}
            ids = [i for i, name in enumerate(names) if name in wanted]
            mask &= np.isin(srcs, ids)
        if f.since or f.until:
            mask &= days > 0
            if f.since:
                mask &= days >= f.since.toordinal()
            if f.until:
                mask &= days <= f.until.toordinal()
        return mask


class _BoundRetriever:
    """What an :class:`Answerer` retrieves with: the engine pinned to one snapshot."""

    def __init__(self, engine: "Engine", snap: Snapshot) -> None:
        self._engine, self._snap = engine, snap
        self.store = snap.store

    @property
    def embedder(self) -> Embedder:
        return self._engine.embedder

    @property
    def prompts(self) -> Prompts:
        """The index's query/passage prompts (the answerer embeds questions and sentences with them)."""
        return Prompts.from_dict(self.store.settings.prompts)

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """The engine's query vectors for this snapshot (kept: a question's search and answer share one)."""
        return self._engine.embed_queries(queries, _snap=self._snap)

    def search(self, query: str, k: int = SEARCH_K, mode: str | Mode = Mode.HYBRID,
               filters: SearchFilter | None = None) -> list[Hit]:
        return self._engine._search_many(self._snap, [query], k, Mode.parse(mode), filters or NO_FILTER)[0]


#: Keys of a manifest's ``answer`` settings: the answerability threshold, and an answer model
#: fitted for the index's embedding model (``AnswerModel.to_dict()``; none: the bundled one).
ANSWER_KEYS = ("threshold", "model")


def answer_settings(store: IndexStore) -> tuple[AnswerModel, float | None]:
    """The answer model and threshold an index's manifest asks for. A malformed model or a
    threshold outside 0..1 makes the index unreadable (:class:`IndexFormatError`); keys this
    version does not use (``verbless_min`` of the rules before the learned model) are logged and
    ignored; an answer model fitted for another embedding model than the index's is logged."""
    try:
        return _answer_settings(store.settings, store.directory)
    except ValueError as exc:
        raise IndexFormatError(f"index {store.directory} has {exc}") from exc


def fusion_settings(settings: IndexSettings, where: object) -> Fusion:
    """The fusion an index's manifest records (:class:`IndexFormatError` when it is malformed)."""
    try:
        return _fusion_settings(settings)
    except ValueError as exc:
        raise IndexFormatError(f"index {where} has {exc}") from exc


def check_query_settings(settings: IndexSettings, where: object) -> None:
    """Raise ``ValueError`` (what is wrong, one line) unless every surface can read the fusion and
    answer settings of ``settings``: ``index.generations.update_settings`` calls this before it writes
    them, so a bad value is refused instead of making the index unreadable."""
    _fusion_settings(settings)
    _answer_settings(settings, where)


def update_query_settings(directory: Path | str, **changes: Any) -> dict[str, Any]:
    """:func:`index.generations.update_settings` with this package's check of the fusion and answer
    sections (:func:`check_query_settings`): what every writer of query settings calls."""
    from index.generations import update_settings

    return update_settings(directory, check=check_query_settings, **changes)


def _fusion_settings(settings: IndexSettings) -> Fusion:
    try:
        return Fusion.from_dict(settings.fusion)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid fusion settings ({exc})") from exc


def _answer_settings(settings: IndexSettings, where: object) -> tuple[AnswerModel, float | None]:
    answer = settings.answer
    unknown = sorted(set(answer) - set(ANSWER_KEYS))
    if unknown:
        log.warning("index %s: answer setting(s) %s not used by this version (ignored)", where, ", ".join(unknown))
    model = default_answer_model()
    if "model" in answer:
        try:
            model = AnswerModel.from_dict(answer["model"])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"an invalid answer model ({exc})") from exc
    threshold = answer.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not 0.0 <= threshold <= 1.0):
        raise ValueError(f"an invalid answer threshold {threshold!r} (an answerability probability from 0 to 1)")
    if model.embedding_model and model.embedding_model != settings.model:
        log.warning("index %s embeds with %s but its answer model was fitted for %s: answers may be miscalibrated "
                    "(fit one: python scripts/fit_answer_model.py --index DIR --to-index %s)",
                    where, settings.model, model.embedding_model, where)
    return model, threshold


def _query_keys(settings: IndexSettings, queries: Sequence[str]) -> list[str]:
    """What a query is embedded as (the index's query prompt + the query), and kept by."""
    return Prompts.from_dict(settings.prompts).queries(list(queries))


class Engine:
    """Search, cited answers and the index lifecycle over one index directory. Thread-safe.

    ``max_k`` caps ``k`` (the HTTP API passes its lower limit); ``embedder`` shares an already
    loaded model; ``fusion`` and ``threshold`` override the manifest's settings for this engine
    only (evaluation sweeps use this); ``query_cache`` is how many query vectors it keeps
    (benchmarks that time new queries pass 0). Nothing is loaded until the first call or :meth:`load`.
    """

    def __init__(self, index_dir: Path | str | None = None, *, embedder: Embedder | None = None, max_k: int = MAX_K,
                 answer_k: int = ASK_K, max_sentences: int = 3, threshold: float | None = None,
                 fusion: Fusion | None = None, reranker: Any = DEFAULT_RERANKER, query_cache: int = QUERY_CACHE) -> None:
        if isinstance(max_k, bool) or not isinstance(max_k, int) or not 1 <= max_k <= MAX_K:
            raise ValueError(f"max_k must be an integer between 1 and {MAX_K}, got {max_k!r}")
        if isinstance(query_cache, bool) or not isinstance(query_cache, int) or query_cache < 0:
            raise ValueError(f"query_cache must be an integer >= 0, got {query_cache!r}")
        self.index_dir = Path(index_dir) if index_dir is not None else default_index_dir()
        self.max_k = max_k
        self.answer_k = min(answer_k, max_k)
        self._max_sentences = max_sentences
        self._threshold = threshold
        self._fusion = fusion
        self._reranker = reranker
        self._embedder = embedder
        self._snap: Snapshot | None = None
        self._answerer: Answerer | None = None
        self._lock = threading.Lock()  # guards (snapshot, answerer) and model loading
        self._write_lock = threading.Lock()  # one write at a time in this process
        self._fixed = False  # an engine made by `over` serves one in-memory store
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        #: query vectors by prompted text (the embedder is fixed per engine): a question is
        #: embedded once for its search and its answer, and a repeated query not at all
        self._query_vectors = VectorCache(query_cache)

    @classmethod
    def open(cls, index_dir: Path | str | None = None, **kwargs: Any) -> "Engine":
        """An engine with its index loaded now (a missing or invalid index raises a :class:`QAError`)."""
        return cls(index_dir, **kwargs).load()

    @classmethod
    def over(cls, store: IndexStore, **kwargs: Any) -> "Engine":
        """An engine over a store already in memory (evaluation's BM25-only index); it never reloads."""
        engine = cls(store.directory, **kwargs)
        snap = Snapshot(store, engine._fusion or fusion_settings(store.settings, store.directory), None)
        engine._snap, engine._answerer, engine._fixed = snap, engine._make_answerer(snap), True
        return engine

    # ------------------------------------------------------------------ loading
    def _load_snapshot(self) -> Snapshot:
        generation = current_generation(self.index_dir)
        store = IndexStore.load(self.index_dir, mmap=None)
        if self._embedder is not None and self._embedder.name != store.settings.model:
            raise IndexFormatError(f"index {self.index_dir} was built with model {store.settings.model!r} "
                                   f"but this engine uses {self._embedder.name!r}")
        fusion = self._fusion if self._fusion is not None else fusion_settings(store.settings, self.index_dir)
        return Snapshot(store, fusion, generation)

    def _make_answerer(self, snap: Snapshot) -> Answerer:
        model, stored_threshold = answer_settings(snap.store)
        threshold = self._threshold if self._threshold is not None else stored_threshold
        if self._reranker is DEFAULT_RERANKER:  # resolved once: a reload reuses the loaded model
            self._reranker = load_reranker()
        extra = {"reranker": self._reranker} if self._reranker is not None else {}
        return Answerer(_BoundRetriever(self, snap), k=self.answer_k, max_sentences=self._max_sentences,  # type: ignore[arg-type]
                        threshold=threshold, model=model, **extra)

    def _current(self) -> tuple[Snapshot, Answerer]:
        with self._lock:
            if self._snap is None or self._answerer is None:
                snap = self._load_snapshot()
                self._snap, self._answerer = snap, self._make_answerer(snap)
            return self._snap, self._answerer

    def load(self) -> "Engine":
        """Load the index now (raises :class:`IndexMissingError` / :class:`IndexFormatError`)."""
        self._current()
        return self

    @property
    def store(self) -> IndexStore:
        """The index generation currently served."""
        return self._current()[0].store

    @property
    def fusion(self) -> Fusion:
        return self._current()[0].fusion

    @property
    def embedder(self) -> Embedder:
        """The query model: the backend the passages were embedded with, loaded once and shared
        by every generation this engine serves."""
        if self._embedder is None:
            snap, _ = self._current()
            with self._lock:
                if self._embedder is None:
                    s = snap.store.settings
                    self._embedder = SentenceTransformerEmbedder(s.model, backend=s.embedding_backend)
        return self._embedder

    @property
    def model_name(self) -> str:
        return self._current()[0].store.settings.model

    @property
    def reranker(self) -> Any:
        """What reranks answer sentences (the shipped reader by default; None when off)."""
        return self._current()[1].reranker

    def warm_up(self) -> None:
        """Load the models and run one question end to end, so the first user does not wait."""
        _, answerer = self._current()
        answerer.ask("What happened?", k=1)
        warm = getattr(answerer.reranker, "warm_up", None)
        if warm is not None:  # the ask above may have had no candidate sentence to rerank
            warm()

    # ------------------------------------------------------------------ retrieval
    def embed_queries(self, queries: Sequence[str], *, _snap: Snapshot | None = None) -> np.ndarray:
        """Unit vectors for ``queries`` (with the index's query prompt), each embedded on its own:
        int8 dynamic quantisation scales activations per batch, so a vector would otherwise depend
        on the queries beside it, and a query must rank the same alone (``search``) as in a batch
        (``search_many``, evaluation). The last :data:`QUERY_CACHE` vectors are kept, so the
        answer to a question reuses its search's vector (the same one: same text, embedded alone)."""
        settings = (_snap or self._current()[0]).store.settings  # the index's query prompt and dimension
        texts = _query_keys(settings, queries)
        embedder = self.embedder
        vecs = self._query_vectors.vectors(texts, lambda one: embedder.encode(one, batch_size=1))
        if vecs.shape[1] != settings.dim:
            raise IndexFormatError(f"the query model gives {vecs.shape[1]}-d vectors, the index holds {settings.dim}-d")
        return vecs

    def sentence_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` as timelines embed their sentences (one text per model call,
        kept for this index generation with the answers' units: :meth:`qa.answer.Answerer.sentence_vectors`;
        answers put the index's passage prompt, if any, before each unit first)."""
        return self._current()[1].sentence_vectors(texts)

    def forget_sentences(self, texts: Sequence[str] | None = None) -> None:
        """Drop the kept vectors of these sentences (None: all; answers' units, timelines' event
        sentences): latency benchmarks time each call as if the sentences had never been read."""
        self._current()[1].forget_sentences(texts)

    def forget_queries(self, queries: Sequence[str]) -> None:
        """Drop the kept vectors of ``queries``: their next search embeds them again, as new queries
        (latency benchmarks time each question as if it had never been asked)."""
        self._query_vectors.discard(_query_keys(self._current()[0].store.settings, queries))

    def rankings(self, queries: Sequence[str], depth: int, modes: Iterable[Mode] = (Mode.DENSE, Mode.BM25),
                 filters: SearchFilter | None = None, *, _snap: Snapshot | None = None) -> dict[str, list[Ranking]]:
        """Each retriever's ``(row, score)`` ranking of ``depth`` rows per query:
        ``{"dense": [...], "bm25": [...]}``, one list entry per query. Filters apply before the cut."""
        snap = _snap or self._current()[0]
        f = filters or NO_FILTER
        allowed = snap.allowed(f)
        wanted = {Mode.parse(m) for m in modes}
        out: dict[str, list[Ranking]] = {}
        store = snap.store
        dense, lexical = wanted & {Mode.DENSE, Mode.HYBRID}, wanted & {Mode.BM25, Mode.HYBRID}

        def bm25() -> list[Ranking]:
            return [store.lexical.ranking(q, depth, allowed=allowed) for q in queries]

        # Both retrievers: BM25 runs beside the query embedding (ONNX Runtime and NumPy release
        # the GIL), so a hybrid query costs about the slower of the two, not their sum.
        pending = _side_pool().submit(bm25) if dense and lexical else None
        try:
            if dense:
                vecs = self.embed_queries(queries, _snap=snap)
                out["dense"] = store.dense.rankings(vecs, depth, allowed=allowed)
        finally:
            if pending is not None and "dense" not in out:
                pending.cancel()
        if lexical:
            out["bm25"] = pending.result() if pending is not None else bm25()
        return out

    def rank(self, rankings: dict[str, list[Ranking]], i: int, k: int, mode: Mode, fusion: Fusion | None = None) -> Ranking:
        """Query ``i``'s final ``k`` rows for ``mode`` from :meth:`rankings`' output."""
        if mode is Mode.HYBRID:
            return (fusion or self.fusion).rank(rankings["dense"][i], rankings["bm25"][i], k)
        return list(rankings[mode.value][i][:k])

    def _search_many(self, snap: Snapshot, queries: Sequence[str], k: int, mode: Mode, f: SearchFilter) -> list[list[Hit]]:
        depth = k
        if mode is Mode.HYBRID:
            # k within the fusion depth: each retriever's top `depth` is all fusion reads. Deeper k:
            # the tail below the fused head comes from the full candidate lists (MAX_K deep), the
            # same lists evaluation ranks with, so every k gives the same ranking everywhere.
            depth = snap.fusion.depth if k <= snap.fusion.depth else max(k, MAX_K)
        runs = self.rankings(queries, depth, [mode], f, _snap=snap)
        out: list[list[Hit]] = []
        for i in range(len(queries)):
            top = self.rank(runs, i, k, mode, snap.fusion)
            components = {name: dict(r[i]) for name, r in runs.items()}
            hits = [self._hit(snap.store, rank, row, score, components) for rank, (row, score) in enumerate(top, start=1)]
            if f.sort is Sort.NEWEST:
                hits = _newest_first(hits)
            out.append(hits)
        return out

    @staticmethod
    def _hit(store: IndexStore, rank: int, row: int, score: float, components: dict[str, dict[int, float]]) -> Hit:
        p = store.passages[row]
        return Hit(rank=rank, score=float(score), passage=p, article=store.articles[p.doc_id],
                   components={n: c[row] for n, c in components.items() if row in c})

    def search_many(self, queries: Sequence[str], k: int = SEARCH_K, mode: str | Mode = Mode.HYBRID,
                    filters: SearchFilter | None = None) -> list[list[Hit]]:
        """Top-``k`` passages for each query, in one batch (one embedding call for all queries)."""
        if isinstance(queries, str) or not isinstance(queries, Sequence):
            raise QueryError("queries must be a list of strings")
        if not 1 <= len(queries) <= MAX_BATCH:
            raise QueryError(f"give between 1 and {MAX_BATCH} queries, got {len(queries)}")
        checked = [validate_query(q, k, self.max_k)[0] for q in queries]
        snap, _ = self._current()
        return self._search_many(snap, checked, k, Mode.parse(mode), filters or NO_FILTER)

    def search(self, query: str, k: int = SEARCH_K, mode: str | Mode = Mode.HYBRID,
               filters: SearchFilter | None = None) -> list[Hit]:
        """Top-``k`` passages for ``query``: the batch of one of :meth:`search_many`."""
        query, k = validate_query(query, k, self.max_k)
        return self.search_many([query], k, mode, filters)[0]

    def ask(self, question: str, k: int | None = None, mode: str | Mode = Mode.HYBRID,
            filters: SearchFilter | None = None) -> Answer:
        """A cited, extractive answer read from the top ``k`` passages (or "not confident")."""
        question, k = validate_query(question, self.answer_k if k is None else k, self.max_k)
        parsed = Mode.parse(mode)
        _, answerer = self._current()
        answer = answerer.ask(question, k=k, mode=parsed.value, filters=filters)
        topic = story_topic(question)
        return replace(answer, timeline=topic) if topic else answer

    def timeline(self, topic: str, k: int | None = None, filters: SearchFilter | None = None) -> Timeline:
        """The story of ``topic``: the dated events of the articles behind the top ``k`` passages of
        the hybrid search for it (``filters`` choose the articles, as in :meth:`search`), one entry per
        event with every article that reports it cited, in date order (:mod:`qa.timeline`)."""
        topic, k = validate_query(topic, TIMELINE_K if k is None else k, self.max_k)
        f = filters or NO_FILTER
        snap, answerer = self._current()
        hits = self._search_many(snap, [topic], k, Mode.HYBRID, f)[0]
        articles = list({h.article.doc_id: h.article for h in hits}.values())
        # the answerer's kept sentence vectors: a story's sentences are embedded once per index
        # generation, whichever timeline (or answer, for a model without prompts) reads them first
        return build_timeline(topic, articles, filters=f, embed=answerer.sentence_vectors)

    # ------------------------------------------------------------------ what the index holds
    def stats(self) -> IndexStats:
        snap, _ = self._current()
        m, s = snap.store.manifest, snap.store.settings
        return IndexStats(index_dir=str(snap.store.directory), articles=len(snap.store.articles),
                          passages=int(m.get("counts", {}).get("passages", len(snap.store.passages))), model=s.model,
                          dim=s.dim, created=m.get("created", ""), package_version=m.get("package_version", ""),
                          backend=s.embedding_backend, generation=int(m.get("generation", 0) or 0),
                          fusion=snap.fusion.to_dict(), updated=m.get("updated") or m.get("created", ""))

    def articles(self) -> list[ArticleInfo]:
        """Every indexed article with its number of live passages, newest first (undated last)."""
        infos = self._current()[0].store.article_infos()
        infos.sort(key=lambda i: (-(_day_ordinal(i.date)), i.doc_id))
        return infos

    # ------------------------------------------------------------------ writes
    def _model_for_writes(self) -> Embedder:
        try:
            return self.embedder
        except IndexMissingError:  # no index yet: start one with the default model
            if self._embedder is None:
                self._embedder = SentenceTransformerEmbedder()
            return self._embedder

    def add(self, articles: Iterable[Article], progress_callback: ProgressCallback | None = None) -> BuildReport:
        """Add or replace (by ``doc_id``) articles, write a new generation and serve it."""
        progress = progress_callback or _no_progress
        with self._write_lock:
            model = self._model_for_writes()

            def on_batch(fraction: float, embedded: int) -> None:
                progress(0.1 + 0.8 * fraction, f"indexing: {fraction:.0%} of the text, {embedded:,} passages embedded")

            report = builder.add_articles(articles, self.index_dir, embedder=model, progress=on_batch)
            if report.written:
                progress(0.92, "loading the updated index")
                self.refresh(force=True)
            progress(1.0, "done")
            return report

    def add_files(self, paths: str | Path | Iterable[str | Path], progress_callback: ProgressCallback | None = None) -> BuildReport:
        """Ingest ``paths`` (one file or folder, or several) and :meth:`add` them. Bad files raise a
        :class:`QAError` and leave the served index unchanged."""
        progress = progress_callback or _no_progress
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if not paths:
            raise QueryError("no files to add")
        progress(0.0, "reading files")
        articles = load_articles(paths)
        progress(0.1, f"read {len(articles)} article(s); embedding new passages")
        return self.add(articles, progress)

    def delete(self, doc_ids: str | Iterable[str]) -> BuildReport:
        """Remove articles by id: one id (a ``str``) or several (an unknown id is a
        :class:`QAError` and nothing is written)."""
        ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
        if not ids or not all(isinstance(d, str) and d for d in ids):
            raise QueryError("give one or more article ids to delete")
        with self._write_lock:
            report = builder.delete_articles(ids, self.index_dir)
            if report.written:
                self.refresh(force=True)
            return report

    def set_fusion(self, fusion: Fusion) -> None:
        """Record ``fusion`` in the index manifest (a new generation every surface then reads)."""
        if not isinstance(fusion, Fusion):
            raise QueryError("fusion must be a qa.Fusion")
        with self._write_lock:
            update_query_settings(self.index_dir, fusion=fusion.to_dict())
            if self._snap is not None:
                self.refresh(force=True)

    def set_answer_model(self, model: AnswerModel | None) -> None:
        """Record ``model`` (fitted for this index's embedding model by ``scripts/fit_answer_model.py``)
        in the index manifest; ``None`` goes back to the bundled model. A threshold set in the manifest
        is dropped with the model it was set for: the new model brings its own. Every surface then
        answers with it (a new generation)."""
        if model is not None and not isinstance(model, AnswerModel):
            raise QueryError("model must be a qa.learned.AnswerModel")
        with self._write_lock:
            snap = self._current()[0]
            if model is not None and model.embedding_model and model.embedding_model != snap.store.settings.model:
                raise QueryError(f"this answer model was fitted for {model.embedding_model!r}; "
                                 f"index {self.index_dir} embeds with {snap.store.settings.model!r}")
            answer = {k: v for k, v in snap.store.settings.answer.items() if k not in ANSWER_KEYS}
            if model is not None:
                answer["model"] = model.to_dict()
            update_query_settings(self.index_dir, answer=answer)
            self.refresh(force=True)

    # ------------------------------------------------------------------ live reload
    def refresh(self, force: bool = False) -> bool:
        """Serve the newest generation on disk if it differs from the one served. Returns True
        when a new generation was swapped in. A failed load keeps the current one (and logs)."""
        current = self._snap
        if self._fixed:
            return False
        try:
            generation = current_generation(self.index_dir)
        except QAError:
            return False
        if not force and current is not None and generation == current.generation:
            return False
        try:
            snap = self._load_snapshot()
        except QAError as exc:
            if current is None or force:
                raise
            log.warning("not reloading %s: %s", self.index_dir, exc)
            return False
        answerer = self._make_answerer(snap)
        with self._lock:
            self._snap, self._answerer = snap, answerer
        return True

    def watch(self, interval: float = RELOAD_INTERVAL_S) -> None:
        """Start a daemon thread that calls :meth:`refresh` every ``interval`` seconds."""
        if self._watcher is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    if self.refresh():
                        log.info("serving index generation %s", self._snap.generation if self._snap else "?")
                except Exception:  # never let the watcher die; the next tick retries
                    log.exception("index reload failed")

        self._watcher = threading.Thread(target=loop, name="qa-index-watch", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stop the :meth:`watch` thread."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None


_SIDE_POOL: ThreadPoolExecutor | None = None
_SIDE_POOL_LOCK = threading.Lock()


def _side_pool() -> ThreadPoolExecutor:
    """Threads that run a hybrid query's BM25 half beside its dense half (shared by all engines)."""
    global _SIDE_POOL
    with _SIDE_POOL_LOCK:
        if _SIDE_POOL is None:
            _SIDE_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="newsqa-bm25")
        return _SIDE_POOL


def _day_ordinal(date: str) -> int:
    day = day_of(date)
    return day.toordinal() if day else 0


def _newest_first(hits: list[Hit]) -> list[Hit]:
    ordered = sorted(hits, key=lambda h: (-_day_ordinal(h.article.date), h.rank))
    return [Hit(i, h.score, h.passage, h.article, h.components) for i, h in enumerate(ordered, start=1)]
