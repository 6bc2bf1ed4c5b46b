"""Sentence-aware chunking with exact character offsets. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from .records import Article, Passage, passage_id_for

TokenCounter = Callable[[Sequence[str]], list[int]]

#: A paragraph break: a blank line (``qa.timeline`` reads paragraphs with it too).
PARA_BREAK = re.compile(r"\n\s*\n")
_NON_SPACE = re.compile(r"\S")


@dataclass(frozen=True)
class ChunkSettings:
    """How articles are cut into passages. Recorded in the index manifest."""

    max_tokens: int = 200  # word pieces; all-MiniLM-L6-v2 reads 256, the title takes some
    overlap_sentences: int = 1

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError(f"max_tokens must be >= 16, got {self.max_tokens}")
        if not 0 <= self.overlap_sentences <= 5:
            raise ValueError(f"overlap_sentences must be between 0 and 5, got {self.overlap_sentences}")


#: A word longer than this is cut into pieces of at most this many characters before it is counted:
#: BERT's WordPiece (all-MiniLM-L6-v2's tokenizer) reads any longer word as one ``[UNK]``, so the
#: model's count says nothing about how long it is, and one 300,000-character "word" (a base64
#: blob, a run of dashes) would become one 300,000-character passage.
MAX_WORD_CHARS = 100
#: :func:`approx_token_counts` counts a word longer than this by its characters (longer than nearly
#: every real word or URL, so ordinary text counts as it always did).
APPROX_LONG_WORD = 60
#: ... at this many characters per word piece (URLs, hashes and pasted blobs split finely).
APPROX_CHARS_PER_PIECE = 4
_LONG_WORD = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")


def approx_token_counts(texts: Sequence[str]) -> list[int]:
    """Cheap stand-in for a word-piece tokenizer: about 1.3 pieces per word, and a word longer
    than ``APPROX_LONG_WORD`` characters one piece per ``APPROX_CHARS_PER_PIECE`` characters."""
    out = []
    for t in texts:
        words = t.split()
        long = [len(w) for w in words if len(w) > APPROX_LONG_WORD]
        out.append(int((len(words) - len(long)) * 1.3 + sum(long) / APPROX_CHARS_PER_PIECE) + 1)
    return out


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``[start, end)`` over ``text``; never crosses a paragraph break."""
    return list(iter_sentences(text))


def iter_sentences(text: str) -> Iterator[tuple[int, int]]:
    """:func:`split_sentences` as a stream: one paragraph window at a time, no copy of ``text``."""
    import blingfire  # small C library, fast and offset-preserving

    for start, end in _paragraphs(text):
        if not _NON_SPACE.search(text, start, end):
            continue
        # a paragraph of megabytes (no line break anywhere) goes to the splitter in windows: blingfire
        # holds several copies of what it is given (10 MB took 350 MB)
        for w0, w1 in bounded_spans(text, [(start, end)], MAX_PARAGRAPH_CHARS):
            window = text[w0:w1]
            _, offsets = blingfire.text_to_sentences_and_offsets(window)
            for s, e in offsets:
                # trim whitespace so quotes are exact
                while s < e and window[s].isspace():
                    s += 1
                while e > s and window[e - 1].isspace():
                    e -= 1
                if e > s:
                    yield w0 + s, w0 + e


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """The ``[start, end)`` of each piece of ``text`` between :data:`PARA_BREAK` matches."""
    pos = 0
    for m in PARA_BREAK.finditer(text):
        yield pos, m.start()
        pos = m.end()
    yield pos, len(text)


#: Longest span the chunker measures at once: a "sentence" longer than this (a text with no sentence
#: breaks, a table dumped as one line) is first cut at whitespace into windows of at most this many
#: characters, so no tokenizer or word list ever sees megabytes at once (a 10 MB article without a
#: full stop took 1.5 GB in the model's tokenizer). Far above any real sentence.
MAX_SPAN_CHARS = 4096
#: Longest piece of one paragraph the sentence splitter reads at once (a sentence across two pieces
#: is cut there: only in a paragraph longer than this, where no reader expects sentences anyway).
MAX_PARAGRAPH_CHARS = 65_536


