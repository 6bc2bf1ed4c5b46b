"""Measure retrieval: ``evaluate(dataset)`` runs every mode and returns one table.

>>> from qa import evaluate
>>> result = evaluate("../shared/data/scifact", modes="bm25,hybrid")
>>> print(result.table())

A dataset is a BEIR folder, a question set (``.jsonl`` with ``question`` / ``evidence``) over an
existing index, or TREC qrels + topics (``qrels=``, ``topics=``, with ``corpus=`` or an index).
Document-level judgments are scored on documents: passage rankings are cut to documents by their
best passage (first occurrence). Question sets are scored on passages. Metrics and significance
tests come from ranx (see :mod:`qa.metrics`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.chunking import ChunkSettings, chunk_articles, unique_passages
from index.defaults import MAX_K, Mode, cache_dir, default_index_dir
from index.embedding import Embedder, SentenceTransformerEmbedder, resolve_model
from index.errors import IndexMissingError, QAError
from index.lexical import BM25Settings, LexicalIndex
from index.manifest import FORMAT_VERSION
from index.records import Passage
from index.settings import IndexSettings
from index.store import IndexStore

from . import metrics as M
from .datasets import Dataset, DatasetError, Question, is_question_set, load_beir, load_questions, load_trec, question_qrels
from .engine import Engine
from .fusion import Fusion, FusionMethod

log = logging.getLogger(__name__)

Ranking = list[tuple[int, float]]
DEFAULT_DEPTH = MAX_K  # passages retrieved per query and retriever (the engine's deep-k candidate depth)


# ------------------------------------------------------------------ result types
@dataclass
class SystemResult:
    name: str
    metrics: dict[str, float]
    #: paired test against the baseline on the first metric (None for the baseline itself)
    p_value: float | None = None
    improved: int | None = None
    hurt: int | None = None
    #: every metric's comparison with the baseline: {metric: {"p_value", "improved", "hurt"}}
    comparisons: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "metrics": {k: round(v, 4) for k, v in self.metrics.items()},
                "p_value": None if self.p_value is None else round(self.p_value, 6),
                "improved": self.improved, "hurt": self.hurt}


@dataclass
class SweepResult:
    metric: str
    #: every setting tried: {"method", "rrf_k", "dense_weight", metric: value}, best first
    trials: list[dict[str, Any]]
    default: dict[str, Any]

    @property
    def best(self) -> dict[str, Any]:
        return self.trials[0]

    def best_fusion(self, depth: int = 100) -> Fusion:
        b = self.best
        return Fusion(method=b["method"], rrf_k=b["rrf_k"], dense_weight=b["dense_weight"], depth=depth)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "best": self.best, "default": self.default, "trials": self.trials}


@dataclass
class EvalResult:
    """The table ``qa eval`` prints, plus what ``--save`` writes."""

    dataset: str
    queries: int
    systems: list[SystemResult]
    metrics: list[str]
    baseline: str | None
    stat_test: str = "student"
    level: str = "document"  # or "passage" (question sets)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: {system: {metric: {query id: score}}}
    per_query: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict, repr=False)
    #: {system: {query id: {doc or passage id: score}}}
    runs: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict, repr=False)
    sweep: SweepResult | None = None

    def system(self, name: str) -> SystemResult:
        for s in self.systems:
            if s.name == name:
                return s
        raise KeyError(name)

    def __getitem__(self, name: str) -> dict[str, float]:
        return self.system(name).metrics

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"dataset": self.dataset, "queries": self.queries, "systems": [s.to_dict() for s in self.systems]}
        if self.sweep is not None:
            d["sweep"] = self.sweep.to_dict()
        if self.notes:
            d["notes"] = self.notes
        return d

    def rows(self) -> list[dict[str, Any]]:
        return [{"system": s.name, **{m: round(s.metrics[m], 4) for m in self.metrics}, "p_value": s.p_value,
                 "improved": s.improved, "hurt": s.hurt} for s in self.systems]

    def table(self) -> str:
        first = self.metrics[0]
        head = ["system", *self.metrics, f"p vs {self.baseline}" if self.baseline else "p", f"+/- ({first})"]
        body = []
        for s in self.systems:
            p = "" if s.p_value is None else (f"{s.p_value:.2g}" if s.p_value >= 1e-4 else "<1e-4")
            wl = "" if s.improved is None else f"+{s.improved}/-{s.hurt}"
            body.append([s.name, *(f"{s.metrics[m]:.4f}" for m in self.metrics), p, wl])
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
        fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
        lines = [f"{self.dataset}: {self.queries} queries, {self.level}-level judgments",
                 fmt(head), "  ".join("-" * w for w in widths), *map(fmt, body)]
        if self.baseline:
            lines.append(f"p: paired {'t-test' if self.stat_test == 'student' else self.stat_test + ' test'} on {first} "
                         f"against {self.baseline}; +/-: queries improved/hurt on {first}")
        lines.extend(self.notes)
        if self.sweep is not None:
            b, dflt = self.sweep.best, self.sweep.default
            lines.append(f"sweep ({len(self.sweep.trials)} fusion settings, {self.sweep.metric}): best {_setting(b)} = "
                         f"{b[self.sweep.metric]:.4f}; default {_setting(dflt)} = {dflt[self.sweep.metric]:.4f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def save(self, directory: Path | str) -> list[Path]:
        """Write TREC runs, per-query scores, the table (CSV and JSON) and a PNG plot to ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for name, run in self.runs.items():
            p = out / f"run.{name}.trec"
            with p.open("w", encoding="utf-8") as f:
                for qid, docs in run.items():
                    ranked = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))
                    for rank, (did, score) in enumerate(ranked, start=1):
                        f.write(f"{qid} Q0 {did} {rank} {score:.6f} {name}\n")
            written.append(p)
        p = out / "per_query.csv"
        with p.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["system", "query_id", *self.metrics])
            for name, scores in self.per_query.items():
                qids = next(iter(scores.values())).keys() if scores else []
                for qid in qids:
                    w.writerow([name, qid, *(f"{scores[m][qid]:.6f}" for m in self.metrics)])
        written.append(p)
        p = out / "results.csv"
        with p.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=["system", *self.metrics, "p_value", "improved", "hurt"])
            w.writeheader()
            w.writerows(self.rows())
        written.append(p)
        p = out / "results.json"
        p.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        written.append(p)
        p = out / "results.txt"
        p.write_text(self.table() + "\n", encoding="utf-8")
        written.append(p)
        written.append(self.plot(out / "metrics.png"))
        return written

    def plot(self, path: Path | str) -> Path:
        """Grouped bars: one group per metric, one bar per system."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        n = len(self.systems)
        fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(self.metrics) * max(n, 2) / 2, 4))
        width = 0.8 / max(n, 1)
        for i, s in enumerate(self.systems):
            xs = [j + (i - (n - 1) / 2) * width for j in range(len(self.metrics))]
            bars = ax.bar(xs, [s.metrics[m] for m in self.metrics], width, label=s.name)
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
        ax.set_xticks(range(len(self.metrics)), self.metrics)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("score")
        ax.set_title(f"{self.dataset} ({self.queries} queries)")
        ax.legend(loc="upper left", fontsize=8, ncols=min(n, 4))
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def _setting(t: Mapping[str, Any]) -> str:
    if t["method"] == "rrf":
        return f"rrf k={t['rrf_k']} dense_weight={t['dense_weight']}"
    return f"{t['method']} dense_weight={t['dense_weight']}"


# ------------------------------------------------------------------ index for a dataset
def cache_root() -> Path:
    """``$QA_CACHE/eval`` or ``~/.cache/newsqa/eval``."""
    return cache_dir() / "eval"


def _backend(embedder: Embedder | None) -> str:
    """The embedding backend (torch, onnx, onnx-int8) the dataset's index is built with."""
    from index.embedding import default_backend

    return embedder.backend if embedder is not None else default_backend()


