"""Peak RSS and time of `qa index` on one large generated file (issue 8: "a 20 MB file reached 3 GB").

    python scripts/ingest_memory.py --mb 20 --format jsonl [--timeout 600] [--stage load|write] [--batch-size 32]
    python scripts/ingest_memory.py --mb 50 --shape nobreak --stage write   # issue 27, row 6

Generates a file of unique news-like paragraphs (sample_corpus/ text with a counter, so no two
passages share a content id), or with ``--shape nobreak`` one article of that size with no full
stop and no line break (the worst shape of an upload: :func:`make_nobreak_file`), runs
``python -m qa index FILE --index TMP --quiet`` and samples the child's VmRSS / VmHWM from /proc
every 0.2 s. ``--stage load`` measures only
``index.ingest.load_articles`` + chunking (no model), to split the peak between ingest and
embedding/indexing. ``--stage write`` runs the whole build (``index.builder.build_index``: ingest,
chunking, BM25 term counts, segment files, dense index, manifest) with a model-free embedder
(deterministic 384-dimensional vectors), i.e. everything but the model: minutes instead of hours
on a small CPU. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOAD_ONLY = """
import sys, resource
from index.ingest import load_articles
from index.chunking import ChunkSettings, chunk_articles
arts = load_articles([sys.argv[1]])
passages = chunk_articles(arts, ChunkSettings())
print(len(arts), len(passages), file=sys.stderr)
"""

#: A model-free embedder (deterministic 384-d unit vectors from a hash of the text), as source for
#: the child processes here and in tests/test_ingest_memory.py: the index path's own memory.
HASH_EMBEDDER = """
import hashlib
import numpy as np

class Hash384:
    name, dim, backend = "test/hash-384", 384, "torch"
    def encode(self, texts, batch_size=64, show_progress=False):
        out = np.empty((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            v = np.random.default_rng(int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "little")).standard_normal(self.dim)
            out[i] = v / np.linalg.norm(v)
        return out
    def count_tokens(self, texts):
        return [int(len(t.split()) * 1.3) + 1 for t in texts]
"""

WRITE_ONLY = HASH_EMBEDDER + """
import sys
from index.builder import build_index
print(build_index([sys.argv[1]], sys.argv[2], embedder=Hash384()).summary(), file=sys.stderr)
"""


def make_file(path: Path, mb: float, fmt: str) -> int:
    paragraphs = []
    for f in sorted((ROOT / "sample_corpus").glob("*.txt")):
        paragraphs += [p.strip() for p in f.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 80]
    target = int(mb * 1024 * 1024)
    n = 0
    with path.open("w", encoding="utf-8") as out:
        if fmt == "txt":
            out.write("A very long report\n\n")
        size = 0
        while size < target:
            body = "\n\n".join(f"{p} (Item {n}-{i}.)" for i, p in enumerate(paragraphs[n % 7: n % 7 + 6]))
            line = (json.dumps({"id": f"doc-{n}", "title": f"Report {n}", "text": body}) + "\n") if fmt == "jsonl" else body + "\n\n"
            out.write(line)
            size += len(line.encode())
            n += 1
    return n


def nobreak_text(size: int) -> str:
    """At least ``size`` characters of news words with no punctuation and no line break (so no
    sentence or paragraph break anywhere), a counter every 40 words so no two passages are alike."""
    import re

    corpus = " ".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "sample_corpus").glob("*.txt")))
    words = re.sub(r"[^\w\s]", " ", corpus).split()
    out, n, got = [], 0, 0
    while got < size:
        piece = words[(n * 40) % len(words):(n * 40) % len(words) + 40] + [f"item{n}"]
        out += piece
        got += sum(map(len, piece)) + len(piece)
        n += 1
    return " ".join(out)


def make_nobreak_file(path: Path, mb: float, fmt: str) -> int:
    """One article of ``mb`` MiB without sentence breaks (:func:`nobreak_text`) as ``.jsonl`` or ``.txt``."""
    text = nobreak_text(int(mb * 1024 * 1024) + 1000)
    if fmt == "jsonl":
        path.write_text(json.dumps({"id": "one", "title": "One long article", "text": text}) + "\n", encoding="utf-8")
    else:
        path.write_text("One long article\n\n" + text + "\n", encoding="utf-8")
    return 1


def peak_rss(cmd: list[str], timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)), "HF_HUB_OFFLINE": "1"}
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    timed_out = False
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith(("VmHWM:", "VmRSS:")):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        if time.monotonic() - t0 > timeout:
            proc.kill()
            timed_out = True
            break
        time.sleep(0.2)
    err = proc.communicate()[1]
    return {"peak_rss_mb": round(peak / 1024), "seconds": round(time.monotonic() - t0, 1), "exit": proc.returncode,
            "timed_out": timed_out, "stderr_tail": err.strip().splitlines()[-1:] if err else []}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--format", choices=["txt", "jsonl"], default="jsonl")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--shape", choices=["news", "nobreak"], default="news",
                    help="news: many articles of paragraphs; nobreak: one article without a sentence break")
    ap.add_argument("--stage", choices=["all", "load", "write"], default="all")
    ap.add_argument("--batch-size", type=int, default=None, help="passed to `qa index --batch-size` (the model's batch)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / f"big.{args.format}"
        n = (make_nobreak_file if args.shape == "nobreak" else make_file)(f, args.mb, args.format)
        if args.stage == "load":
            cmd = [sys.executable, "-c", LOAD_ONLY, str(f)]
        elif args.stage == "write":
            cmd = [sys.executable, "-c", WRITE_ONLY, str(f), str(Path(tmp) / "idx")]
        else:
            cmd = [sys.executable, "-m", "qa", "index", str(f), "--index", str(Path(tmp) / "idx"), "--quiet"]
            cmd += ["--batch-size", str(args.batch_size)] if args.batch_size else []
        result = peak_rss(cmd, args.timeout)
        print(json.dumps({"mb": args.mb, "format": args.format, "shape": args.shape, "records": n, "stage": args.stage,
                          "batch_size": args.batch_size, **result}))


if __name__ == "__main__":
    main()
