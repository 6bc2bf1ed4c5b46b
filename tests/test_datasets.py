"""Loading evaluation data: BEIR folders, TREC files and question sets, and their error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.errors import QAError
from qa.datasets import (DatasetError, is_question_set, load_beir, load_questions, load_trec, normalize_text,
                         question_qrels)
from qa.metrics import parse_metrics, ranx_metric

from conftest import ROOT


def write_beir(folder: Path, corpus=None, queries=None, qrels=None) -> Path:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    corpus = corpus if corpus is not None else [
        {"_id": "d1", "title": "Cats", "text": "Cats purr when content."},
        {"_id": "d2", "title": "Dogs", "text": "Dogs bark at strangers."},
        {"_id": "d3", "title": "", "text": ""},
    ]
    queries = queries if queries is not None else [{"_id": "q1", "text": "why do cats purr"}, {"_id": "q2", "text": "dogs"}]
    qrels = qrels if qrels is not None else "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n"
    (folder / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in corpus) if isinstance(corpus, list) else corpus)
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries) if isinstance(queries, list) else queries)
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text(qrels)
    return folder


def test_load_beir_counts_and_empty_docs(tmp_path: Path) -> None:
    ds = load_beir(write_beir(tmp_path / "tiny"))
    assert ds.name == "tiny"
    assert [a.doc_id for a in ds.corpus] == ["d1", "d2"]  # the empty document is not indexed
    assert ds.empty_docs == 1
    assert ds.queries == {"q1": "why do cats purr", "q2": "dogs"}
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert len(ds.corpus_hash) == 16


def test_title_only_record_and_missing_title(tmp_path: Path) -> None:
    ds = load_beir(write_beir(tmp_path / "t", corpus=[{"_id": "d1", "title": "only a title", "text": ""},
                                                      {"_id": "d2", "text": "no title field"}],
                              qrels="q1\td1\t1\nq2\td2\t1\n"))
    assert [(a.title, a.text) for a in ds.corpus] == [("", "only a title"), ("", "no title field")]


def test_qrels_may_cite_an_empty_document(tmp_path: Path) -> None:
    ds = load_beir(write_beir(tmp_path / "e", qrels="q1\td3\t1\nq2\td2\t1\n"))
    assert ds.qrels["q1"] == {"d3": 1}


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_missing_file_is_named(tmp_path: Path, missing: str) -> None:
    folder = write_beir(tmp_path / "m")
    (folder / missing).unlink()
    with pytest.raises(DatasetError, match=rf"{missing}: file not found"):
        load_beir(folder)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such dataset folder"):
        load_beir(tmp_path / "nope")


def test_qrels_doc_not_in_corpus_names_line(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "x", qrels="query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td9\t1\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:3: corpus id 'd9' is not in .*corpus\.jsonl"):
        load_beir(folder)


def test_qrels_query_not_in_queries_names_line(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "x", qrels="q7\td1\t1\n")
    with pytest.raises(DatasetError, match=r"test\.tsv:1: query id 'q7' is not in the queries file"):
        load_beir(folder)


@pytest.mark.parametrize("qrels, message", [
    ("query-id\tcorpus-id\tscore\nq1\td1\n", r"test\.tsv:2: expected 3 tab-separated columns"),
    ("q1\td1\thigh\n", r"test\.tsv:1: relevance 'high' is not a number"),
    ("q1\td1\t0.5\n", r"test\.tsv:1: relevance '0.5' is not a whole number"),
    ("query-id\tcorpus-id\tscore\n", r"test\.tsv: no judgments"),
])
def test_malformed_qrels(tmp_path: Path, qrels: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        load_beir(write_beir(tmp_path / "bad", qrels=qrels))


def test_malformed_corpus_line(tmp_path: Path) -> None:
    corpus = '{"_id": "d1", "text": "fine"}\n{"_id": "d2", "text": \n'
    with pytest.raises(DatasetError, match=r"corpus\.jsonl:2: malformed JSON"):
        load_beir(write_beir(tmp_path / "bad", corpus=corpus))


@pytest.mark.parametrize("corpus, message", [
    ('{"_id": "d1", "text": "a"}\n{"text": "b"}\n', r"corpus\.jsonl:2: missing field '_id' or 'id'"),
    ('{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n', r"corpus\.jsonl:2: document id 'd1' already used on line 1"),
    ('{"_id": "d1", "text": ["a"]}\n', r"corpus\.jsonl:1: field 'text' must be a string"),
    ('[1, 2]\n', r"corpus\.jsonl:1: expected a JSON object"),
])
def test_bad_corpus_records(tmp_path: Path, corpus: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        load_beir(write_beir(tmp_path / "bad", corpus=corpus))


def test_bad_queries(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"queries\.jsonl:2: query 'q2' has empty text"):
        load_beir(write_beir(tmp_path / "bad", queries='{"_id": "q1", "text": "a"}\n{"_id": "q2", "text": "  "}\n'))


def test_errors_are_user_errors() -> None:
    assert issubclass(DatasetError, QAError)


def test_trec_qrels_and_topics(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "c")
    (tmp_path / "qrels.txt").write_text("q1 0 d1 1\nq2 0 d2 1\nq2 0 d1 0\n")
    (tmp_path / "topics.txt").write_text(
        "<top>\n<num> Number: q1\n<title> why do cats purr\n<desc> Description:\nlong\n</top>\n"
        "<top>\n<num> q2\n<title> dogs\n</top>\n")
    ds = load_trec(tmp_path / "qrels.txt", tmp_path / "topics.txt", folder / "corpus.jsonl")
    assert ds.queries == {"q1": "why do cats purr", "q2": "dogs"}
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 1, "d1": 0}}
    (tmp_path / "topics.tsv").write_text("q1\twhy do cats purr\nq2\tdogs\n")
    assert load_trec(tmp_path / "qrels.txt", tmp_path / "topics.tsv").queries == ds.queries


def test_trec_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "topics.tsv").write_text("q1\tcats\n")
    (tmp_path / "qrels.txt").write_text("q1 0 d1 1\nq1 d2 1\n")
    with pytest.raises(DatasetError, match=r"qrels\.txt:2: expected 4 columns"):
        load_trec(tmp_path / "qrels.txt", tmp_path / "topics.tsv")
    (tmp_path / "topics.tsv").write_text("q1 cats\n")
    with pytest.raises(DatasetError, match=r"topics\.tsv:1: expected 'query-id<TAB>text'"):
        load_trec(tmp_path / "qrels.txt", tmp_path / "topics.tsv")


def test_normalize_text() -> None:
    assert normalize_text("Armenia\u2019s  \u201cpeacekeepers\u201d\n\u2014 ok") == "armenia's \"peacekeepers\" - ok"


def test_sample_question_set() -> None:
    path = ROOT / "eval" / "sample_questions.jsonl"
    assert is_question_set(path)
    questions = load_questions(path)
    assert len(questions) >= 24
    assert sum(q.answerable for q in questions) >= 20
    assert sum(not q.answerable for q in questions) >= 4
    assert len({q.id for q in questions}) == len(questions)


def test_question_set_errors(tmp_path: Path) -> None:
    p = tmp_path / "q.jsonl"
    p.write_text('{"id": "a", "question": "x?", "evidence": []}\n{"id": "b", "question": "y?", "evidence": "z"}\n'
                 '{"id": "c", "question": "w?", "evidence": [1]}\n')
    with pytest.raises(DatasetError, match=r"q\.jsonl:3: 'evidence' must be a list of strings"):
        load_questions(p)
    p.write_text('{"id": "a", "question": ""}\n')
    with pytest.raises(DatasetError, match=r"q\.jsonl:1: question 'a' is empty"):
        load_questions(p)


def test_question_qrels_match_ignoring_quotes_and_space(tmp_path: Path) -> None:
    from index.records import Passage

    passages = [Passage("p1", "d1", "Russia\u2019s troops   will\nremain.", 0, 10, "T"),
                Passage("p2", "d1", "Nothing here.", 10, 20, "T")]
    p = tmp_path / "q.jsonl"
    p.write_text('{"id": "a", "question": "x?", "evidence": ["russia\'s troops will remain"]}\n'
                 '{"id": "b", "question": "y?", "evidence": []}\n')
    qs = load_questions(p)
    assert question_qrels(qs, passages, p) == {"a": {"p1": 1}}
    p.write_text('{"id": "a", "question": "x?", "evidence": ["not in the text"]}\n')
    with pytest.raises(DatasetError, match=r"q\.jsonl:1: evidence 'not in the text' of question 'a' is in no passage"):
        question_qrels(load_questions(p), passages, p)
    # qa eval's way: a question whose evidence no passage holds is left out and named, the rest scored
    p.write_text('{"id": "a", "question": "x?", "evidence": ["not in the text"]}\n'
                 '{"id": "c", "question": "z?", "evidence": ["nothing here"]}\n')
    unmatched: list[str] = []
    assert question_qrels(load_questions(p), passages, p, unmatched=unmatched) == {"c": {"p2": 1}}
    assert unmatched == ["a"]


def test_metric_names() -> None:
    assert ranx_metric("hit@5") == "hit_rate@5"
    assert ranx_metric("NDCG@10") == "ndcg@10"
    assert parse_metrics("ndcg@10, recall@100") == ["ndcg@10", "recall@100"]
    with pytest.raises(DatasetError, match="unknown metric 'foo@3'"):
        parse_metrics("foo@3")
