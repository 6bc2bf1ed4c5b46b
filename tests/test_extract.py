"""Answer-type evidence (qa.extract), verification (qa.verify) and the tagger it relies on (qa.tagger)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from index.lexical import tokenize
from qa.extract import focus_coverage, lemma_coverage, missing_focus, relation_holds, type_evidence
from qa.learned import ANSWER_FEATURES, LinearModel
from qa.question import analyze
from qa.tagger import MODEL_PACKAGE, tag
from qa.verify import verify


def stem(text: str) -> list[str]:
    return [t[:6] for t in tokenize(text)]


def evidence(question: str, sentence: str) -> float:
    return type_evidence(analyze(question), sentence, tag(sentence), stem).score


def test_tagger_loads_the_pinned_model_from_site_packages() -> None:
    import importlib

    package = importlib.import_module(MODEL_PACKAGE)
    root = Path(package.__file__).parent
    assert "site-packages" in str(root)
    meta = json.loads(next(root.glob("*/meta.json")).read_text())
    assert meta["version"] == "3.8.0" and meta["license"] == "MIT" and "ner" in meta["pipeline"]
    t = tag("Kremlin spokesman Dmitry Peskov said on October 3 that 2,000 troops left Armenia.")
    labels = {e.text: e.label for e in t.entities}
    assert labels.get("Dmitry Peskov") == "PERSON" and labels.get("Armenia") == "GPE"
    assert any(lab == "DATE" for lab in labels.values()) and any(lab == "CARDINAL" for lab in labels.values())


def test_why_prefers_the_stated_reason_over_the_event() -> None:
    q = "why did Russia withdraw peacekeepers?"
    reason = ("Shahinoglu said Putin had withdrawn from Karabakh to maintain good relations with Azerbaijan and "
              "Turkey at a time when the Kremlin was isolated because of the war in Ukraine.")
    event = ("This week, the Kremlin quietly confirmed the withdrawal of peacekeepers, taking with them their "
             "weapons and equipment.")
    assert evidence(q, reason) == 1.0  # "to maintain" right after the asked verb: the purpose
    assert evidence(q, event) < 0.5
    q = "Why did Armenia freeze its participation?"
    assert evidence(q, "Armenia froze its participation due to the changed conditions.") == 1.0
    assert evidence(q, "Due to the changed conditions, many things happened in the region last year.") == 0.6  # not about it


def test_how_many_needs_a_number_of_the_asked_noun_and_the_asked_year() -> None:
    q = "How many Russian peacekeepers were sent to Karabakh in 2020?"
    right = "The Kremlin deployed nearly 2,000 troops in 2020 as part of a ceasefire deal."
    no_year = "About 5,000 Russian peacekeepers were planned to be deployed on Karabakh borders."
    other_noun = "In 2020 the region had 120,000 residents and 3 hospitals."
    assert evidence(q, right) == 1.0  # troops: the same family as peacekeepers
    assert evidence(q, no_year) < 0.5  # the asked year is missing
    assert evidence(q, other_noun) < 0.5
    assert evidence("How many Armenians fled?", "The vast majority of ethnic Armenians fled the region.") == 0.0
    assert evidence("How much have the US and Europe spent on weapons?", "They have spent $170 billion so far.") == 1.0


def test_when_who_where_need_their_entity() -> None:
    assert evidence("When did the parliament ratify the Rome Statute?",
                    "On October 3rd, the Armenian parliament ratified the Rome Statute.") == 1.0
    assert evidence("When did the parliament ratify the Rome Statute?",
                    "The Armenian parliament ratified the Rome Statute.") == 0.0
    assert evidence("Who is the Kremlin spokesman quoted about the withdrawal?",
                    "Kremlin spokesman Dmitry Peskov was quoted about the withdrawal by Reuters.") == 1.0
    assert evidence("Who is the Kremlin spokesman quoted about the withdrawal?",
                    "The Kremlin was quoted about the withdrawal by the agency.") < 0.5
    assert evidence("Where did the government detain the blogger?",
                    "The government detained the blogger in the city of Goris.") == 1.0


def test_relation_must_be_stated_together() -> None:
    assert relation_holds(("president", "belarus"), "Even the president of Belarus, Alexander Lukashenko, called.", stem)
    assert not relation_holds(("president", "armenia"),
                              "Russian President Vladimir Putin agreed to withdraw forces from several parts of Armenia.",
                              stem)
    # a role of several words needs all of them: the Foreign Ministry's minister is no "foreign minister"
    minister = "Armenian Foreign Minister Ararat Mirzoyan met his counterpart."
    assert relation_holds(("foreign minister", "armenia"), minister, stem)
    assert not relation_holds(("foreign minister", "armenia"), "Armenian Prime Minister Nikol Pashinyan said so.", stem)
    assert not relation_holds(("foreign minister", "armenia"),
                              "The Armenian Foreign Ministry said the minister was away.", stem)
    assert evidence("Who is the president of Armenia?",
                    "Russian President Vladimir Putin agreed to withdraw forces from several parts of Armenia.") == 0.0


def test_focus_coverage_and_missing_focus() -> None:
    assert focus_coverage(stem("Russia peacekeepers"), stem("Russian peacekeepers left")) == 1.0
    assert focus_coverage(stem("GDP Armenia"), stem("Armenia grew")) == 0.5
    assert focus_coverage([], []) == 1.0
    assert missing_focus(stem("GDP Armenia"), [stem("Armenia's economy"), stem("Russia")]) == ["gdp"]


def test_verify_says_which_check_failed() -> None:
    why = analyze("why did Russia withdraw peacekeepers?")
    # a stand-in answerability model: only the answer-type evidence counts (logit = 4 * (typed - 0.5))
    names = ANSWER_FEATURES
    coef = tuple(4.0 if f == "typed" else 0.0 for f in names)
    model = LinearModel(names, tuple(0.5 if f == "typed" else 0.0 for f in names), (1.0,) * len(names), coef, 0.0)
    row = np.array([1.0 if f == "typed" else 0.0 for f in names])
    ok = verify(model, row, threshold=0.5, analysis=why, missing=[])
    assert ok.confident and ok.probability > 0.8
    weak = row.copy()
    weak[names.index("typed")] = 0.1
    no = verify(model, weak, threshold=0.5, analysis=why, missing=[])
    assert not no.confident and "carries no reason" in no.reason and "< 0.50" in no.reason
    assert "gdp" in verify(model, weak, threshold=0.5, analysis=why, missing=["gdp"]).reason
    assert not verify(model, None, threshold=0.5, analysis=why, missing=[]).confident
    assert verify(model, weak, threshold=0.0, analysis=why, missing=[]).confident


def test_focus_words_match_by_lemma_as_well_as_stem() -> None:
    unit = "The US sent two of its generals to Armenia, and thousands fled."
    lemmas = [t.lemma for t in tag(unit).tokens]
    assert focus_coverage(stem("send flee"), stem(unit)) == 0.0  # stems alone miss irregular verbs
    assert lemma_coverage([(stem("send"), "send"), (stem("flee"), "flee")], stem(unit), lemmas) == 1.0
    assert lemma_coverage([(stem("elect"), "elect")], stem("the election of Pashinyan"), ["the", "election"]) == 1.0
    assert lemma_coverage([(stem("join"), "join")], stem("Armenia froze its participation"), ["freeze"]) == 0.0


def test_role_of_a_relation_must_be_the_same_word() -> None:
    rel = analyze("Who is the foreign minister of Armenia?").relation
    assert rel == ("foreign minister", "armenia")
    assert not relation_holds(rel, "Russia's Foreign Ministry summoned the Armenian ambassador.", stem)
    assert relation_holds(rel, "Armenian foreign ministers met; the Armenia foreign minister said so.", stem)
    assert relation_holds(("minister", "armenia"), "Armenian ministers met; the Armenia minister said so.", stem)


def test_which_country_needs_no_preposition_and_numbers_count_across_a_noun_phrase() -> None:
    assert evidence("Which countries had already left the CSTO?",
                    "Earlier, Georgia, Uzbekistan and Azerbaijan had already left the CSTO.") == 1.0
    assert evidence("Where did the blogger go?", "Georgia and Uzbekistan welcomed the blogger.") < 1.0
    assert evidence("How many soldiers took part in the exercise?",
                    "The exercise had 85 American, Armenian and Georgian military participants.") == 1.0
    assert evidence("How many days did the operation last?", "The operation lasted for two days.") == 1.0
