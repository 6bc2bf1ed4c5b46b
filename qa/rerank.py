"""Optional cross-encoder reranking of answer sentences.

A sentence-transformers ``CrossEncoder`` loaded from a local directory (``--reranker PATH`` or
``$QA_RERANKER``) scores (question, sentence) pairs; :class:`qa.answer.Answerer` adds
``RERANK_WEIGHT`` x its probability to the ``final`` score of the best ``RERANK_DEPTH`` units.
Nothing needs one: without it the Answerer uses embeddings, lexical coverage and answer types.
The path must be a local folder (no hub downloads at run time).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import QAError

ENV_VAR = "QA_RERANKER"


def load_reranker(path: str | Path | None = None) -> Any | None:
    """The CrossEncoder at ``path`` (else ``$QA_RERANKER``), or None when neither is set.

    A path that is not a local model folder is a :class:`QAError` (one line in the CLI)."""
    path = path or os.environ.get(ENV_VAR) or None
    if path is None:
        return None
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise QAError(f"reranker {str(path)!r} is not a local model folder (no config.json)")
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(folder), local_files_only=True)


def rerank_scores(reranker: Any, question: str, texts: Sequence[str]) -> np.ndarray:
    """Relevance of each text to the question as a probability in [0, 1] (a logistic of the
    cross-encoder's logit; scores already in [0, 1] are kept)."""
    if not texts:
        return np.zeros(0)
    raw = np.asarray(reranker.predict([(question, t) for t in texts]), dtype=np.float64).reshape(len(texts), -1)[:, -1]
    if raw.min() >= 0.0 and raw.max() <= 1.0:
        return raw
    return 1.0 / (1.0 + np.exp(-raw))
