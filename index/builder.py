"""Build or update an index from files: ingest, chunk, embed only what is new, write atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import ChunkSettings, iter_passages, iter_unique_passages
from .dense import DEFAULT_THRESHOLD, KINDS
from .embedding import ACCELERATOR_BATCH, Embedder, SentenceTransformerEmbedder, resolve_backend, resolve_device, resolve_model
from .errors import ArticleNotFoundError, IndexFormatError, IndexMissingError, QAError
from .ingest import load_articles
from .lexical import BM25Settings
from .progress import stage
from .prompts import Prompts, embedder_prompts
from .records import Article, Passage
from .generations import write_lock
from .settings import IndexSettings
from .store import IndexStore
from .tables import ArticleInfo

log = logging.getLogger(__name__)

#: Passages embedded and written per step of a build (what bounds its memory, with the model's batch).
EMBED_STEP = 4096  # = the ONNX pipeline's sort window: batches (and int8 vectors) as an all-at-once encode
#: The model's batch when a build embeds passages. The ONNX Runtime arena grows with batch x
#: sequence^2 (attention): ~470 MB at 64 passages of 256 word pieces, ~235 MB at 32
#: (docs/security.md). Kept at 64: int8 dynamic quantisation scales activations per batch, so
#: another batch size gives slightly different vectors (and moves near-tied rankings).
EMBED_BATCH = 64
#: ``progress(fraction of the input text done, passages embedded so far)``.
BuildProgress = Callable[[float, int], None]


@dataclass(frozen=True)
class BuildReport:
    index_dir: str
    articles_total: int
    passages_total: int
    articles_added: int
    articles_updated: int
    articles_unchanged: int
    passages_embedded: int
    seconds: float
    embed_seconds: float
    written: bool
    articles_deleted: int = 0

    @property
    def passages_per_s(self) -> float:
        return self.passages_embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0

    def summary(self) -> str:
        if not self.written:
            return f"index {self.index_dir} is up to date: {self.articles_total} articles, {self.passages_total} passages (nothing to do)"
        if self.articles_deleted:
            return (f"index {self.index_dir}: deleted {self.articles_deleted} article(s); {self.articles_total} articles, "
                    f"{self.passages_total} passages left (total {self.seconds:.1f}s)")
        return (
            f"index {self.index_dir}: {self.articles_total} articles, {self.passages_total} passages "
            f"(+{self.articles_added} new, {self.articles_updated} updated, {self.articles_unchanged} unchanged; "
            f"embedded {self.passages_embedded} passages in {self.embed_seconds:.1f}s, "
            f"{self.passages_per_s:.0f}/s; total {self.seconds:.1f}s)"
        )


def add_articles(
    new_articles: Iterable[Article],
    index_dir: Path | str,
    *,
    model: str | None = None,
    embedder: Embedder | None = None,
    chunking: ChunkSettings | None = None,
    bm25: BM25Settings | None = None,
    title_in_passage: bool = True,
    rebuild: bool = False,
    backend: str | None = None,
    dense_index: str | None = None,
    batch_size: int | None = None,
    show_progress: bool = False,
    fusion: Mapping[str, Any] | None = None,
    progress: BuildProgress | None = None,
    prompts: Prompts | None = None,
    device: str | None = None,
) -> BuildReport:
    """Add (or replace, by ``doc_id``) articles in the index at ``index_dir``, creating it if needed.

    Only passages whose content id (a hash of the doc id and exactly the embedded text, headline
    included) is new are embedded; an existing index gets a new generation holding only the new
    rows, with the replaced rows tombstoned (see :meth:`IndexStore.update`). Settings of an
    existing index are kept; asking for a different model or embedding ``backend`` is an error
    unless ``rebuild`` is true. ``dense_index`` (auto|flat|hnsw|ivf) may change at any update:
    the dense index is then rebuilt from the stored vectors. ``fusion`` (a validated
    ``qa.fusion.Fusion.to_dict()``) is recorded in the manifest; without it a new index records
    :data:`~index.defaults.NEW_INDEX_FUSION` and an existing one keeps its own. ``prompts``
    (query/passage text put before what is embedded) default to the model's
    (:func:`index.prompts.model_prompts`: E5's "query: "/"passage: ", none for the bundled model)
    and are recorded in the manifest; an existing index keeps its own.

    The build streams: articles are chunked one at a time and their passages embedded and
    written :data:`EMBED_STEP` at a time into the new generation's folder, so memory is bounded by
    that batch (plus the article records, the BM25 postings and the dense index), not by the input
    size; nothing is visible until the final swap. ``progress(fraction, passages embedded)`` is
    called after each batch (fraction: share of the articles' text done); an exception it raises
    (a time budget) abandons the build and leaves the index as it was.

    ``device`` (default ``$QA_DEVICE``, else the CPU; ``cuda``, ``cuda:N`` or ``auto``) is where
    the passages are embedded when no ``embedder`` is given: a GPU embeds with the torch backend
    in half precision, :data:`~index.embedding.ACCELERATOR_BATCH` texts a batch unless
    ``batch_size`` says otherwise (:data:`EMBED_BATCH` on the CPU).
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    device = resolve_device(device) if embedder is None else "cpu"
    if dense_index is not None and dense_index not in KINDS:
        raise QAError(f"unknown dense index {dense_index!r}; choose one of {', '.join(KINDS)}")
    with write_lock(index_dir):
        existing: IndexStore | None = None
        if not rebuild:
            try:
                existing = IndexStore.load(index_dir, mmap=True)
            except IndexMissingError:
                existing = None
        if existing is not None:
            settings = existing.settings
            wanted = resolve_model(model)[0] if model else settings.model
            if embedder is not None:
                wanted = embedder.name
            if wanted != settings.model:
                raise IndexFormatError(
                    f"index {index_dir} was built with model {settings.model!r}, not {wanted!r}; pass --rebuild to re-embed everything"
                )
            asked_backend = getattr(embedder, "backend", None) if embedder is not None else backend
            if device != "cpu":
                if settings.embedding_backend != "torch":
                    raise IndexFormatError(
                        f"index {index_dir} was embedded with backend {settings.embedding_backend!r}, which runs on the CPU "
                        f"only; index with --device cpu, or pass --rebuild to re-embed everything with torch on {device}")
                asked_backend = asked_backend or "torch"
            for name, asked, have in (("chunking", chunking, settings.chunking), ("bm25", bm25, settings.bm25),
                                      ("embedding backend", resolve_backend(asked_backend) if asked_backend else None,
                                       settings.embedding_backend)):
                if asked is not None and asked != have:
                    raise IndexFormatError(f"index {index_dir} uses another {name} ({have!r}); pass --rebuild to change it")
            if prompts is not None and prompts.to_dict() != settings.prompts:
                raise IndexFormatError(f"index {index_dir} uses other prompts ({settings.prompts!r}); pass --rebuild to change them")
            if dense_index is not None:
                settings = replace(settings, dense={**settings.dense, "kind": dense_index})
            if fusion is not None:  # issue 13: `qa index --fusion` on an existing index
                settings = replace(settings, fusion=dict(fusion))
        if embedder is None:
            embedder = SentenceTransformerEmbedder(
                existing.settings.model if existing else model,
                backend=existing.settings.embedding_backend if existing else backend,
                device=device,
            )
        if batch_size is None:
            batch_size = ACCELERATOR_BATCH if getattr(embedder, "device", "cpu") != "cpu" else EMBED_BATCH
        if existing is None:
            settings = IndexSettings(
                model=embedder.name,
                dim=embedder.dim,
                chunking=chunking or ChunkSettings(),
                bm25=bm25 or BM25Settings(),
                title_in_passage=title_in_passage,
                embedding_backend=resolve_backend(getattr(embedder, "backend", None) or "torch"),
                dense={"kind": dense_index or "auto", "threshold": DEFAULT_THRESHOLD},
                prompts=(prompts if prompts is not None else embedder_prompts(embedder)).to_dict(),
            )
            if fusion is not None:  # issue 13: else the new-index default (IndexSettings)
                settings = replace(settings, fusion=dict(fusion))

        added = updated = unchanged = 0
        count = getattr(embedder, "count_tokens", None)
        if existing is None:
            articles: dict[str, Article] = {}
            for art in new_articles:
                added += art.doc_id not in articles
                articles[art.doc_id] = art
            job = _EmbedJob(embedder, settings, batch_size, progress, list(articles.values()), show_progress=show_progress)
            passages = (p for art in articles.values() for p in iter_unique_passages(
                iter_passages(art, settings.chunking, count, title_in_passage=settings.title_in_passage)))
            store = IndexStore.write_stream(index_dir, settings, list(articles.values()), job.batches(passages))
            return BuildReport(str(index_dir), len(articles), store.num_live, added, 0, 0, job.embedded,
                               time.perf_counter() - t0, job.embed_s, True)

        changed: dict[str, Article] = {}
        for art in new_articles:
            old = changed.get(art.doc_id) or existing.articles.get(art.doc_id)
            if old is not None and old.fingerprint == art.fingerprint:
                unchanged += 1
                continue
            if art.doc_id not in changed:
                added += art.doc_id not in existing.articles
                updated += art.doc_id in existing.articles
            changed[art.doc_id] = art
        if not changed and settings == existing.settings:
            return BuildReport(str(index_dir), len(existing.articles), existing.num_live, 0, 0, unchanged, 0,
                               time.perf_counter() - t0, 0.0, False)

        dead: list[int] = []
        job = _EmbedJob(embedder, settings, batch_size, progress, list(changed.values()), existing, show_progress)

        def replacement_rows() -> Iterator[Passage]:
            for art in changed.values():
                yield from replaced_rows(existing, art.doc_id, iter_passages(
                    art, settings.chunking, count, title_in_passage=settings.title_in_passage), dead, job.reuse)

        store = existing.update(upserts=list(changed.values()), dead_rows=dead, new_rows=job.batches(replacement_rows()),
                                settings=settings)
        return BuildReport(str(index_dir), len(store.articles), store.num_live, added, updated, unchanged, job.embedded,
                           time.perf_counter() - t0, job.embed_s, True)


class _EmbedJob:
    """Cuts a stream of passages into :data:`EMBED_STEP`-passage batches and embeds each batch as
    it is needed (reusing the stored vector of a passage whose embedded text is unchanged), so a
    build holds one batch of texts and vectors at a time. Reports progress by the share of the
    articles' text done, and counts what it embedded. Once the stream ends, asks the embedder to
    give back its working memory (``release_memory``, when it has one)."""

    def __init__(self, embedder: Embedder, settings: IndexSettings, batch_size: int, progress: BuildProgress | None,
                 articles: list[Article], existing: IndexStore | None = None, show_progress: bool = False) -> None:
        self.embedder, self.settings, self.batch_size = embedder, settings, batch_size
        self.progress = progress
        self.existing = existing
        self.reuse: dict[str, int] = {}
        self.embedded = 0
        self.embed_s = 0.0
        self._bar = stage("chunking, embedding and writing", 100, "%", show_progress)
        self._percent = 0
        self.total_chars = max(sum(len(a.text) for a in articles), 1)
        self._start_of: dict[str, int] = {}
        pos = 0
        for a in articles:
            self._start_of[a.doc_id] = pos
            pos += len(a.text)

    def _embed(self, batch: list[Passage]) -> tuple[list[Passage], np.ndarray]:
        vectors = np.empty((len(batch), self.settings.dim), dtype=np.float32)
        todo = [i for i, p in enumerate(batch) if p.passage_id not in self.reuse]
        if len(todo) < len(batch):
            assert self.existing is not None
            for i, p in enumerate(batch):
                if p.passage_id in self.reuse:
                    vectors[i] = self.existing.embeddings[self.reuse[p.passage_id]]
        if todo:
            t = time.perf_counter()
            texts = [batch[i].index_text(self.settings.title_in_passage) for i in todo]
            vectors[todo] = self.embedder.encode(Prompts.from_dict(self.settings.prompts).passages(texts),
                                                 batch_size=self.batch_size, show_progress=False)
            self.embed_s += time.perf_counter() - t
            self.embedded += len(todo)
        last = batch[-1]
        fraction = min((self._start_of.get(last.doc_id, 0) + last.end) / self.total_chars, 1.0)
        if int(fraction * 100) > self._percent:
            self._bar.update(int(fraction * 100) - self._percent)
            self._percent = int(fraction * 100)
        if self.progress is not None:
            self.progress(fraction, self.embedded)
        return batch, vectors

    def batches(self, passages: Iterable[Passage]) -> Iterator[tuple[list[Passage], np.ndarray]]:
        batch: list[Passage] = []
        for p in passages:
            batch.append(p)
            if len(batch) >= EMBED_STEP:
                yield self._embed(batch)
                batch = []
        if batch:
            yield self._embed(batch)
        self._bar.close()
        release = getattr(self.embedder, "release_memory", None)
        if release is not None and self.embedded:
            release()  # the model's working memory is idle while the segment is sorted and the dense index built


@dataclass(frozen=True)
class ReplacementPlan:
    """How re-chunked articles change the rows: which old rows die, which passages are new rows,
    and which of those can reuse an old row's vector (same id: same embedded text)."""

    dead_rows: list[int]
    new_passages: list[Passage]
    reuse: dict[str, int]


def plan_replacement(store: IndexStore, by_doc: dict[str, list[Passage]]) -> ReplacementPlan:
    """Compare the new passages of each article in ``by_doc`` with its live rows: identical rows
    stay, the rest of the old rows become tombstones, the rest of the new passages are added."""
    dead: list[int] = []
    reuse: dict[str, int] = {}
    new = [p for doc_id, passages in by_doc.items() for p in replaced_rows(store, doc_id, passages, dead, reuse)]
    return ReplacementPlan(sorted(dead), new, reuse)


def replaced_rows(store: IndexStore, doc_id: str, passages: Iterable[Passage], dead: list[int],
                  reuse: dict[str, int]) -> Iterator[Passage]:
    """:func:`plan_replacement` of one article as a stream: yields its new passages (after noting
    in ``reuse`` the old row whose vector one can reuse), and once they are all read, adds its
    old rows that are not kept to ``dead``."""
    old = store.live_rows_of(doc_id)
    old_by_id = {p.passage_id: (row, p) for row, p in old}
    kept: set[int] = set()
    for p in iter_unique_passages(passages):
        hit = old_by_id.get(p.passage_id)
        if hit is not None and hit[1] == p and hit[0] not in kept:
            kept.add(hit[0])
            continue
        if hit is not None:  # same embedded text, other offsets: reuse the vector
            reuse[p.passage_id] = hit[0]
        yield p
    dead.extend(sorted(row for row, _ in old if row not in kept))


def delete_articles(doc_ids: Iterable[str], index_dir: Path | str) -> BuildReport:
    """Remove articles (and all their passages) from the index at ``index_dir``.

    An unknown id is a :class:`QAError` naming it, and then nothing is written. Rows become
    tombstones: they are never returned again and stop counting in BM25 statistics;
    :func:`compact_index` reclaims their space."""
    t0 = time.perf_counter()
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        raise QAError("no article ids given to delete")
    with write_lock(index_dir):
        store = IndexStore.load(index_dir, mmap=True)
        missing = [d for d in ids if d not in store.articles]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ArticleNotFoundError(f"no article with id {missing[0]!r} in index {index_dir}{more}; nothing was deleted")
        dead = sorted(row for d in ids for row, _ in store.live_rows_of(d))
        new = store.update(deletes=ids, dead_rows=dead)
        return BuildReport(str(index_dir), len(new.articles), new.num_live, 0, 0, 0, 0, time.perf_counter() - t0, 0.0, True,
                           articles_deleted=len(ids))


def compact_index(index_dir: Path | str, *, show_progress: bool = False) -> BuildReport:
    """Rewrite the index without tombstones, as one segment with a freshly built dense index.
    Nothing is re-embedded. A no-op when there is nothing to reclaim."""
    t0 = time.perf_counter()
    with write_lock(index_dir):
        store = IndexStore.load(index_dir, mmap=True)
        rows = np.flatnonzero(store.live)
        if len(rows) == len(store.live) and len(store.segments) == 1:
            return BuildReport(str(index_dir), len(store.articles), store.num_live, 0, 0, len(store.articles), 0,
                               time.perf_counter() - t0, 0.0, False)
        if not len(rows):
            raise QAError(f"index {index_dir} has no live passages left; delete the folder or add articles instead")
        passages = [store.passages[int(r)] for r in rows]
        vectors = np.asarray(store.embeddings[rows], dtype=np.float32)
        articles = [store.articles[d] for d in store.articles]
        IndexStore.write(index_dir, store.settings, articles, passages, vectors, show_progress=show_progress)
        return BuildReport(str(index_dir), len(articles), len(passages), 0, 0, len(articles), 0,
                           time.perf_counter() - t0, 0.0, True)


def list_articles(index_dir: Path | str) -> list[ArticleInfo]:
    """Every live article of the index: id, headline, date, source, url, live passages."""
    return IndexStore.load(index_dir, mmap=None).article_infos()


def build_index(paths: Iterable[str | Path], index_dir: Path | str, **kwargs) -> BuildReport:  # type: ignore[no-untyped-def]
    """Ingest files/folders and add them to the index at ``index_dir`` (see :func:`add_articles`)."""
    return add_articles(load_articles(paths), index_dir, **kwargs)
