"""Story timelines (issue 26): date resolution, event extraction on the sample articles, merging of
one event's reports, and the Engine / CLI / API surfaces returning the same events."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from index.records import Article
from qa.engine import Engine
from qa.dates import UNRESOLVED, When, resolve
from qa.filters import SearchFilter
from qa.question import story_topic
from qa.timeline import build_timeline, extract_reports, is_event_sentence
from qa.tagger import tag
from tests.conftest import ROOT
from ui.api import create_api
from ui.guard import make_embed_token
from ui.config import ServeConfig
from ui.settings import API_MAX_K

TOPIC = "Russia Armenia relations"
UNDATED = ("000_d97c920262e2a662", "001_709e358b3273cbbf")  # the ingest finds no publication date in these
D = dt.date

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- dates (pure)
@pytest.mark.parametrize("phrase, before, published, want", [
    ("February 24, 2022", "on", None, ("2022-02-24", "day", None)),
    ("January 2023", "In", None, ("2023-01", "month", None)),
    ("2018", "in", None, ("2018", "year", None)),
    ("autumn 2020", "In", None, ("2020", "year", None)),
    ("September 11 to 20, 2023", "From", None, ("2023-09-11", "range", "2023-09-20")),
    ("October 3rd", "On", D(2023, 10, 13), ("2023-10-03", "day", None)),
    ("September 11-20", "Between", D(2023, 10, 13), ("2023-09-11", "range", "2023-09-20")),
    ("Friday", "on", D(2023, 9, 11), ("2023-09-08", "day", None)),  # a Monday's "on Friday"
    ("Thursday", "on", D(2023, 9, 11), ("2023-09-07", "day", None)),
    ("Friday", "for", D(2023, 10, 13), ("2023-10-13", "day", None)),  # "the summit planned for Friday": a day
    ("last week", "speech", D(2023, 9, 11), ("2023-09-04", "range", "2023-09-10")),
    ("This week", "", D(2024, 4, 22), ("2024-04-16", "range", "2024-04-22")),
    ("last September", "", D(2024, 4, 22), ("2023-09", "month", None)),
    ("February", "In", D(2024, 4, 22), ("2024-02", "month", None)),
    ("four years ago", "", D(2024, 4, 22), ("2020", "year", None)),
    ("November 10", "on", D(2023, 3, 1), ("2022-11-10", "day", None)),  # months ahead: last year's
    ("early September", "in", D(2023, 10, 13), ("2023-09-01", "range", "2023-09-10")),
    ("the second half of September and October", "In", D(2023, 10, 13), ("2023-09-16", "range", "2023-10-31")),
])
def test_date_phrases_resolve_at_their_precision(phrase, before, published, want):
    when = resolve(phrase, before, published=published)
    assert isinstance(when, When), when
    assert (when.date, when.precision, when.until) == want


def test_anaphoric_dates_need_a_date_earlier_in_the_paragraph():
    sept4 = When.day(D(2023, 9, 4))
    assert resolve("Four days later", anchor=sept4).date == "2023-09-08"
    assert resolve("the very next day", anchor=When.day(D(2023, 10, 24))).date == "2023-10-25"
    # never against the publication date, and not from an anchor too coarse for the step
    assert resolve("Four days later", published=D(2023, 10, 13)) is UNRESOLVED
    assert resolve("two days later", anchor=When.month(2023, 9)) is UNRESOLVED
    assert resolve("the very next day", anchor=UNRESOLVED) is UNRESOLVED


@pytest.mark.parametrize("phrase, before", [("Thursday", "on"), ("last fall", "even"), ("October 24", "on"),
                                            ("February of this year", "In"), ("today", "that"), ("this week", "")])
def test_an_undated_article_resolves_no_relative_date(phrase, before):
    assert resolve(phrase, before) is UNRESOLVED


@pytest.mark.parametrize("phrase, before", [("2009", "since"), ("two weeks", "for"), ("many years", "For"),
                                            ("19 months", "of"), ("53-year-old", "a"), ("six weeks", "halted")])
def test_durations_and_bounds_are_no_point_in_time(phrase, before):
    assert resolve(phrase, before, published=D(2023, 9, 11)) is None


def test_vague_phrases_are_never_dated():
    for phrase in ("recent days", "more than two years ago", "A few days later", "the last two centuries",
                   "about 10 days later", "nearly 2 years ago", "some 3 weeks ago"):
        assert resolve(phrase, published=D(2023, 9, 11), anchor=When.day(D(2023, 9, 1))) is UNRESOLVED


def event(sentence: str) -> bool:
    return is_event_sentence(sentence, tag(sentence))


def test_event_sentences_need_something_happening():
    assert event("On October 3rd, the Armenian parliament ratified the Roman Statute.")
    assert event("The first moment was the election of Pashinyan in 2018.")
    assert event("Between September 11 and 20, joint exercises will be held with the US.")
    assert not event("Things were quite different in 2023.")
    assert not event("In 2023, there was an opportunity to resolve the conflict.")
    assert not event("Monday 11 September 2023")
    assert not event("What happened in Armenia in September 2023?")


def test_story_questions_are_recognised():
    assert story_topic("How did relations between Russia and Armenia fall apart?") == "relations between Russia and Armenia"
    assert story_topic("How has the Karabakh conflict evolved?") == "Karabakh conflict"
    assert story_topic("What happened between Russia and Armenia?") == "Russia and Armenia"
    assert story_topic("Timeline of the Karabakh war") == "Karabakh war"
    assert story_topic("When did the Armenian parliament ratify the Rome Statute?") is None
    assert story_topic("How many troops did Russia send?") is None


# --------------------------------------------------------------------------- extraction on the sample articles
def reports_of(engine, doc_id):
    return extract_reports(engine.store.articles[doc_id])


def test_explicit_and_relative_dates_of_the_sample_articles(engine):
    reports = reports_of(engine, "003_c2bac14ba13bc252")  # published 2023-10-13
    by_mention = {r.mention: r for r in reports}
    rome = by_mention["October 3rd"]
    assert (rome.when.date, rome.when.precision, rome.basis) == ("2023-10-03", "day", "publication")
    assert "ratified the Roman Statute" in rome.quote
    assert engine.store.articles[rome.doc_id].text[rome.start:rome.end] == rome.quote
    later = by_mention["Four days later"]  # "... quoted on September 4 ... Four days later, the ambassador was summoned"
    assert (later.when.date, later.basis) == ("2023-09-08", "paragraph")
    eagle = by_mention["September 11-20"]  # spaCy misses this one: the month-date fallback finds it
    assert (eagle.when.date, eagle.when.until) == ("2023-09-11", "2023-09-20")
    friday = {r.mention: r for r in reports_of(engine, "004_5acde872f18f0611")}["Friday"]  # published Monday 2023-09-11
    assert friday.when.date == "2023-09-08"


def test_an_undated_article_keeps_only_its_absolute_dates(engine):
    for doc_id in UNDATED:
        assert engine.store.articles[doc_id].date == ""
        reports = reports_of(engine, doc_id)
        assert reports and {r.basis for r in reports} == {"absolute"}
        assert all(r.mention not in ("Thursday", "last fall", "October 24", "October 3", "next day", "today",
                                     "February of this year", "the end of April") for r in reports)
    mentions = {r.mention: r.when.date for r in reports_of(engine, "001_709e358b3273cbbf")}
    assert mentions["January 2023"] == "2023-01" and mentions["March 2023"] == "2023-03"


def test_background_sentences_and_durations_are_left_out(engine):
    quotes = " ".join(r.quote for d in UNDATED for r in reports_of(engine, d))
    assert "Things were quite different in 2023." not in quotes
    assert "continuously participated since 2009" not in quotes  # "since 2009": a bound, not an event's date
    assert "for two weeks" not in quotes


# --------------------------------------------------------------------------- the timeline
@pytest.fixture(scope="module")
def timeline(engine):
    return engine.timeline(TOPIC)


def entry_with(tl, text):
    found = [e for e in tl.events if any(text in c.quote for c in e.citations)]
    assert len(found) == 1, (text, found)
    return found[0]


def test_engine_timeline_is_in_date_order_with_the_story(timeline):
    assert timeline.topic == TOPIC and timeline.articles == 5
    keys = [(e.when.start, e.when.end) for e in timeline.events]
    assert keys == sorted(keys) and len(keys) >= 25
    rome = entry_with(timeline, "ratified the Roman Statute")
    assert (rome.when.date, rome.when.precision, rome.when.until) == ("2023-10-03", "day", None)
    assert entry_with(timeline, "election of Pashinyan").when.date == "2018"
    assert entry_with(timeline, "refused to allow Russian dictator").when.date == "2023-01"
    assert entry_with(timeline, "confirmed the withdrawal of peacekeepers").when.start == D(2024, 4, 16)


def test_one_event_reported_by_several_articles_is_one_entry(timeline):
    eagle = entry_with(timeline, "EAGLE PARTNER 2023")
    assert {c.doc_id for c in eagle.citations} == {"001_709e358b3273cbbf", "003_c2bac14ba13bc252", "004_5acde872f18f0611"}
    assert (eagle.when.date, eagle.when.precision, eagle.when.until) == ("2023-09-11", "range", "2023-09-20")
    summoned = entry_with(timeline, "ambassador was summoned")
    assert {c.doc_id for c in summoned.citations} == {"003_c2bac14ba13bc252", "004_5acde872f18f0611"}
    # the same day, another event: kept apart
    aid = entry_with(timeline, "Ukrainska Prawda portal reported")
    assert aid is not summoned and aid.when == summoned.when


class _Counting:
    """The session's embedder, counting the texts it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.texts = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode(self, texts, **kw):
        self.texts.extend(texts)
        return self.inner.encode(texts, **kw)


