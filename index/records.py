"""Typed records shared by every layer."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


def content_hash(*parts: str, length: int = 16) -> str:
    """Stable hex digest of ``parts`` (joined with a separator that cannot occur in text)."""
    h = hashlib.sha1()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:length]


def hash64(text: str) -> int:
    """Stable 64-bit hash (blake2b) of ``text``: fixed-width keys for doc ids and BM25 terms."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def index_text(title: str, text: str, title_in_passage: bool = True) -> str:
    """The text both retrievers see for a passage (embedded and BM25-indexed): the headline on
    its own line, then the passage, when ``title_in_passage``."""
    return f"{title}\n{text}" if title_in_passage and title else text


def passage_id_for(doc_id: str, title: str, text: str, title_in_passage: bool = True) -> str:
    """A passage's content id: a hash of its article id and exactly the text that is embedded and
    indexed, so any change to that text (a headline edit included) is a new passage with a new
    vector, and an unchanged passage keeps its vector."""
    return content_hash(doc_id, index_text(title, text, title_in_passage))


@dataclass(frozen=True)
class Article:
    """One news article after ingest and cleaning. ``text`` is the cleaned body; ``title`` the
    headline, ``date`` the publication date in ISO 8601, ``source`` the publisher and ``author``
    the byline (see :mod:`index.metadata`); each is ``""`` when unknown."""

    doc_id: str
    title: str
    text: str
    url: str = ""
    date: str = ""
    source: str = ""
    author: str = ""

    @property
    def fingerprint(self) -> str:
        parts = [self.doc_id, self.title, self.text, self.url, self.date, self.source]
        if self.author:  # absent from older indexes: their fingerprints stay valid
            parts.append(self.author)
        return content_hash(*parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Article":
        """Reads records written before ``author`` existed (it defaults to ``""``)."""
        return cls(**{k: d.get(k, "") or "" for k in ("doc_id", "title", "text", "url", "date", "source", "author")})


@dataclass(frozen=True)
class Passage:
    """A span ``[start, end)`` of an article's text, the unit that is indexed and cited."""

    passage_id: str
    doc_id: str
    text: str
    start: int
    end: int
    title: str = ""

    def index_text(self, title_in_passage: bool = True) -> str:
        """What is embedded and BM25-indexed for this passage (see :func:`index_text`)."""
        return index_text(self.title, self.text, title_in_passage)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Passage":
        return cls(
            passage_id=d["passage_id"],
            doc_id=d["doc_id"],
            text=d["text"],
            start=int(d["start"]),
            end=int(d["end"]),
            title=d.get("title", ""),
        )


@dataclass(frozen=True)
class Hit:
    """A ranked passage returned by retrieval."""

    rank: int
    score: float
    passage: Passage
    article: Article
    #: Per-retriever scores before fusion ("dense", "bm25"), for explanation and debugging.
    components: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape shared by ``qa search --json`` and ``POST /api/search``."""
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "passage_id": self.passage.passage_id,
            "doc_id": self.passage.doc_id,
            "title": self.article.title,
            "source": self.article.source,
            "date": self.article.date,
            "author": self.article.author,
            "url": self.article.url,
            "text": self.passage.text,
            "start": self.passage.start,
            "end": self.passage.end,
        }
