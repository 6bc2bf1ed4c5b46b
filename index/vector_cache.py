"""A bounded, thread-safe cache of text -> unit vector (least recently used goes first).

Texts not kept are embedded **one per call**: with the int8 ONNX model a vector depends (by up to
0.006 in cosine) on the batch it was encoded in, so batching would make a result depend on what
was asked before it; embedded alone, a kept vector is bit-identical to a fresh one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence

import numpy as np

Encode = Callable[[list[str]], np.ndarray]


class VectorCache:
    """The vectors of the last ``size`` texts (0: none kept)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def __iter__(self) -> Iterator[str]:
        """The kept texts, oldest first."""
        with self._lock:
            return iter(list(self._vectors))

    def discard(self, texts: Sequence[str]) -> None:
        """Forget the vectors of ``texts`` (those not kept are ignored)."""
        with self._lock:
            for t in texts:
                self._vectors.pop(t, None)

    def vectors(self, texts: Sequence[str], encode: Encode) -> np.ndarray:
        """One float32 row per text: kept ones from the cache, the others from ``encode([text])``
        (outside the lock: the slow part), then kept."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                v = self._vectors.get(t)
                if v is not None:
                    self._vectors.move_to_end(t)
                    found[t] = v
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = np.vstack([np.asarray(encode([t]), dtype=np.float32) for t in missing])
            found.update(zip(missing, fresh))
            with self._lock:
                self._vectors.update(zip(missing, fresh))
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return np.vstack([found[t] for t in texts]).astype(np.float32, copy=False)
