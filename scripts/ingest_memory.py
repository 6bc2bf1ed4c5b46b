"""Peak RSS and time of `qa index` on one large generated file (issue 8: "a 20 MB file reached 3 GB").

    python scripts/ingest_memory.py --mb 20 --format jsonl [--timeout 600] [--stage load]

Generates a file of unique news-like paragraphs (sample_corpus/ text with a counter, so no two
passages share a content id), runs ``python -m qa index FILE --index TMP --quiet`` and samples the
child's VmRSS / VmHWM from /proc every 0.2 s. ``--stage load`` measures only
``index.ingest.load_articles`` + chunking (no model), to split the peak between ingest and
embedding/indexing. Prints one JSON line.
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
    ap.add_argument("--stage", choices=["all", "load"], default="all")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / f"big.{args.format}"
        n = make_file(f, args.mb, args.format)
        if args.stage == "load":
            cmd = [sys.executable, "-c", LOAD_ONLY, str(f)]
        else:
            cmd = [sys.executable, "-m", "qa", "index", str(f), "--index", str(Path(tmp) / "idx"), "--quiet"]
        result = peak_rss(cmd, args.timeout)
        print(json.dumps({"mb": args.mb, "format": args.format, "records": n, "stage": args.stage, **result}))


if __name__ == "__main__":
    main()
