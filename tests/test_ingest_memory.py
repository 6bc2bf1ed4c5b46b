"""Issue 8: a build streams (chunk, embed, write a batch at a time), so its memory does not grow
with the input like the old all-at-once build did. Measured in a child process from /proc (peak
RSS growth over the process after a warm-up build), with a model-free 384-dimensional embedder
so the figure is the index path's own; scripts/ingest_memory.py measures the real model at 20 MB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from ingest_memory import HASH_EMBEDDER, make_file, nobreak_text  # noqa: E402

#: Peak RSS growth allowed for indexing the 4 MiB file below. The streaming build measured 39 MB
#: on the 2-core dev machine; the previous all-at-once build 76 MB (it held every text, vector and
#: token list of the input at once).
GROWTH_LIMIT_MB = 60

CHILD = HASH_EMBEDDER + r"""
import json, sys, time
from pathlib import Path

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) // 1024

from index.builder import build_index
src, out = Path(sys.argv[1]), Path(sys.argv[2])
warm = out.parent / "warm.jsonl"
warm.write_text(json.dumps({"id": "w", "title": "Warm up", "text": "A first sentence. A second one."}) + "\n")
build_index([warm], out.parent / "warm-idx", embedder=Hash384())  # loads bm25s, faiss, blingfire
base = status("VmRSS")
t = time.monotonic()
report = build_index([src], out, embedder=Hash384())
print(json.dumps({"base_mb": base, "growth_mb": status("VmHWM") - base, "passages": report.passages_total,
                  "seconds": round(time.monotonic() - t, 1)}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_indexing_a_4mb_file_stays_within_a_fixed_memory_growth(tmp_path):
    src = tmp_path / "big.jsonl"
    records = make_file(src, 4, "jsonl")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(src), str(tmp_path / "idx")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["passages"] > 4000 and records > 2000, got  # really a 4 MiB, multi-thousand-passage input
    assert got["growth_mb"] < GROWTH_LIMIT_MB, got


#: Peak RSS growth allowed for indexing one 8 MiB article with no sentence break (10,369 passages).
#: Measured 94 MB; 151 MB before its passages were streamed, its text written in pieces and its
#: cleaning measured in windows (the 50 MB figures: docs/security.md, issue 27 row 6).
NOBREAK_GROWTH_LIMIT_MB = 120


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_one_article_without_sentence_breaks_is_streamed_within_a_fixed_growth(tmp_path):
    """Issue 27, row 6: one 8 MiB article with no full stop and no line break (the worst shape of
    an upload). Its passages are made, embedded and written a batch at a time like many articles'
    (before: all of one article's passages at once), and its text is not copied whole again."""
    src = tmp_path / "one.jsonl"
    src.write_text(json.dumps({"id": "one", "title": "One long article", "text": nobreak_text(8 * 2**20 + 1000)}) + "\n",
                   encoding="utf-8")
    assert src.stat().st_size > 8 * 2**20
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(src), str(tmp_path / "idx")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["passages"] > 10000, got
    assert got["growth_mb"] < NOBREAK_GROWTH_LIMIT_MB, got


def test_a_huge_article_is_chunked_as_a_stream():
    """The first passages of a 4 MiB article come before the tokenizer has read more than a block
    of it, and the stream is exactly :func:`chunk_article`'s list."""
    from index.chunking import MAX_SPAN_CHARS, SPAN_BLOCK, ChunkSettings, approx_token_counts, chunk_article, iter_passages
    from index.records import Article

    art = Article("one", "One long article", nobreak_text(4 * 2**20))
    counted: list[int] = []

    def count(texts):
        counted.append(sum(map(len, texts)))
        return approx_token_counts(texts)

    stream = iter_passages(art, ChunkSettings(), count)
    first = [next(stream) for _ in range(5)]
    assert sum(counted) <= SPAN_BLOCK * MAX_SPAN_CHARS < len(art.text) // 2  # one block of 256 spans: ~1 MB
    assert first + list(stream) == chunk_article(art, ChunkSettings())


def test_a_long_text_is_written_in_pieces_as_the_same_bytes(monkeypatch):
    """An article's text is serialised a piece at a time (one 50 MB JSON line was three more
    copies of the text at once): the bytes are ``json.dumps``'s, escapes included."""
    import index.segments as seg

    monkeypatch.setattr(seg, "JSON_PIECE_CHARS", 5)
    for row in ({"doc_id": "a", "title": "T", "text": 'quote " slash \\ tab\t é 😀 line\nend', "url": ""},
                {"doc_id": "b", "title": seg._TEXT_MARK, "text": "the mark elsewhere: written whole", "url": ""},
                {"doc_id": "c", "title": "T", "text": "short"}):
        pieces = list(seg._json_line(row))
        assert b"".join(pieces) == (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        assert (len(pieces) > 3) == (row["doc_id"] == "a")


def test_a_build_gives_back_the_models_working_memory_once_its_embedding_is_done(tmp_path, embedder):
    """The ONNX arena (grown for the widest batches) is released once the last batch is embedded,
    before the segment's postings are sorted and the dense index built: the peak of a build with
    the model is then not the arena plus those. Releasing changes no vector."""
    from index.builder import build_index

    scope: dict = {}
    exec(HASH_EMBEDDER, scope)

    class Recording(scope["Hash384"]):  # type: ignore[misc, valid-type]
        calls: list[str] = []

        def encode(self, texts, batch_size=64, show_progress=False):
            self.calls.append("encode")
            return super().encode(texts, batch_size, show_progress)

        def release_memory(self):
            self.calls.append("release")

    src = tmp_path / "news.jsonl"
    make_file(src, 0.3, "jsonl")
    build_index([src], tmp_path / "idx", embedder=Recording())
    assert Recording.calls.count("release") == 1 and Recording.calls[-1] == "release", Recording.calls
    assert Recording.calls.count("encode") >= 1

    texts = ["The council approved the harbour budget.", "A longer sentence about the vote " * 20]
    first = embedder.encode(texts)
    embedder.release_memory()
    assert np.array_equal(embedder.encode(texts), first)