def settings_hash(model: str, chunking: ChunkSettings, bm25: BM25Settings, title_in_passage: bool, backend: str = "") -> str:
    d = {"format": FORMAT_VERSION, "model": model, "chunking": asdict(chunking), "bm25": asdict(bm25),
         "title_in_passage": title_in_passage}
    if backend and backend != "torch":  # torch-built caches keep the key they had before backends existed
        d["backend"] = backend
    blob = json.dumps(d, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _chunk(dataset: Dataset, embedder: Embedder, chunking: ChunkSettings, show_progress: bool) -> list[Passage]:
    """The passages the index builder would make for ``dataset``, without embedding them."""
    by_doc = chunk_articles(dataset.corpus, chunking, getattr(embedder, "count_tokens", None), show_progress=show_progress)
    return unique_passages(p for ps in by_doc.values() for p in ps)


@dataclass
class Retrievers:
    """The engine a dataset is evaluated through, and its passages by row."""

    engine: Engine
    passages: list[Passage]
    index_dir: Path | None
    built_seconds: float = 0.0


def _bm25_only_store(passages: list[Passage], model: str, chunking: ChunkSettings, bm25: BM25Settings,
                     title_in_passage: bool, show_progress: bool) -> IndexStore:
    """An in-memory, BM25-only index (no vectors): BM25 runs on a corpus never embedded."""
    lexical = LexicalIndex.build([p.index_text(title_in_passage) for p in passages], bm25, show_progress=show_progress)
    settings = IndexSettings(model=model, dim=0, chunking=chunking, bm25=bm25, title_in_passage=title_in_passage)
    return IndexStore(Path(), settings, {}, passages, np.zeros((len(passages), 0), dtype=np.float32), None,  # type: ignore[arg-type]
                      lexical, {"counts": {"passages": len(passages)}}, live=np.ones(len(passages), dtype=bool))


def prepare_index(dataset: Dataset, *, need_dense: bool, embedder: Embedder | None = None, model: str | None = None,
                  chunking: ChunkSettings | None = None, bm25: BM25Settings | None = None, title_in_passage: bool = True,
                  cache_dir: Path | str | None = None, fusion: Fusion | None = None, show_progress: bool = False) -> Retrievers:
    """The dataset's index from the cache (``<corpus hash>-<settings hash>``), built when missing,
    behind an :class:`Engine`.

    BM25-only runs with no cached index chunk and index in memory, so no embedding is needed.
    """
    from index.builder import add_articles

    chunking = chunking or ChunkSettings()
    bm25 = bm25 or BM25Settings()
    model_name = embedder.name if embedder is not None else resolve_model(model)[0]
    key = f"{dataset.corpus_hash}-{settings_hash(model_name, chunking, bm25, title_in_passage, _backend(embedder))}"
    directory = Path(cache_dir) if cache_dir else cache_root() / key
    t0 = time.perf_counter()
    store: IndexStore | None = None
    try:
        store = IndexStore.load(directory)
        if len(store.articles) != len(dataset.corpus):
            log.warning("cached index %s holds %d documents, the corpus %d; updating it", directory, len(store.articles), len(dataset.corpus))
            store = None
    except IndexMissingError:
        store = None
    except QAError as exc:  # unreadable or from another version: rebuild it
        log.warning("rebuilding cached index %s: %s", directory, exc)
        store = None
    if store is None and not need_dense:
        emb = embedder or SentenceTransformerEmbedder(model)
        passages = _chunk(dataset, emb, chunking, show_progress)
        engine = Engine.over(_bm25_only_store(passages, model_name, chunking, bm25, title_in_passage, show_progress),
                             embedder=emb, fusion=fusion or Fusion())
        return Retrievers(engine, passages, None, time.perf_counter() - t0)
    if store is None:
        emb = embedder or SentenceTransformerEmbedder(model)
        report = add_articles(dataset.corpus, directory, embedder=emb, chunking=chunking, bm25=bm25,
                              title_in_passage=title_in_passage, show_progress=show_progress)
        log.info("%s", report.summary())
        embedder = emb
    # the cached index stands for a new index of the dataset: ranked with a new index's fusion
    # (whatever the cache's manifest recorded when it was built) unless one is passed
    engine = Engine.open(directory, embedder=embedder, fusion=fusion or Fusion())
    return Retrievers(engine, list(engine.store.passages), directory, time.perf_counter() - t0)


# ------------------------------------------------------------------ running queries
def _progress(items: Sequence[Any], desc: str, show: bool):  # type: ignore[no-untyped-def]
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="query" if desc != "sweep" else "setting")


