"""Turn files and folders into :class:`Article` records.

Formats: ``.txt`` and ``.md`` (title = first non-empty line), ``.html``/``.htm`` (trafilatura),
``.jsonl`` (one article per line: ``id`` (or BEIR's ``_id``), ``title``, ``text``; optional
``url``, ``date``, ``source``). Bodies go through :mod:`index.clean` so site furniture never becomes a passage.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import metadata
from .clean import clean_text
from .errors import EmptyCorpusError, IngestError, QAError
from .records import Article

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
MAX_FILE_BYTES = 200 * 1024 * 1024

_MD_IMAGE = re.compile(r"^\s*!\[[^\]]*\]\([^)]*\)\s*$", re.MULTILINE)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)(]|\([^)]*\))*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
#: C0/C1 control characters (tab, newline and carriage return included): never in an id or a field.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The same, less tab/newline/CR, which a headline may hold (they are folded into spaces).
_TITLE_CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
#: UTF-16 surrogates: JSON's "\ud800" escapes decode to these, and they are not text.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: Characters of a body other than tab/newline/CR that no passage needs (replaced by spaces).
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]")
MAX_ID_CHARS = 512


def read_text(path: Path) -> str:
    """Read a UTF-8 text file, refusing binary and non-UTF-8 content with a clear error."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise IngestError(f"{path}: file is {size // 2**20} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit")
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if b"\x00" in data[:8192]:
        raise IngestError(f"{path}: looks like a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); convert it with iconv first") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _split_title(text: str) -> tuple[str, str]:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            return line.strip(), "\n".join(lines[i + 1 :])
    return "", ""


def _strip_markdown(text: str) -> str:
    text = _MD_IMAGE.sub("", text)
    text = _MD_HEADING.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    return _MD_EMPHASIS.sub(r"\2", text)


def parse_text(path: Path, text: str) -> Article:
    if path.suffix.lower() in {".md", ".markdown"}:
        text = _strip_markdown(text)
    title, body = _split_title(text)
    cleaned = clean_text(body)
    if not cleaned and title:
        cleaned, title = title, title  # a one-line note: index the line itself
    meta = metadata.from_text(text)
    return Article(doc_id=path.stem, title=meta.title or title, text=cleaned, date=meta.date, source=meta.source,
                   author=meta.author)


def parse_html(path: Path, html: str) -> Article:
    import trafilatura  # heavy import, only when HTML is ingested

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=False,
                                      date_extraction_params=metadata.html_date_params())
    if doc is None:
        raise IngestError(f"{path}: no article text found in the HTML")
    d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    title = (d.get("title") or "").strip()
    body = d.get("text") or ""
    first, rest = _split_title(body)
    if title and first == title:  # trafilatura repeats the <h1> headline in the text
        body = rest
    meta = metadata.from_html(d)
    return Article(
        doc_id=path.stem,
        title=meta.title or first,
        text=clean_text(body, cut_edges=False),
        url=meta.url,
        date=meta.date,
        source=meta.source,
        author=meta.author,
    )


def _where(path: Path, lineno: int | None) -> str:
    return f"{path}:{lineno}" if lineno else str(path)


def validate_article(art: Article, path: Path, lineno: int | None = None) -> Article:
    """Check one record's fields; return it with its headline's whitespace folded.

    Rejected (``IngestError`` naming the file and line): a doc id that is empty, longer than
    ``MAX_ID_CHARS`` or holds a control character; a control character in the headline (other
    than tab/newline, folded to spaces), url, date or source; a lone surrogate anywhere. Control
    characters in the body (other than tab/newline) become spaces. The same rules hold for every
    format, so a record can never make search fail for the others (docs/security.md).
    """
    where = _where(path, lineno)
    fields = {"id": art.doc_id, "title": art.title, "text": art.text, "url": art.url, "date": art.date,
              "source": art.source}
    for name, value in fields.items():
        m = _SURROGATE.search(value)
        if m:
            raise IngestError(f"{where}: field {name} holds a lone surrogate (\\u{ord(m.group()):04x}), which is not text")
    if not art.doc_id.strip():
        raise IngestError(f"{where}: the doc id is empty")
    if len(art.doc_id) > MAX_ID_CHARS:
        raise IngestError(f"{where}: the doc id is {len(art.doc_id)} characters long, over the limit of {MAX_ID_CHARS}")
    for name in ("id", "url", "date", "source"):
        m = _CONTROL.search(fields[name])
        if m:
            raise IngestError(f"{where}: field {name} holds a control character (U+{ord(m.group()):04X})")
    m = _TITLE_CONTROL.search(art.title)
    if m:
        raise IngestError(f"{where}: field title holds a control character (U+{ord(m.group()):04X})")
    title = " ".join(art.title.split()) if _CONTROL.search(art.title) else art.title
    text = _BODY_CONTROL.sub(" ", art.text) if _BODY_CONTROL.search(art.text) else art.text
    if title is art.title and text is art.text:
        return art
    return Article(doc_id=art.doc_id, title=title, text=text, url=art.url, date=art.date, source=art.source)