def test_a_storys_sentences_are_embedded_once_per_index_generation(sample_index, embedder):
    """Timelines keep their event sentences' vectors with the answers' (Engine.sentence_vectors): a
    second timeline over the same articles embeds nothing but its query; forget_sentences (what the
    latency benchmarks call before a fresh call) makes the next one embed them again."""
    counting = _Counting(embedder)
    engine = Engine.open(sample_index, embedder=counting)
    first = engine.timeline(TOPIC)
    embedded = [t for t in counting.texts if t != TOPIC]
    assert len(embedded) > 20
    counting.texts.clear()
    again = engine.timeline(TOPIC, filters=SearchFilter.parse(since="2023-10-01"))
    assert again.events and [t for t in counting.texts if t != TOPIC] == []
    assert engine.timeline(TOPIC).to_dict() == first.to_dict()
    engine.forget_sentences()
    counting.texts.clear()
    engine.timeline(TOPIC)
    assert sorted(t for t in counting.texts if t != TOPIC) == sorted(embedded)
    one, both = engine.sentence_vectors(embedded[:1]), engine.sentence_vectors(embedded[:2])
    assert (one[0] == both[0]).all()  # a sentence's vector does not depend on what it is embedded with


def test_without_an_embedder_nothing_merges(engine):
    arts = [engine.store.articles[d] for d in ("001_709e358b3273cbbf", "003_c2bac14ba13bc252")]
    tl = build_timeline("x", arts, embed=None)
    assert all(e.articles == 1 for e in tl.events)


