"""Answer-type evidence: does a sentence carry the kind of answer the question asks for?

:func:`type_evidence` scores one quotable unit (a sentence, with the sentence before it when it
opens with a pronoun or connective) against a :class:`~qa.question.QuestionAnalysis`:

- ``reason`` (why): a cause or purpose cue — "because", "due to", "in order to", "thanks to",
  "at the request of", "as a result", "their task was", or "to" + verb right after a verb of
  the question (1.0); a weaker one ("to" + verb elsewhere, "after", "since", "when": 0.5; "for",
  "as", "with": 0.4) — each scaled by 0.6 unless within eight words of a word of the question;
- ``quantity``: a number attached to the asked noun ("nearly 2,000 *troops*", a word of the same
  family counts: troops / soldiers / peacekeepers / forces) and, when the question names a year,
  that year in the sentence; a number elsewhere counts little;
- ``money``: an amount of money; ``duration``: a length of time or an age;
- ``date``: a date (a relative one, "this week", counts less); ``person``: a person (an
  organisation counts less); ``place``: a country, city or region (after "in", "at", "on" ...,
  else less); ``entity`` (which ...): any named thing — each one not already named in the question;
- ``manner`` (how): a means cue ("by ...ing", "through", "thanks to", "in response",
  "including" ...) 1.0, a weak one ("with", "by", "after") 0.5;
- ``thing``, ``any``: no specific type (1.0).

For "who/what is the X of Y" questions the unit must also state X and Y together (at most
three words apart), so "Russian President Vladimir Putin ... parts of Armenia" does not answer
"who is the president of Armenia?". The functions are pure given the tags of :mod:`qa.tagger`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .question import QuestionAnalysis
from .tagger import Tagged

Stemmer = Callable[[str], list[str]]

STRONG_REASON = re.compile(
    r"\b(because|due to|owing to|in order to|so as to|so that|as a result|the reason|reasons? (for|why|behind)|"
    r"the purpose|purpose (of|is|was)|aims? to|aimed at|thanks to|led to|leads? to|in response|that is why|which is why|"
    r"at the request of|for fear|in protest|protest gesture|caused by|result of|means that|meant that|meant war|"
    r"on the occasion of|wishing to|in exchange|in return|since (?!then\b)(?=[a-z])|"
    r"(task|goal|aim|mission|objective|purpose) (was|is|were|are)\b)", re.I)
WEAK_REASON = re.compile(r"\b(after|since|when|amid|so)\b", re.I)
WEAKER_REASON = re.compile(r"\b(for|as|with)\b", re.I)
LOCATIVE = re.compile(r"\b(in|at|on|to|from|near|across|inside|outside|with)\s+(the\s+)?(city\s+of\s+|town\s+of\s+)?$", re.I)
#: A cue counts fully only this close (in words) to a word of the question ...
CUE_WINDOW = 8
#: Words from a reason cue on that name the reason (to tell two reasons apart).
REASON_WORDS = 6
#: "to" + verb at most this many words after a verb of the question states its purpose.
PURPOSE_WINDOW = 6
#: "how many X": the number may stand this many tokens before X when only a noun phrase's words
#: (adjectives, numbers, "and", names) lie between ("85 American, Armenian and Georgian military participants").
NP_LOOKAHEAD = 8
#: ... an answer entity this close ...
ENTITY_WINDOW = 12
#: ... else it counts this much.
FAR_FACTOR = 0.6
#: A year the question names but the sentence lacks multiplies quantity evidence by this.
YEAR_FACTOR = 0.3
MANNER = re.compile(r"\b(by \w+ing|through|thanks to|via|by means of|in response|in reaction|includes?|including|"
                    r"such as|in the form of|as a result|because|due to)\b", re.I)
WEAK_MANNER = re.compile(r"\b(with|by|after|so)\b", re.I)
MONTHS = ("january february march april may june july august september october november december "
          "jan feb mar apr jun jul aug sep sept oct nov dec").split()
DATE_WORDS = re.compile(r"\b(\d{4}|\d{1,2}(st|nd|rd|th)?|" + "|".join(MONTHS) +
                        r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|week|month|year|autumn|"
                        r"spring|summer|winter|fall)\b", re.I)
DURATION_WORDS = re.compile(r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|several|\w+teen|\w+ty)[-\s]"
                            r"(years?|months?|weeks?|days?|hours?|minutes?|decades?|centuries|year-old)\b", re.I)
NUMBER = re.compile(r"(?<![\w.])\$?\d[\d,.]*\b")
YEARLIKE = re.compile(r"^(1[89]\d\d|20\d\d)$")
#: Nouns of one family: a number before any of them answers "how many" about the others.
NOUN_FAMILIES = (
    frozenset({"troop", "soldier", "peacekeep", "forc", "militari", "servicemen", "personnel", "guard", "particip"}),
    frozenset({"peopl", "resid", "refuge", "civilian", "inhabit", "person"}),
)
PERSON_LABELS = frozenset({"PERSON"})
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
NAMED_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "WORK_OF_ART", "LAW", "PRODUCT"})
NUMBER_LABELS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})


@dataclass(frozen=True)
class TypeEvidence:
    score: float  # 0..1: how clearly the unit carries an answer of the expected type
    items: tuple[str, ...] = ()  # the answer-bearing spans (numbers, names, dates, cues)


def _new(text: str, question_words: set[str]) -> bool:
    """True when ``text`` (an entity) is not just words of the question."""
    words = {w.lower() for w in re.findall(r"\w+", text)}
    return bool(words - question_words)


def _family(stem: str) -> frozenset[str]:
    for fam in NOUN_FAMILIES:
        if any(_same_word(stem, f) for f in fam):
            return fam
    return frozenset({stem})


def _same_word(a: str, b: str) -> bool:
    """Stems of one word family or sharing a 5-letter prefix (Armenia / Armenian)."""
    return a == b or (len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5])


def _words(text: str) -> list[str]:
    return re.findall(r"[\w’'$-]+", text.lower())


def _singular(word: str) -> str:
    w = word.lower().strip("’'")
    return w[:-1] if w.endswith("s") and not w.endswith("ss") and len(w) > 3 else w


def relation_holds(relation: tuple[str, str], text: str, stem: Stemmer, window: int = 3) -> bool:
    """Whether ``text`` states X and Y of "the X of Y" at most ``window`` words apart."""
    y = stem(relation[1])[0] if stem(relation[1]) else relation[1]
    raw = _words(text)
    words = [stem(w)[0] if stem(w) else w for w in raw]
    # X (the role: president, foreign minister) must be the same words, in order, the last one
    # singular or plural: a "Foreign Ministry" is not a "foreign minister". Y (the place or body)
    # may be any word of its family.
    *before, head = relation[0].split()
    xs = [i for i, w in enumerate(raw) if _singular(w) == _singular(head)
          and i >= len(before) and raw[i - len(before):i] == before]
    ys = [i for i, w in enumerate(words) if _same_word(w, y)]
    return any(abs(i - j) <= window for i in xs for j in ys)


def _quantity(a: QuestionAnalysis, text: str, tagged: Tagged, stem: Stemmer, money: bool) -> TypeEvidence:
    numbers: list[tuple[int, int, str]] = []
    for e in tagged.entities:
        if e.label in NUMBER_LABELS and not YEARLIKE.match(e.text.strip()):
            if money and e.label != "MONEY" and "$" not in e.text and not re.search(r"billion|million|euro|dollar", text[e.start:e.end + 12], re.I):
                continue
            numbers.append((e.start, e.end, e.text))
    if not numbers:
        for m in NUMBER.finditer(text):
            if not YEARLIKE.match(m.group().strip("$,.")):
                numbers.append((m.start(), m.end(), m.group()))
    if not numbers:
        return TypeEvidence(0.0)
    best, items = 0.3, tuple(n for _, _, n in numbers)
    if money:
        best = 1.0
    elif a.asked_noun:
        target = _family(stem(a.asked_noun)[0] if stem(a.asked_noun) else a.asked_noun)
        for s, e, n in numbers:
            after = [stem(w) for w in _words(text[e:e + 60])[:4]] + _np_after(tagged, e, stem)
            if any(any(_same_word(t, f) for f in target) for ws in after for t in ws):
                best, items = 1.0, (n,)
                break
    else:
        best = 0.7
    if a.year and a.year not in text:
        best *= YEAR_FACTOR
    return TypeEvidence(best, items)


def _np_after(tagged: Tagged, end: int, stem: Stemmer) -> list[list[str]]:
    """Stems of the words after a number up to the end of its noun phrase (POS tags): the nouns
    a coordinated number counts ("85 American, Armenian and Georgian military *participants*", beyond the 4-word window)."""
    out: list[list[str]] = []
    for t in [t for t in tagged.tokens if t.start >= end][:NP_LOOKAHEAD]:
        if t.pos not in ("ADJ", "NUM", "CCONJ", "PROPN", "NOUN", "PUNCT") or t.text in (".", ";", ":"):
            break
        out.append(stem(t.text) + ([t.lemma] if t.lemma else []))
        if t.pos == "NOUN":
            break
    return out


def _focus_stems(a: QuestionAnalysis, stem: Stemmer) -> list[str]:
    return [t for w in (*a.focus_nouns, *a.focus_verbs) for t in stem(w)]


def near_focus(text: str, at: int, focus: Sequence[str], stem: Stemmer, window: int) -> bool:
    """Whether a word of the question's focus occurs within ``window`` words of offset ``at``."""
    if not focus:
        return True
    before = _words(text[:at])[-window:]
    after = _words(text[at:])[:window + 1]
    return any(_same_word(f, t) for w in (*before, *after) for t in stem(w) for f in focus)


