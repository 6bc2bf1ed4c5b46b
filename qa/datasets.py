"""Labelled data for evaluation: BEIR folders, TREC qrels + topics, and question sets.

Every loader checks its input as it reads it and raises :class:`DatasetError` (a
:class:`~index.errors.QAError`) whose message names the file and line at fault.

- BEIR layout: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
  ``text``) and ``qrels/<split>.tsv`` (header ``query-id  corpus-id  score``).
- TREC: qrels ``qid 0 docid rel`` (whitespace separated) and topics as ``qid<TAB>text`` lines or
  SGML ``<top><num>..<title>..</top>`` blocks.
- Question set: JSONL of ``{"id", "question", "evidence": [phrases]}``; a passage is relevant
  when it contains an evidence phrase, compared ignoring case, runs of whitespace and the style of
  quotes and dashes. Empty evidence means "the articles do not answer this".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.errors import QAError
from index.ingest import json_objects
from index.records import Article


class DatasetError(QAError):
    """A dataset folder or file that cannot be used as given."""

    code = "bad_dataset"


Qrels = dict[str, dict[str, int]]  # query id -> {doc or passage id: relevance grade}


@dataclass
class Dataset:
    """A corpus (optional: absent when an existing index is evaluated), queries and judgments."""

    name: str
    queries: dict[str, str]
    qrels: Qrels
    corpus: list[Article] = field(default_factory=list)
    corpus_hash: str = ""
    #: corpus documents with no text at all (kept for qrels checks, never indexed)
    empty_docs: int = 0
    source: str = ""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    evidence: tuple[str, ...]
    line: int = 0

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)


# ------------------------------------------------------------------ helpers
def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                yield lineno, line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return json_objects(path, (line for _, line in _read_lines(path)), DatasetError)


def _field(path: Path, lineno: int, obj: dict[str, Any], *names: str, required: bool = True) -> str:
    for name in names:
        if name in obj:
            value = obj[name]
            if value is None:
                return ""
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise DatasetError(f"{path}:{lineno}: field {name!r} must be a string, got {type(value).__name__}")
            return str(value)
    if required:
        raise DatasetError(f"{path}:{lineno}: missing field {' or '.join(repr(n) for n in names)}")
    return ""


def file_hash(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\x00")
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ corpus / queries / qrels
def load_corpus(path: Path) -> tuple[list[Article], set[str], int]:
    """Articles from a BEIR ``corpus.jsonl``: ``(articles with text, every doc id, number of empty docs)``.

    Empty documents are not indexed (nothing can match them) but their ids stay valid in qrels.
    """
    path = Path(path)
    articles: list[Article] = []
    seen: dict[str, int] = {}
    empty = 0
    for lineno, obj in _json_lines(path):
        doc_id = _field(path, lineno, obj, "_id", "id")
        if not doc_id.strip():
            raise DatasetError(f"{path}:{lineno}: empty document id")
        if doc_id in seen:
            raise DatasetError(f"{path}:{lineno}: document id {doc_id!r} already used on line {seen[doc_id]}")
        seen[doc_id] = lineno
        title = " ".join(_field(path, lineno, obj, "title", required=False).split())
        text = " ".join(_field(path, lineno, obj, "text").split())
        if not text:
            if not title:
                empty += 1
                continue
            title, text = "", title  # a title-only record: index the title as its text
        articles.append(Article(doc_id=doc_id, title=title, text=text, source=path.name))
    if not seen:
        raise DatasetError(f"{path}: no documents")
    if not articles:
        raise DatasetError(f"{path}: every document is empty")
    return articles, set(seen), empty


def load_queries(path: Path) -> dict[str, str]:
    """``{query id: text}`` from a BEIR ``queries.jsonl``."""
    path = Path(path)
    queries: dict[str, str] = {}
    for lineno, obj in _json_lines(path):
        qid = _field(path, lineno, obj, "_id", "id")
        text = " ".join(_field(path, lineno, obj, "text", "query").split())
        if qid in queries:
            raise DatasetError(f"{path}:{lineno}: query id {qid!r} appears twice")
        if not text:
            raise DatasetError(f"{path}:{lineno}: query {qid!r} has empty text")
        queries[qid] = text
    if not queries:
        raise DatasetError(f"{path}: no queries")
    return queries


def _grade(path: Path, lineno: int, raw: str) -> int:
    try:
        value = float(raw)
    except ValueError:
        raise DatasetError(f"{path}:{lineno}: relevance {raw!r} is not a number") from None
    if value != int(value):
        raise DatasetError(f"{path}:{lineno}: relevance {raw!r} is not a whole number")
    return int(value)


def load_beir_qrels(path: Path) -> tuple[Qrels, dict[tuple[str, str], int]]:
    """``query-id<TAB>corpus-id<TAB>score`` with an optional header; returns qrels and the line of each pair."""
    path = Path(path)
    qrels: Qrels = {}
    where: dict[tuple[str, str], int] = {}
    for lineno, line in _read_lines(path):
        if not line.strip():
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if lineno == 1 and parts and parts[0].strip().lower() in {"query-id", "query_id", "qid", "query"}:
            continue
        if len(parts) == 4:  # a TREC line in a .tsv: qid iter docid rel
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3:
            raise DatasetError(f"{path}:{lineno}: expected 3 tab-separated columns (query-id, corpus-id, score), got {len(parts)}")
        qid, did, raw = (p.strip() for p in parts)
        qrels.setdefault(qid, {})[did] = _grade(path, lineno, raw)
        where[(qid, did)] = lineno
    if not qrels:
        raise DatasetError(f"{path}: no judgments")
    return qrels, where


def load_trec_qrels(path: Path) -> tuple[Qrels, dict[tuple[str, str], int]]:
    """TREC qrels: ``qid iteration docid relevance`` per line."""
    path = Path(path)
    qrels: Qrels = {}
    where: dict[tuple[str, str], int] = {}
    for lineno, line in _read_lines(path):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise DatasetError(f"{path}:{lineno}: expected 4 columns (qid iteration docid relevance), got {len(parts)}")
        qid, _, did, raw = parts
        qrels.setdefault(qid, {})[did] = _grade(path, lineno, raw)
        where[(qid, did)] = lineno
    if not qrels:
        raise DatasetError(f"{path}: no judgments")
    return qrels, where


_TOP = re.compile(r"<top>(.*?)</top>", re.S | re.I)
_NUM = re.compile(r"<num>\s*(?:Number:)?\s*(\S+)", re.I)
_TITLE = re.compile(r"<title>\s*(?:Topic:)?(.*?)(?=<desc>|<narr>|<title>|</top>|<num>|$)", re.S | re.I)


def load_topics(path: Path) -> dict[str, str]:
    """TREC topics: SGML ``<top>`` blocks (``<num>`` and ``<title>``), ``qid<TAB>text`` lines, or BEIR JSONL."""
    path = Path(path)
    if path.suffix.lower() in {".jsonl", ".json"}:
        return load_queries(path)
    lines = list(_read_lines(path))
    text = "\n".join(line for _, line in lines)
    queries: dict[str, str] = {}
    if "<top>" in text.lower():
        for block in _TOP.finditer(text):
            lineno = text.count("\n", 0, block.start()) + 1
            num, title = _NUM.search(block.group(1)), _TITLE.search(block.group(1))
            if not num or not title or not " ".join(title.group(1).split()):
                raise DatasetError(f"{path}:{lineno}: topic without <num> or <title>")
            queries[num.group(1)] = " ".join(title.group(1).replace("</title>", " ").split())
    else:
        for lineno, line in lines:
            if not line.strip():
                continue
            if "\t" not in line:
                raise DatasetError(f"{path}:{lineno}: expected 'query-id<TAB>text'")
            qid, q = line.split("\t", 1)
            if not q.strip():
                raise DatasetError(f"{path}:{lineno}: query {qid!r} has empty text")
            queries[qid.strip()] = " ".join(q.split())
    if not queries:
        raise DatasetError(f"{path}: no topics found")
    return queries


def check_qrels(qrels: Qrels, where: dict[tuple[str, str], int], qrels_path: Path, queries: dict[str, str],
                doc_ids: Iterable[str] | None, corpus_path: Path | None = None) -> Qrels:
    """Fail on judged documents missing from the corpus; keep only judged queries that exist.

    A judged query that is not in the queries file is an error too (its line is named); queries
    without any judgment are dropped by the caller (they cannot be scored).
    """
    for (qid, did), lineno in where.items():
        if qid not in queries:
            raise DatasetError(f"{qrels_path}:{lineno}: query id {qid!r} is not in the queries file")
    if doc_ids is not None:
        known = set(doc_ids)
        for (qid, did), lineno in where.items():
            if did not in known:
                raise DatasetError(f"{qrels_path}:{lineno}: corpus id {did!r} is not in {corpus_path or 'the corpus'}")
    return qrels


def load_beir(folder: Path | str, split: str = "test") -> Dataset:
    """A BEIR-layout folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such dataset folder")
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for p in (corpus_path, queries_path, qrels_path):
        if not p.is_file():
            raise DatasetError(f"{p}: file not found (a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/{split}.tsv)")
    articles, ids, empty = load_corpus(corpus_path)
    queries = load_queries(queries_path)
    qrels, where = load_beir_qrels(qrels_path)
    check_qrels(qrels, where, qrels_path, queries, ids, corpus_path)
    return Dataset(name=folder.resolve().name, queries=queries, qrels=qrels, corpus=articles,
                   corpus_hash=file_hash(corpus_path), empty_docs=empty, source=str(folder))