def retrieve(retr: Retrievers, queries: Mapping[str, str], modes: Sequence[Mode], depth: int,
             show_progress: bool = False) -> dict[str, dict[str, Ranking]]:
    """``{"dense"|"bm25": {query id: [(row, score), ...]}}``: each retriever's passage ranking,
    from :meth:`Engine.rankings`, the engine's one retrieval path."""
    qids = list(queries)
    out: dict[str, dict[str, Ranking]] = {}
    step = 256  # queries per engine call: bounded memory, and progress on long runs
    for start in _progress(range(0, len(qids), step), "queries", show_progress and len(qids) > step):
        batch = qids[start:start + step]
        got = retr.engine.rankings([queries[q] for q in batch], depth, modes)
        for name, runs in got.items():
            out.setdefault(name, {}).update(zip(batch, runs))
    return out


def to_ids(ranking: Ranking, passages: Sequence[Passage], document_level: bool, limit: int) -> dict[str, float]:
    """A passage ranking as ``{id: score}``: documents by their best passage, or passages as is."""
    out: dict[str, float] = {}
    for row, score in ranking:
        key = passages[row].doc_id if document_level else passages[row].passage_id
        if key not in out:
            out[key] = float(score)
            if len(out) >= limit:
                break
    return out


def runs_for(rankings: Mapping[str, Mapping[str, Ranking]], modes: Sequence[Mode], fusion: Fusion, qids: Sequence[str],
             passages: Sequence[Passage], document_level: bool, limit: int, depth: int) -> dict[str, dict[str, dict[str, float]]]:
    runs: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        run: dict[str, dict[str, float]] = {}
        for q in qids:
            if mode is Mode.HYBRID:
                ranking = fusion.rank(rankings["dense"][q], rankings["bm25"][q], depth)
            else:
                ranking = rankings[mode.value][q]
            run[q] = to_ids(ranking, passages, document_level, limit)
        runs[mode.value] = run
    return runs


