"""Remove site furniture (menus, share bars, tag lists, comment forms, PREV/NEXT links) from
plain-text article dumps.

Pure functions over lines. The rules, tuned on the sample corpus and kept deliberately
conservative (losing reporting is worse than keeping a stray line):

1. Lines matching a furniture pattern are dropped wherever they are ("Share:", "Facebook",
   share bars made only of buttons ("Share on WhatsApp", "Tweet", "Share on Facebook Share on
   Twitter", "Click to share on Twitter (Opens in new window)"), "Also read: ...", "image.jpg",
   hashtag lines, comment-form labels, ...). A line that goes on past its buttons ("Share on
   WhatsApp became the main way…") is reporting and stays.
2. The body starts at the first pair of consecutive long paragraphs (>= ``LONG_WORDS`` words),
   extended backwards over prose lines (a lede or a caption). Menus and glossaries before it go.
3. The body ends at the first end-of-article marker ("Tags:", "Comments", "PREV", "See also",
   "Leave a Reply", ...) after the start, provided more prose stands before the marker than after.
4. Exact repeats of a line inside the body are dropped (headlines repeated by templates).

Photo captions and credits ("Illustration – Russia, following four years… (AFP)", "Images
source: © GETTY | Contributor", "Photo by …") are furniture too (rule 1), up to
``MAX_CAPTION_WORDS`` words.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

LONG_WORDS = 20
PROSE_WORDS = 8

_SOCIAL = (r"(facebook|twitter|x|pinterest|linkedin|whatsapp|telegram|reddit|email|e-mail|print|vk|tumblr|messenger"
           r"|threads|bluesky|mastodon|flipboard|pocket|sms|google\+?)")
#: "(Opens in new window)": what WordPress/Jetpack share buttons add to their labels.
_NEW_WINDOW = r"(\s*\(opens in (a )?new (window|tab)\))?"
#: One button of a share bar: "Share on WhatsApp", "Share this on X", "Tweet", "Pin it", "Copy link",
#: "Facebook", "Share" (optionally with "(Opens in new window)").
_SHARE_BUTTON = (rf"((share|post|send|pin|save)( it| this( article| story| post| page)?)?\s+(on|to|via|with)\s+{_SOCIAL}"
                 rf"|tweet( this| it)?|pin it|copy( the)? link|share|{_SOCIAL}){_NEW_WINDOW}")
#: Lines longer than this are reporting, never furniture (abstracts and leads can open with
#: words like "Next-generation" or "Related").
MAX_FURNITURE_WORDS = 25
_FURNITURE = [
    rf"^{_SOCIAL}$",
    r"^share( this( article| story| post)?)?\s*[:|]?(\s+" + _SOCIAL + r")*\s*$",
    # a share bar: a line of nothing but buttons ("Share on Facebook Share on Twitter", "Tweet")
    rf"^{_SHARE_BUTTON}([\s|•·,/]+{_SHARE_BUTTON})*\s*$",
    # Jetpack: "Click to share on Twitter (Opens in new window)", "Click to email a link to a friend"
    rf"^click to (share|email|print|tweet)\b[^.!?()]{{0,60}}\(opens in (a )?new (window|tab)\)$",
    rf"^click to (share( it| this)? (on|via|with) {_SOCIAL}|email( this| a link to a friend)?|print|tweet)$",
    r"^(also read|read also|read more|see more|related( articles?| posts?| stories| content| news)?"
    r"|recommended( for you)?|advertisement|sponsored( content)?)\s*(:.*)?$",
    r"^\S+\.(jpe?g|png|gif|webp|svg)$",
    r"^(#\S+\s*){2,}$",
    r"^[\W_]{1,5}$",
    r"^(name|email|website|comment|\* ?text|send|submit|reply|cancel reply)\s*[:*]?\s*$",
    r"^your email address will not be published.*$",
    r"^this site uses akismet.*$",
    r"^(leave a (reply|comment)|post a comment|comments?( \(\d+\))?)\s*:?\s*$",
    r"^(scroll to top|back to top|skip to (main )?content|cookie (policy|settings)|accept( all)? cookies)\s*$",
    r"^(images? source|photo|image|picture|credit)s?\s*[:©].*$",
    r"^read all articles by .*$",
    r"^the article is in \w+\.?$",
    r"^(subscribe|follow us|sign up|newsletter)\b[^.!?]{0,60}$",
    r"^(previous|next) (article|post|story)\b.*$",
    r"^(gallery|photo|film|video|editor'?s choice|most viewed|in focus|day week month|tags?)\s*:?\s*$",
]
_FURNITURE_RE = [re.compile(p, re.IGNORECASE) for p in _FURNITURE]
#: A caption names itself ("Illustration – …", "Photo: …", "File photo - …", "Photo by …"); it
#: may be a full sentence, so it has its own, larger length limit.
MAX_CAPTION_WORDS = 60
_CAPTION = re.compile(r"^((file |archive )?(illustration|photo|photograph|image|picture|caption)s?(\s*\([^)]{1,30}\))?"
                      r"\s*[–—:|-]\s+\S|(photo|image|picture)s?\s+(by|credit|courtesy)\b)", re.IGNORECASE)
# "PREV headline" / "NEXT headline" links are upper case; "Next, the council..." is prose.
_PREV_NEXT = re.compile(r"^(PREV|NEXT)\b(?!-)")

_END_MARKERS = re.compile(
    r"^(tags?\s*:.*|comments?\s*:?|share\s*:?|(previous|next) (article|post|story)\b.*"
    r"|see also|related( content| articles| posts| stories)?\s*:?|leave a (reply|comment)"
    r"|scroll to top|read all articles by .*|the article is in \w+\.?|(#\S+\s*){2,})$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")
_TRAILING_PAREN = re.compile(r"\s*\([^()]{1,40}\)$")


#: A line longer than this is split into words a window at a time (cut at whitespace): one line of
#: megabytes (an article with no line break) as one list of its millions of words took 900 MB.
LONG_LINE_CHARS = 65_536
_SPACE = re.compile(r"\s")


def _windows(line: str) -> list[str] | Iterator[str]:
    """``line`` (one piece when short) in windows of about ``LONG_LINE_CHARS`` cut at whitespace, so
    that the words of the windows are exactly the words of the line."""
    if len(line) <= LONG_LINE_CHARS:
        return [line]
    return _long_windows(line)


def _long_windows(line: str) -> Iterator[str]:
    i = 0
    while i < len(line):
        m = _SPACE.search(line, i + LONG_LINE_CHARS)
        j = m.start() if m else len(line)
        yield line[i:j]
        i = j


def _words(line: str) -> int:
    return sum(len(w.split()) for w in _windows(line))


def _line_key(line: str) -> str | bytes:
    """What two repeated lines share: their words, lower-cased, joined by single spaces; when that
    is over ``LONG_LINE_CHARS`` characters, a 128-bit digest of it (not another copy of the line)."""
    if len(line) <= LONG_LINE_CHARS:
        return " ".join(line.lower().split())
    digest, size = hashlib.blake2b(digest_size=16), 0
    for w in _windows(line):
        key = " ".join(w.lower().split())
        if key:
            digest.update(f" {key}".encode() if size else key.encode())
            size += len(key) + (1 if size else 0)
    if size > LONG_LINE_CHARS:
        return digest.digest()
    return " ".join(k for k in (" ".join(w.lower().split()) for w in _windows(line)) if k)


def is_furniture(line: str) -> bool:
    s = line.strip()
    if _CAPTION.match(s) and _words(s) <= MAX_CAPTION_WORDS:
        return True
    if _words(s) > MAX_FURNITURE_WORDS:
        return False
    return bool(_PREV_NEXT.match(s)) or any(p.match(s) for p in _FURNITURE_RE)


def _is_end_marker(line: str) -> bool:
    s = line.strip()
    return _words(s) <= MAX_FURNITURE_WORDS and (bool(_PREV_NEXT.match(s)) or bool(_END_MARKERS.match(s)))


def is_prose(line: str) -> bool:
    s = _TRAILING_PAREN.sub("", line.strip())
    return _words(s) >= PROSE_WORDS and bool(_SENTENCE_END.search(s))


def body_span(lines: list[str]) -> tuple[int, int]:
    """Return [start, end) of the article body within ``lines`` (non-empty, stripped)."""
    n = len(lines)
    start = 0
    for i in range(n - 1):
        if _words(lines[i]) >= LONG_WORDS and _words(lines[i + 1]) >= LONG_WORDS:
            start = i
            while start > 0 and is_prose(lines[start - 1]) and not is_furniture(lines[start - 1]):
                start -= 1
            break
    end = n
    for j in range(start + 1, n):
        if _is_end_marker(lines[j]):
            before = sum(_words(x) for x in lines[start:j] if is_prose(x))
            after = sum(_words(x) for x in lines[j + 1 :] if is_prose(x) and not is_furniture(x))
            if before > after:
                end = j
                break
    return start, end


_body_span = body_span  # the old private name


def clean_lines(lines: list[str], *, cut_edges: bool = True) -> list[str]:
    """Keep the article body's lines, in order. ``cut_edges=False`` applies rules 1 and 4 only."""
    kept = [ln.strip() for ln in lines if ln.strip()]
    if cut_edges and kept:
        start, end = body_span(kept)
        kept = kept[start:end]
    out: list[str] = []
    seen: set[str | bytes] = set()
    for ln in kept:
        key = _line_key(ln)
        if is_furniture(ln) or key in seen:
            continue
        seen.add(key)
        out.append(ln)
    return out


def clean_text(text: str, *, cut_edges: bool = True) -> str:
    """Cleaned body: kept lines joined by blank lines (paragraph breaks)."""
    return "\n\n".join(clean_lines(text.splitlines(), cut_edges=cut_edges))