def load_trec(qrels_path: Path | str, topics_path: Path | str, corpus_path: Path | str | None = None,
              name: str | None = None) -> Dataset:
    """TREC qrels + topics, with an optional BEIR-style ``corpus.jsonl`` (else an existing index is used)."""
    qrels_path, topics_path = Path(qrels_path), Path(topics_path)
    queries = load_topics(topics_path)
    qrels, where = load_trec_qrels(qrels_path)
    articles: list[Article] = []
    ids: set[str] | None = None
    empty = 0
    chash = ""
    if corpus_path is not None:
        corpus_path = Path(corpus_path)
        articles, ids, empty = load_corpus(corpus_path)
        chash = file_hash(corpus_path)
    check_qrels(qrels, where, qrels_path, queries, ids, corpus_path)
    return Dataset(name=name or topics_path.stem, queries=queries, qrels=qrels, corpus=articles, corpus_hash=chash,
                   empty_docs=empty, source=str(topics_path))


# ------------------------------------------------------------------ question sets
_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " ",
})


def normalize_text(text: str) -> str:
    """Lower case, one space between words, straight quotes and hyphens: the evidence comparison."""
    return " ".join(text.translate(_QUOTES).lower().split())


def load_questions(path: Path | str) -> list[Question]:
    """A question set: JSONL of ``{"id", "question", "evidence": [phrases]}``."""
    path = Path(path)
    out: list[Question] = []
    seen: dict[str, int] = {}
    for lineno, obj in _json_lines(path):
        qid = _field(path, lineno, obj, "id", "_id")
        question = " ".join(_field(path, lineno, obj, "question", "text").split())
        if not question:
            raise DatasetError(f"{path}:{lineno}: question {qid!r} is empty")
        if qid in seen:
            raise DatasetError(f"{path}:{lineno}: question id {qid!r} already used on line {seen[qid]}")
        seen[qid] = lineno
        evidence = obj.get("evidence", [])
        if isinstance(evidence, str):
            evidence = [evidence]
        if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
            raise DatasetError(f"{path}:{lineno}: 'evidence' must be a list of strings")
        phrases = tuple(e for e in (" ".join(x.split()) for x in evidence) if e)
        out.append(Question(id=qid, question=question, evidence=phrases, line=lineno))
    if not out:
        raise DatasetError(f"{path}: no questions")
    return out


