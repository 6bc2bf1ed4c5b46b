"""Query and passage prompts: the text some embedding models expect in front of what they embed.

The E5 family (``intfloat/e5-*``, ``multilingual-e5-*``) was trained on ``"query: ..."`` and
``"passage: ..."``; BGE English v1.5 models on an instruction before queries only. Without them
such a model still runs but ranks worse. A model folder may declare its own prompts
(sentence-transformers' ``config_sentence_transformers.json``, ``"prompts"``); else a known family
gets its published ones; else none (the bundled all-MiniLM-L6-v2 has none).

An index records the prompts it was built with in its manifest (``settings.prompts``), and
every query of that index uses the recorded query prompt, so a later change of this table never
changes an existing index's ranking.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import QAError

#: Longest prompt accepted (a prompt is a short instruction, not a document).
MAX_PROMPT_CHARS = 200


@dataclass(frozen=True)
class Prompts:
    """``query`` goes before every query (and question), ``passage`` before every passage."""

    query: str = ""
    passage: str = ""

    def __post_init__(self) -> None:
        for name in ("query", "passage"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise QAError(f"the {name} prompt must be text, got {type(value).__name__}")
            if len(value) > MAX_PROMPT_CHARS or "\n" in value:
                raise QAError(f"the {name} prompt must be one line of at most {MAX_PROMPT_CHARS} characters")

    def to_dict(self) -> dict[str, str]:
        """The manifest form: only the prompts that are set (none: ``{}``)."""
        return {k: v for k, v in (("query", self.query), ("passage", self.passage)) if v}

    @classmethod
    def from_dict(cls, d: Any) -> "Prompts":
        if not d:
            return cls()
        if not isinstance(d, dict) or set(d) - {"query", "passage"}:
            raise QAError(f"invalid prompts {d!r}: expected {{'query': ..., 'passage': ...}}")
        return cls(query=d.get("query", ""), passage=d.get("passage", ""))

    def queries(self, texts: list[str]) -> list[str]:
        return [self.query + t for t in texts] if self.query else texts

    def passages(self, texts: list[str]) -> list[str]:
        return [self.passage + t for t in texts] if self.passage else texts


#: Published prompts of model families, matched against the model's name or folder name.
KNOWN: tuple[tuple[re.Pattern[str], Prompts], ...] = (
    (re.compile(r"(^|[/_-])(multilingual-)?e5-(small|base|large)", re.I), Prompts("query: ", "passage: ")),
    (re.compile(r"(^|/)bge-(small|base|large)-en-v1\.5", re.I),
     Prompts("Represent this sentence for searching relevant passages: ", "")),
)

_PASSAGE_KEYS = ("passage", "document", "corpus", "doc")


def model_prompts(name: str, model_dir: str | Path | None = None) -> Prompts:
    """The prompts for model ``name`` (a hub name or a path): the folder's own declaration
    first, then :data:`KNOWN`, else none."""
    if model_dir is not None:
        declared = _declared(Path(model_dir))
        if declared is not None:
            return declared
    for key in (str(name), Path(str(name)).name, str(model_dir or "")):
        for pattern, prompts in KNOWN:
            if key and pattern.search(key):
                return prompts
    return Prompts()


def _declared(model_dir: Path) -> Prompts | None:
    """Prompts from ``config_sentence_transformers.json`` (``{"prompts": {"query": ...,
    "document"|"passage"|"corpus": ...}}``), or ``None`` when the folder declares none."""
    try:
        config = json.loads((model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    prompts = config.get("prompts") if isinstance(config, dict) else None
    if not isinstance(prompts, dict) or not prompts:
        return None
    query = prompts.get("query", "")
    passage = next((prompts[k] for k in _PASSAGE_KEYS if isinstance(prompts.get(k), str)), "")
    if not isinstance(query, str) or not (query or passage):
        return None
    return Prompts(query=query, passage=passage)


def embedder_prompts(embedder: Any) -> Prompts:
    """The prompts of an embedder: its ``prompts`` attribute when it has one (a
    :class:`~index.embedding.SentenceTransformerEmbedder` reads its model folder), else by name."""
    p = getattr(embedder, "prompts", None)
    return p if isinstance(p, Prompts) else model_prompts(str(getattr(embedder, "name", "")))
