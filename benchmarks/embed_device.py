"""Indexing (embedding) throughput on a device: the product's embedder against sentence-transformers'
default ``encode`` on the same device, in the same run.

    python benchmarks/embed_device.py --tiny --precision fp16 --json  # seconds, the GPU's pipeline on the CPU: what CI runs
    python benchmarks/embed_device.py --device cuda --readme          # on a GPU: benchmarks/README.md
    python benchmarks/embed_device.py --export-texts T.jsonl.gz       # the texts, for a machine without ../shared

The baseline is what a sentence-transformers user gets by default: ``SentenceTransformer(model,
device=D).encode(texts)`` (fp32 weights, 32 texts a batch, sorted by length), asserted fp32.
The candidate is what ``qa index --device D`` runs: :class:`index.embedding.SentenceTransformerEmbedder`
with ``device=D`` (on a GPU the torch backend in fp16, normalised in fp32; on the CPU the default
ONNX int8 backend), at each ``--batches`` size. Rounds are interleaved (baseline first in odd
rounds, last in even ones) and each figure is the median over rounds; the GPU is synchronised by
the copy of every result to host memory. Cosine is measured between the candidate's vectors and
the baseline's, text by text.

Texts: every document of the shared collections (``../shared/data/{scifact,cranfield,vaswani}``,
title + text, as ``run.py`` embeds them), or ``--texts FILE`` (JSON lines with a ``text`` field,
gzip allowed), or with ``--tiny`` the paragraphs of ``sample_corpus/``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import load_pool, log, passage_text, update_readme  # noqa: E402


def sample_texts(limit: int) -> list[str]:
    """Paragraphs of the sample corpus (always in the repo): the ``--tiny`` texts."""
    out: list[str] = []
    for path in sorted((ROOT / "sample_corpus").glob("*.txt")):
        out += [" ".join(p.split()) for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 5]
    return out[:limit]


def read_texts(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
            return [str(json.loads(line)["text"]) for line in f if line.strip()]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{path}: not JSON lines with a 'text' field ({type(exc).__name__}: {exc})") from None


def shared_texts() -> list[str]:
    docs, _ = load_pool()
    return [passage_text(title, text) for _, title, text in docs]


def measure(texts: list[str], device: str, model: str | None, batches: list[int], rounds: int,
            precision: str | None = None) -> dict[str, Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    from index.embedding import SentenceTransformerEmbedder, resolve_device, resolve_model

    device = resolve_device(device)
    base = SentenceTransformer(resolve_model(model)[1], device=device)  # the default, as a user gets it
    base_dtype = str(next(base.parameters()).dtype)
    if base_dtype != "torch.float32":
        raise SystemExit(f"the baseline must be the fp32 default; this model loads as {base_dtype}")
    cand = SentenceTransformerEmbedder(model, device=device, backend="torch" if precision == "fp16" else None,
                                       precision=precision)
    base.encode(texts[:64])
    for b in batches:
        cand.encode(texts[:64], batch_size=b)
    times: dict[str, list[float]] = {"baseline": [], **{f"batch {b}": [] for b in batches}}
    vecs: dict[str, np.ndarray] = {}
    for r in range(rounds):
        names = list(times)
        for name in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            if name == "baseline":
                v = base.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
            else:
                v = cand.encode(texts, batch_size=int(name.split()[1]))
            times[name].append(time.perf_counter() - t0)
            vecs[name] = np.asarray(v, dtype=np.float32)
            log(f"round {r + 1} {name}: {len(texts) / times[name][-1]:.0f} passages/s")
    rate = {k: len(texts) / float(np.median(t)) for k, t in times.items()}
    rows = []
    for b in batches:
        name = f"batch {b}"
        cos = np.sum(vecs["baseline"] * vecs[name], axis=1)
        rows.append({"batch": b, "passages_per_s": rate[name], "speedup": rate[name] / rate["baseline"],
                     "cosine_min": float(cos.min()), "cosine_mean": float(cos.mean())})
    gpu = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None
    return {"device": device, "gpu": gpu, "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "passages": len(texts), "rounds": rounds,
            "mean_words": float(np.mean([len(t.split()) for t in texts])),
            "baseline": {"what": "SentenceTransformer(model, device).encode(texts): fp32, batch 32", "dtype": base_dtype,
                         "passages_per_s": rate["baseline"]},
            "candidate": {"what": repr(cand), "backend": cand.backend, "precision": cand.precision},
            "rows": rows}


def markdown(res: dict[str, Any], command: str) -> str:
    where = res["gpu"] or f"{res['cpus']} CPUs"
    c = res["candidate"]
    lines = [f"Command: `{command}`  ",
             f"Device: {res['device']} ({where}), torch {res['torch']}; {res['passages']} texts (mean {res['mean_words']:.0f} words), "
             f"median of {res['rounds']} interleaved rounds.", "",
             "| system | batch | passages/s | x baseline | cosine to baseline min / mean |", "|---|---|---|---|---|",
             f"| sentence-transformers default encode (fp32) | 32 | {res['baseline']['passages_per_s']:.0f} | 1.00x | - |"]
    for r in res["rows"]:
        what = f"torch, {c['precision']}" if c["backend"] == "torch" else c["backend"]
        lines.append(f"| newsqa ({what}) | {r['batch']} | {r['passages_per_s']:.0f} | "
                     f"**{r['speedup']:.2f}x** | {r['cosine_min']:.4f} / {r['cosine_mean']:.4f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: a GPU when torch sees one)")
    ap.add_argument("--model", default=None, help="model name or path (default: the bundled all-MiniLM-L6-v2)")
    ap.add_argument("--texts", default=None, help="JSON lines with a 'text' field (gzip allowed) instead of ../shared")
    ap.add_argument("--n", type=int, default=None, help="use the first N texts")
    ap.add_argument("--batches", default=None, help="comma-separated candidate batch sizes (default: the product's)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", choices=["fp32", "fp16"], default=None,
                    help="the candidate's precision (default: fp16 on a GPU; on the CPU the default ONNX int8 backend)")
    ap.add_argument("--tiny", action="store_true", help="smoke run on the CPU: 8 sample-corpus paragraphs, 1 round")
    ap.add_argument("--export-texts", default=None, metavar="FILE", help="write the texts (JSON lines, .gz) and stop")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--readme", action="store_true", help="write the table into benchmarks/README.md")
    args = ap.parse_args()
    from index.embedding import ACCELERATOR_BATCH

    if args.tiny:
        texts, device, rounds = sample_texts(8), "cpu", 1
    else:
        texts = read_texts(Path(args.texts)) if args.texts else shared_texts()
        device, rounds = args.device, args.rounds
    texts = texts[: args.n] if args.n else texts
    if not texts:
        raise SystemExit("no texts to embed")
    if args.export_texts:
        with gzip.open(args.export_texts, "wt", encoding="utf-8") as f:
            f.writelines(json.dumps({"text": t}) + "\n" for t in texts)
        log(f"wrote {len(texts)} texts to {args.export_texts}")
        return
    from index.embedding import resolve_device

    on_gpu = resolve_device(device) != "cpu"
    default_batch = ACCELERATOR_BATCH if on_gpu else 64
    batches = [int(b) for b in args.batches.split(",")] if args.batches else [default_batch]
    res = measure(texts, device, args.model, batches, rounds, args.precision)
    command = "python benchmarks/embed_device.py " + " ".join(sys.argv[1:])
    if args.readme:
        update_readme(markdown(res, command), f"embed-device:{res['device'].split(':')[0]}")
    print(json.dumps(res) if args.json else markdown(res, command))


if __name__ == "__main__":
    main()
