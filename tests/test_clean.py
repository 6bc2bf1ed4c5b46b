"""Site furniture never becomes searchable text (rules in index/clean.py), on the real sample corpus."""

from __future__ import annotations

import pytest

from index.clean import clean_text, is_furniture
from index.ingest import load_articles

from conftest import SAMPLE_CORPUS


@pytest.fixture(scope="module")
def articles():
    return {a.doc_id: a for a in load_articles([SAMPLE_CORPUS])}


FURNITURE = [
    "Share:",
    "Facebook",
    "Twitter",
    "Pinterest",
    "LinkedIn",
    "Leave a Reply",
    "Your email address will not be published",
    "This site uses Akismet",
    "PREV Repeating the experiments",
    "NEXT When Zelenskyy says",
    "Tags:",
    "#Russia #Quietly",
    "Scroll to Top",
    "Read all articles by Insight News Media",
    "Also read:",
    "dbdd5e9017.jpg",
    "Editor's Choice",
    "A Zaidi Shiite movement operating in Yemen",  # site glossary menu
    "Name :",
    "See also",
]


@pytest.mark.parametrize("fragment", FURNITURE)
def test_furniture_dropped_from_every_sample_article(articles, fragment):
    for a in articles.values():
        assert fragment not in a.text, f"{fragment!r} survived in {a.doc_id}"


def test_reporting_is_kept(articles):
    # first and last lines of real reporting in each article survive, including short quotes
    assert articles["000_d97c920262e2a662"].text.startswith("Russian President Vladimir Putin agreed on Thursday")
    assert "two thousand Russian soldiers have been gradually leaving" in articles["000_d97c920262e2a662"].text
    assert "“Russia has betrayed us,” he added." in articles["002_4f924e5df3fd12e9"].text
    assert articles["002_4f924e5df3fd12e9"].text.rstrip().endswith("he told AFP. (AFP/Z-3)")
    assert "Myths Busted" in articles["002_4f924e5df3fd12e9"].text  # a sub-heading is content
    assert articles["004_5acde872f18f0611"].text.startswith("Alwaght- Continuation of Karabakh dispute")
    assert "Caucasus is no exception." in articles["004_5acde872f18f0611"].text
    assert articles["003_c2bac14ba13bc252"].text.startswith("Armenia has taken further steps")


def test_titles_from_first_line(articles):
    assert articles["001_709e358b3273cbbf"].title == "Is this the end of Russian-Armenian friendship?"
    assert articles["002_4f924e5df3fd12e9"].title.startswith("Russia Quietly Withdraws from Karabakh")


@pytest.mark.parametrize("line", ["Share: Facebook Twitter", "Also read: something else", "photo.JPG", "#a #b #c", "Comments (3)"])
def test_is_furniture(line):
    assert is_furniture(line)


@pytest.mark.parametrize("line", ["Russia Has Betrayed Us", "Where is Armenia headed?", "Share prices fell 3% on Monday as investors fled."])
def test_headings_and_prose_are_not_furniture(line):
    assert not is_furniture(line)


def test_short_text_without_long_paragraphs_is_kept():
    text = "Storm hits coast.\n\nPower was cut to 3,000 homes overnight, officials said.\n\nShare:\nFacebook"
    assert clean_text(text) == "Storm hits coast.\n\nPower was cut to 3,000 homes overnight, officials said."


def test_end_marker_does_not_cut_most_of_the_article():
    body = " ".join(["The council met on Tuesday and voted on the new budget for the coming year."] * 3)
    text = f"Related\n\n{body}\n\n{body}\n\nTags: budget"
    out = clean_text(text)
    assert out.count("The council met") == 3  # one paragraph: duplicates inside the body go
    assert "Tags" not in out


@pytest.mark.parametrize(
    "line",
    [
        "Next-generation sequencing technologies have greatly expanded our understanding of cancer genetics.",
        "Previous studies investigating the role of smooth muscle cells have provided controversial results.",
        "Related research found the same effect in mice.",
        "Next, the council will vote on the budget.",
        "Sign up was slow in the first week, officials said.",
        " ".join(["Share prices fell."] * 10),
    ],
)
def test_prose_that_starts_like_furniture_is_kept(line):
    assert not is_furniture(line)
    assert clean_text(f"Title line\n\n{line}", cut_edges=False).endswith(line)