def sweep_fusion(rankings: Mapping[str, Mapping[str, Ranking]], qrels: M.QrelsDict, passages: Sequence[Passage],
                 document_level: bool, metric: str, default: Fusion, depth: int, show_progress: bool = False) -> SweepResult:
    """Score a grid of fusion settings (RRF k x dense weight; min-max and DBSF weighted sums) on ``metric``."""
    grid: list[Fusion] = []
    for k in (5, 10, 20, 40, 60, 100):
        for w in (0.3, 0.4, 0.5, 0.6, 0.7):
            grid.append(Fusion(method=FusionMethod.RRF, rrf_k=k, dense_weight=w, depth=default.depth))
    for method in (FusionMethod.WEIGHTED, FusionMethod.DBSF):
        for w in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            grid.append(Fusion(method=method, dense_weight=w, depth=default.depth))
    if default not in grid:
        grid.append(default)
    qids = list(qrels)
    cut = 100  # documents kept per query: enough for any @k <= 100 metric
    trials: list[dict[str, Any]] = []
    dflt: dict[str, Any] = {}
    for f in _progress(grid, "sweep", show_progress):
        run = runs_for(rankings, [Mode.HYBRID], f, qids, passages, document_level, cut, depth)["hybrid"]
        value = M.mean_scores(qrels, run, [metric])[metric]
        t = {"method": f.method.value, "rrf_k": f.rrf_k, "dense_weight": f.dense_weight, metric: round(value, 4)}
        trials.append(t)
        if f == default:
            dflt = t
    # ties: the default first, then the fewest changes from it
    trials.sort(key=lambda t: (-t[metric], t["method"] != default.method.value, abs(t["dense_weight"] - 0.5), t["rrf_k"]))
    return SweepResult(metric=metric, trials=trials, default=dflt)


