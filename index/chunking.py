"""Sentence-aware chunking with exact character offsets. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from .records import Article, Passage, passage_id_for

TokenCounter = Callable[[Sequence[str]], list[int]]

#: A paragraph break: a blank line (spaces allowed). qa/timeline.py finds paragraphs with it too.
PARA_BREAK = re.compile(r"\n\s*\n")


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
    import blingfire  # small C library, fast and offset-preserving

    spans: list[tuple[int, int]] = []
    pos = 0
    for para in PARA_BREAK.split(text):
        start = text.index(para, pos) if para else pos
        pos = start + len(para)
        if not para.strip():
            continue
        # a paragraph of megabytes (no line break anywhere) goes to the splitter in windows: blingfire
        # holds several copies of what it is given (10 MB took 350 MB)
        for w0, w1 in bounded_spans(para, [(0, len(para))], MAX_PARAGRAPH_CHARS):
            window = para[w0:w1]
            _, offsets = blingfire.text_to_sentences_and_offsets(window)
            for s, e in offsets:
                # trim whitespace so quotes are exact
                while s < e and window[s].isspace():
                    s += 1
                while e > s and window[e - 1].isspace():
                    e -= 1
                if e > s:
                    spans.append((start + w0 + s, start + w0 + e))
    return spans


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


def chunk_article(article: Article, settings: ChunkSettings, count_tokens: TokenCounter | None = None,
                  *, title_in_passage: bool = True) -> list[Passage]:
    """Pack consecutive sentences into passages of at most ``settings.max_tokens`` word pieces,
    repeating the last ``overlap_sentences`` sentences at the start of the next passage.
    ``count_tokens`` is the model's tokenizer (default: :func:`approx_token_counts`). A sentence
    over the budget is cut into word windows, and a word longer than ``MAX_WORD_CHARS``
    characters into pieces, so no passage holds more than the budget (:func:`_units`).
    Passage ids hash what is indexed (:func:`~index.records.passage_id_for`): the headline too
    when ``title_in_passage``."""
    count_tokens = count_tokens or approx_token_counts
    text = article.text
    spans = list(bounded_spans(text, split_sentences(text)))
    if not spans:
        return []
    counts = count_tokens([text[s:e] for s, e in spans])
    units = _units(text, spans, counts, settings.max_tokens, count_tokens)

    passages: list[Passage] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + units[j][2] <= settings.max_tokens):
            total += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        body = text[start:end]
        passages.append(
            Passage(
                passage_id=passage_id_for(article.doc_id, article.title, body, title_in_passage),
                doc_id=article.doc_id,
                text=body,
                start=start,
                end=end,
                title=article.title,
            )
        )
        if j >= len(units):
            break
        i = max(i + 1, j - settings.overlap_sentences)
    return passages


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
    seen: set[str] = set()
    out: list[Passage] = []
    for p in passages:
        if p.passage_id not in seen:
            seen.add(p.passage_id)
            out.append(p)
    return out
