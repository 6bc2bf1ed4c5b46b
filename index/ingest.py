"""Turn files and folders into :class:`Article` records.

Formats: ``.txt`` and ``.md`` (title = first non-empty line), ``.html``/``.htm`` (trafilatura),
``.jsonl`` (one article per line: ``id`` (or BEIR's ``_id``), ``title``, ``text``; optional
``url``, ``date``, ``source``, ``author``). Bodies go through :mod:`index.clean` so site furniture
never becomes a passage. A file's doc id is its stem, or its path when another file of the run
shares the stem (:func:`file_doc_ids`); folder walks skip hidden folders and qa indexes
(:func:`iter_inputs`); encodings: :func:`decode_text`. Rules: docs/news.md.
"""

from __future__ import annotations

import codecs
import functools
import io
import itertools
import json
import logging
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from . import metadata
from .clean import clean_text
from .defaults import INDEX_FORMAT, INDEX_MANIFEST
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


#: Byte-order marks and the codec that reads past them (UTF-32 first: its LE mark starts like UTF-16's).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: Bytes of an HTML file searched for a declared charset (the HTML standard's prescan reads 1024).
CHARSET_PRESCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
#: Labels the WHATWG Encoding standard (what browsers do) reads as windows-1252: pages that say
#: "iso-8859-1" are written in windows-1252 (curly quotes at 0x91-0x94, not C1 controls).
_WINDOWS_1252 = {"ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1", "iso-ir-100",
                 "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1", "latin-1", "us-ascii",
                 "windows-1252", "x-cp1252"}


#: What UTF-16/32 text never holds (binary data that starts with FF FE would decode): C0 controls.
_WIDE_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")
_SPACE = re.compile(r"\s")


def bom_codec(head: bytes) -> str | None:
    """The codec of a byte-order mark at the start of ``head`` (it reads past the mark), else ``None``."""
    return next((codec for bom, codec in _BOMS if head.startswith(bom)), None)


def declared_charset(html: bytes) -> str | None:
    """The charset an HTML page declares in its head (``<meta charset>``, an http-equiv
    ``Content-Type``, or an XML declaration's ``encoding``), as a label, else ``None``."""
    head = html[:CHARSET_PRESCAN_BYTES]
    m = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii").lower() if m else None