def test_public_collection_survives_ingest_intact():
    """No abstract of scifact (5,183 one-paragraph documents) is dropped or altered by cleaning."""
    import json

    from conftest import shared_dataset

    corpus = shared_dataset("scifact") / "corpus.jsonl"
    originals = {d["_id"]: " ".join(d["text"].split()) for d in map(json.loads, corpus.read_text().splitlines())}
    loaded = {a.doc_id: " ".join(a.text.split()) for a in load_articles([corpus])}
    assert loaded == {k: v for k, v in originals.items() if v}


SHARE_BAR = ["Share on WhatsApp", "Tweet", "Click to share on Twitter (Opens in new window)",
             "Share on Facebook Share on Twitter", "Click to email a link to a friend (Opens in new window)",
             "Facebook Twitter WhatsApp Email", "Share this on X", "Copy link", "Pin it"]
SHARING_PROSE = ["Share on WhatsApp and Telegram became the main way residents learned of the evacuation order.",
                 "Tweet by tweet, the senator built a following among the farmers of the valley.",
                 "Share on Facebook if you agree, the campaign urged its followers on Sunday.",
                 "Click to share your story with our newsroom, readers were told in a banner.",
                 "Share prices fell sharply after the announcement."]


@pytest.mark.parametrize("line", SHARE_BAR)
def test_share_buttons_are_furniture(line):
    assert is_furniture(line)


@pytest.mark.parametrize("line", SHARING_PROSE)
def test_sentences_about_sharing_are_not(line):
    assert not is_furniture(line)


_BODY = ("The council voted on Tuesday to approve the new budget for the harbour works, after a long debate that "
         "lasted into the night and ended with a narrow majority.",
         "The mayor said the vote was a victory for residents who had waited years for the repairs, and promised "
         "the work would begin in the spring.")


def test_share_bar_after_the_body_is_dropped_from_text_and_html(tmp_path):
    txt = tmp_path / "council.txt"
    txt.write_text("Council approves harbour budget\n\n" + "\n\n".join(_BODY + (SHARING_PROSE[0],)) + "\n\n"
                   + "\n".join(SHARE_BAR[:3]) + "\n")
    html = tmp_path / "council.html"
    html.write_text("<html><head><title>Council approves harbour budget</title></head><body><article>"
                    "<h1>Council approves harbour budget</h1>" + "".join(f"<p>{p}</p>" for p in _BODY)
                    + '</article><div class="share">Share on Facebook Share on Twitter</div></body></html>')
    t, h = load_articles([txt, html])
    assert t.text == "\n\n".join(_BODY + (SHARING_PROSE[0],))  # the prose about sharing stays
    assert h.text == "\n\n".join(_BODY)


def test_a_long_line_is_measured_in_windows_with_the_same_result(monkeypatch):
    """Issue 27, row 6: a line of megabytes is split into words a window at a time (one list of its
    millions of words took 900 MB); words, repeats and the cleaned text are what they were."""
    import index.clean as clean

    monkeypatch.setattr(clean, "LONG_LINE_CHARS", 16)
    lines = ["One  Two\tthree Σ four ΣΑΣ five", "  spaced\xa0out   words  ", "Short line", "x" * 40, "ONE two THREE σ FOUR σας five"]
    for line in lines:
        assert clean._words(line) == len(line.split())
    assert clean._line_key(lines[2]) == "short line"
    assert clean._line_key(lines[1]) == "spaced out words"  # long, but its words fit: the words themselves
    assert clean._line_key(lines[0]) == clean._line_key(lines[4])  # long: a digest of the same words
    assert isinstance(clean._line_key(lines[0]), bytes) and clean._line_key(lines[0]) != clean._line_key(lines[3])
    assert clean_text("\n".join(lines), cut_edges=False) == "\n\n".join(s.strip() for s in lines[:4])
