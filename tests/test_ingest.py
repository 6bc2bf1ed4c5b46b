"""Each input format, and every kind of bad input, on real and hand-made files."""

from __future__ import annotations

import json

import pytest

from index.errors import EmptyCorpusError, IngestError
from index.ingest import load_articles

from conftest import SAMPLE_CORPUS

HTML = """<!doctype html><html><head><title>Russia pulls peacekeepers | World News</title>
<meta property="og:url" content="https://news.example/karabakh"><meta name="date" content="2024-04-22">
<meta property="og:site_name" content="World News"></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li><li>Sport</li></ul></nav>
<article><h1>Russia pulls peacekeepers</h1>
<p>Russia has begun withdrawing its peacekeeping contingent from Nagorno-Karabakh, the Kremlin confirmed on Wednesday, ending a four-year mission.</p>
<p>The roughly 2,000 troops were deployed in 2020 under a ceasefire deal that ended six weeks of fighting between Armenia and Azerbaijan.</p>
</article>
<div class="share">Share: Facebook Twitter</div>
<section class="comments"><h3>Leave a Reply</h3><form><label>Name</label><input></form></section>
<footer>© 2024 World News. All rights reserved.</footer></body></html>"""


def test_sample_corpus_txt():
    arts = load_articles([SAMPLE_CORPUS])
    assert len(arts) == 5
    assert all(a.text and not a.source.endswith(".txt") for a in arts)  # a publisher, never the file name


def test_markdown(tmp_path):
    f = tmp_path / "note.md"
    f.write_text("# Ceasefire holds\n\n![map](map.png)\n\nThe ceasefire between the two sides held overnight, "
                 "according to [officials](https://x.example) in the capital who spoke on Monday.\n")
    (a,) = load_articles([f])
    assert a.title == "Ceasefire holds"
    assert a.text.startswith("The ceasefire between the two sides held overnight, according to officials in")
    assert "map.png" not in a.text and "https://" not in a.text


def test_html_extracts_main_text_and_metadata(tmp_path):
    f = tmp_path / "karabakh.html"
    f.write_text(HTML)
    (a,) = load_articles([f])
    assert a.title == "Russia pulls peacekeepers"
    assert a.url == "https://news.example/karabakh"
    assert a.date == "2024-04-22"
    assert "withdrawing its peacekeeping contingent" in a.text
    for junk in ("Home", "Facebook", "Leave a Reply", "All rights reserved"):
        assert junk not in a.text


def test_jsonl(tmp_path):
    f = tmp_path / "feed.jsonl"
    rows = [
        {"id": "a1", "title": "T1", "text": "First article text about troops.", "url": "https://e/1", "date": "2024-01-02", "source": "Wire"},
        {"_id": "a2", "title": "T2", "text": "Second article, BEIR style id."},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    a1, a2 = load_articles([f])
    assert (a1.doc_id, a1.title, a1.url, a1.date, a1.source) == ("a1", "T1", "https://e/1", "2024-01-02", "Wire")
    assert a2.doc_id == "a2" and a2.source == ""  # unknown stays empty (not the file name)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "x", "title": "t"}\n', "feed.jsonl:1: missing field(s) text"),
        ('{"id": "x", "title": "t", "text": "ok"}\n{not json}\n', "feed.jsonl:2: malformed JSON"),
        ('["a", "b"]\n', "feed.jsonl:1: expected a JSON object"),
        ('{"id": "x", "text": ["a"]}\n', "feed.jsonl:1: field(s) text must be strings"),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path, content, message):
    f = tmp_path / "feed.jsonl"
    f.write_text(content)
    with pytest.raises(IngestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_articles([f])


def test_missing_path(tmp_path):
    with pytest.raises(IngestError, match="no such file or folder"):
        load_articles([tmp_path / "nope"])


def test_binary_file(tmp_path):
    f = tmp_path / "photo.txt"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(IngestError, match="binary"):
        load_articles([f])


def test_non_utf8_file(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("Título\n\nEl ejército ruso se retiró de la región según fuentes oficiales.".encode("latin-1"))
    with pytest.raises(IngestError, match="not UTF-8"):
        load_articles([f])


def test_unsupported_file_type(tmp_path):
    f = tmp_path / "report.pdf"
    f.write_bytes(b"%PDF-1.4")
    with pytest.raises(IngestError, match="unsupported file type"):
        load_articles([f])


def test_empty_corpus(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "ignored.csv").write_text("a,b")
    with pytest.raises(EmptyCorpusError, match="no articles"):
        load_articles([tmp_path])
    with pytest.raises(EmptyCorpusError):
        load_articles([])
