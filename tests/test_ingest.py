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


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
                                  b"\xff\xfe\x00\x01binary",  # a UTF-16 byte-order mark, then not text
                                  b"\xff\xfe" + bytes(range(256))])
def test_binary_file(tmp_path, data):
    f = tmp_path / "photo.txt"
    f.write_bytes(data)
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


# ------------------------------------------------------------------ doc ids of files (one per file, stable)
def _page(headline: str, url: str) -> str:
    return (f'<html><head><title>{headline}</title><link rel="canonical" href="{url}"></head><body><article>'
            f"<h1>{headline}</h1><p>{headline}: the city council voted on Tuesday to fund the harbour works for "
            "another decade, after a debate that lasted well into the night.</p><p>Residents were consulted twice, "
            "and the mayor promised a public hearing in the spring before any of the work begins.</p></article></body></html>")


def test_mirrored_site_files_named_alike_stay_separate_articles(tmp_path, caplog):
    site = tmp_path / "site"
    for slug in ("one", "two"):
        (site / "2024" / slug).mkdir(parents=True)
        (site / "2024" / slug / "index.html").write_text(_page(f"Harbour story {slug}", f"https://e.example/2024/{slug}/"))
    (site / "about.txt").write_text("About us\n\nWe are a small newsroom that covers the harbour and the town council.\n")
    with caplog.at_level("WARNING", logger="index.ingest"):
        arts = {a.doc_id: a for a in load_articles([site])}
    assert set(arts) == {"2024/one/index", "2024/two/index", "about"}  # a unique name keeps its bare id
    assert arts["2024/one/index"].url == "https://e.example/2024/one/"
    assert arts["2024/two/index"].title == "Harbour story two"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "2 files share a file name" in warnings[0] and "'index' x2" in warnings[0]


def test_same_name_in_subfolders_and_suffixes(tmp_path):
    body = " says something about trains that run late every single morning in the valley."
    for rel, head in (("a/news.txt", "A"), ("b/news.txt", "B"), ("b/news.md", "C")):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(f"Headline {head}\n\nThe body of {head}{body}\n")
    arts = {a.doc_id: a.title for a in load_articles([tmp_path])}
    assert arts == {"a/news": "Headline A", "b/news.txt": "Headline B", "b/news.md": "Headline C"}
    # two files given directly: their paths as given; ids are the same on every run
    given = [tmp_path / "a/news.txt", tmp_path / "b/news.txt"]
    ids = [a.doc_id for a in load_articles(given)]
    assert ids == [p.with_suffix("").as_posix() for p in given] == [a.doc_id for a in load_articles(given)]
    # the same file reached twice is one article under its bare name
    assert [a.doc_id for a in load_articles([tmp_path / "a", tmp_path / "a/news.txt"])] == ["news"]


def test_sample_corpus_ids_are_file_stems():
    assert sorted(a.doc_id for a in load_articles([SAMPLE_CORPUS])) == sorted(f.stem for f in SAMPLE_CORPUS.glob("*.txt"))


def test_jsonl_duplicate_ids_later_wins(tmp_path, caplog):
    f = tmp_path / "feed.jsonl"
    f.write_text(json.dumps({"id": "x", "text": "First version."}) + "\n" + json.dumps({"id": "x", "text": "Second version."}) + "\n")
    with caplog.at_level("WARNING", logger="index.ingest"):
        (a,) = load_articles([f])
    assert a.text == "Second version." and "appears more than once" in caplog.text


# ------------------------------------------------------------------ one path is one path
def test_a_single_path_is_one_path(tmp_path):
    f = tmp_path / "feed.jsonl"
    f.write_text(json.dumps({"id": "a1", "title": "T1", "text": "First article text about troops."}) + "\n")
    assert [a.doc_id for a in load_articles(str(f))] == ["a1"]
    assert [a.doc_id for a in load_articles(f)] == ["a1"]
    assert len(load_articles(SAMPLE_CORPUS)) == 5


# ------------------------------------------------------------------ an index inside the folder being indexed
def test_index_constants_match_the_store():
    from index import ingest, manifest

    assert (ingest.INDEX_MANIFEST, ingest.INDEX_FORMAT) == (manifest.MANIFEST, manifest.FORMAT)


