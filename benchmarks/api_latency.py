"""Latency of ``POST /api/ask`` on loopback: one sequential client, then N concurrent clients.

    python benchmarks/api_latency.py --index qa-index            # starts `qa serve` on a free port
    python benchmarks/api_latency.py --url http://127.0.0.1:7860  # or measure a running server
    python benchmarks/api_latency.py --index qa-index --tiny --json  # smoke run: 4 questions, 2 clients

Questions are eval/sample_questions.jsonl, cycled. A first pass asks each distinct question once
(unmeasured in the table, reported as "cold"): it loads what the server caches per sentence (and
the engine's kept query vectors: a repeated question is not embedded again), so the table shows
steady state for questions asked before. Prints a Markdown table of p50 / p95 / mean / max in milliseconds
and throughput. Every request has a timeout; a failed request is counted and reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.stats import percentile  # noqa: E402


def load_questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sequential(url: str, questions: list[str], n: int, headers: dict[str, str], timeout: float) -> tuple[list[float], int, float]:
    lat, failed = [], 0
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, timeout=timeout, headers=headers) as c:
        for i in range(n):
            t = time.perf_counter()
            try:
                ok = c.post("/api/ask", json={"question": questions[i % len(questions)]}).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                lat.append((time.perf_counter() - t) * 1000)
            else:
                failed += 1
    return lat, failed, time.perf_counter() - t0


def concurrent(url: str, questions: list[str], n: int, clients: int, headers: dict[str, str],
               timeout: float) -> tuple[list[float], int, float]:
    async def run() -> tuple[list[float], int, float]:
        lat: list[float] = []
        failed = 0
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=url, timeout=timeout, headers=headers, limits=limits) as c:
            async def worker() -> None:
                nonlocal failed
                while True:
                    try:
                        i = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    t = time.perf_counter()
                    try:
                        r = await c.post("/api/ask", json={"question": questions[i % len(questions)]})
                        ok = r.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    if ok:
                        lat.append((time.perf_counter() - t) * 1000)
                    else:
                        failed += 1

            t0 = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(clients))), timeout=timeout * n)
            return lat, failed, time.perf_counter() - t0

    return asyncio.run(run())


def row(name: str, lat: list[float], failed: int, seconds: float) -> str:
    if not lat:
        return f"| {name} | {failed} failed | | | | | |"
    return (f"| {name} | {len(lat)} | {failed} | {percentile(lat, 50):.0f} | {percentile(lat, 95):.0f} | "
            f"{statistics.fmean(lat):.0f} | {max(lat):.0f} | {len(lat) / seconds:.1f} |")


def summary(lat: list[float], failed: int, seconds: float) -> dict[str, float | int]:
    return {"ok": len(lat), "failed": failed, "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95),
            "mean_ms": statistics.fmean(lat) if lat else float("nan"), "max_ms": max(lat, default=float("nan")),
            "req_per_s": len(lat) / seconds if seconds > 0 else 0.0}


def measure(url: str, args: argparse.Namespace) -> None:
    questions = load_questions(Path(args.questions))
    if args.distinct:
        questions = questions[: args.distinct]
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    health = httpx.get(url + "/api/health", timeout=30).json()
    say = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print  # noqa: E731
    say(f"server {url}: {health['index']['articles']} articles, {health['index']['passages']} passages, "
        f"model {health['model']}; {os.cpu_count()} CPUs, {platform.python_version()}", flush=True)
    cold, cold_failed, cold_s = sequential(url, questions, len(questions), headers, args.timeout)
    say(f"cold pass ({len(questions)} distinct questions, each asked once): p50 {percentile(cold, 50):.0f} ms, "
        f"p95 {percentile(cold, 95):.0f} ms", flush=True)
    seq = sequential(url, questions, args.requests, headers, args.timeout)
    con = concurrent(url, questions, args.requests, args.concurrency, headers, args.timeout)
    if args.json:
        print(json.dumps({"passages": health["index"]["passages"], "cold": summary(cold, cold_failed, cold_s),
                          "sequential": summary(*seq), "concurrent": {"clients": args.concurrency, **summary(*con)}}))
    else:
        print()
        print("| POST /api/ask | ok | failed | p50 ms | p95 ms | mean ms | max ms | req/s |")
        print("|---|---|---|---|---|---|---|---|")
        print(row("1 client, sequential", *seq))
        print(row(f"{args.concurrency} concurrent clients", *con))
    if seq[1] or con[1] or cold_failed:
        sys.exit(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running server (default: start `qa serve` for --index on a free loopback port)")
    p.add_argument("--index", default=os.environ.get("QA_INDEX", "qa-index"), help="index for the started server")
    p.add_argument("--requests", type=int, default=None, help="requests per phase (default 200; 4 with --tiny)")
    p.add_argument("--concurrency", type=int, default=None, help="concurrent clients (default 16; 2 with --tiny)")
    p.add_argument("--distinct", type=int, default=None, help="use only the first N questions (default all; 4 with --tiny)")
    p.add_argument("--tiny", action="store_true", help="smoke run: 4 questions, 4 requests per phase, 2 clients")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--questions", default=str(ROOT / "eval" / "sample_questions.jsonl"))
    p.add_argument("--api-key", default=os.environ.get("QA_API_KEY"))
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = p.parse_args()
    for key, full, tiny in (("requests", 200, 4), ("concurrency", 16, 2), ("distinct", None, 4)):
        if getattr(args, key) is None:
            setattr(args, key, tiny if args.tiny else full)
    if args.url:
        measure(args.url.rstrip("/"), args)
        return
    from ui.testing import serve_subprocess

    env = {"QA_API_KEY": args.api_key} if args.api_key else None
    with serve_subprocess(args.index, env=env) as url:
        measure(url, args)


if __name__ == "__main__":
    main()
