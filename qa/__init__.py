"""Retrieve and answer: hybrid search over an index built by :mod:`index`.

>>> from qa import Searcher
>>> searcher = Searcher.load("qa-index")
>>> hits = searcher.search("why did Russia withdraw peacekeepers?", k=5)
"""

from index import Article, Hit, Passage, QAError, __version__, build_index

from .answer import Answer, Answerer, Citation
from .evaluate import EvalResult, SystemResult, evaluate
from .fusion import Fusion, FusionMethod, Mode
from .search import IndexStats, Searcher

__all__ = ["Answer", "Answerer", "Article", "Citation", "Fusion", "FusionMethod", "Hit", "IndexStats", "Mode", "Passage", "QAError", "Searcher",
           "__version__", "build_index", "EvalResult", "SystemResult", "evaluate"]
