"""Retrieve and answer over an index built by :mod:`index`: one :class:`Engine` behind every surface.

>>> from qa import Engine
>>> engine = Engine.open("qa-index")
>>> hits = engine.search("why did Russia withdraw peacekeepers?", k=5)
>>> answer = engine.ask("why did Russia withdraw peacekeepers?")
"""

from index import Article, Hit, Passage, QAError, __version__, build_index
from index.defaults import Mode

from .answer import Answer, Answerer, Citation
from .engine import ArticleInfo, Engine, IndexStats
from .evaluate import EvalResult, SystemResult, evaluate
from .filters import SearchFilter, Sort
from .fusion import Fusion, FusionMethod

__all__ = ["Answer", "Answerer", "Article", "ArticleInfo", "Citation", "Engine", "EvalResult", "Fusion", "FusionMethod",
           "Hit", "IndexStats", "Mode", "Passage", "QAError", "SearchFilter", "Sort", "SystemResult", "__version__",
           "build_index", "evaluate"]
