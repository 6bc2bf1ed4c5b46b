"""Questions made by rule from sentences, with hard negatives: the reader's generated training data.

Used by ``scripts/train_reader.py`` (issue 24). Pure given spaCy parses: :func:`questions_for`
takes the parsed sentences of one document and returns :class:`Group` records (a question, the
sentence it was made from, and sentences of the same document that share its words without its
answer). Rules, each on spaCy's dependency parse (``en_core_web_sm``):

- ``why``: a clause of cause or purpose hangs on the main verb ("because ...", "due to ...",
  "as a result of ...", "in order to ...", "so that ...", "citing ...", a purpose infinitive
  "to ..."). Question: the main clause inverted ("Why did the council close the bridge?"). Its
  hardest negative is the sentence with the cause cut out: the restatement without the reason.
- ``how``: a means clause "by/through ...ing" on the main verb ("How did ... ?").
- ``how_many`` / ``how_much``: a number on a subject or object noun, or a sum of money / a
  percentage on the verb. Negatives prefer same-document sentences with another number.
- ``when``: a DATE entity on the main verb. ``where``: "in/at" + a place entity on the verb.
- ``who``: a person or organisation subject with an object ("Who signed the deal?").
- ``what_said``: a person's "said/told/announced" with a clause ("What did X say about Y?").

Negatives (at most ``NEGATIVES`` per question): the rule's own hard negative first, then the
document's sentences that share most content words with the question (never one that repeats
most of the positive's words, which might answer too), then one random sentence of the document.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NEGATIVES = 4
MIN_TOKENS, MAX_TOKENS = 8, 60
MAX_PHRASE = 10  # tokens of a subject/object phrase kept in a question
PRONOUNS = {"i", "you", "he", "she", "it", "we", "they", "this", "that", "these", "those", "which", "who", "one"}
DO = {"VBD": "did", "VBZ": "does", "VBP": "do"}
CAUSE_WORDS = {"because", "due", "owing", "citing", "since"}
PLACES = {"GPE", "LOC", "FAC"}
AGENTS = {"PERSON", "ORG", "NORP"}
SAY = {"say", "tell", "announce", "warn", "argue", "claim", "insist", "state"}
STOP = {"the", "a", "an", "of", "to", "in", "on", "for", "and", "or", "with", "by", "at", "from", "as", "is", "was",
        "are", "were", "be", "been", "did", "do", "does", "what", "why", "how", "who", "when", "where", "which",
        "many", "much", "that", "this", "it", "its", "their", "his", "her", "has", "have", "had", "about", "say"}


@dataclass(frozen=True)
class Group:
    """One training question: its sentence (label 1) and negatives (label 0) from the same document."""

    question: str
    positive: str
    negatives: tuple[str, ...]
    kind: str  # why, how, how_many, how_much, when, where, who, what_said, eval
    source: str  # the document's collection / id


# ----------------------------------------------------------------------------- small helpers
def _clean(text: str) -> str:
    text = re.sub(r"\s+([,.;:!?%)\]])", r"\1", text)
    text = re.sub(r"([(\[$])\s+", r"\1", text)
    text = re.sub(r"\s*,\s*,", ",", text)
    return " ".join(text.replace(" 's", "'s").replace(" n't", "n't").split()).strip(" ,;:-")


def _phrase(tokens: Sequence[Any], skip: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    kept = [t for t in tokens if t.i not in skip]
    if len(kept) > MAX_PHRASE:
        return ""
    return _clean("".join(t.text_with_ws for t in kept))


def _subtree(tok: Any) -> list[Any]:
    return sorted(tok.subtree, key=lambda t: t.i)


def _subject(verb: Any) -> Any | None:
    subj = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")]
    return subj[0] if subj else None


def _usable_subject(subj: Any | None) -> str:
    if subj is None or subj.lower_ in PRONOUNS or subj.pos_ == "PRON":
        return ""
    text = _phrase(_subtree(subj))
    if text.split()[:1] and text.split()[0] in ("The", "A", "An", "This", "These", "Those", "Its", "Their", "Our"):
        text = text[0].lower() + text[1:]
    if not text:  # a long subject: its head noun with compounds and determiners
        text = _clean(" ".join(t.text for t in subj.subtree if t.i >= subj.left_edge.i and t.dep_ in
                                ("det", "compound", "amod", "poss") and t.head == subj) + " " + subj.text)
    first = subj.left_edge
    if text and first.i == first.sent.start and first.pos_ != "PROPN" and not first.ent_type_ and not first.text.isupper():
        text = text[0].lower() + text[1:]
    return text


def _rest(verb: Any, skip: set[int]) -> str:
    """The verb's objects and particles after it (no adverbial clauses), minus ``skip``."""
    parts: list[str] = []
    for c in verb.children:
        if c.i < verb.i or c.i in skip:
            continue
        if c.dep_ in ("dobj", "prt", "attr", "acomp", "dative", "oprd"):
            p = _phrase(_subtree(c), skip)
            if not p:
                return ""
            parts.append(p)
        elif c.dep_ == "prep" and not any(t.ent_type_ in ("DATE", "TIME", "CARDINAL", "MONEY", "PERCENT") for t in c.subtree):
            p = _phrase(_subtree(c), skip)
            if p and len(parts) < 2 and not any(t.i in skip for t in c.subtree):
                parts.append(p)
    return " ".join(parts)


