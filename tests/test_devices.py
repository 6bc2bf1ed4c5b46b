"""Embedding on a GPU (``qa index --device cuda``): the device is checked before anything is
written, a GPU only ever embeds with the torch backend, and the half-precision pipeline it runs
(tokenise a window at once, batch by length, pool on the device) reproduces the fp32 model.

This machine has no GPU, so the pipeline is exercised on the CPU in fp16 (the same code; only
the tensors' device differs); docs/performance.md has the figures measured on a GPU."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embedding import SentenceTransformerEmbedder, resolve_device, resolve_model
from index.errors import IndexFormatError, QAError
from tests.conftest import ROOT
from tests.test_embedding_backends import SENTENCES

torch = pytest.importorskip("torch")
HAS_GPU = torch.cuda.is_available()


def test_devices_are_checked() -> None:
    assert resolve_device("cpu") == "cpu" and resolve_device(" CPU ") == "cpu"
    assert resolve_device("auto") == ("cuda" if HAS_GPU else "cpu")
    for bad in ("gpu", "cuda:x", "tpu", "cuda:-1"):
        with pytest.raises(QAError, match="unknown device"):
            resolve_device(bad)
    with pytest.raises(QAError, match="no GPU 'cuda:99'"):
        resolve_device("cuda:99")
    if not HAS_GPU:
        with pytest.raises(QAError, match="--device cpu"):
            resolve_device("cuda")


def test_device_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_DEVICE", "gpu")
    with pytest.raises(QAError, match="unknown device 'gpu'"):
        resolve_device(None)
    monkeypatch.setenv("QA_DEVICE", "")
    assert resolve_device(None) == "cpu"


def test_an_onnx_backend_is_refused_on_a_gpu_and_fp16_needs_torch() -> None:
    if HAS_GPU:
        with pytest.raises(QAError, match="runs on the CPU only"):
            SentenceTransformerEmbedder(device="cuda", backend="onnx-int8")
    with pytest.raises(QAError, match="needs the torch backend"):
        SentenceTransformerEmbedder(backend="onnx-int8", precision="fp16")
    with pytest.raises(QAError, match="unknown precision"):
        SentenceTransformerEmbedder(backend="torch", precision="int4")


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return SentenceTransformerEmbedder(backend="torch").encode(SENTENCES)


def test_half_precision_pipeline_reproduces_the_model(reference: np.ndarray) -> None:
    emb = SentenceTransformerEmbedder(backend="torch", precision="fp16")
    got = emb.encode(SENTENCES, batch_size=2)  # mixed lengths: padding, re-ordering, one text past 256 word pieces
    assert got.dtype == np.float32 and got.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.sum(got * reference, axis=1).min() > 0.9999
    assert float(emb.encode([SENTENCES[1]])[0] @ reference[1]) > 0.9999
    assert emb.encode([]).shape == (0, 384)


@pytest.mark.parametrize("pooling", ["cls", "max"])
def test_half_precision_pipeline_pools_as_the_model_says(pooling: str, tmp_path: Path) -> None:
    """A copy of the bundled model with another pooling (weights linked, not copied): the pipeline
    pools on the device the way sentence-transformers pools that folder."""
    src = Path(resolve_model(None)[1])
    model = tmp_path / "model"
    shutil.copytree(src, model, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "onnx"))
    for weights in [*src.glob("*.safetensors"), *src.glob("*.bin")]:
        (model / weights.name).symlink_to(weights)
    config = json.loads((model / "1_Pooling" / "config.json").read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=pooling == "cls",
                  pooling_mode_max_tokens=pooling == "max")
    (model / "1_Pooling" / "config.json").write_text(json.dumps(config))
    want = SentenceTransformerEmbedder(str(model), backend="torch").encode(SENTENCES)
    got = SentenceTransformerEmbedder(str(model), backend="torch", precision="fp16").encode(SENTENCES, batch_size=3)
    assert np.sum(got * want, axis=1).min() > 0.999
    mean = SentenceTransformerEmbedder(backend="torch").encode(SENTENCES)
    assert np.sum(got * mean, axis=1).min() < 0.99  # really pooled otherwise


def test_index_refuses_a_device_it_cannot_use_and_writes_nothing(tmp_path: Path) -> None:
    if HAS_GPU:
        pytest.skip("this machine has a GPU")
    proc = subprocess.run([sys.executable, "-m", "qa", "index", str(ROOT / "sample_corpus"), "--index", str(tmp_path / "idx"),
                           "--device", "cuda", "--quiet"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no GPU 'cuda'" in proc.stderr and "--device cpu" in proc.stderr
    assert not (tmp_path / "idx").exists()


def test_device_and_ray_are_not_combined(tmp_path: Path) -> None:
    """With --ray the workers embed where Ray puts them; a --device beside it would be ignored."""
    proc = subprocess.run([sys.executable, "-m", "qa", "index", str(ROOT / "sample_corpus"), "--index", str(tmp_path / "idx"),
                           "--ray", "127.0.0.2:1", "--device", "cpu", "--quiet"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 2 and "--device applies to local indexing" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and not (tmp_path / "idx").exists()


def test_a_gpu_update_of_an_onnx_index_is_refused(sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Vectors from another backend must not be mixed into an index: a GPU embeds with torch, so an
    ONNX-built index tells the user to index on the CPU or rebuild, before anything is embedded."""
    import index.builder as builder
    from index import build_index

    copy = tmp_path / "idx"
    shutil.copytree(sample_index, copy)
    before = (copy / "manifest.json").read_bytes()
    monkeypatch.setattr(builder, "resolve_device", lambda device: "cuda:0")  # as on a machine with a GPU
    corpus = tmp_path / "new.jsonl"
    corpus.write_text(json.dumps({"id": "gpu-1", "title": "A new article", "text": "Ministers met in Baku on Tuesday."}))
    with pytest.raises(IndexFormatError, match="runs on the CPU only; index with --device cpu, or pass --rebuild"):
        build_index([corpus], copy, device="cuda")
    assert (copy / "manifest.json").read_bytes() == before


def test_importing_the_embedder_does_not_load_the_index_stack() -> None:
    """A GPU embedding job (benchmarks/embed_device.py) imports index.embedding alone: the package's
    public names load lazily, so neither FAISS nor bm25s nor the HTML extractor is needed for it."""
    code = ("import sys, index.embedding; heavy = {'faiss', 'bm25s', 'trafilatura', 'index.builder'} & set(sys.modules); "
            "assert not heavy, heavy; from index import build_index, QAError, progress; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