def is_question_set(path: Path) -> bool:
    """A ``.jsonl`` file whose first record has ``question`` (not a BEIR corpus or queries file)."""
    if not path.is_file() or path.suffix.lower() != ".jsonl":
        return False
    for _, line in _read_lines(path):
        if line.strip():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                return True  # let load_questions report the bad line
            return isinstance(obj, dict) and "question" in obj
    return False


def question_qrels(questions: list[Question], passages: list[Any], path: Path | str = "questions", *,
                   unmatched: list[str] | None = None) -> Qrels:
    """Passage-level qrels: every passage containing an evidence phrase of an answerable question.

    ``passages`` need ``passage_id``, ``text`` and ``title``. An evidence phrase that no passage
    contains is an error naming the question's line (the set and the index disagree), unless
    ``unmatched`` is given: then such a question is left out and its id appended there (one stale
    record must not stop an evaluation).
    """
    normed = [(p.passage_id, normalize_text(f"{p.title}\n{p.text}")) for p in passages]
    qrels: Qrels = {}
    for q in questions:
        if not q.answerable:
            continue
        rel: dict[str, int] = {}
        for phrase in q.evidence:
            needle = normalize_text(phrase)
            hits = [pid for pid, text in normed if needle in text]
            if not hits and unmatched is None:
                raise DatasetError(f"{path}:{q.line}: evidence {phrase[:60]!r} of question {q.id!r} is in no passage of the index")
            rel.update((pid, 1) for pid in hits)
        if rel:
            qrels[q.id] = rel
        elif unmatched is not None:
            unmatched.append(q.id)
    return qrels