def test_walk_skips_indexes_their_generations_and_hidden_folders(tmp_path, caplog):
    for f in sorted(SAMPLE_CORPUS.glob("*.txt"))[:2]:
        (tmp_path / f.name).write_text(f.read_text())
    idx = tmp_path / "qa-index"
    (idx / "segments" / "g1").mkdir(parents=True)
    (idx / "manifest.json").write_text(json.dumps({"format": "qa-index", "format_version": 2}))
    (idx / "segments" / "g1" / "articles.jsonl").write_text('{"doc_id": "x"}\n')
    (tmp_path / "qa-index.tmp-123" / "segments").mkdir(parents=True)  # a build in progress: no manifest yet
    (tmp_path / "qa-index.tmp-123" / "segments" / "articles.jsonl").write_text('{"doc_id": "x"}\n')
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.txt").write_text("not an article\n")
    (tmp_path / "web").mkdir()  # a manifest.json that is not a qa index is an ordinary folder
    (tmp_path / "web" / "manifest.json").write_text('{"name": "app"}')
    with caplog.at_level("WARNING", logger="index.ingest"):
        arts = load_articles([tmp_path])
    assert len(arts) == 2
    assert [r.getMessage() for r in caplog.records] == [f"skipping {tmp_path / 'web' / 'manifest.json'}: unsupported "
                                                        "file type (use .txt, .md, .html or .jsonl)"]
    with pytest.raises(IngestError, match="is a qa index, not a folder of articles"):
        load_articles([idx])


def test_qa_index_dot_twice_with_the_index_inside_it(tmp_path, monkeypatch, capsys):
    """``qa index .`` puts ./qa-index inside the folder it reads: later runs must not read it."""
    from qa.cli import main

    for f in sorted(SAMPLE_CORPUS.glob("*.txt"))[:2]:
        (tmp_path / f.name).write_text(f.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QA_INDEX", raising=False)
    assert main(["index", ".", "--quiet"]) == 0
    assert (tmp_path / "qa-index" / "manifest.json").is_file()
    (tmp_path / "new.txt").write_text("A short note\n\nThe harbour reopened on Monday after two weeks of repairs to the main pier.\n")
    capsys.readouterr()
    assert main(["index", ".", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "3 articles" in out and "+1 new" in out, out
    assert "qa-index" not in err and "WARNING" not in err, err


# ------------------------------------------------------------------ encodings: declared or marked, never guessed
_ES = ("<p>El ejército ruso se retiró de la región según fuentes oficiales, que añadieron que la retirada "
       "terminará en junio.</p><p>Según el ministerio, la operación comenzó el miércoles y los soldados volverán "
       "a sus bases antes del verano.</p>")


@pytest.mark.parametrize("head, encoding, title", [
    ('<meta charset="iso-8859-1">', "cp1252", "Título “€”"),  # read as browsers do: windows-1252's quotes
    ('<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-15">', "iso-8859-15", "Título €"),
    ("", "cp1252", "Título “€”"),  # with the XML declaration below
])
def test_html_in_its_declared_charset(tmp_path, head, encoding, title):
    xml = '<?xml version="1.0" encoding="windows-1252"?>\n' if not head else ""
    page = f"{xml}<html><head>{head}<title>{title}</title></head><body><article><h1>{title}</h1>{_ES}</article></body></html>"
    f = tmp_path / "page.html"
    f.write_bytes(page.encode(encoding))
    (a,) = load_articles([f])
    assert a.title == title
    assert a.text.startswith("El ejército ruso se retiró de la región según fuentes")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark(tmp_path, encoding):
    text = "Título del artículo\n\nEl ejército ruso se retiró de la región según fuentes oficiales del ministerio.\n"
    bom = {"utf-16-be": "\ufeff"}.get(encoding, "")  # Python writes the mark for utf-16/utf-32/utf-8-sig
    (tmp_path / "note.txt").write_bytes((bom + text).encode(encoding))
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes((bom + json.dumps({"id": "j1", "title": "Título", "text": "Texto ñ."}, ensure_ascii=False) + "\n").encode(encoding))
    a, j = load_articles([tmp_path / "note.txt", feed])
    assert (a.title, a.text) == ("Título del artículo", text.split("\n\n")[1].strip())
    assert (j.doc_id, j.title, j.text) == ("j1", "Título", "Texto ñ.")


def test_undeclared_or_unknown_encodings_are_one_line_errors(tmp_path):
    f = tmp_path / "page.html"
    f.write_bytes(f"<html><body><article>{_ES}</article></body></html>".encode("latin-1"))  # no declaration
    with pytest.raises(IngestError, match=r"page.html: not UTF-8 text \(bad byte at offset \d+\); convert it with iconv"):
        load_articles([f])
    f.write_bytes(f'<html><head><meta charset="klingon"></head><body>{_ES}</body></html>'.encode("latin-1"))
    with pytest.raises(IngestError, match="declares charset 'klingon', which is not a known encoding"):
        load_articles([f])
    f.write_bytes(f'<html><head><meta charset="utf-8"></head><body>{_ES}</body></html>'.encode("latin-1"))
    with pytest.raises(IngestError, match="declares charset 'utf-8' but is not UTF-8 text"):
        load_articles([f])
    g = tmp_path / "note.txt"  # a declaration only counts in HTML
    g.write_bytes(('<meta charset="iso-8859-1">\n\n' + _ES).encode("latin-1"))
    with pytest.raises(IngestError, match="not UTF-8 text"):
        load_articles([g])