def test_filters_choose_the_articles(engine):
    alwaght = engine.timeline(TOPIC, filters=SearchFilter.parse(sources=["Alwaght"]))
    assert alwaght.events and {c.doc_id for e in alwaght.events for c in e.citations} == {"004_5acde872f18f0611"}
    recent = engine.timeline(TOPIC, filters=SearchFilter.parse(since="2023-10-01"))
    assert {c.doc_id for e in recent.events for c in e.citations} == {"002_4f924e5df3fd12e9", "003_c2bac14ba13bc252"}
    assert recent.to_dict()["filters"]["since"] == "2023-10-01"


def test_ask_offers_the_timeline_for_story_questions(engine):
    story = engine.ask("How did relations between Russia and Armenia fall apart?").to_dict()
    assert story["timeline"]["topic"] == "relations between Russia and Armenia"
    plain = engine.ask("When did the Armenian parliament ratify the Rome Statute?").to_dict()
    assert "timeline" not in plain


# --------------------------------------------------------------------------- surfaces: CLI == API == Engine
def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_cli_api_and_engine_return_the_same_events(sample_index, embedder, timeline):
    cli = run_cli("timeline", TOPIC, "--index", str(sample_index), "--json")
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads(cli.stdout)
    served = Engine.open(sample_index, embedder=embedder, max_k=API_MAX_K)  # as `qa serve` builds it
    client = TestClient(create_api(served, ServeConfig(index_dir=sample_index)), raise_server_exceptions=False)
    r = client.post("/api/timeline", json={"topic": TOPIC})
    assert r.status_code == 200, r.text
    assert from_cli == r.json() == timeline.to_dict()
    body = r.json()
    assert set(body) == {"topic", "filters", "events"}
    event = body["events"][0]
    assert set(event) == {"date", "precision", "end", "text", "citations"}
    assert {"doc_id", "title", "source", "date", "quote", "start", "end"} <= set(event["citations"][0])