def json_objects(path: Path, lines: Iterable[str], error: type[QAError] = IngestError) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSON-lines file; a malformed line
    (including one nested too deeply for the parser) raises ``error`` naming the file and line."""
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{lineno}: malformed JSON ({exc.msg})") from exc
        except RecursionError:
            raise error(f"{path}:{lineno}: malformed JSON (nested too deeply)") from None
        if not isinstance(obj, dict):
            raise error(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def iter_lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 text file, read as a stream (memory stays bounded by the longest line).

    Same checks as :func:`read_text`: size limit, NUL bytes in the first 8 KiB, UTF-8 (a bad byte
    names its line)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise IngestError(f"{path}: file is {size // 2**20} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit")
        with path.open("rb") as fh:
            head = fh.read(8192)
        if b"\x00" in head:
            raise IngestError(f"{path}: looks like a binary file, not text")
        lineno = 0
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise IngestError(f"{path}:{lineno}: not UTF-8 text (bad byte at column {exc.start + 1}); "
                                      "convert it with iconv first") from exc
                yield line.rstrip("\r\n")
    except OSError as exc:
        raise IngestError(f"{path}: cannot read file ({exc.strerror or exc})") from exc


def parse_jsonl(path: Path, text: str | Iterable[str]) -> Iterator[Article]:
    lines = text.split("\n") if isinstance(text, str) else text
    for lineno, obj in json_objects(path, lines):
        if "id" not in obj and "_id" in obj:  # BEIR corpus.jsonl
            obj["id"] = obj["_id"]
        missing = [k for k in ("id", "text") if k not in obj]
        if missing:
            raise IngestError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
        bad = [k for k in ("id", "title", "text", "url", "date", "source") if k in obj and not isinstance(obj[k], (str, int))]
        if bad:
            raise IngestError(f"{path}:{lineno}: field(s) {', '.join(bad)} must be strings")
        meta = metadata.from_fields(obj)  # explicit fields win; a parsable date becomes ISO 8601
        yield validate_article(Article(
            doc_id=str(obj["id"]),
            title=meta.title,
            text=clean_text(str(obj["text"]), cut_edges=False),
            url=meta.url,
            date=meta.date,
            source=meta.source,
            author=meta.author,
        ), path, lineno)


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Expand files and folders (recursively) into supported files, sorted for determinism."""
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise IngestError(f"{p}: no such file or folder")
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES and not f.name.startswith("."))
            skipped = [f for f in p.rglob("*") if f.is_file() and f.suffix.lower() not in SUPPORTED_SUFFIXES and not f.name.startswith(".")]
            for f in skipped:
                log.warning("skipping %s: unsupported file type (use .txt, .md, .html or .jsonl)", f)
            yield from found
        elif p.suffix.lower() in SUPPORTED_SUFFIXES:
            yield p
        else:
            raise IngestError(f"{p}: unsupported file type '{p.suffix or '(none)'}'; use .txt, .md, .html or .jsonl")


def iter_file(path: Path) -> Iterator[Article]:
    """The articles of one file; ``.jsonl`` is parsed as a stream, line by line."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from parse_jsonl(path, iter_lines(path))
        return
    text = read_text(path)
    yield validate_article(parse_html(path, text) if suffix in HTML_SUFFIXES else parse_text(path, text), path)


def load_file(path: Path) -> list[Article]:
    return list(iter_file(path))


def load_articles(paths: Iterable[str | Path]) -> list[Article]:
    """Load every article under ``paths``. Raises :class:`IngestError` on the first bad file and
    :class:`EmptyCorpusError` when nothing with text was found. Later duplicates of a doc id win."""
    paths = list(paths)
    if not paths:
        raise EmptyCorpusError("no input paths given")
    by_id: dict[str, Article] = {}
    for f in iter_files(paths):
        for art in iter_file(f):
            if not art.text.strip():
                log.warning("skipping %s (%s): no article text after cleaning", art.doc_id, f)
                continue
            if art.doc_id in by_id:
                log.warning("doc id %r appears more than once; the copy in %s wins", art.doc_id, f)
            by_id[art.doc_id] = art
    if not by_id:
        raise EmptyCorpusError(f"no articles with text found in {', '.join(map(str, paths))}")
    return list(by_id.values())
