"""Article metadata at ingest (index/metadata.py): the five sample articles' headline, date and
publisher pinned, every date form they use, and "unknown stays empty, never guessed"."""

from __future__ import annotations

import json
import re

import pytest

from index import metadata
from index.clean import is_furniture
from index.errors import IngestError
from index.ingest import load_articles

from conftest import SAMPLE_CORPUS

#: What a reader of each sample file sees as its headline, publication date and publisher.
#: 000 and 001 print no date, and 000, 002 and 003 name no outlet ("(AFP/Z-3)" is a wire
#: credit, "© GETTY" a photo credit): those stay empty.
EXPECTED = {
    "000_d97c920262e2a662": ("Russian ties to a traditional ally continue to weaken. Putin withdraws troops", "", ""),
    "001_709e358b3273cbbf": ("Is this the end of Russian-Armenian friendship?", "", "Insight News Media"),
    "002_4f924e5df3fd12e9": ("Russia Quietly Withdraws from Karabakh, Relinquishing Its Influence Permanently",
                             "2024-04-22T03:16:42", ""),
    "003_c2bac14ba13bc252": ("Putin loses another ally. They have no doubts", "2023-10-13T05:56:00-04:00", ""),
    "004_5acde872f18f0611": ("Russia-Armenia Relations Hit by Differences over Karabakh Dispute", "2023-09-11", "Alwaght"),
}


@pytest.fixture(scope="module")
def samples():
    return {a.doc_id: a for a in load_articles([SAMPLE_CORPUS])}


@pytest.mark.parametrize("doc_id", sorted(EXPECTED))
def test_sample_headline_date_publisher(samples, doc_id):
    a = samples[doc_id]
    assert (a.title, a.date, a.source) == EXPECTED[doc_id]
    assert a.author == ""


def test_captions_credits_and_navigation_stay_out_of_the_text(samples):
    text = "\n".join(a.text for a in samples.values())
    for junk in ("Illustration – Russia, following four years", "Images source", "GETTY", "ed. PRC",
                 "Alwaght | News", "A Zaidi Shiite movement", "Related Content", "Map of  Latest Battlefield",
                 "Russia Summons Armenia’s Envoy", "Editor's Choice", "Most Viewed", "Courages Individiuals"):
        assert junk not in text, junk
    assert samples["002_4f924e5df3fd12e9"].text.startswith("WHEN Russian troops were deployed")
    assert samples["004_5acde872f18f0611"].text.startswith("Alwaght- Continuation of Karabakh dispute")


@pytest.mark.parametrize("text, iso", [
    ("2024-04-22 03:16:42", "2024-04-22T03:16:42"),
    ("5:56 AM EDT, October 13, 2023", "2023-10-13T05:56:00-04:00"),
    ("Monday 11 September 2023", "2023-09-11"),
    ("Published: 12 Jan 2024, 10:30 GMT", "2024-01-12T10:30:00+00:00"),
    ("2024-01-02", "2024-01-02"),
    ("September 2023", ""),            # no day: not a publication date
    ("Day Week Month", ""),
    ("Thursday", ""),
    ("From September 11 to 20, 2023, the joint exercise took place", ""),
])
def test_iso_date(text, iso):
    assert metadata.iso_date(text) == iso


@pytest.mark.parametrize("line, headline, date", [
    ("Russia Quietly Withdraws from Karabakh – 2024-04-22 03:16:42", "Russia Quietly Withdraws from Karabakh",
     "2024-04-22T03:16:42"),
    ("NewsPutin loses another ally", "Putin loses another ally", ""),
    ("Newsweek reports a poll - and it is close", "Newsweek reports a poll - and it is close", ""),
    ("Armenia - Azerbaijan talks resume", "Armenia - Azerbaijan talks resume", ""),
])
def test_clean_headline(line, headline, date):
    assert metadata.clean_headline(line) == (headline, date)


BODY = ("The water level of Lake Sevan rose by 40 centimetres this spring, the highest reading in ten years, the "
        "Armenian environment ministry said on Monday in its annual report.\n\nFishermen in Martuni reported larger "
        "whitefish catches than in any spring since the ban on commercial fishing was lifted in 2019, officials said.\n")


def test_text_byline_pipe_publisher_and_copyright(tmp_path):
    f = tmp_path / "sevan.txt"
    f.write_text("Lake Sevan reaches a ten-year high | Armenpress\n\nBy Anna Petrosyan\n\n3 May 2024\n\n" + BODY)
    (a,) = load_articles([f])
    assert (a.title, a.date, a.source, a.author) == ("Lake Sevan reaches a ten-year high", "2024-05-03",
                                                     "Armenpress", "Anna Petrosyan")
    g = tmp_path / "footer.txt"
    g.write_text("Lake Sevan reaches a ten-year high\n\n" + BODY + "\n© 2024 Caucasus Daily. All rights reserved.\n")
    (b,) = load_articles([g])
    assert (b.source, b.date) == ("Caucasus Daily", "")  # a copyright year is not a publication date


def test_unknown_stays_empty(tmp_path):
    f = tmp_path / "plain.txt"
    f.write_text("Lake Sevan reaches a ten-year high\n\n" + BODY)
    (a,) = load_articles([f])
    assert (a.title, a.date, a.source, a.author) == ("Lake Sevan reaches a ten-year high", "", "", "")


HTML = """<!doctype html><html><head><title>Lake Sevan reaches a ten-year high</title>
<meta property="og:url" content="https://www.armenpress.am/eng/news/1">
<meta name="author" content="Anna Petrosyan"></head><body><article><h1>Lake Sevan reaches a ten-year high</h1>
<p>The water level of Lake Sevan rose by 40 centimetres this spring, the highest reading in ten years, the Armenian
environment ministry said on Monday in its annual report.</p>
<p>Fishermen in Martuni reported larger whitefish catches than in any spring since the ban on commercial fishing was
lifted in 2019, officials said.</p></article><footer>© 2024 Armenpress. All rights reserved.</footer></body></html>"""