def _reason(a: QuestionAnalysis, text: str, tagged: Tagged, stem: Stemmer) -> TypeEvidence:
    """Cause or purpose cues; "to" + verb right after a verb of the question (X withdrew *to
    maintain* ...) is the purpose of the asked action itself."""
    focus = _focus_stems(a, stem)
    verbs = [t for v in a.focus_verbs for t in stem(v)]
    toks = tagged.tokens
    cues = [(1.0, m.group(0).lower(), m.start()) for m in STRONG_REASON.finditer(text)]
    for i in range(1, len(toks) - 1):
        if toks[i].text.lower() == "to" and toks[i + 1].pos in ("VERB", "AUX") and toks[i - 1].pos != "VERB":
            asked = [t for t in toks[max(0, i - PURPOSE_WINDOW):i] if t.pos == "VERB"
                     and any(_same_word(v, x) for v in verbs for x in stem(t.text))]
            cue = (f"to {toks[i + 1].text.lower()}", toks[i].start)
            cues.append((1.0, *cue) if asked else (0.5, *cue))
    cues += [(0.5, m.group(0).lower(), m.start()) for m in WEAK_REASON.finditer(text)]
    cues += [(0.4, m.group(0).lower(), m.start()) for m in WEAKER_REASON.finditer(text)]
    best = TypeEvidence(0.0)
    for strength, cue, at in cues:
        score = strength if near_focus(text, at, focus, stem, CUE_WINDOW) else strength * FAR_FACTOR
        if score > best.score:  # the item: the cue and the words after it (what the reason is)
            best = TypeEvidence(score, (" ".join(_words(text[at:])[:REASON_WORDS]),))
    return best