def _inverted(wh: str, verb: Any, subj: str, rest: str) -> str:
    """``wh`` + the clause with subject-auxiliary inversion ("Why did the mayor close it?")."""
    aux = [c for c in verb.children if c.dep_ in ("aux", "auxpass") and c.i < verb.i]
    neg = " not" if any(c.dep_ == "neg" for c in verb.children) else ""
    if aux:
        first, others = aux[0], " ".join(a.text for a in aux[1:])
        if first.lower_ == "to":
            return ""
        body = f"{first.text.lower()}{neg} {subj} {others} {verb.text} {rest}"
    elif verb.lemma_ == "be":
        body = f"{verb.text.lower()}{neg} {subj} {rest}"
    elif verb.tag_ in DO:
        body = f"{DO[verb.tag_]}{neg} {subj} {verb.lemma_.lower()} {rest}"
    else:
        return ""
    return _clean(f"{wh} {body}") + "?"


def _root_verb(sent: Any) -> Any | None:
    """The main verb; for reported speech ("X did Y, the mayor said") the reported clause's verb."""
    root = sent.root
    if root.lemma_ in SAY:
        comp = [c for c in root.children if c.dep_ == "ccomp" and c.pos_ in ("VERB", "AUX")]
        if comp:
            return comp[0]
    return root if root.pos_ in ("VERB", "AUX") else None


def _content(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP and len(w) > 2}


# ----------------------------------------------------------------------------- the rules
def _cause_span(verb: Any) -> tuple[str, set[int]] | None:
    """A cause or purpose clause on ``verb`` (or on its open complement: "was forced to sell ... as
    a result of ..."): (its kind, its token indices)."""
    heads = [verb, *[c for c in verb.children if c.dep_ == "xcomp"]]
    children = [c for h in heads for c in h.children if c.dep_ != "xcomp"]
    for c in children:
        if c.i < verb.i:
            continue
        words = [t.lower_ for t in _subtree(c)]
        first = words[0] if words else ""
        span = {t.i for t in c.subtree}
        if c.dep_ == "advcl":
            marks = [m.lower_ for m in c.children if m.dep_ in ("mark", "aux")]
            if "because" in marks or ("so" in marks and "that" in words[:3]) or "after" in marks:
                return "why", span
            if c.lemma_ == "cite" and c.tag_ == "VBG":
                return "why", span
            if first in ("to", "in") and ("to" in marks) and c.pos_ == "VERB":
                if first == "in" and words[:3] != ["in", "order", "to"]:
                    continue
                return "why", span
        if c.dep_ in ("prep", "acomp", "amod", "advmod") and (
                first in ("because", "due", "owing") or words[:4] == ["as", "a", "result", "of"]):
            if len(words) > 2:
                return "why", span
        if c.dep_ == "prep" and c.lower_ in ("by", "through") and any(
                g.dep_ == "pcomp" and g.tag_ == "VBG" for g in c.children):
            return "how", span
    return None


def _with_cut(sent: Any, span: set[int]) -> str:
    """The sentence without ``span`` (the restatement without its reason)."""
    text = _clean(" ".join(t.text for t in sent if t.i not in span))
    return text.rstrip(",;: ") + ("" if text.endswith(".") else ".")


def _number_question(sent: Any, verb: Any, subj_tok: Any | None, subj: str) -> tuple[str, str] | None:
    for ent in sent.ents:
        if ent.label_ not in ("CARDINAL", "MONEY", "PERCENT", "QUANTITY"):
            continue
        head = ent.root.head
        if ent.label_ in ("MONEY", "PERCENT") and ent.root.dep_ in ("dobj", "npadvmod", "attr") and head == verb and subj:
            rest = _rest(verb, {t.i for t in ent})
            q = _inverted("How much", verb, subj, rest)
            if q:
                return "how_much", q
        if ent.label_ == "CARDINAL" and ent.root.dep_ == "nummod" and head.pos_ == "NOUN":
            noun = head
            skip = {t.i for t in ent} | {t.i for t in noun.subtree if t.dep_ in ("quantmod", "advmod") or t.i in
                                           {x.i for x in ent.root.subtree}}
            noun_phrase = _phrase([t for t in noun.subtree if t.i not in skip and ent.end <= t.i <= noun.i], skip)
            noun_phrase = noun_phrase.lstrip(" ,")
            if not noun_phrase:
                continue
            if noun.dep_ == "dobj" and noun.head == verb and subj:
                q = _inverted(f"How many {noun_phrase}", verb, subj, _rest(verb, set(t.i for t in noun.subtree)))
                if q:
                    return "how_many", q
            if noun.dep_ in ("nsubj", "nsubjpass") and noun.head == verb:
                aux = " ".join(c.text for c in verb.children if c.dep_ in ("aux", "auxpass", "neg") and c.i < verb.i)
                rest = _rest(verb, set())
                if rest or aux:
                    return "how_many", _clean(f"How many {noun_phrase} {aux} {verb.text} {rest}") + "?"
    return None


