"""``qa index PATH... [--index DIR]``: build or update an index."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from index import ChunkSettings, QAError, build_index, progress
from index.defaults import DENSE_KINDS

from .common import add_fusion_args, add_index_arg, fusion_from_args, index_dir, positive_int

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="index files or folders of articles (.txt .md .html .jsonl)",
                       description="Add articles to an index, creating it if needed. Unchanged articles are skipped; "
                                   "only new passages are embedded. The previous index stays intact until the new one is complete.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to ingest")
    add_index_arg(p)
    p.add_argument("--model", default=None, help="sentence-transformers model name or path (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--rebuild", action="store_true", help="discard the existing index and build from these paths only")
    p.add_argument("--max-tokens", type=positive_int, default=None,
                   help="passage size in word pieces (default 200; a value over what the model reads, 256 for the "
                        "bundled one, is warned about: the rest of a passage is not embedded)")
    p.add_argument("--overlap", type=int, default=None, help="sentences repeated between passages (default 1)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="texts per embedding batch (default 64 on the CPU, 256 on a GPU)")
    p.add_argument("--dense-index", choices=DENSE_KINDS, default=None,
                   help="dense index type: auto (exact below 100k passages, HNSW above; default), flat (exact), hnsw or ivf")
    p.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], default=None,
                   help="embedding backend (default onnx-int8, or the one the existing index was built with)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="where passages are embedded: cpu (default, or $QA_DEVICE), cuda, cuda:N, or auto (a GPU when "
                        "torch sees one). A GPU embeds with the torch backend in half precision; needs a CUDA build of torch")
    add_fusion_args(p, "recorded in the index's manifest (default: dbsf for a new index; an existing index keeps its own)")
    p.add_argument("--query-prompt", default=None, metavar="TEXT",
                   help="text put before every query when embedding (default: the model's own, e.g. E5's 'query: '; "
                        "none for the bundled model). Giving either prompt sets both (the other empty)")
    p.add_argument("--passage-prompt", default=None, metavar="TEXT",
                   help="text put before every passage when embedding (default: the model's own, e.g. E5's 'passage: ')")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    from ..cluster.cli import add_args as add_cluster_args  # --ray: embed on a Ray cluster

    add_cluster_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    chunking = None
    if args.max_tokens is not None or args.overlap is not None:
        d = ChunkSettings()
        try:
            chunking = ChunkSettings(args.max_tokens or d.max_tokens, d.overlap_sentences if args.overlap is None else args.overlap)
        except ValueError as exc:
            raise QAError(str(exc)) from exc
        if args.max_tokens is not None:
            _warn_past_the_model(args.max_tokens, args.model or _recorded_model(index_dir(args), args.rebuild))
    fusion = fusion_from_args(args, _recorded_fusion(index_dir(args), args.rebuild))
    prompts = None
    if args.query_prompt is not None or args.passage_prompt is not None:
        from index.prompts import Prompts

        prompts = Prompts(query=args.query_prompt or "", passage=args.passage_prompt or "")
    from ..cluster.cli import index_embedder

    if getattr(args, "ray", None) and args.device is not None:
        raise QAError("--device applies to local indexing; with --ray the cluster's workers use the GPUs Ray gives them")

    # a line every few seconds when stderr is a log, not a terminal (bars need a terminal)
    with progress.heartbeat(enabled=not args.quiet and not sys.stderr.isatty()):
        report = build_index(
            args.paths,
            index_dir(args),
            embedder=index_embedder(args, index_dir(args)),  # None unless --ray
            model=args.model,
            chunking=chunking,
            rebuild=args.rebuild,
            backend=args.backend,
            dense_index=args.dense_index,
            batch_size=args.batch_size,
            show_progress=not args.quiet and sys.stderr.isatty(),
            fusion=None if fusion is None else fusion.to_dict(),
            prompts=prompts,
            device=args.device,
        )
    print(report.summary())
    return 0


def _recorded_model(directory, rebuild: bool) -> str | None:  # type: ignore[no-untyped-def]
    """The embedding model an update of ``directory`` keeps (``None``: a new index's default)."""
    from index.manifest import read_manifest

    if rebuild:
        return None
    try:
        return read_manifest(directory)["settings"].get("model") or None
    except QAError:  # no index yet, or one the build itself will report on
        return None


def model_window(model: str | None) -> int | None:
    """How many word pieces ``model`` reads (its ``max_seq_length``), from the model folder's
    config files; ``None`` when that cannot be told without loading it (a hub name)."""
    from index.embedding import resolve_model

    try:
        name, path = resolve_model(model)
    except QAError:
        return None
    folder = Path(path)
    for file, key in (("sentence_bert_config.json", "max_seq_length"), ("config.json", "max_position_embeddings")):
        try:
            value = json.loads((folder / file).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, int) and value > 0:
            return min(value, 512) if key == "max_position_embeddings" else value
    return None


def _warn_past_the_model(max_tokens: int, model: str | None) -> None:
    """``--max-tokens`` over what the model reads is allowed (BM25 and answers use the whole passage,
    and another model may read more), but never silently: the dense half only sees the start."""
    window = model_window(model)
    if window is not None and max_tokens > window:
        log.warning("--max-tokens %d is over the %d word pieces the embedding model reads: text of a passage past "
                    "its first %d pieces (headline included) is not embedded, only BM25-indexed (default 200)",
                    max_tokens, window, window)


def _recorded_fusion(directory, rebuild: bool):  # type: ignore[no-untyped-def]
    """What ``--fusion``/``--rrf-k``/``--dense-weight`` change: the existing index's fusion, or a
    new index's default."""
    from index.errors import IndexMissingError
    from index.manifest import read_manifest

    from ..fusion import Fusion

    if rebuild:
        return Fusion()
    try:
        return Fusion.from_dict(read_manifest(directory)["settings"].get("fusion"))
    except IndexMissingError:
        return Fusion()
    except ValueError as exc:
        raise QAError(f"index {directory} has invalid fusion settings ({exc})") from exc