def test_cli_text_output_and_bad_input(sample_index):
    out = run_cli("timeline", TOPIC, "--index", str(sample_index), "--source", "Alwaght")
    assert out.returncode == 0 and "== 2023 ==" in out.stdout and "2023-09-11 – 2023-09-20" in out.stdout
    for args, message in ((["   "], "query is empty"), (["x", "--since", "2023-02-30"], "since must be a date"),
                          (["x", "--since", "2024-01-02", "--until", "2024-01-01"], "is after until"),
                          (["word " * 500], "the limit is")):
        bad = run_cli("timeline", *args, "--index", str(sample_index))
        assert bad.returncode == 2 and bad.stdout == "", bad
        assert bad.stderr.count("\n") == 1 and message in bad.stderr, bad.stderr


def test_the_widget_may_ask_for_a_timeline_with_its_token(service, sample_index):
    key = "s3cret-key-42"
    c = TestClient(create_api(service, ServeConfig(index_dir=sample_index, max_k=20, api_key=key)),
                   raise_server_exceptions=False)
    token = make_embed_token(key, 60)
    r = c.post("/api/timeline", json={"topic": TOPIC}, headers={"X-Embed-Token": token})
    assert r.status_code == 200 and r.json()["events"]
    assert c.post("/api/timeline", json={"topic": TOPIC}).status_code == 401


# --------------------------------------------------------------------------- the web UI's HTML
def test_timeline_html_escapes_article_text_and_marks_each_quote():
    from qa.timeline import Timeline, TimelineCitation, TimelineEvent
    from ui.render_timeline import summary_html, timeline_html

    quote = 'At <em>dawn</em> on October 3rd, <script>alert("x")</script> the parliament & "friends" voted.'
    at = quote.index("October 3rd")

    def cite(doc: str) -> TimelineCitation:
        return TimelineCitation(doc, "<b>Headline</b>", "Alwaght", "2023-10-13", quote, 100, 100 + len(quote),
                                "October 3rd", 100 + at, 100 + at + len("October 3rd"), When.day(D(2023, 10, 3)),
                                "publication")

    rng = When.range(D(2023, 9, 11), D(2023, 9, 20))
    tl = Timeline("<i>topic</i>", events=(
        TimelineEvent(When.year(2018), quote, (cite("a"),)),
        TimelineEvent(rng, quote, (cite("a"), cite("b"), cite("c"))),
    ), articles=3)
    html = timeline_html(tl)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>Headline</b>" not in html and "<i>" not in html
    assert "<em>" not in html and "&lt;em&gt;dawn" in html
    assert html.count('class="qa-tl__year-label"') == 2 and ">2018</h3>" in html and ">2023</h3>" in html
    assert html.count("<mark>") == 4 and html.count('<strong class="qa-tl__mention">October 3rd</strong>') == 4
    assert "reported by 3 articles" in html and "11–20 Sep 2023" in html
    assert "<i>" not in summary_html(tl) and "2 dated events from 3 articles" in summary_html(tl)
    assert "No dated events" in timeline_html(Timeline("x"))


def test_the_ui_answer_offers_the_timeline_only_for_story_questions(engine):
    from ui.render import answer_html

    assert "qa-tl__offer" in answer_html(engine.ask("How did relations between Russia and Armenia fall apart?"))
    assert "qa-tl__offer" not in answer_html(engine.ask("Where will Russian troops remain in Armenia?"))