def _date_question(sent: Any, verb: Any, subj: str) -> str | None:
    for ent in sent.ents:
        if ent.label_ != "DATE" or not subj:
            continue
        r = ent.root
        anchor = r.head if r.dep_ == "pobj" else r
        if anchor.head == verb and anchor.dep_ in ("prep", "npadvmod", "pobj"):
            return _inverted("When", verb, subj, _rest(verb, {t.i for t in ent}))
    return None


def _place_question(sent: Any, verb: Any, subj: str) -> str | None:
    for c in verb.children:
        if c.dep_ == "prep" and c.lower_ in ("in", "at") and subj:
            objs = [g for g in c.children if g.dep_ == "pobj" and g.ent_type_ in PLACES]
            if objs:
                return _inverted("Where", verb, subj, _rest(verb, {t.i for t in c.subtree}))
    return None


def _who_question(verb: Any, subj_tok: Any | None) -> str | None:
    if subj_tok is None or subj_tok.ent_type_ not in AGENTS or subj_tok.dep_ != "nsubj" or verb.tag_ not in ("VBD", "VBZ"):
        return None
    if any(c.dep_ in ("aux", "auxpass") for c in verb.children) or verb.lemma_ in SAY | {"be"}:
        return None
    rest = _rest(verb, set())
    if not rest:
        return None
    return _clean(f"Who {verb.text} {rest}") + "?"


def _said_question(verb: Any, subj_tok: Any | None, subj: str) -> str | None:
    if verb.lemma_ not in SAY or not subj or subj_tok is None or subj_tok.ent_type_ not in AGENTS:
        return None
    comp = [c for c in verb.children if c.dep_ == "ccomp"]
    if not comp:
        return None
    chunks = [t for t in comp[0].subtree if t.pos_ in ("NOUN", "PROPN") and t.dep_ in ("nsubj", "dobj", "pobj", "nsubjpass")]
    if not chunks:
        return None
    topic = _phrase([t for t in chunks[0].subtree if t.dep_ in ("det", "compound", "amod", "poss") or t == chunks[0]])
    if not topic:
        return None
    return _clean(f"What did {subj} {verb.lemma_.lower()} about {topic}") + "?"


def questions_for(sentences: Sequence[Any], source: str, rng: random.Random) -> list[Group]:
    """Every question the rules make from the parsed ``sentences`` of one document."""
    texts = [s.text.strip() for s in sentences]
    out: list[Group] = []
    for i, sent in enumerate(sentences):
        n = len(sent)
        if not MIN_TOKENS <= n <= MAX_TOKENS:
            continue
        verb = _root_verb(sent)
        if verb is None:
            continue
        subj_tok = _subject(verb)
        subj = _usable_subject(subj_tok)
        made: list[tuple[str, str, list[str]]] = []
        cause = _cause_span(verb)
        if cause and subj:
            kind, span = cause
            q = _inverted("Why" if kind == "why" else "How", verb, subj, _rest(verb, span))
            if q:
                made.append((kind, q, [_with_cut(sent, span)]))
        number = _number_question(sent, verb, subj_tok, subj)
        if number:
            made.append((number[0], number[1], []))
        say = sent.root if sent.root.lemma_ in SAY else verb
        say_subj_tok = _subject(say)
        said = _said_question(say, say_subj_tok, _usable_subject(say_subj_tok))
        for kind, q in (("when", _date_question(sent, verb, subj)), ("where", _place_question(sent, verb, subj)),
                        ("who", _who_question(verb, subj_tok)), ("what_said", said)):
            if q:
                made.append((kind, q, []))
        for kind, q, hard in made:
            if len(q.split()) < 4 or len(q.split()) > 30:
                continue
            negs = _negatives(q, i, texts, hard, kind, rng)
            if negs:
                out.append(Group(q, texts[i], tuple(negs), kind, source))
    return out


NUM = re.compile(r"\d")


def _negatives(question: str, i: int, texts: Sequence[str], hard: Sequence[str], kind: str, rng: random.Random) -> list[str]:
    pos = _content(texts[i])
    qwords = _content(question)
    out = [h for h in hard if h and h != texts[i] and len(h.split()) >= 5]
    scored = []
    for j, t in enumerate(texts):
        if j == i or not t:
            continue
        words = _content(t)
        if pos and len(words & pos) / max(1, len(words | pos)) > 0.6:
            continue  # nearly the positive: it may answer too
        overlap = len(words & qwords)
        if kind in ("how_many", "how_much") and NUM.search(t):
            overlap += 1
        scored.append((overlap, rng.random(), t))
    scored.sort(reverse=True)
    for _, _, t in scored:
        if len(out) >= NEGATIVES - 1:
            break
        out.append(t)
    rest = [t for _, _, t in scored if t not in out]
    if rest:
        out.append(rng.choice(rest))
    return out[:NEGATIVES]
