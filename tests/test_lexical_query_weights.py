"""``LexicalIndex.scores`` with a weighted token query (what benchmarks/ranking.py's RM3 runs)."""

from __future__ import annotations

import numpy as np

from index.lexical import BM25Settings, LexicalIndex, tokenize

TEXTS = ["The storm made landfall near the coast.", "Coastal towns evacuated before the storm.",
         "Markets rallied as the central bank held rates.", "Storm storm storm: a word repeated."]


def test_weighted_tokens_score_as_repeated_query_terms() -> None:
    lex = LexicalIndex.build(TEXTS, BM25Settings())
    storm, coast = tokenize("storm coast")
    one = {t: lex.scores(t) for t in ("storm", "coast")}
    # a token's weight multiplies its BM25 contribution, like repeating it in the query
    np.testing.assert_allclose(lex.scores({storm: 2.0, coast: 0.5}), 2 * one["storm"] + 0.5 * one["coast"], rtol=1e-5)
    np.testing.assert_allclose(lex.scores({storm: 2.0}), lex.scores("storm storm"), rtol=1e-6)
    assert not lex.scores({storm: 0.0}).any()  # zero weight: the term is left out