def test_html_metadata_without_guessing_a_date(tmp_path):
    f = tmp_path / "sevan.html"
    f.write_text(HTML)
    (a,) = load_articles([f])
    assert a.title == "Lake Sevan reaches a ten-year high"
    assert a.url == "https://www.armenpress.am/eng/news/1"
    assert a.source == "armenpress.am"   # no site name in the markup: the URL's domain
    assert a.author == "Anna Petrosyan"
    assert a.date == ""                  # htmldate's extensive search would say 2024-01-01
    g = tmp_path / "dated.html"
    g.write_text(HTML.replace("<head>", '<head><meta property="article:published_time" content="2024-05-03T09:00:00+04:00">'
                              '<meta property="og:site_name" content="Armenpress">'))
    (b,) = load_articles([g])
    assert (b.date, b.source) == ("2024-05-03", "Armenpress")


def test_jsonl_explicit_fields_win_and_dates_become_iso(tmp_path):
    f = tmp_path / "feed.jsonl"
    rows = [
        {"id": "a1", "title": "T1", "text": "First article text about troops.", "date": "Monday 11 September 2023",
         "source": "Wire", "author": "A. Writer", "url": "https://www.example.org/1"},
        {"id": "a2", "title": "T2", "text": "Second article text.", "url": "https://news.example.com/2"},
        {"id": "a3", "title": "T3", "text": "Third article text.", "date": "sometime last spring"},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    a1, a2, a3 = load_articles([f])
    assert (a1.title, a1.date, a1.source, a1.author) == ("T1", "2023-09-11", "Wire", "A. Writer")
    assert (a2.source, a2.date) == ("news.example.com", "")
    assert a3.date == ""  # not a date: unknown, never kept as given (it would sort and filter as one)


def test_jsonl_dates_that_are_not_dates_are_unknown_and_warned(tmp_path, caplog):
    f = tmp_path / "feed.jsonl"
    dates = ["yesterday", "2024-13-45", 20240101, "2024", "2024-01-02T10:30:00Z", "Jan 5, 2024", ""]
    f.write_text("\n".join(json.dumps({"id": f"d{i}", "text": f"Article {i} about the harbour.", "date": d})
                           for i, d in enumerate(dates)) + "\n")
    with caplog.at_level("WARNING", logger="index.ingest"):
        arts = load_articles([f])
    assert [a.date for a in arts] == ["", "", "", "", "2024-01-02T10:30:00+00:00", "2024-01-05", ""]
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [f"{f}:{n}: date {d!r} is not a date with day, month and year; stored as unknown"
                      for n, d in ((1, "yesterday"), (2, "2024-13-45"), (3, "20240101"), (4, "2024"))]


def test_jsonl_newest_first_and_since_ignore_dates_that_are_not_dates(tmp_path, embedder):
    from index import build_index
    from qa import Engine, SearchFilter

    f = tmp_path / "feed.jsonl"
    rows = [{"id": "bad", "title": "Harbour repairs", "text": "The harbour repairs began on Monday.", "date": "20240101"},
            {"id": "good", "title": "Harbour repairs end", "text": "The harbour repairs ended on Friday.", "date": "2023-05-01"}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    build_index([f], tmp_path / "idx", embedder=embedder)
    engine = Engine.open(tmp_path / "idx", embedder=embedder)
    newest = engine.search("harbour repairs", k=2, filters=SearchFilter.parse(sort="newest"))
    assert [h.article.doc_id for h in newest] == ["good", "bad"]  # undated last
    since = engine.search("harbour repairs", k=2, filters=SearchFilter.parse(since="2024-01-01"))
    assert since == []


def test_jsonl_author_list_and_field_types(tmp_path):
    f = tmp_path / "feed.jsonl"
    f.write_text(json.dumps({"id": "a", "text": "Body.", "author": ["Ann Lee", " Bo  Chen "]}) + "\n")
    (a,) = load_articles([f])
    assert a.author == "Ann Lee, Bo Chen"
    for field, value in (("url", 5), ("source", ["x"]), ("title", 7), ("author", ["a", 1]), ("author", {"n": "a"})):
        f.write_text(json.dumps({"id": "a", "text": "Body."}) + "\n" + json.dumps({"id": "b", "text": "B.", field: value}) + "\n")
        with pytest.raises(IngestError, match=rf"^{re.escape(str(f))}:2: field\(s\) {field} must be "):
            load_articles([f])


def test_captions_are_furniture_but_prose_is_not():
    assert is_furniture("Illustration – Russia, following four years of deployment in Nagorno-Karabakh, has quietly "
                        "withdrawn its troops from the region. (AFP)")
    assert is_furniture("Images source: © GETTY | Contributor")
    assert is_furniture("Photo by Karen Minasyan/AFP via Getty Images")
    assert not is_furniture("Photographs taken by residents show the column of trucks leaving Stepanakert on Tuesday.")
    assert not is_furniture("Illustrations of the new corridor were shown to reporters in Baku on Friday.")


def test_folding_a_headline_keeps_the_author(tmp_path):
    f = tmp_path / "feed.jsonl"
    f.write_text(json.dumps({"id": "a", "title": "Two\tlines", "text": "Body\x01 text.", "author": "Ann\x02Lee"}) + "\n")
    (a,) = load_articles([f])
    assert (a.title, a.text, a.author) == ("Two lines", "Body  text.", "Ann Lee")