def _about_focus(ev: TypeEvidence, a: QuestionAnalysis, text: str, stem: Stemmer) -> TypeEvidence:
    """Scale entity evidence down when none of its spans is near a word of the question."""
    focus = _focus_stems(a, stem)
    if not ev.items or not focus:
        return ev
    near = [x for x in ev.items if (at := text.find(x)) >= 0 and near_focus(text, at, focus, stem, ENTITY_WINDOW)]
    return TypeEvidence(ev.score, tuple(near)) if near else TypeEvidence(ev.score * FAR_FACTOR, ev.items)


def type_evidence(a: QuestionAnalysis, text: str, tagged: Tagged, stem: Stemmer) -> TypeEvidence:
    """How clearly ``text`` (with its ``tagged`` entities) carries an answer of ``a.answer_type``
    about the question's focus: a cue or entity far (in words) from every focus word counts
    ``FAR_FACTOR`` as much."""
    if a.relation and not relation_holds(a.relation, text, stem):
        return TypeEvidence(0.0)
    t = a.answer_type
    if t == "reason":
        return _reason(a, text, tagged, stem)
    if t == "manner":
        focus = _focus_stems(a, stem)
        best = TypeEvidence(0.0)
        for strength, rx in ((1.0, MANNER), (0.5, WEAK_MANNER)):
            for m in rx.finditer(text):
                score = strength if near_focus(text, m.start(), focus, stem, CUE_WINDOW) else strength * FAR_FACTOR
                if score > best.score:
                    best = TypeEvidence(score, (m.group(0).lower(),))
        return best
    if t in ("quantity", "money"):
        return _quantity(a, text, tagged, stem, money=t == "money")
    return _about_focus(_entity_evidence(a, text, tagged), a, text, stem)


