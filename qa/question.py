"""Question analysis: what kind of question, what kind of answer, and what it is about.

:func:`analyze` reads a question with a few patterns (the earliest question phrase wins) and the
part-of-speech tags of :mod:`qa.tagger`, and returns a :class:`QuestionAnalysis`:

- ``qtype``: why, how, how_many, how_much, how_long, when, where, who, which, what, yes_no, other;
- ``answer_type``: the kind of answer a sentence must carry (reason, manner, quantity, money,
  duration, date, place, person, entity, thing, any);
- ``focus``: what is asked about (the question without its wh-phrase, auxiliaries and an
  "according to ..." tail); ``focus_nouns``: its nouns and names; ``asked_noun``: for "how
  many/much", the noun whose quantity is asked ("troops" in "how many Russian troops ...");
  ``focus_verbs``: its verbs; ``year``: a year the question names; ``relation``: for "who/what is the X of Y", the pair
  (X, Y) that an answer sentence must state together (X may be several words: "foreign minister").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .tagger import Tagged, tag

AUXILIARIES = frozenset(
    "is are was were be been being do does did done has have had can could will would shall should may might must".split()
)
WH_WORDS = frozenset("what which who whom whose when where why how".split())
#: Nouns that name the kind of answer rather than the topic ("in which *city*", "the *reason*").
TYPE_NOUNS = frozenset(
    "reason reasons purpose cause causes occasion motive goal aim year years date day month time city town country "
    "countries region place person people name".split()
)
PLACE_NOUNS = frozenset("city town country countries region place village capital state states province area".split())
PERSON_NOUNS = frozenset(
    "president leader minister expert analyst spokesman spokesperson blogger person official politician ambassador "
    "secretary chairman head general commander journalist scientist director".split()
)
MONEY_WORDS = re.compile(r"\b(spen[dt]|spending|cost|costs|paid|pay|worth|budget|price|money|dollars|euros|fund)\w*", re.I)
REASON_PHRASE = re.compile(
    r"\b(what|which)\s+(was|were|is|are)\s+(the\s+)?(main\s+)?(reason|reasons|purpose|cause|causes|occasion|motive|goal|aim)\b"
    r"|\bfor\s+what\s+(reason|purpose)\b|\bwhat\s+for\b", re.I)
WHEN_PHRASE = re.compile(r"\b(in\s+)?(what|which)\s+(year|date|day|month|time)\b", re.I)
WHERE_PHRASE = re.compile(r"\b(in|at|to|from)\s+(what|which)\s+(city|town|country|region|place|village|state)\b", re.I)
ACCORDING_TAIL = re.compile(r",?\s+(according\s+to|as\s+reported\s+by)\s+[^,?]*", re.I)
RELATION = re.compile(r"^(who|what)\s+(is|was|are|were)\s+(the\s+)?(?P<x>[\w-]+(\s+[\w-]+){0,2}?)\s+(of|in)\s+(the\s+)?"
                      r"(?P<y>[\w'’-]+(\s+[\w'’-]+){0,2}?)\s*$",
                      re.I)
#: Words before a role that do not name it ("the *current* leader", "the *new* head"): a relation's
#: X keeps the others ("foreign minister", "prime minister", "defence minister").
ROLE_FILLERS = frozenset("current present new former then acting incumbent sitting top".split())
TIME_UNIT = re.compile(r"(second|minute|hour|day|week|month|year|decade|centur(y|ie))s?")
YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


@dataclass(frozen=True)
class QuestionAnalysis:
    question: str
    qtype: str
    answer_type: str
    focus: str
    focus_nouns: tuple[str, ...] = ()
    focus_verbs: tuple[str, ...] = ()
    asked_noun: str = ""
    year: str = ""
    relation: tuple[str, str] | None = None
    #: lower-case lemmas of ``focus_nouns`` and ``focus_verbs``, in that order ("sent" -> "send")
    focus_lemmas: tuple[str, ...] = ()

    @property
    def typed(self) -> bool:
        """Whether a confident answer must carry an answer of a specific type."""
        return self.answer_type not in ("thing", "any") or self.relation is not None


def question_type(question: str) -> tuple[str, str]:
    """``(qtype, answer_type)`` from the wording alone (see the module docstring).

    The earliest question phrase decides ("How did X respond *when* ..." asks how, not when);
    at the same position the more specific reading wins ("what *year*" is when, not what)."""
    q = " ".join(question.lower().split())
    found: list[tuple[int, int, str, str]] = []  # (position, priority, qtype, answer_type)

    def first(pattern: str | re.Pattern[str], priority: int, qtype: str, answer_type: str) -> None:
        m = re.search(pattern, q)
        if m:
            found.append((m.start(), priority, qtype, answer_type))

    first(r"\bwhy\b", 0, "why", "reason")
    first(REASON_PHRASE, 0, "why", "reason")
    m = re.search(r"\bhow\s+(many|much|long|old|often|far)\b", q)
    if m:
        word = m.group(1)
        if word == "much":
            kind = ("how_much", "money" if MONEY_WORDS.search(q) else "quantity")
        elif word in ("long", "old"):
            kind = ("how_long", "duration")
        else:
            kind = ("how_many", "quantity")
        found.append((m.start(), 1, *kind))
    first(r"\bwhen\b", 2, "when", "date")
    first(WHEN_PHRASE, 2, "when", "date")
    first(r"\bwhere\b", 3, "where", "place")
    first(WHERE_PHRASE, 3, "where", "place")
    first(r"\b(who|whom|whose)\b", 4, "who", "person")
    first(r"\bhow\b", 5, "how", "manner")
    m = re.search(r"\b(which|what)\s+(\w+)", q)
    if m:
        qtype = m.group(1)
        noun = m.group(2).rstrip("s") if m.group(2) not in ("is", "was") else ""
        if m.group(2) in PLACE_NOUNS or noun in PLACE_NOUNS:
            found.append((m.start(), 6, qtype, "place"))
        elif m.group(2) in PERSON_NOUNS or noun in PERSON_NOUNS:
            found.append((m.start(), 6, qtype, "person"))
        else:
            found.append((m.start(), 6, qtype, "entity" if qtype == "which" else "thing"))
    if found:
        _, _, qtype, answer_type = min(found)
        return qtype, answer_type
    if q.split(" ", 1)[0] in AUXILIARIES:
        return "yes_no", "any"
    return "other", "any"


def _strip(question: str) -> str:
    q = " ".join(question.split()).rstrip(" ?.!")
    return ACCORDING_TAIL.sub("", q).strip()


def analyze(question: str, tagged: Tagged | None = None) -> QuestionAnalysis:
    """Analyse ``question`` (``tagged``: its tags, else :func:`qa.tagger.tag` is called)."""
    qtype, answer_type = question_type(question)
    core = _strip(question)
    tagged = tag(core) if tagged is None else tagged
    words = [t for t in tagged.tokens if re.search(r"\w", t.text)]
    focus = " ".join(t.text for t in words if t.text.lower() not in WH_WORDS and t.text.lower() not in AUXILIARIES
                     and t.text.lower() not in ("many", "much", "long", "old"))
    nouns = tuple(dict.fromkeys(
        t.text for i, t in enumerate(words)
        if (t.pos in ("NOUN", "PROPN") or (i > 0 and t.pos == "ADJ" and t.text[:1].isupper()))
        and t.text.lower() not in WH_WORDS and t.text.lower() not in TYPE_NOUNS and not YEAR.fullmatch(t.text)))
    verbs = tuple(dict.fromkeys(t.text for t in words if t.pos == "VERB" and t.text.lower() not in AUXILIARIES))
    lemma_of = {t.text: (t.lemma or t.text.lower()) for t in words}
    lemmas = tuple(lemma_of.get(w, w.lower()) for w in (*nouns, *verbs))
    asked = ""
    if qtype in ("how_many", "how_much"):
        toks = list(tagged.tokens)
        idx = next((i for i, t in enumerate(toks) if t.text.lower() in ("many", "much")), -1)
        run = []
        for t in toks[idx + 1:]:
            if t.pos in ("ADJ", "NOUN", "PROPN", "CCONJ", "NUM", "PUNCT") and t.text.lower() not in AUXILIARIES:
                run.append(t)
            else:
                break
        heads = [t.text for t in run if t.pos in ("NOUN", "PROPN")]
        asked = heads[-1] if heads else ""
    years = YEAR.findall(core)
    relation = None
    m = RELATION.match(core)
    if m and answer_type in ("person", "place", "thing", "entity"):
        role = [w.lower() for w in m.group("x").split() if w.lower() not in ROLE_FILLERS]
        relation = (" ".join(role) or m.group("x").split()[-1].lower(), m.group("y").split()[-1].lower())
    if qtype == "how_many" and TIME_UNIT.fullmatch(asked.lower()):
        answer_type = "duration"  # "how many days ...": a length of time, not a count of things
    return QuestionAnalysis(question=question, qtype=qtype, answer_type=answer_type, focus=focus, focus_nouns=nouns, focus_verbs=verbs,
                            asked_noun=asked.lower(), year=years[0] if years else "", relation=relation,
                            focus_lemmas=lemmas)


#: Questions about how a story developed, not a single fact: "How did relations between Russia and
#: Armenia fall apart?", "What happened between Russia and Armenia?", "Timeline of the Karabakh war".
STORY_PATTERNS = (
    re.compile(r"^how\s+(?:did|has|have|had|do|does)\s+(?P<t>.+?)\s+(?:evolve|develop|change|unfold|progress|come\s+about"
               r"|fall\s+apart|break\s+down|deteriorate|worsen|escalate|sour|collapse|grow|begin|start|end|happen"
               r"|evolved|developed|changed|unfolded|progressed|fallen\s+apart|broken\s+down|deteriorated|worsened"
               r"|escalated|soured|collapsed|grown|begun|started|ended|happened)\b", re.I),
    re.compile(r"^what\s+(?:has\s+)?happened\s+(?:between|from)\s+(?P<t>.+?\s+(?:and|to|until)\s+.+?)\s*$", re.I),
    re.compile(r"^(?:what\s+(?:is|was)\s+|give\s+me\s+|show\s+(?:me\s+)?)?(?:the\s+|a\s+)?(?:timeline|chronology|history)"
               r"\s+of\s+(?P<t>.+?)\s*$", re.I),
)


def story_topic(question: str) -> str | None:
    """The topic of a question that asks how a story developed (offer its timeline), else None.

    >>> story_topic("How did relations between Russia and Armenia fall apart?")
    'relations between Russia and Armenia'
    >>> story_topic("What happened between Russia and Armenia in 2023?")
    'Russia and Armenia in 2023'
    >>> story_topic("When was Pashinyan elected?") is None
    True
    """
    q = " ".join(question.split()).rstrip(" ?.!")
    for pattern in STORY_PATTERNS:
        m = pattern.match(q)
        if m:
            topic = re.sub(r"^(?:the)\s+", "", m["t"].strip(" ,"), flags=re.I)
            return topic or None
    return None
