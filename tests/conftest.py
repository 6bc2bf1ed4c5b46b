"""Shared fixtures: the sample corpus indexed once per session, and the public collections."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index import SentenceTransformerEmbedder, build_index
from qa import Engine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CORPUS = ROOT / "sample_corpus"
SHARED = Path(os.environ.get("QA_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"


def hand_edit_settings(index: Path, **sections: object) -> None:
    """Write settings into an index's manifest as a hand edit or another version's writer would:
    past ``update_settings``'s checks, with a valid checksum (so only the readers' checks remain)."""
    import json

    from index.manifest import manifest_checksum

    path = index / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["settings"].update(sections)
    manifest["checksum"] = manifest_checksum(manifest)
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def shared_dataset(name: str) -> Path:
    """Path of a public collection under ../shared/data, or skip the test when it is absent."""
    path = DATA / name
    if not (path / "corpus.jsonl").is_file():
        pytest.skip(f"{path} not present (the shared collections sit beside the repo in CI)")
    return path


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The bundled model, loaded once for the whole run."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder) -> Path:
    """A read-only index of the five sample articles. Copy it before changing it."""
    directory = tmp_path_factory.mktemp("sample") / "qa-index"
    build_index([SAMPLE_CORPUS], directory, embedder=embedder)
    return directory


@pytest.fixture
def index_copy(sample_index: Path, tmp_path: Path) -> Path:
    """A writable copy of the sample index, fresh for each test (the one fixture every test that
    changes an index starts from)."""
    import shutil

    target = tmp_path / "qa-index"
    shutil.copytree(sample_index, target)
    return target


@pytest.fixture(scope="session")
def engine(sample_index: Path, embedder: SentenceTransformerEmbedder) -> Engine:
    """The engine over the read-only sample index (what the CLI, API, UI and eval all use)."""
    return Engine.open(sample_index, embedder=embedder)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread, like `qa serve`: much faster on a small, busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def service(sample_index: Path, embedder: SentenceTransformerEmbedder):
    """An engine with the API's lower k limit, as `qa serve` builds it."""
    return Engine.open(sample_index, embedder=embedder, max_k=20)