def decode_text(path: Path, data: bytes, *, html: bool = False) -> str:
    """The text of a file's bytes: UTF-8, or UTF-8/16/32 after a byte-order mark, or (HTML only,
    when the bytes are not UTF-8) the charset the page declares. Anything else is a one-line
    :class:`IngestError`: binary content, or text in an undeclared encoding (nothing is guessed)."""
    codec = bom_codec(data[:4])
    if codec is not None:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            raise IngestError(f"{path}: not valid {codec.removesuffix('-sig').upper()} text after its byte-order mark "
                              f"(bad byte at offset {exc.start})") from exc
        # any bytes after FF FE decode as UTF-16: text has spaces or line breaks, and no NUL or other C0 control
        if codec != "utf-8-sig" and (_WIDE_CONTROL.search(text, 0, 4096) or not _SPACE.search(text)):
            raise IngestError(f"{path}: looks like a binary file, not text")
        return text
    if b"\x00" in data[:8192]:
        raise IngestError(f"{path}: looks like a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        label = declared_charset(data) if html else None
        if label is None:
            raise IngestError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); convert it with iconv first") from exc
        error = exc
    name = "cp1252" if label in _WINDOWS_1252 else label
    try:
        if codecs.lookup(name).name in {"utf-8", "utf-16", "utf-32"}:  # a page that is not what it says it is
            raise IngestError(f"{path}: declares charset {label!r} but is not UTF-8 text (bad byte at offset "
                              f"{error.start}); convert it with iconv first")
        return data.decode(name)
    except LookupError:
        raise IngestError(f"{path}: declares charset {label!r}, which is not a known encoding; convert it to UTF-8 "
                          "with iconv first") from None
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid {label} text as it declares (bad byte at offset {exc.start}); "
                          "convert it with iconv first") from exc


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading, or a one-line :class:`IngestError` when it is not a regular file
    (a FIFO, a device such as ``/dev/zero``, a link to one: reading those hangs or never ends) or is
    over :data:`MAX_FILE_BYTES`. Opened without blocking (a FIFO with no writer), then checked on
    the open descriptor, so what is checked is what is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode) or \
                stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a file"
            raise IngestError(f"{path}: not a regular file ({kind}); name an article file or a folder")
        if info.st_size > MAX_FILE_BYTES:
            raise IngestError(f"{path}: file is {info.st_size // 2**20} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_text(path: Path, *, html: bool = False) -> str:
    """Read a text file (see :func:`decode_text` for the encodings read), refusing binary and
    undeclared non-UTF-8 content with a clear error. Line ends become ``\\n``."""
    try:
        with open_regular(path) as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:  # grew since it was checked
            raise IngestError(f"{path}: file is over the {MAX_FILE_BYTES // 2**20} MiB limit")
    except OSError as exc:
        raise IngestError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    text = decode_text(path, data, html=html)
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


def parse_text(path: Path, text: str, doc_id: str | None = None) -> Article:
    if path.suffix.lower() in {".md", ".markdown"}:
        text = _strip_markdown(text)
    title, body = _split_title(text)
    cleaned = clean_text(body)
    if not cleaned and title:
        cleaned, title = title, title  # a one-line note: index the line itself
    meta = metadata.from_text(text)
    return Article(doc_id=doc_id or path.stem, title=meta.title or title, text=cleaned, date=meta.date, source=meta.source,
                   author=meta.author)


def parse_html(path: Path, html: str, doc_id: str | None = None) -> Article:
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
        doc_id=doc_id or path.stem,
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
    characters in the body (other than tab/newline) and the author become spaces; every other
    field is kept. The same rules hold for every
    format, so a record can never make search fail for the others (docs/security.md).
    """
    where = _where(path, lineno)
    fields = {"id": art.doc_id, "title": art.title, "text": art.text, "url": art.url, "date": art.date,
              "source": art.source, "author": art.author}
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
    author = " ".join(_CONTROL.sub(" ", art.author).split()) if _CONTROL.search(art.author) else art.author
    if title is art.title and text is art.text and author is art.author:
        return art
    return replace(art, title=title, text=text, author=author)


def json_objects(path: Path, lines: Iterable[str], error: type[QAError] = IngestError) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSON-lines file; a malformed line
    (including one nested too deeply for the parser) raises ``error`` naming the file and line."""
    lineno = 0
    for line in lines:  # not enumerate(): it would keep the last line referenced
        lineno += 1
        if not line or line.isspace():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{lineno}: malformed JSON ({exc.msg})") from exc
        except RecursionError:
            raise error(f"{path}:{lineno}: malformed JSON (nested too deeply)") from None
        del line  # the decoded record is what is used from here on
        if not isinstance(obj, dict):
            raise error(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def iter_lines(path: Path) -> Iterator[str]:
    """The lines of a text file, read as a stream (memory stays bounded by the longest line).

    Same checks as :func:`read_text`: size limit, UTF-8 (a bad byte names its line) or UTF-16/32
    after a byte-order mark, NUL bytes in the first 8 KiB of anything else."""
    try:
        with open_regular(path) as fh:
            head = fh.read(8192)
            fh.seek(0)
            codec = bom_codec(head[:4])
            if codec in {"utf-16", "utf-32"}:
                yield from _wide_lines(path, fh, codec)
                return
            if b"\x00" in head:
                raise IngestError(f"{path}: looks like a binary file, not text")
            # through map, so that no line (nor its bytes) stays referenced here while the reader has it
            yield from map(functools.partial(_utf8_line, path), itertools.count(1), fh)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read file ({exc.strerror or exc})") from exc


def _utf8_line(path: Path, lineno: int, raw: bytes) -> str:
    """Line ``lineno`` of a UTF-8 file without its line end, decoded straight from its bytes (a
    line of megabytes is not copied again to strip the end)."""
    end = len(raw)
    while end and raw[end - 1] in b"\r\n":
        end -= 1
    try:
        return str(memoryview(raw)[:end], "utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}:{lineno}: not UTF-8 text (bad byte at column {exc.start + 1}); "
                          "convert it with iconv first") from exc


def _wide_lines(path: Path, raw: BinaryIO, codec: str) -> Iterator[str]:
    """The lines of a UTF-16/32 file with a byte-order mark (the codec reads past it)."""
    lineno = 0
    with io.TextIOWrapper(raw, encoding=codec, newline="") as fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                yield line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise IngestError(f"{path}:{lineno + 1}: not valid {codec.upper()} text after its byte-order mark") from exc


#: Unparsable JSON-lines dates warned about line by line, per file (then one line with the count).
DATE_WARNINGS_PER_FILE = 5


def _field_types(obj: dict[str, Any]) -> list[str]:
    """The fields of a JSON-lines record whose type is wrong (see :func:`parse_jsonl`)."""
    bad = [k for k in ("id", "text", "date") if k in obj and not isinstance(obj[k], (str, int))]
    bad += [k for k in ("title", "url", "source") if k in obj and not isinstance(obj[k], str)]
    author = obj.get("author", "")
    if not (isinstance(author, str) or (isinstance(author, list) and all(isinstance(a, str) for a in author))):
        bad.append("author")
    return bad


def parse_jsonl(path: Path, text: str | Iterable[str]) -> Iterator[Article]:
    """The articles of a JSON-lines file. ``id`` (or BEIR's ``_id``) and ``text`` are strings (or
    numbers); ``title``, ``url`` and ``source`` strings; ``author`` a string or a list of strings
    (joined with ", "); ``date`` goes through :func:`index.metadata.iso_date` like every format's:
    ISO 8601 when it is a date with day, month and year, else ``""`` and a warning naming the
    line. A wrong type is an :class:`IngestError` naming the field and line."""
    lines = text.split("\n") if isinstance(text, str) else text
    bad_dates = 0
    for lineno, obj in json_objects(path, lines):
        if "id" not in obj and "_id" in obj:  # BEIR corpus.jsonl
            obj["id"] = obj["_id"]
        missing = [k for k in ("id", "text") if k not in obj]
        if missing:
            raise IngestError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
        bad = _field_types(obj)
        if bad:
            what = "a string or a list of strings" if bad == ["author"] else "strings"
            raise IngestError(f"{path}:{lineno}: field(s) {', '.join(bad)} must be {what}")
        meta = metadata.from_fields(obj)  # explicit fields win; a date is ISO 8601 or ""
        raw_date = str(obj.get("date") or "").strip()
        if raw_date and not meta.date:
            bad_dates += 1
            if bad_dates <= DATE_WARNINGS_PER_FILE:
                log.warning("%s:%d: date %r is not a date with day, month and year; stored as unknown",
                            path, lineno, raw_date[:80])
        yield validate_article(Article(
            doc_id=str(obj["id"]),
            title=meta.title,
            text=clean_text(str(obj["text"]), cut_edges=False),
            url=meta.url,
            date=meta.date,
            source=meta.source,
            author=meta.author,
        ), path, lineno)
    if bad_dates > DATE_WARNINGS_PER_FILE:
        log.warning("%s: %d more dates that are not dates stored as unknown", path, bad_dates - DATE_WARNINGS_PER_FILE)


#: The store's temporary and set-aside generations: ``<index>.tmp-<pid>`` and ``<index>.old-<pid>``.
_STORE_SIBLING = re.compile(r"^(?P<base>.+)\.(?:tmp|old)-\d+$")
_FORMAT_FIELD = re.compile(r'"format"\s*:\s*"([^"]*)"')


def is_qa_index(folder: Path) -> bool:
    """Whether ``folder`` holds a qa index: a ``manifest.json`` whose ``format`` is ``qa-index``."""
    manifest = folder / INDEX_MANIFEST
    try:
        if not manifest.is_file():
            return False
        with manifest.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    m = _FORMAT_FIELD.search(head)  # the store writes "format" first; a damaged manifest still counts
    return bool(m) and m.group(1) == INDEX_FORMAT


def _skipped_folder(folder: Path) -> bool:
    """Folders a walk never enters: hidden ones, qa indexes, and the store's ``.tmp-*``/``.old-*``
    generations of an index (a half-written one has no manifest yet, but has ``segments/``)."""
    if folder.name.startswith("."):
        return True
    if is_qa_index(folder):
        return True
    m = _STORE_SIBLING.match(folder.name)
    return bool(m) and ((folder / "segments").is_dir() or is_qa_index(folder.with_name(m.group("base"))))


def _walk(root: Path) -> Iterator[Path]:
    """Every file under ``root`` outside skipped folders (symlinked folders are not followed)."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not _skipped_folder(here / d)]
        for name in filenames:
            f = here / name
            if not name.startswith(".") and f.is_file():
                yield f


@dataclass(frozen=True)
class InputFile:
    """One file to ingest: its path (the folder argument joined with its place in that folder,
    or the path as given) and the folder argument it was found under (``None`` when given)."""

    path: Path
    root: Path | None = None

    @property
    def relative(self) -> Path:
        """The path inside the folder argument, or the path as given."""
        return self.path if self.root is None else self.path.relative_to(self.root)


def _as_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    """One path (a ``str`` or ``Path``) is one path, never a sequence of characters."""
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    if isinstance(paths, bytes):
        raise TypeError("give paths as str or pathlib.Path, not bytes")
    return list(paths)


def iter_inputs(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Iterator[InputFile]:
    """Expand files and folders (recursively) into supported files, each once (the first time it
    is reached), a folder's files sorted for determinism. A walk skips hidden folders and files,
    qa index folders and their temporary/old generations (so ``qa index .`` never reads its own
    index), and warns once per other unsupported file."""
    seen: set[Path] = set()

    def first_time(f: Path) -> bool:
        key = f.resolve()
        if key in seen:
            return False
        seen.add(key)
        return True

    for raw in _as_paths(paths):
        p = Path(raw)
        if not p.exists():
            raise IngestError(f"{p}: no such file or folder")
        if p.is_dir():
            if is_qa_index(p):
                raise IngestError(f"{p}: is a qa index, not a folder of articles")
            found: list[Path] = []
            for f in _walk(p):
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append(f)
                else:
                    log.warning("skipping %s: unsupported file type (use .txt, .md, .html or .jsonl)", f)
            yield from (InputFile(f, p) for f in sorted(found) if first_time(f))
        elif p.suffix.lower() in SUPPORTED_SUFFIXES:
            if first_time(p):
                yield InputFile(p)
        else:
            raise IngestError(f"{p}: unsupported file type '{p.suffix or '(none)'}'; use .txt, .md, .html or .jsonl")


def iter_files(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """The paths of :func:`iter_inputs`."""
    return (f.path for f in iter_inputs(paths))


def file_doc_ids(files: Sequence[InputFile]) -> tuple[dict[Path, str], list[InputFile]]:
    """The doc id of each ``.txt``/``.md``/``.html`` file (``.jsonl`` records carry their own ids),
    and the files whose id had to be qualified.

    A file's id is its name without the suffix (its *stem*), as it always was, so re-indexing
    finds the articles of earlier runs. Files of one run that share a stem would silently merge
    into one article, so each of them gets the first of these that no other file's id equals:
    its path inside the folder argument it was found under without the suffix
    (``2024/one/index``), the same with the suffix (``b/news.md``), the path as found or given
    (the folder argument included) without the suffix, then with it. Pure and deterministic.
    """
    own = [f for f in files if f.path.suffix.lower() not in JSONL_SUFFIXES]
    stems = Counter(f.path.stem for f in own)

    def candidates(f: InputFile) -> list[str]:
        if stems[f.path.stem] == 1:
            return [f.path.stem]
        rel, given = f.relative.as_posix(), f.path.as_posix()
        keys = [rel[: len(rel) - len(f.path.suffix)], rel, given[: len(given) - len(f.path.suffix)], given]
        return list(dict.fromkeys(keys))  # in order, without repeats

    options = {f.path: candidates(f) for f in own}
    level = dict.fromkeys(options, 0)
    while True:
        groups: dict[str, list[Path]] = {}
        for path, keys in options.items():
            groups.setdefault(keys[level[path]], []).append(path)
        moved = False
        for members in groups.values():
            if len(members) > 1:
                for path in members:
                    if level[path] + 1 < len(options[path]):
                        level[path] += 1
                        moved = True
        if not moved:  # unique, or the same path twice (cannot happen: inputs are deduplicated)
            break
    ids = {path: keys[level[path]] for path, keys in options.items()}
    return ids, [f for f in own if stems[f.path.stem] > 1]


def iter_file(path: Path, doc_id: str | None = None) -> Iterator[Article]:
    """The articles of one file; ``.jsonl`` is parsed as a stream, line by line. A ``.txt``,
    ``.md`` or ``.html`` file is one article with id ``doc_id`` (default: the file's stem)."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from parse_jsonl(path, iter_lines(path))
        return
    text = read_text(path, html=suffix in HTML_SUFFIXES)
    art = parse_html(path, text, doc_id) if suffix in HTML_SUFFIXES else parse_text(path, text, doc_id)
    yield validate_article(art, path)


def load_file(path: Path) -> list[Article]:
    return list(iter_file(path))


def load_articles(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Article]:
    """Load every article under ``paths`` (one path, or several). Raises :class:`IngestError` on
    the first bad file and :class:`EmptyCorpusError` when nothing with text was found. Doc ids:
    :func:`file_doc_ids` for files, the ``id`` field for JSON lines; later duplicates of a JSON
    lines id win (with a warning), as a later run's article replaces an earlier one's."""
    paths = _as_paths(paths)
    if not paths:
        raise EmptyCorpusError("no input paths given")
    files = list(iter_inputs(paths))
    ids, qualified = file_doc_ids(files)
    if qualified:
        shared = Counter(f.path.stem for f in qualified)
        example = qualified[0]
        log.warning("%d files share a file name with another input file (%s): each one's doc id is its path "
                    "(e.g. %r for %s), not the bare name, so they stay separate articles", len(qualified),
                    ", ".join(f"{stem!r} x{n}" for stem, n in sorted(shared.items())[:5]) + (", ..." if len(shared) > 5 else ""),
                    ids[example.path], example.path)
    by_id: dict[str, Article] = {}
    for f in files:
        for art in iter_file(f.path, ids.get(f.path)):
            if not art.text.strip():
                log.warning("skipping %s (%s): no article text after cleaning", art.doc_id, f.path)
                continue
            if art.doc_id in by_id:
                log.warning("doc id %r appears more than once; the copy in %s wins", art.doc_id, f.path)
            by_id[art.doc_id] = art
    if not by_id:
        raise EmptyCorpusError(f"no articles with text found in {', '.join(map(str, paths))}")
    return list(by_id.values())