# ------------------------------------------------------------------ the entry point
def _parse_modes(modes: str | Sequence[str | Mode] | None) -> list[Mode]:
    if modes is None:
        return [Mode.BM25, Mode.DENSE, Mode.HYBRID]
    items = modes.split(",") if isinstance(modes, str) else list(modes)
    out = [Mode.parse(m) for m in items if str(m.value if isinstance(m, Mode) else m).strip()]
    if not out:
        raise DatasetError("no modes given; use bm25, dense and/or hybrid")
    return list(dict.fromkeys(out))


def evaluate(
    dataset: str | Path | Dataset | None = None,
    *,
    modes: str | Sequence[str | Mode] | None = None,
    metrics: str | Sequence[str] | None = None,
    baseline: str | None = "bm25",
    save: str | Path | None = None,
    sweep: bool = False,
    split: str = "test",
    qrels: str | Path | None = None,
    topics: str | Path | None = None,
    corpus: str | Path | None = None,
    index: str | Path | None = None,
    embedder: Embedder | None = None,
    model: str | None = None,
    fusion: Fusion | None = None,
    chunking: ChunkSettings | None = None,
    bm25: BM25Settings | None = None,
    title_in_passage: bool = True,
    cache_dir: str | Path | None = None,
    depth: int = DEFAULT_DEPTH,
    stat_test: str = "student",
    show_progress: bool = False,
) -> EvalResult:
    """Evaluate retrieval modes on labelled queries and return the table (see :class:`EvalResult`).

    ``dataset`` is a BEIR folder, a question-set ``.jsonl`` (scored over ``index``, default
    ``$QA_INDEX`` or ``qa-index``), or a loaded :class:`~qa.datasets.Dataset`; or give ``qrels``
    and ``topics`` (TREC) with ``corpus`` (BEIR ``corpus.jsonl``) or an ``index``. BEIR and TREC
    corpora are indexed once into the cache (see :func:`cache_root`) and reused.
    """
    t_start = time.perf_counter()
    mode_list = _parse_modes(modes)
    if stat_test not in {"student", "fisher"}:
        raise DatasetError(f"unknown stat_test {stat_test!r}; use student or fisher")
    if not 10 <= depth <= 10_000:
        raise DatasetError(f"depth must be between 10 and 10000, got {depth}")
    need_dense = Mode.DENSE in mode_list or Mode.HYBRID in mode_list
    notes: list[str] = []
    questions: list[Question] | None = None
    ds: Dataset | None = None

    path = Path(dataset) if isinstance(dataset, (str, Path)) else None
    if isinstance(dataset, Dataset):
        ds = dataset
    elif qrels is not None or topics is not None:
        if qrels is None or topics is None:
            raise DatasetError("TREC input needs both qrels and topics files")
        ds = load_trec(qrels, topics, corpus, name=path.name if path else None)
    elif path is None:
        raise DatasetError("no dataset given: a BEIR folder, a question-set .jsonl, or qrels + topics")
    elif path.is_dir():
        ds = load_beir(path, split)
    elif is_question_set(path):
        questions = load_questions(path)
    elif path.exists():
        raise DatasetError(f"{path}: not a BEIR folder or a question-set .jsonl (records with 'id', 'question', 'evidence')")
    else:
        raise DatasetError(f"{path}: no such dataset folder or file")

    # -- retrievers and judgments
    t0 = time.perf_counter()
    if ds is not None and ds.corpus:
        retr = prepare_index(ds, need_dense=need_dense, embedder=embedder, model=model, chunking=chunking, bm25=bm25,
                             title_in_passage=title_in_passage, cache_dir=cache_dir, fusion=fusion, show_progress=show_progress)
    else:
        engine = Engine.open(index or default_index_dir(), embedder=embedder, fusion=fusion)
        retr = Retrievers(engine, list(engine.store.passages), engine.store.directory)
    fusion = retr.engine.fusion  # passed, else a new index's (dataset caches) or the index manifest's (--index)
    index_s = time.perf_counter() - t0
    if questions is not None:
        assert path is not None
        name = path.stem
        unmatched: list[str] = []
        qrels_d = question_qrels(questions, retr.passages, path, unmatched=unmatched)
        if unmatched:
            notes.append(f"{len(unmatched)} questions' evidence is in no passage of the index (e.g. kept only as an "
                         f"article's date) and they are not scored: {', '.join(unmatched)}")
        query_text = {q.id: q.question for q in questions if q.id in qrels_d}
        unanswerable = [q.id for q in questions if not q.answerable]
        document_level = False
        if unanswerable:
            notes.append(f"{len(unanswerable)} of {len(questions)} questions expect no answer (empty evidence) and are "
                         f"not scored: {', '.join(unanswerable)}")
    else:
        assert ds is not None
        name = ds.name
        if not ds.corpus:  # evaluating an existing index: judged documents must be in it
            known = {p.doc_id for p in retr.passages}
            missing = sorted({d for docs in ds.qrels.values() for d in docs} - known)
            if missing:
                notes.append(f"{len(missing)} judged documents are not in the index (e.g. {missing[0]!r})")
        qrels_d = {q: docs for q, docs in ds.qrels.items() if any(r > 0 for r in docs.values())}
        dropped = len(ds.qrels) - len(qrels_d)
        if dropped:
            notes.append(f"{dropped} judged queries have no relevant document and are not scored")
        query_text = {q: ds.queries[q] for q in qrels_d}
        document_level = True
        if ds.empty_docs:
            notes.append(f"{ds.empty_docs} empty documents in the corpus are not indexed")
    if not qrels_d:
        raise DatasetError(f"{name}: no query with a relevant document or passage to score")

    metric_names = M.parse_metrics(metrics, M.DEFAULT_METRICS if document_level else M.QUESTION_METRICS)
    if baseline == "bm25" and Mode.BM25 not in mode_list:  # the default baseline is not being run
        baseline = mode_list[0].value if len(mode_list) > 1 else None
    if baseline is not None and baseline not in {m.value for m in mode_list}:
        raise DatasetError(f"baseline {baseline!r} is not among the modes ({', '.join(m.value for m in mode_list)})")

    # -- run every mode
    t0 = time.perf_counter()
    qids = list(qrels_d)
    cand = max(depth, fusion.depth)
    rankings = retrieve(retr, {q: query_text[q] for q in qids}, mode_list, cand, show_progress)
    runs = runs_for(rankings, mode_list, fusion, qids, retr.passages, document_level, depth, cand)
    query_s = time.perf_counter() - t0

    # -- score with ranx
    means, comps = M.compare(qrels_d, runs, metric_names, baseline or "", stat_test)
    first = metric_names[0]
    systems = []
    for mode in mode_list:
        s = SystemResult(name=mode.value, metrics=means[mode.value])
        c = comps.get(mode.value)
        if c:
            s.p_value, s.improved, s.hurt = c[first].p_value, c[first].improved, c[first].hurt
            s.comparisons = {m: asdict(v) for m, v in c.items()}
        systems.append(s)
    per_q = {name_: M.per_query(qrels_d, run, metric_names) for name_, run in runs.items()}

    sweep_res = None
    if sweep:
        if not (Mode.DENSE in mode_list and Mode.BM25 in mode_list) and Mode.HYBRID not in mode_list:
            raise DatasetError("--sweep tunes hybrid fusion; include the hybrid mode")
        sweep_res = sweep_fusion(rankings, qrels_d, retr.passages, document_level, first, fusion, cand, show_progress)

    result = EvalResult(dataset=name, queries=len(qids), systems=systems, metrics=metric_names, baseline=baseline,
                        stat_test=stat_test, level="document" if document_level else "passage", notes=notes,
                        per_query=per_q, runs=runs, sweep=sweep_res)
    result.seconds = {"index": round(index_s, 1), "query": round(query_s, 1), "total": round(time.perf_counter() - t_start, 1)}
    if save:
        result.save(save)
    return result