def bounded_spans(text: str, spans: Iterable[tuple[int, int]], limit: int = MAX_SPAN_CHARS) -> Iterator[tuple[int, int]]:
    """``spans``, each longer than ``limit`` characters cut into windows of at most ``limit``, at the
    last whitespace of a window when there is one in its second half (else mid-word)."""
    for s, e in spans:
        while e - s > limit:
            end = s + limit
            cut = max(text.rfind(" ", s + limit // 2, end), text.rfind("\n", s + limit // 2, end),
                      text.rfind("\t", s + limit // 2, end))
            cut = cut if cut > s else end
            stop = cut
            while stop > s and text[stop - 1].isspace():
                stop -= 1
            if stop > s:
                yield s, stop
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if e > s:
            yield s, e


def _split_long(text: str, span: tuple[int, int], count: int, limit: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence into word windows that fit ``limit``."""
    s, e = span
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", text[s:e])]
    per = max(1, int(len(words) * limit / max(count, 1)))
    return [(words[i][0], words[min(i + per, len(words)) - 1][1]) for i in range(0, len(words), per)]


def _word_pieces(text: str, span: tuple[int, int]) -> list[tuple[int, int]]:
    """``span`` as runs of ordinary words and pieces of at most ``MAX_WORD_CHARS`` characters of
    each longer word, in order; together they cover every word."""
    s, e = span
    out: list[tuple[int, int]] = []
    pos = s
    for m in _LONG_WORD.finditer(text, s, e):
        run = text[pos : m.start()]
        if run.strip():
            out.append((pos + len(run) - len(run.lstrip()), m.start() - (len(run) - len(run.rstrip()))))
        out.extend((i, min(i + MAX_WORD_CHARS, m.end())) for i in range(m.start(), m.end(), MAX_WORD_CHARS))
        pos = m.end()
    run = text[pos:e]
    if run.strip():
        out.append((pos + len(run) - len(run.lstrip()), e - (len(run) - len(run.rstrip()))))
    return out


def _fit(text: str, span: tuple[int, int], n: int, limit: int, count_tokens: TokenCounter) -> list[tuple[int, int, int]]:
    """``span`` (``n`` pieces) as units of at most ``limit`` pieces each, counted by ``count_tokens``:
    several words are cut into word windows, one word into runs of characters, until each fits."""
    s, e = span
    if n <= limit or e - s <= 1:
        return [(s, e, n)]
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", text[s:e])]
    if len(words) > 1:
        parts = _split_long(text, span, n, limit)
    else:
        size = max(1, (e - s) * limit // n)
        parts = [(i, min(i + size, e)) for i in range(s, e, size)]
    counts = count_tokens([text[a:b] for a, b in parts])
    return [u for part, c in zip(parts, counts) for u in _fit(text, part, c, limit, count_tokens)]


def _units(text: str, spans: list[tuple[int, int]], counts: list[int], limit: int,
           count_tokens: TokenCounter) -> list[tuple[int, int, int]]:
    """The ``(start, end, pieces)`` units that passages are packed from: sentences, over-long
    ones cut into word windows, and (in a sentence holding a word over ``MAX_WORD_CHARS``
    characters) word runs and pieces of long words, each counted and cut until it fits ``limit``."""
    units: list[tuple[int, int, int]] = []
    for span, n in zip(spans, counts):
        if _LONG_WORD.search(text, span[0], span[1]):
            pieces = _word_pieces(text, span)
            for piece, c in zip(pieces, count_tokens([text[a:b] for a, b in pieces])):
                units.extend(_fit(text, piece, c, limit, count_tokens))
        elif n > limit:
            parts = _split_long(text, span, n, limit)
            units.extend((s, e, n // len(parts) + 1) for s, e in parts)
        else:
            units.append((span[0], span[1], n))
    return units


#: Spans (each at most :data:`MAX_SPAN_CHARS`) counted by the tokenizer at once: chunking holds
#: one such block and one passage's units, whatever the size of the article.
SPAN_BLOCK = 256


def chunk_article(article: Article, settings: ChunkSettings, count_tokens: TokenCounter | None = None,
                  *, title_in_passage: bool = True) -> list[Passage]:
    """Pack consecutive sentences into passages of at most ``settings.max_tokens`` word pieces,
    repeating the last ``overlap_sentences`` sentences at the start of the next passage.
    ``count_tokens`` is the model's tokenizer (default: :func:`approx_token_counts`). A sentence
    over the budget is cut into word windows, and a word longer than ``MAX_WORD_CHARS``
    characters into pieces, so no passage holds more than the budget (:func:`_units`).
    Passage ids hash what is indexed (:func:`~index.records.passage_id_for`): the headline too
    when ``title_in_passage``. :func:`iter_passages` gives the same passages as a stream."""
    return list(iter_passages(article, settings, count_tokens, title_in_passage=title_in_passage))


def iter_passages(article: Article, settings: ChunkSettings, count_tokens: TokenCounter | None = None,
                  *, title_in_passage: bool = True) -> Iterator[Passage]:
    """The passages of :func:`chunk_article`, in order, made as they are read: sentences are split,
    counted (:data:`SPAN_BLOCK` at a time) and packed as a stream, so memory does not grow with
    the article (a 50 MB article without a sentence break is some 65,000 passages)."""
    count_tokens = count_tokens or approx_token_counts
    text = article.text
    limit = settings.max_tokens
    for start, end in _pack(_iter_units(text, limit, count_tokens), limit, settings.overlap_sentences):
        body = text[start:end]
        yield Passage(
            passage_id=passage_id_for(article.doc_id, article.title, body, title_in_passage),
            doc_id=article.doc_id,
            text=body,
            start=start,
            end=end,
            title=article.title,
        )


def _iter_units(text: str, limit: int, count_tokens: TokenCounter) -> Iterator[tuple[int, int, int]]:
    """The :func:`_units` of ``text``'s sentences, counted and cut :data:`SPAN_BLOCK` spans at a time."""
    spans = bounded_spans(text, iter_sentences(text))
    while block := list(islice(spans, SPAN_BLOCK)):
        yield from _units(text, block, count_tokens([text[s:e] for s, e in block]), limit, count_tokens)


def _pack(units: Iterable[tuple[int, int, int]], limit: int, overlap: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each passage: consecutive units while their pieces fit ``limit`` (at least
    one unit), the next passage starting ``overlap`` units before the end (and at least one unit
    later). Reads ``units`` as a stream, holding one passage's units and the next one."""
    stream = iter(units)
    buf: list[tuple[int, int, int]] = []  # the units from the current passage's first one on

    def has(j: int) -> bool:  # whether unit j of buf exists, reading it if needed
        while len(buf) <= j:
            unit = next(stream, None)
            if unit is None:
                return False
            buf.append(unit)
        return True

    while has(0):
        j, total = 0, 0
        while has(j) and (j == 0 or total + buf[j][2] <= limit):
            total += buf[j][2]
            j += 1
        yield buf[0][0], buf[j - 1][1]
        if not has(j):
            return
        del buf[: max(1, j - overlap)]


def chunk_articles(articles: Sequence[Article], settings: ChunkSettings, count_tokens: TokenCounter | None = None,
                   *, show_progress: bool = False, title_in_passage: bool = True) -> dict[str, list[Passage]]:
    """:func:`chunk_article` over many articles: ``{doc_id: passages}``, in input order."""
    items: Iterable[Article] = articles
    if show_progress and len(articles) > 1:
        from tqdm import tqdm

        items = tqdm(articles, desc="chunking", unit="article")
    return {a.doc_id: chunk_article(a, settings, count_tokens, title_in_passage=title_in_passage) for a in items}


def unique_passages(passages: Iterable[Passage]) -> list[Passage]:
    """Drop repeats of a passage id (the same text in the same doc), keeping the first."""
    return list(iter_unique_passages(passages))


def iter_unique_passages(passages: Iterable[Passage]) -> Iterator[Passage]:
    """:func:`unique_passages` as a stream."""
    seen: set[str] = set()
    for p in passages:
        if p.passage_id not in seen:
            seen.add(p.passage_id)
            yield p
