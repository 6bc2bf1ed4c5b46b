"""Build or update an index from files: ingest, chunk, embed only what is new, write atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .chunking import ChunkSettings, chunk_articles, unique_passages
from .dense import DEFAULT_THRESHOLD, KINDS
from .embedding import Embedder, SentenceTransformerEmbedder, resolve_backend, resolve_model
from .errors import IndexFormatError, IndexMissingError, QAError
from .ingest import load_articles
from .lexical import BM25Settings
from .records import Article, Passage
from .store import IndexSettings, IndexStore, passage_index_text, write_lock

log = logging.getLogger(__name__)


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

    @property
    def passages_per_s(self) -> float:
        return self.passages_embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0

    def summary(self) -> str:
        if not self.written:
            return f"index {self.index_dir} is up to date: {self.articles_total} articles, {self.passages_total} passages (nothing to do)"
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
    batch_size: int = 64,
    show_progress: bool = False,
) -> BuildReport:
    """Add (or replace, by ``doc_id``) articles in the index at ``index_dir``, creating it if needed.

    Only passages whose content id is not already indexed are embedded. Settings of an existing
    index are kept; asking for a different model or embedding ``backend`` is an error unless
    ``rebuild`` is true. ``dense_index`` (auto|flat|hnsw|ivf) may change at any update, since the
    dense index is rebuilt from the stored vectors on every write.
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    if dense_index is not None and dense_index not in KINDS:
        raise QAError(f"unknown dense index {dense_index!r}; choose one of {', '.join(KINDS)}")
    with write_lock(index_dir):
        existing: IndexStore | None = None
        if not rebuild:
            try:
                existing = IndexStore.load(index_dir)
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
            for name, asked, have in (("chunking", chunking, settings.chunking), ("bm25", bm25, settings.bm25),
                                      ("embedding backend", resolve_backend(asked_backend) if asked_backend else None,
                                       settings.embedding_backend)):
                if asked is not None and asked != have:
                    raise IndexFormatError(f"index {index_dir} uses another {name} ({have!r}); pass --rebuild to change it")
            if dense_index is not None:
                settings = replace(settings, dense={**settings.dense, "kind": dense_index})
        if embedder is None:
            embedder = SentenceTransformerEmbedder(
                existing.settings.model if existing else model,
                backend=existing.settings.embedding_backend if existing else backend,
            )
        if existing is None:
            settings = IndexSettings(
                model=embedder.name,
                dim=embedder.dim,
                chunking=chunking or ChunkSettings(),
                bm25=bm25 or BM25Settings(),
                title_in_passage=title_in_passage,
                embedding_backend=resolve_backend(getattr(embedder, "backend", None) or "torch"),
                dense={"kind": dense_index or "auto", "threshold": DEFAULT_THRESHOLD},
            )

        articles: dict[str, Article] = dict(existing.articles) if existing else {}
        kept_passages: dict[str, list[Passage]] = {}
        if existing:
            for p in existing.passages:
                kept_passages.setdefault(p.doc_id, []).append(p)
        added = updated = unchanged = 0
        changed: list[Article] = []
        for art in new_articles:
            old = articles.get(art.doc_id)
            if old is not None and old.fingerprint == art.fingerprint:
                unchanged += 1
                continue
            added += old is None
            updated += old is not None
            articles[art.doc_id] = art
            changed.append(art)

        if not changed and existing is not None and settings == existing.settings:
            return BuildReport(str(index_dir), len(articles), len(existing.passages), 0, 0, unchanged, 0,
                               time.perf_counter() - t0, 0.0, False)

        count = getattr(embedder, "count_tokens", None)
        kept_passages.update(chunk_articles(changed, settings.chunking, count, show_progress=show_progress))
        # identical passages (same doc and text) are indexed once
        passages = unique_passages(p for doc_id in articles for p in kept_passages.get(doc_id, []))
        old_rows = existing.row_of if existing else {}
        todo = [p for p in passages if p.passage_id not in old_rows]
        t_embed = time.perf_counter()
        new_vecs = embedder.encode(
            [passage_index_text(p, settings.title_in_passage) for p in todo], batch_size=batch_size, show_progress=show_progress
        )
        embed_s = time.perf_counter() - t_embed
        new_row = {p.passage_id: i for i, p in enumerate(todo)}
        vectors = np.empty((len(passages), settings.dim), dtype=np.float32)
        for i, p in enumerate(passages):
            if p.passage_id in new_row:
                vectors[i] = new_vecs[new_row[p.passage_id]]
            else:
                vectors[i] = existing.embeddings[old_rows[p.passage_id]]  # type: ignore[union-attr]
        IndexStore.write(index_dir, settings, list(articles.values()), passages, vectors, show_progress=show_progress)
        return BuildReport(str(index_dir), len(articles), len(passages), added, updated, unchanged, len(todo),
                           time.perf_counter() - t0, embed_s, True)


def build_index(paths: Iterable[str | Path], index_dir: Path | str, **kwargs) -> BuildReport:  # type: ignore[no-untyped-def]
    """Ingest files/folders and add them to the index at ``index_dir`` (see :func:`add_articles`)."""
    return add_articles(load_articles(paths), index_dir, **kwargs)
