"""Date and publisher filters, and sorting, through the CLI (`qa search/ask --since --until --source
--sort`) and the JSON API (the same field names), on the sample corpus with its real metadata;
plus /docs served without a CDN."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from qa.cli import main
from ui.api import create_api
from ui.config import ServeConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: The sample articles' dates (tests/test_metadata.py pins them): two in 2023, one in 2024, two undated.
DATED_2024 = {"002_4f924e5df3fd12e9"}
ALWAGHT = {"004_5acde872f18f0611"}


def cli_json(capsys, *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_search_since_returns_only_articles_from_that_date_on(sample_index, capsys):
    out = cli_json(capsys, "search", "Armenia", "--index", str(sample_index), "--since", "2024-01-01", "-k", "10")
    assert out["filters"]["since"] == "2024-01-01"
    assert out["results"], "the 2024 article mentions Armenia"
    assert {r["doc_id"] for r in out["results"]} == DATED_2024
    assert all(r["date"] >= "2024-01-01" for r in out["results"])
    # every passage of that article is eligible, so a filter never returns fewer hits than exist
    everything = cli_json(capsys, "search", "Armenia", "--index", str(sample_index), "-k", "50", "--mode", "bm25")
    in_2024 = [r for r in everything["results"] if r["date"] >= "2024-01-01"]
    filtered = cli_json(capsys, "search", "Armenia", "--index", str(sample_index), "-k", "50", "--mode", "bm25",
                        "--since", "2024-01-01")
    assert len(filtered["results"]) == len(in_2024)


def test_cli_until_source_and_newest(sample_index, capsys):
    out = cli_json(capsys, "search", "Armenia Russia", "--index", str(sample_index), "--until", "2023-12-31", "-k", "20")
    assert out["results"] and all("2023-" <= r["date"][:5] <= "2023-12-31" for r in out["results"])
    out = cli_json(capsys, "search", "Armenia Russia", "--index", str(sample_index), "--source", "alwaght")
    assert {r["doc_id"] for r in out["results"]} == ALWAGHT and {r["source"] for r in out["results"]} == {"Alwaght"}
    out = cli_json(capsys, "search", "Armenia Russia", "--index", str(sample_index), "--sort", "newest", "-k", "20")
    dates = [r["date"][:10] for r in out["results"] if r["date"]]
    assert dates == sorted(dates, reverse=True) and dates[0] == "2024-04-22"
    assert [r["rank"] for r in out["results"]] == list(range(1, len(out["results"]) + 1))
    undated = [i for i, r in enumerate(out["results"]) if not r["date"]]
    assert undated and min(undated) > max(i for i, r in enumerate(out["results"]) if r["date"])  # undated last


def test_cli_ask_with_filters_and_readable_byline(sample_index, capsys):
    q = "How much have the US and Europe spent equipping Ukraine with weapons?"
    out = cli_json(capsys, "ask", q, "--index", str(sample_index), "--source", "Alwaght")
    assert out["citations"] and {c["doc_id"] for c in out["citations"]} == ALWAGHT
    assert {r["doc_id"] for r in out["results"]} == ALWAGHT
    assert main(["ask", q, "--index", str(sample_index), "--source", "Alwaght"]) == 0
    text = capsys.readouterr().out
    assert "[1] Russia-Armenia Relations Hit by Differences over Karabakh Dispute · Alwaght · 2023-09-11" in text


@pytest.mark.parametrize("flags, message", [
    (["--since", "2024-13-01"], "since must be a date like 2024-01-31"),
    (["--since", "2024-05-01", "--until", "2024-01-01"], "is after until"),
])
def test_cli_bad_filter_is_one_line_exit_2(sample_index, capsys, flags, message):
    assert main(["search", "Armenia", "--index", str(sample_index), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def client(service) -> TestClient:
    return TestClient(create_api(service, ServeConfig(index_dir=service.index_dir, max_k=20)), raise_server_exceptions=False)


def test_api_search_source_returns_only_that_publisher(client):
    r = client.post("/api/search", json={"query": "Armenia Russia", "k": 10, "source": ["Alwaght"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["filters"] == {"since": None, "until": None, "source": ["Alwaght"], "sort": "relevance"}
    assert body["results"] and {x["source"] for x in body["results"]} == {"Alwaght"}
    one = client.post("/api/search", json={"query": "Armenia Russia", "k": 10, "source": "Insight News Media"}).json()
    assert {x["doc_id"] for x in one["results"]} == {"001_709e358b3273cbbf"}


def test_api_dates_sort_and_ask(client):
    r = client.post("/api/search", json={"query": "Armenia", "k": 10, "since": "2024-01-01"}).json()
    assert r["results"] and {x["doc_id"] for x in r["results"]} == DATED_2024
    r = client.post("/api/search", json={"query": "Armenia", "k": 20, "sort": "newest"}).json()
    assert r["results"][0]["date"].startswith("2024-04-22")
    a = client.post("/api/ask", json={"question": "How much have the US and Europe spent equipping Ukraine with weapons?",
                                      "since": "2023-09-01", "until": "2023-09-30"}).json()
    assert a["citations"] and {c["doc_id"] for c in a["citations"]} == ALWAGHT
    assert a["citations"][0]["date"] == "2023-09-11" and a["citations"][0]["source"] == "Alwaght"


@pytest.mark.parametrize("body, status, code", [
    ({"query": "Armenia", "since": "last week"}, 400, "bad_query"),
    ({"query": "Armenia", "since": "2024-05-01", "until": "2024-01-01"}, 400, "bad_query"),
    ({"query": "Armenia", "sort": "oldest"}, 422, "invalid_request"),
    ({"query": "Armenia", "source": [1, 2]}, 422, "invalid_request"),
])
def test_api_bad_filters_use_the_error_shape(client, body, status, code):
    r = client.post("/api/search", json=body)
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text


def test_docs_page_loads_swagger_ui_from_this_server(client):
    r = client.get("/docs")
    assert r.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert urls and all(u.startswith("/docs-assets/") for u in urls), urls
    assert "cdn" not in r.text.lower()
    for u in urls:
        assert client.get(u).status_code == 200, u


# --------------------------------------------------------------------------- the same rules as the CLI
def test_api_splits_a_source_string_on_commas_like_the_cli(client, sample_index, capsys):
    """Before: "Alwaght,Insight News Media" was one publisher name in the API (0 results) and two in the CLI."""
    both = "Alwaght,Insight News Media"
    r = client.post("/api/search", json={"query": "Armenia Russia", "k": 20, "source": both})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["filters"]["source"] == ["Alwaght", "Insight News Media"]
    assert {x["source"] for x in body["results"]} == {"Alwaght", "Insight News Media"}
    cli = cli_json(capsys, "search", "Armenia Russia", "--index", str(sample_index), "-k", "20", "--source", both)
    assert [x["passage_id"] for x in body["results"]] == [x["passage_id"] for x in cli["results"]]
    # a list names publishers exactly (no splitting), so a name with a comma stays expressible
    listed = client.post("/api/search", json={"query": "Armenia Russia", "k": 20, "source": [both]}).json()
    assert listed["filters"]["source"] == [both] and listed["results"] == []


@pytest.mark.parametrize("day", ["2024-01-01xyz", "2024-01-01T00:00:00", "2024-1-1", "20240101", "2024-13-01",
                                 "٢٠٢٤-٠١-٠١"])
def test_dates_are_exactly_yyyy_mm_dd_in_the_api_and_the_cli(client, sample_index, capsys, day):
    """Before: "2024-01-01xyz" and a timestamp were read as 2024-01-01."""
    for field in ("since", "until"):
        r = client.post("/api/search", json={"query": "Armenia", field: day})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_query", r.text
        assert r.json()["error"]["message"] == f"{field} must be a date like 2024-01-31 (YYYY-MM-DD), got {day!r}"
        r = client.post("/api/ask", json={"question": "Armenia?", field: day})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_query", r.text
    assert main(["search", "Armenia", "--index", str(sample_index), "--since", day]) == 2
    err = capsys.readouterr().err
    assert "since must be a date like 2024-01-31" in err and err.count("\n") == 1
    assert client.post("/api/search", json={"query": "Armenia", "since": " 2024-01-01 "}).status_code == 200
