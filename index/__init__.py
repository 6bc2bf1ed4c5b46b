"""Build and store the searchable index: ingest, clean, chunk, embed, FAISS + BM25, on disk.

The public names below are imported on first use (PEP 562), so ``import index.embedding`` (a GPU
embedding job, a benchmark) does not pull in FAISS, bm25s or the HTML extractor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the submodule that defines it
_EXPORTS = {
    "BuildReport": "builder", "add_articles": "builder", "build_index": "builder", "compact_index": "builder",
    "delete_articles": "builder", "list_articles": "builder",
    "ChunkSettings": "chunking", "chunk_article": "chunking",
    "DEFAULT_MODEL": "embedding", "Embedder": "embedding", "SentenceTransformerEmbedder": "embedding",
    "EmptyCorpusError": "errors", "IndexFormatError": "errors", "IndexMissingError": "errors", "IngestError": "errors",
    "QAError": "errors", "QueryError": "errors",
    "load_articles": "ingest",
    "BM25Settings": "lexical",
    "Article": "records", "Hit": "records", "Passage": "records",
    "IndexSettings": "settings", "IndexStore": "store",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .builder import BuildReport, add_articles, build_index, compact_index, delete_articles, list_articles
    from .chunking import ChunkSettings, chunk_article
    from .embedding import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
    from .errors import EmptyCorpusError, IndexFormatError, IndexMissingError, IngestError, QAError, QueryError
    from .ingest import load_articles
    from .lexical import BM25Settings
    from .records import Article, Hit, Passage
    from .settings import IndexSettings
    from .store import IndexStore