def _entity_evidence(a: QuestionAnalysis, text: str, tagged: Tagged) -> TypeEvidence:
    qwords = {w.lower() for w in re.findall(r"\w+", a.question)}
    t = a.answer_type
    if t == "duration":
        m = DURATION_WORDS.search(text)
        if m:
            return TypeEvidence(1.0, (m.group(0),))
        ents = [e.text for e in tagged.entities if e.label in ("DATE", "TIME") and re.search(r"\d", e.text)]
        return TypeEvidence(0.5, tuple(ents)) if ents else TypeEvidence(0.0)
    if t == "date":
        ents = [e.text for e in tagged.entities if e.label in ("DATE", "TIME") and _new(e.text, qwords)]
        absolute = [x for x in ents if re.search(r"\d|" + "|".join(MONTHS), x, re.I)]
        if absolute:
            return TypeEvidence(1.0, tuple(absolute))
        return TypeEvidence(0.4, tuple(ents)) if ents else TypeEvidence(0.0)
    if t == "person":
        people = [e.text for e in tagged.entities if e.label in PERSON_LABELS and _new(e.text, qwords)]
        if people:
            return TypeEvidence(1.0, tuple(people))
        orgs = [e.text for e in tagged.entities if e.label == "ORG" and _new(e.text, qwords)]
        return TypeEvidence(0.4, tuple(orgs)) if orgs else TypeEvidence(0.0)
    if t == "place":
        places = [e for e in tagged.entities if e.label in PLACE_LABELS and _new(e.text, qwords)]
        # "where" needs the place after a preposition ("in the city of Goris"); "which country" does not
        located = [e.text for e in places if a.qtype != "where" or LOCATIVE.search(text[max(0, e.start - 20):e.start])]
        if located:
            return TypeEvidence(1.0, tuple(located))
        return TypeEvidence(0.6, tuple(e.text for e in places)) if places else TypeEvidence(0.0)
    if t == "entity":
        named = [e.text for e in tagged.entities if e.label in NAMED_LABELS and _new(e.text, qwords)]
        if named:
            return TypeEvidence(1.0, tuple(named))
        caps = [w for w in re.findall(r"\b[A-Z][\w-]+(?:\s+[A-Z][\w-]+)+", text) if _new(w, qwords)]
        return TypeEvidence(0.7, tuple(caps)) if caps else TypeEvidence(0.2)
    return TypeEvidence(1.0)


def focus_coverage(focus_stems: Sequence[str], unit_stems: Sequence[str]) -> float:
    """Share of the question's focus nouns (stemmed) that the unit contains."""
    if not focus_stems:
        return 1.0
    have = set(unit_stems)
    return sum(any(_same_word(f, u) for u in have) for f in focus_stems) / len(focus_stems)


def word_matches(stems: Sequence[str], lemma: str, unit_stems: set[str], unit_lemmas: set[str]) -> bool:
    """Whether a question word (its stems and its lemma) occurs in a unit: a stem of the same family
    (:func:`_same_word`), the same lemma, or a lemma the word's lemma begins ("host" / "hosting",
    "elect" / "election"; lemmas of four letters or more)."""
    if any(_same_word(s, u) for s in stems for u in unit_stems):
        return True
    if not lemma:
        return False
    return lemma in unit_lemmas or (len(lemma) >= 4 and any(u.startswith(lemma) for u in unit_lemmas))


def lemma_coverage(focus: Sequence[tuple[Sequence[str], str]], unit_stems: Sequence[str],
                   unit_lemmas: Sequence[str]) -> float:
    """Share of the question's focus words (each: its stems and its lemma) that the unit contains,
    matching stems or lemmas (:func:`word_matches`): "sent" covers "send", "fled" covers "flee"."""
    if not focus:
        return 1.0
    us, ul = set(unit_stems), set(unit_lemmas)
    return sum(word_matches(st, lm, us, ul) for st, lm in focus) / len(focus)


def missing_focus(focus_stems: Sequence[str], texts_stems: Sequence[Sequence[str]]) -> list[str]:
    """Focus nouns that none of the retrieved texts contains: the articles do not talk about them."""
    have = {s for stems in texts_stems for s in stems}
    return [f for f in focus_stems if not any(_same_word(f, h) for h in have)]
