"""Build and store the searchable index: ingest, clean, chunk, embed, FAISS + BM25, on disk."""

__version__ = "0.1.0"

from .builder import BuildReport, add_articles, build_index, compact_index, delete_articles, list_articles  # noqa: E402
from .chunking import ChunkSettings, chunk_article  # noqa: E402
from .embedding import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder  # noqa: E402
from .errors import EmptyCorpusError, IndexFormatError, IndexMissingError, IngestError, QAError, QueryError  # noqa: E402
from .ingest import load_articles  # noqa: E402
from .lexical import BM25Settings  # noqa: E402
from .records import Article, Hit, Passage  # noqa: E402
from .store import IndexSettings, IndexStore  # noqa: E402

__all__ = [
    "Article", "BM25Settings", "BuildReport", "ChunkSettings", "DEFAULT_MODEL", "Embedder", "EmptyCorpusError",
    "Hit", "IndexFormatError", "IndexMissingError", "IndexSettings", "IndexStore", "IngestError", "Passage",
    "QAError", "QueryError", "SentenceTransformerEmbedder", "__version__", "add_articles", "build_index",
    "chunk_article", "compact_index", "delete_articles", "list_articles", "load_articles",
]
