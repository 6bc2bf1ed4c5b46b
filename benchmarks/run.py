"""Indexing throughput, query latency, memory and index size at 10k / 100k / 1M passages.

    python benchmarks/run.py --tiny --json                 # seconds: what tests/test_benchmarks.py runs
    python benchmarks/run.py --sizes 10k,100k              # CI-sized run, prints a Markdown table
    python benchmarks/run.py --sizes 10k,100k --json       # the same as one JSON object
    python benchmarks/run.py --sizes 1m --quality --readme # the figures in benchmarks/README.md

How the corpora are made (nothing is copied into the repo):

* Text: the passages of the shared BEIR collections (../shared/data/{scifact,cranfield,vaswani},
  about 18k documents) are repeated until the size is reached; every copy after the first drops
  a different ~10% of its words and gets its own doc id, so BM25 sees distinct postings with
  realistic term statistics.
* Vectors: every passage of the pool is embedded with the bundled model and the measured backend
  (cached in ``$QA_CACHE/bench``, default ``~/.cache/newsqa/bench``). Row ``j`` of the index is
  the embedding of its own source passage ``pool[j % len(pool)]``: exact for the first copy, and
  ``normalise(e + sigma * N(0, I))`` for later copies. ``sigma`` is calibrated in the same run so
  that a noisy copy sits as far from its original as the real embedding of the word-dropped text
  does (mean cosine measured on ``--calib-n`` passages; ``--sigma`` overrides it). So text and
  vector of a row describe the same passage, neighbourhoods are those of real sentence
  embeddings, and each passage has its near-duplicates, as a news archive has reprints.
  Queries are real questions of the same collections embedded by the product at search time.
* The index is written with ``IndexStore.write`` (both retrievers, the manifest, the dense
  index chosen by ``kind="auto"``) and served from a fresh child process through
  :func:`open_engine` (the library's public search object, loaded as ``qa serve`` loads it,
  memory-mapped), which runs ``search(query, k, mode)`` in process (query embedding included);
  its peak RSS is the serving memory. ``--ef-search 64,128,...`` re-serves the same index once
  per HNSW search beam (written into the manifest, which the loader applies): one build, a sweep.

Every speed figure is paired with a baseline measured in the same run, interleaved with it:
indexing against sentence-transformers' default torch ``encode``; dense search against
torch-encoded queries on ``IndexFlatIP``; BM25 against rank-bm25 (10k/100k only: at 1M it needs
tens of GB) and against bm25s' dense ``get_scores`` path used before; hybrid against the torch
embedder + ``IndexFlatIP`` + dense BM25 scores. Recall@10 is measured against exact search
(``IndexFlatIP`` over the stored vectors, the same query embedder, the same BM25 and fusion).
``--quality`` adds the scifact nDCG@10 gate (dense retrieval, whole corpus, fp32 torch vs the
chosen backend; takes minutes).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.stats import percentile  # noqa: E402
from qa.metrics import mean_scores  # noqa: E402

SHARED = Path(os.environ.get("QA_SHARED", ROOT.parent / "shared")) / "data"
COLLECTIONS = ("scifact", "cranfield", "vaswani")
README = Path(__file__).resolve().parent / "README.md"


# ----------------------------------------------------------------- helpers
def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s[:-1] if s[-1:] in "km" else s) * mult)


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def rss_now_mb() -> dict[str, float]:
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, val = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(val.split()[0]) / 1024
    except OSError:
        pass
    # VmHWM is this process's own high-water mark; ru_maxrss would also count the parent's
    # memory at fork time (Linux carries it across exec), which misstates a child's peak.
    out["peak"] = out.get("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_pool(limit: int | None = None) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(doc id, title, text) of every available shared collection, and their queries.
    ``limit`` keeps the first ``limit // 3`` documents of each collection (tiny runs)."""
    docs, queries = [], []
    for name in COLLECTIONS:
        d = SHARED / name
        if not (d / "corpus.jsonl").is_file():
            continue
        rows = read_jsonl(d / "corpus.jsonl")
        taken = 0
        for row in rows:
            text = " ".join(str(row.get("text", "")).split())
            if text:
                docs.append((f"{name}:{row['_id']}", str(row.get("title", "")).strip(), text))
                taken += 1
                if limit and taken >= max(1, limit // len(COLLECTIONS)):
                    break
        queries += [str(q["text"]) for q in read_jsonl(d / "queries.jsonl")]
    if not docs:
        sys.exit(f"no shared collections under {SHARED}; set QA_SHARED")
    return docs, queries


# --------------------------------------------------------------- embedding
def measure_indexing(texts: list[str], backend: str, rounds: int) -> dict[str, Any]:
    """passages/s of the default sentence-transformers torch encode vs ``backend``, interleaved."""
    from sentence_transformers import SentenceTransformer

    from index.embedding import SentenceTransformerEmbedder, resolve_model

    st = SentenceTransformer(resolve_model(None)[1], device="cpu")  # the baseline, as shipped
    cand = SentenceTransformerEmbedder(backend=backend)
    st.encode(texts[:8])
    cand.encode(texts[:8])
    base_t, cand_t, vb, vc = [], [], None, None
    for r in range(rounds):
        order = [("base", "cand"), ("cand", "base")][r % 2]
        for who in order:
            t0 = time.perf_counter()
            if who == "base":
                vb = st.encode(texts, normalize_embeddings=True, convert_to_numpy=True)  # defaults: batch 32
                base_t.append(time.perf_counter() - t0)
            else:
                vc = cand.encode(texts)
                cand_t.append(time.perf_counter() - t0)
            log(f"indexing round {r + 1} {who}: {len(texts) / (time.perf_counter() - t0):.1f} passages/s")
    cos = np.sum(np.asarray(vb) * np.asarray(vc), axis=1)
    b, c = len(texts) / float(np.median(base_t)), len(texts) / float(np.median(cand_t))
    return {"passages": len(texts), "rounds": rounds, "backend": backend, "passages_per_s": c,
            "baseline_passages_per_s": b, "speedup": c / b, "cosine_vs_torch_min": float(cos.min()),
            "cosine_vs_torch_mean": float(cos.mean()), "vectors": np.asarray(vc, dtype=np.float32)}


def quality_gate(backends: list[str]) -> dict[str, Any]:
    """scifact nDCG@10, dense retrieval over the whole corpus, torch fp32 vs each backend."""
    import faiss

    from index.embedding import SentenceTransformerEmbedder

    d = SHARED / "scifact"
    corpus = read_jsonl(d / "corpus.jsonl")
    queries = {str(q["_id"]): q["text"] for q in read_jsonl(d / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    for line in (d / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        if int(score) > 0:
            qrels.setdefault(qid, {})[did] = int(score)
    qids = [q for q in qrels if q in queries]
    qrels = {q: qrels[q] for q in qids}
    texts = [f"{c.get('title', '')}\n{c['text']}".strip() for c in corpus]
    ids = [str(c["_id"]) for c in corpus]
    out: dict[str, Any] = {"dataset": "scifact", "queries": len(qids), "documents": len(ids)}
    for backend in ["torch", *[b for b in backends if b != "torch"]]:
        t0 = time.perf_counter()
        emb = SentenceTransformerEmbedder(backend=backend)
        docs = emb.encode(texts, batch_size=32)
        qv = emb.encode([queries[q] for q in qids])
        index = faiss.IndexFlatIP(docs.shape[1])
        index.add(docs)
        scores, rows = index.search(qv, 10)
        run = {q: {ids[r]: float(s) for r, s in zip(rows[i], scores[i])} for i, q in enumerate(qids)}
        out[backend] = mean_scores(qrels, run, ["ndcg@10"])["ndcg@10"]
        log(f"scifact nDCG@10 {backend}: {out[backend]:.4f} ({time.perf_counter() - t0:.0f}s)")
    for b in backends:
        if b != "torch":
            out[f"delta_{b}"] = out[b] - out["torch"]
            out[f"pass_{b}"] = abs(out[b] - out["torch"]) <= 0.005
    return out


# ------------------------------------------------------------- synthesis
def passage_text(title: str, text: str) -> str:
    return f"{title}\n{text}" if title else text


def drop_words(words: list[str], copy: int) -> list[str]:
    """The text of copy number ``copy`` (>= 1) of a passage: a different ~10% of its words dropped."""
    r = copy % 10
    return [w for k, w in enumerate(words) if (k * 7 + r) % 10 != 0] or words


def pool_vectors(pool: list[tuple[str, str, str]], backend: str, cache: bool) -> np.ndarray:
    """The embedding of every pool passage (title + text) with the bundled model and ``backend``,
    cached as ``$QA_CACHE/bench/pool-<backend>-<hash>.npy`` when ``cache``."""
    from index.embedding import SentenceTransformerEmbedder, cache_dir

    emb = SentenceTransformerEmbedder(backend=backend)
    h = hashlib.sha256(f"{emb.name}\x00{backend}".encode())
    for doc_id, title, text in pool:
        h.update(f"\x00{doc_id}\x00{title}\x00{text}".encode())
    path = cache_dir() / "bench" / f"pool-{backend}-{h.hexdigest()[:16]}.npy"
    if cache and path.is_file():
        log(f"pool embeddings from {path}")
        return np.load(path)
    t0 = time.perf_counter()
    vecs = np.asarray(emb.encode([passage_text(t, x) for _, t, x in pool], batch_size=64), dtype=np.float32)
    log(f"embedded the pool: {len(pool)} passages in {time.perf_counter() - t0:.0f}s")
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}.npy")
        np.save(tmp, vecs)
        os.replace(tmp, path)
    return vecs


def calibrate_sigma(pool: list[tuple[str, str, str]], vecs: np.ndarray, backend: str, n: int) -> dict[str, float]:
    """Noise level at which ``normalise(e + sigma * N(0, I))`` is as far from ``e`` as the real
    embedding of a word-dropped copy is: for normalised ``e`` in ``d`` dimensions,
    ``E[cos] ~= 1 / sqrt(1 + d sigma^2)``, so ``sigma = sqrt(1 / c^2 - 1) / sqrt(d)`` for the
    measured mean cosine ``c`` (averaged over copies 1..10, the ten word-drop patterns)."""
    from index.embedding import SentenceTransformerEmbedder

    rng = np.random.default_rng(3)
    pick = rng.choice(len(pool), min(n, len(pool)), replace=False)
    texts, rows = [], []
    for i in pick:
        _, title, text = pool[i]
        copy = 1 + int(rng.integers(0, 10))
        texts.append(passage_text(title, " ".join(drop_words(text.split(), copy))))
        rows.append(i)
    dropped = np.asarray(SentenceTransformerEmbedder(backend=backend).encode(texts, batch_size=64), dtype=np.float32)
    cos = np.sum(dropped * vecs[rows], axis=1)
    c = float(np.mean(cos))
    d = vecs.shape[1]
    sigma = math.sqrt(max(1.0 / c**2 - 1.0, 1e-8)) / math.sqrt(d)
    return {"sigma": sigma, "word_drop_cosine_mean": c, "word_drop_cosine_p10": float(np.percentile(cos, 10)), "calib_n": len(rows)}


#: The noise ``calibrate_sigma`` measured for the bundled model (word-dropped paraphrases, mean
#: cosine 0.961): the default of the scripts that make synthetic vectors without calibrating.
CALIBRATED_SIGMA = 0.0146


def synth_vectors(base: np.ndarray, n: int, sigma: float, seed: int) -> np.ndarray:
    """Row ``j``: the embedding of ``pool[j % P]``, exact for ``j < P``, else noisy and renormalised."""
    rng = np.random.default_rng(seed)
    P, d = base.shape
    out = np.empty((n, d), dtype=np.float32)
    step = 200_000
    for s in range(0, n, step):
        m = min(step, n - s)
        src = np.arange(s, s + m) % P
        v = base[src] + np.float32(sigma) * rng.standard_normal((m, d), dtype=np.float32)
        v[np.arange(s, s + m) < P] = base[src][np.arange(s, s + m) < P]
        out[s : s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def synth_records(pool: list[tuple[str, str, str]], n: int):  # type: ignore[no-untyped-def]
    from index.records import Article, Passage, content_hash

    split = [(i, t, x.split()) for i, t, x in pool]
    articles, passages = [], []
    for j in range(n):
        doc_id, title, words = split[j % len(split)]
        copy = j // len(split)
        if copy:
            doc_id = f"{doc_id}~{copy}"
            words = drop_words(words, copy)
        text = " ".join(words)
        articles.append(Article(doc_id=doc_id, title=title, text=text, source="bench"))
        passages.append(Passage(passage_id=content_hash(doc_id, text), doc_id=doc_id, text=text, start=0, end=len(text), title=title))
    return articles, passages


def build(size: int, pool, base_vecs: np.ndarray, sigma: float, directory: Path, backend: str, dense_kind: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from index.embedding import DEFAULT_MODEL
    from index.settings import IndexSettings
    from index.store import IndexStore

    t0 = time.perf_counter()
    articles, passages = synth_records(pool, size)
    vecs = synth_vectors(base_vecs, size, sigma, seed=size)
    t_synth = time.perf_counter() - t0
    settings = IndexSettings(model=DEFAULT_MODEL, dim=vecs.shape[1], embedding_backend=backend)
    t0 = time.perf_counter()
    store = IndexStore.write(directory, settings, articles, passages, vecs, dense_index=dense_kind)
    t_write = time.perf_counter() - t0
    dense = dict(store.dense.settings)
    del store, articles, passages, vecs
    gc.collect()
    return {"synth_s": t_synth, "write_s": t_write, "dense": dense, "disk_mb": dir_size_mb(directory),
            "files_mb": {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(directory.iterdir()) if p.is_file()}}


def set_search_knob(directory: Path, value: int) -> str | None:
    """Record the dense index's search-time knob (HNSW ``ef_search``, IVF ``nprobe``) in the
    manifest through the library (checksummed); the loader applies it. Returns the knob's name."""
    from index.generations import update_settings

    dense_type = json.loads((directory / "manifest.json").read_text()).get("dense", {}).get("type")
    knob = {"hnsw": "ef_search", "ivf": "nprobe"}.get(dense_type)
    if knob:
        update_settings(directory, dense_search={knob: int(value)})
    return knob


# ------------------------------------------------------------ serving child
def open_engine(directory: Path, backend: str):  # type: ignore[no-untyped-def]
    """The product's search object over ``directory``, loaded as ``qa serve`` loads it (one
    embedding thread per query: ``qa serve``'s default, see qa/cli/serve_cmd.py).

    The only place the benchmark enters the library's front door: anything returned must offer
    ``warm_up()``, ``embedder`` and ``search(query, k=, mode=) -> [Hit]``. It keeps no query
    vectors (``query_cache=0``): each mode is timed on the same queries, and a kept vector would
    let the later modes skip the query embedding that a new query pays for."""
    from index.embedding import SentenceTransformerEmbedder, set_threads
    from qa import Engine

    set_threads(1)

    return Engine.open(directory, embedder=SentenceTransformerEmbedder(backend=backend), query_cache=0)


Ranker = Callable[[str, int], list[tuple[int, float]]]


class ReferencePipeline:
    """Exact dense search (``IndexFlatIP`` over the stored vectors) + a BM25 ranker, fused with
    the library's default :class:`qa.fusion.Fusion`: the exact reference for recall, and, with the
    torch embedder and bm25s' dense ``get_scores``, the pre-issue baseline for latency."""

    def __init__(self, flat, passages, embedder, bm25: Ranker) -> None:  # type: ignore[no-untyped-def]
        from qa.fusion import Fusion

        self.flat, self.passages, self.embedder, self.bm25 = flat, passages, embedder, bm25
        self.fusion = Fusion()

    def search(self, query: str, k: int = 10, mode: str = "hybrid") -> list[str]:
        depth = max(k, self.fusion.depth)
        rankings: dict[str, list[tuple[int, float]]] = {}
        if mode in ("dense", "hybrid"):
            scores, rows = self.flat.search(np.asarray(self.embedder.encode([query]), dtype=np.float32), depth)
            rankings["dense"] = [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
        if mode in ("bm25", "hybrid"):
            rankings["bm25"] = self.bm25(query, depth)
        top = self.fusion.fuse(rankings, k) if mode == "hybrid" else rankings[mode][:k]
        return [self.passages[r].passage_id for r, _ in top]


def exact_flat(embeddings: np.ndarray):  # type: ignore[no-untyped-def]
    import faiss

    flat = faiss.IndexFlatIP(embeddings.shape[1])
    for s in range(0, len(embeddings), 100_000):
        flat.add(np.ascontiguousarray(embeddings[s : s + 100_000], dtype=np.float32))
    return flat


def dense_get_scores_bm25(lexical) -> Ranker:  # type: ignore[no-untyped-def]
    """The BM25 path before issue 5: a dense score array over every passage + argpartition."""

    def ranking(query: str, k: int) -> list[tuple[int, float]]:
        s = np.asarray(lexical.scores(query), dtype=np.float32)
        if not s.size or not s.max() > 0:
            return []
        k = min(k, len(s))
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top], kind="stable")]
        return [(int(r), float(s[r])) for r in top if s[r] > 0]

    return ranking


def serve_child(directory: Path, queries: list[str], backend: str, rank_bm25_max: int) -> dict[str, Any]:
    """Load the index as ``qa serve`` would, warm up, time queries; then baselines and recall."""
    t_start = time.perf_counter()
    engine = open_engine(directory, backend)
    load_s = time.perf_counter() - t_start
    engine.warm_up()
    ready_s = time.perf_counter() - t_start
    dense_settings = json.loads((directory / "manifest.json").read_text()).get("dense", {})
    modes = ("bm25", "dense", "hybrid")
    for q in queries[:5]:
        for m in modes:
            engine.search(q, k=10, mode=m)
    lat: dict[str, list[float]] = {m: [] for m in modes}
    results: dict[str, list[list[str]]] = {m: [] for m in modes}
    load_before = os.getloadavg()[0]
    for q in queries:
        for m in modes:
            t = time.perf_counter()
            hits = engine.search(q, k=10, mode=m)
            lat[m].append((time.perf_counter() - t) * 1000)
            results[m].append([h.passage.passage_id for h in hits])
    # the machine's 1-minute load around the timed queries (this process adds about 1-1.5 to it):
    # the same code measured at a higher load gives slower figures, so the table says which it was
    load = [load_before, os.getloadavg()[0]]
    rss = rss_now_mb()  # serving memory: index loaded, model warm, every mode exercised
    out: dict[str, Any] = {"load_s": load_s, "ready_s": ready_s, "rss": rss, "dense": dense_settings, "load_avg": load,
                           "modes": {m: {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95), "p99_ms": percentile(v, 99), "mean_ms": float(np.mean(v))}
                                     for m, v in lat.items()}}

    # ---- exact reference for recall@10 (after the RSS snapshot: it copies every vector)
    from index.embedding import SentenceTransformerEmbedder
    from index.store import IndexStore

    store = IndexStore.load(directory, mmap=True)
    flat = exact_flat(store.embeddings)
    exact = ReferencePipeline(flat, store.passages, engine.embedder, store.lexical.ranking)
    recall: dict[str, float | None] = {"bm25": None}
    for m in ("dense", "hybrid"):
        r = []
        for q, got in zip(queries, results[m]):
            ref = exact.search(q, k=10, mode=m)
            r.append(len(set(ref) & set(got)) / max(len(ref), 1))
        recall[m] = float(np.mean(r))
    out["recall_at_10_vs_exact"] = recall

    # ---- baselines, interleaved with the candidate on the same queries
    from index.embedding import set_threads

    set_threads(None)  # the baseline keeps torch's default: every core (the engine's ONNX session keeps its 1)
    torch_emb = SentenceTransformerEmbedder(backend="torch")
    torch_emb.warm_up()
    baseline = ReferencePipeline(flat, store.passages, torch_emb, dense_get_scores_bm25(store.lexical))
    nq = min(len(queries), 100)
    paired: dict[str, dict[str, list[float]]] = {m: {"cand": [], "base": []} for m in modes}
    for q in queries[:nq]:
        for m in modes:
            for who, s in (("cand", engine), ("base", baseline)):
                t = time.perf_counter()
                s.search(q, k=10, mode=m)
                paired[m][who].append((time.perf_counter() - t) * 1000)
    rb: dict[str, Any] = {}
    n = len(store.passages)
    if n <= rank_bm25_max:
        from rank_bm25 import BM25Okapi

        from index.lexical import tokenize

        settings = store.lexical.settings
        t0 = time.perf_counter()
        okapi = BM25Okapi([tokenize(f"{p.title}\n{p.text}", settings) for p in store.passages], k1=settings.k1, b=settings.b)
        rb["build_s"] = time.perf_counter() - t0
        times, ours = [], []
        for q in queries[:20]:
            toks = tokenize(q, settings)
            t = time.perf_counter()
            s = okapi.get_scores(toks)
            np.argpartition(-s, min(9, len(s) - 1))[:10]
            times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            store.lexical.ranking(q, 100)
            ours.append((time.perf_counter() - t) * 1000)
        rb.update(p50_ms=percentile(times, 50), ours_p50_ms=percentile(ours, 50), speedup=percentile(times, 50) / percentile(ours, 50))
    out["baselines"] = {
        m: {"what": {"bm25": "bm25s dense get_scores (pre-issue path)", "dense": "torch encode + IndexFlatIP",
                     "hybrid": "torch encode + IndexFlatIP + dense BM25 scores"}[m],
            "p50_ms": percentile(v["base"], 50), "p99_ms": percentile(v["base"], 99),
            "cand_p50_ms": percentile(v["cand"], 50), "cand_p99_ms": percentile(v["cand"], 99),
            "speedup_p50": percentile(v["base"], 50) / percentile(v["cand"], 50)}
        for m, v in paired.items()}
    out["baselines"]["rank_bm25"] = rb or None
    return out


# --------------------------------------------------------------------- main
TINY = {"sizes": "1k", "embed_n": 8, "rounds": 1, "queries": 8, "pool_limit": 90, "calib_n": 8}


def serve(directory: Path, qfile: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--serve-child", str(directory), "--queries-file", str(qfile),
           "--backend", args.backend, "--rank-bm25-max", str(args.rank_bm25_max)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"serving child failed for {directory.name}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    pool, queries = load_pool(args.pool_limit)
    rng = np.random.default_rng(7)
    sample = [pool[i] for i in rng.choice(len(pool), min(args.embed_n, len(pool)), replace=False)]
    texts = [passage_text(t, x) for _, t, x in sample]
    log(f"indexing throughput on {len(texts)} real passages: torch baseline vs {args.backend}")
    indexing = measure_indexing(texts, args.backend, args.rounds)
    indexing.pop("vectors")
    log(f"embedding the {len(pool)} pool passages ({args.backend})")
    base_vecs = pool_vectors(pool, args.backend, cache=not args.pool_limit)
    calib = {"sigma": args.sigma, "calib_n": 0} if args.sigma is not None else calibrate_sigma(pool, base_vecs, args.backend, args.calib_n)
    log(f"noise sigma {calib['sigma']:.4f} per dimension ({calib})")
    qsel = [queries[i] for i in np.random.default_rng(11).choice(len(queries), min(args.queries, len(queries)), replace=False)]
    result: dict[str, Any] = {"rows": [], "indexing": indexing, "sizes": {},
                              "vectors": {"pool": len(pool), "dim": int(base_vecs.shape[1]), **calib},
                              "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()}}
    if args.quality:
        result["quality"] = quality_gate(["onnx", "onnx-int8"] if args.backend != "torch" else ["torch"])
    efs = [int(e) for e in args.ef_search.split(",")] if args.ef_search else [None]
    nprobes = [int(e) for e in args.nprobe.split(",")] if args.nprobe else [None]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="qa-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    serving_peak = 0.0
    try:
        qfile = work / "queries.json"
        qfile.write_text(json.dumps(qsel))
        for n in sizes:
            directory = work / f"idx-{size_label(n)}"
            if args.reuse and (directory / "manifest.json").is_file():
                log(f"{size_label(n)}: reusing {directory}")
                info = {"synth_s": 0.0, "write_s": float("nan"), "dense": json.loads((directory / "manifest.json").read_text())["dense"],
                        "disk_mb": dir_size_mb(directory), "reused": True}
            else:
                log(f"{size_label(n)}: synthesising and writing the index")
                info = build(n, pool, base_vecs, calib["sigma"], directory, args.backend, args.dense_index)
                info["build_peak_rss_mb"] = rss_now_mb()["peak"]
                log(f"{size_label(n)}: written in {info['write_s']:.0f}s ({info['dense']['type']}), {info['disk_mb']:.0f} MB")
            kind = info["dense"].get("type")
            knobs = efs if kind == "hnsw" else nprobes if kind == "ivf" else [None]
            for ef in knobs:
                label = size_label(n)
                if ef is not None:
                    name = set_search_knob(directory, ef)
                    label = f"{label}@{'ef' if name == 'ef_search' else 'nprobe'}{ef}"
                log(f"{label}: serving in a fresh process")
                child = serve(directory, qfile, args)
                entry = {**info, **child}
                serving_peak = max(serving_peak, child["rss"]["peak"])
                result["sizes"][label] = entry
                for m, v in child["modes"].items():
                    result["rows"].append({"size": n, "label": label, "mode": m, "dense_index": child["dense"].get("type"),
                                           "ef_search": child["dense"].get("ef_search"), "nprobe": child["dense"].get("nprobe"),
                                           "p50_ms": round(v["p50_ms"], 2), "p95_ms": round(v["p95_ms"], 2),
                                           "p99_ms": round(v["p99_ms"], 2), "recall_at_10_vs_exact": child["recall_at_10_vs_exact"][m]})
                log(f"{label}: " + ", ".join(f"{m} p50 {v['p50_ms']:.1f} p99 {v['p99_ms']:.1f} ms" for m, v in child["modes"].items())
                    + f"; recall@10 {child['recall_at_10_vs_exact']}; RSS {child['rss']['peak']:.0f} MB")
            if not args.keep:
                shutil.rmtree(directory, ignore_errors=True)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    result["rss_mb"] = round(serving_peak, 1)
    return result


def markdown(res: dict[str, Any], command: str) -> str:
    ix = res["indexing"]
    lines = [f"Command: `{command}`  ",
             f"Machine: {res['machine']['cpus']} CPUs, load average at start {res['machine']['load_avg'][0]:.1f} (shared).", "",
             f"**Indexing (embedding) throughput**, {ix['passages']} real passages, median of {ix['rounds']} interleaved rounds: "
             f"{ix['backend']} {ix['passages_per_s']:.1f} passages/s vs sentence-transformers torch default "
             f"{ix['baseline_passages_per_s']:.1f} passages/s = **{ix['speedup']:.2f}x**; "
             f"cosine to torch min {ix['cosine_vs_torch_min']:.4f}, mean {ix['cosine_vs_torch_mean']:.4f}.", ""]
    if "quality" in res:
        q = res["quality"]
        parts = [f"{b} {q[b]:.4f}" + (f" (Δ {q['delta_' + b]:+.4f}, {'pass' if q['pass_' + b] else 'FAIL'})" if f"delta_{b}" in q else "")
                 for b in ("torch", "onnx", "onnx-int8") if b in q]
        lines += [f"**Quality gate** (scifact nDCG@10, dense, {q['documents']} docs, {q['queries']} queries; must stay within 0.005 of torch): "
                  + "; ".join(parts) + ".", ""]
    v = res["vectors"]
    lines += [f"**Vectors**: {v['pool']} real passages embedded ({ix['backend']}), row j = passage j mod {v['pool']}; copies after the first "
              f"get Gaussian noise sigma {v['sigma']:.4f}/dim, renormalised"
              + (f" (calibrated: the word-dropped text's real embedding has mean cosine {v['word_drop_cosine_mean']:.3f} to the original, "
                 f"{v['calib_n']} passages)" if v.get("calib_n") else "") + ".", ""]
    lines += ["| passages | mode | p50 ms | p95 ms | p99 ms | recall@10 vs exact | baseline p50 ms (same run) | speedup p50 |",
              "|---|---|---|---|---|---|---|---|"]
    for row in res["rows"]:
        label = row["label"]
        b = res["sizes"][label]["baselines"][row["mode"]]
        rec = "-" if row["recall_at_10_vs_exact"] is None else f"{row['recall_at_10_vs_exact']:.3f}"
        lines.append(f"| {label} | {row['mode']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {rec} | "
                     f"{b['p50_ms']:.1f} ({b['what']}) | {b['speedup_p50']:.1f}x |")
    loads = [f"{label} {s['load_avg'][0]:.1f} → {s['load_avg'][1]:.1f}" for label, s in res["sizes"].items() if "load_avg" in s]
    if loads:
        lines += ["", "1-minute load average before → after the timed queries (the serving process itself adds about 1-1.5; "
                  "more means other work shared the 2 cores): " + "; ".join(loads) + "."]
    lines += ["", "| passages | dense index | index on disk | write (BM25 + dense + files) | load (mmap) | ready (load + model warm) | serving RSS peak / now (anon + file) | rank-bm25 p50 vs ours |",
              "|---|---|---|---|---|---|---|---|"]
    for label, s in res["sizes"].items():
        d = s["dense"]
        dense = d["type"] + (f" {d.get('storage', 'flat')} M={d.get('M')} efC={d.get('ef_construction')} efS={d.get('ef_search')}" if d["type"] == "hnsw"
                             else f" {d.get('storage', 'flat')} nlist={d.get('nlist')} nprobe={d.get('nprobe')}" if d["type"] == "ivf" else "")
        r = s["rss"]
        rb = s["baselines"].get("rank_bm25")
        rbs = f"{rb['p50_ms']:.0f} ms vs {rb['ours_p50_ms']:.1f} ms ({rb['speedup']:.0f}x)" if rb else "not run (too large)"
        write = "reused (--reuse)" if s["write_s"] != s["write_s"] else f"{s['write_s']:.0f} s"  # NaN: not written by this run
        lines.append(f"| {label} | {dense} | {s['disk_mb']:.0f} MB | {write} | {s['load_s']:.2f} s | {s['ready_s']:.1f} s | "
                     f"{r['peak']:.0f} MB / {r.get('VmRSS', 0):.0f} MB ({r.get('RssAnon', 0):.0f} + {r.get('RssFile', 0):.0f}) | {rbs} |")
    return "\n".join(lines)


def update_readme(text: str, label: str) -> None:
    start, end = f"<!-- bench:{label} -->", f"<!-- /bench:{label} -->"
    body = README.read_text() if README.exists() else "# Benchmarks\n"
    block = f"{start}\n{text}\n{end}"
    if start in body and end in body:
        body = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, body, flags=re.S)
    else:
        body = body.rstrip() + "\n\n" + block + "\n"
    README.write_text(body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=None, help="comma-separated passage counts, e.g. 10k,100k or 1m (default 10k,100k)")
    ap.add_argument("--tiny", action="store_true", help="smoke run: 1k passages from a 90-passage pool, 8 queries")
    ap.add_argument("--pool-limit", type=int, default=None, help="use only this many shared passages (no vector cache)")
    ap.add_argument("--sigma", type=float, default=None, help="per-dimension noise of vector copies (default: calibrated)")
    ap.add_argument("--calib-n", type=int, default=None, help="passages used to calibrate sigma (default 400)")
    ap.add_argument("--ef-search", default=None, help="comma-separated HNSW search beams to serve the same index with")
    ap.add_argument("--nprobe", default=None, help="comma-separated IVF lists probed per query to serve the same index with")
    ap.add_argument("--reuse", action="store_true", help="serve an index already in --workdir instead of rebuilding it")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--backend", default=None, help="embedding backend to measure (default: the library default)")
    ap.add_argument("--dense-index", default="auto", choices=["auto", "flat", "hnsw", "ivf"])
    ap.add_argument("--embed-n", type=int, default=None, help="real passages embedded for the throughput ratio (default 400)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved baseline/candidate embedding rounds")
    ap.add_argument("--queries", type=int, default=None, help="queries per mode and size")
    ap.add_argument("--rank-bm25-max", type=int, default=100_000, help="largest size at which rank-bm25 is run")
    ap.add_argument("--quality", action="store_true", help="also run the scifact nDCG@10 gate (minutes)")
    ap.add_argument("--readme", action="store_true", help="write the table into benchmarks/README.md")
    ap.add_argument("--workdir", default=None, help="where to build the indexes (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the built indexes")
    ap.add_argument("--serve-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--queries-file", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    defaults = {"sizes": "10k,100k", "embed_n": 400, "rounds": 2, "queries": 200, "pool_limit": None, "calib_n": 400}
    for key, value in (TINY if args.tiny else defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    from index.embedding import default_backend, resolve_backend

    args.backend = resolve_backend(args.backend) if args.backend else default_backend()
    if args.serve_child:
        qs = json.loads(Path(args.queries_file).read_text())
        print(json.dumps(serve_child(Path(args.serve_child), qs, args.backend, args.rank_bm25_max)))
        return
    res = run(args)
    argv = list(sys.argv[1:])
    for i, a in enumerate(argv[:-1]):
        if a == "--workdir":  # a machine's own path says nothing to a reader
            argv[i + 1] = "W"
    command = "python benchmarks/run.py " + " ".join(a for a in argv if a not in ("--json", "--readme"))
    table = markdown(res, command)
    if args.readme:
        update_readme(table, args.sizes.lower())
    if args.json:
        print(json.dumps(res, default=float))
    else:
        print(table)


if __name__ == "__main__":
    main()
