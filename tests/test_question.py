"""Question analysis on a table of questions: type, expected answer type, focus, asked noun, year, relation."""

from __future__ import annotations

import pytest

from qa.question import analyze, question_type

TABLE = [
    # question, qtype, answer_type
    ("why did Russia withdraw peacekeepers?", "why", "reason"),
    ("What was the reason for the withdrawal?", "why", "reason"),
    ("What is the purpose of the Eagle Partner drills?", "why", "reason"),
    ("For what reason did Armenia freeze its CSTO membership?", "why", "reason"),
    ("How does Azerbaijan benefit from the war in Ukraine?", "how", "manner"),
    ("How many Russian peacekeepers were sent to Karabakh in 2020?", "how_many", "quantity"),
    ("How much have the US and Europe spent equipping Ukraine?", "how_much", "money"),
    ("How much Ukrainian territory was lost?", "how_much", "quantity"),
    ("How long did the fighting last?", "how_long", "duration"),
    ("How old is Iveta Margaryan?", "how_long", "duration"),
    ("When did Azerbaijan begin its military operation?", "when", "date"),
    ("In what year did the Soviet Union collapse?", "when", "date"),
    ("Where will Russian troops remain?", "where", "place"),
    ("In which city was the agreement signed?", "where", "place"),
    ("Who is the Kremlin spokesman?", "who", "person"),
    ("Whose troops left Karabakh?", "who", "person"),
    ("Which pro-Russian blogger was detained?", "which", "entity"),
    ("Which countries had already left the CSTO?", "which", "place"),
    ("Which expert commented on the decision?", "which", "person"),
    ("What is the GDP of Armenia?", "what", "thing"),
    ("What did Pashinyan call a strategic mistake?", "what", "thing"),
    ("Did Russia withdraw its troops?", "yes_no", "any"),
    ("Is Armenia leaving the CSTO?", "yes_no", "any"),
    ("Tell me about Karabakh", "other", "any"),
    # the earliest question phrase decides: "when" / "where" later in the sentence is a clause
    ("How did the CSTO respond when Armenia asked it for help?", "how", "manner"),
    ("In the view of analysts, how was the invasion made possible?", "how", "manner"),
    ("Who was detained when the protests began?", "who", "person"),
    ("what day of the week did Russia summon the ambassador?", "when", "date"),
    ("Since what year has the situation stayed unchanged?", "when", "date"),
]


@pytest.mark.parametrize("question, qtype, answer_type", TABLE, ids=[t[0] for t in TABLE])
def test_question_type_table(question: str, qtype: str, answer_type: str) -> None:
    assert question_type(question) == (qtype, answer_type)


def test_focus_asked_noun_year_and_relation() -> None:
    a = analyze("How many Russian peacekeepers were sent to Karabakh in 2020?")
    assert (a.asked_noun, a.year) == ("peacekeepers", "2020")
    assert "peacekeepers" in a.focus_nouns and "Karabakh" in a.focus_nouns and "sent" in a.focus_verbs
    assert a.typed and a.relation is None

    a = analyze("why did Russia withdraw peacekeepers?")
    assert a.focus == "Russia withdraw peacekeepers"
    assert a.focus_nouns == ("Russia", "peacekeepers") and a.focus_verbs == ("withdraw",)

    a = analyze("How many American and Armenian soldiers took part in the Eagle Partner 2023 exercise?")
    assert a.asked_noun == "soldiers" and a.year == "2023"

    a = analyze("Who is the president of Armenia?")
    assert a.relation == ("president", "armenia") and a.answer_type == "person"
    assert analyze("Who is the foreign minister of Armenia?").relation == ("foreign minister", "armenia")
    assert analyze("Who is the current leader of Azerbaijan?").relation == ("leader", "azerbaijan")
    a = analyze("What is the GDP of Armenia?")
    assert a.relation == ("gdp", "armenia") and a.typed  # a relation makes a "what" question typed
    assert analyze("What did Pashinyan call a strategic mistake?").typed is False


def test_according_to_tail_and_type_nouns_leave_the_focus() -> None:
    a = analyze("Which countries are Armenia's key partners in security issues, according to Alexander Iskandaryan?")
    assert "Iskandaryan" not in a.focus and "countries" not in a.focus_nouns
    assert {"Armenia", "partners", "security"} <= set(a.focus_nouns)
    # capitalised adjectives name what is asked about ("Chinese" must occur in the articles)
    assert "Chinese" in analyze("What did the Chinese foreign minister say about Karabakh?").focus_nouns


def test_how_many_time_units_is_a_duration_and_focus_has_lemmas() -> None:
    a = analyze("How many days did Azerbaijan's military operation last?")
    assert (a.qtype, a.answer_type, a.asked_noun) == ("how_many", "duration", "days")
    a = analyze("How many Russian peacekeepers were sent to Karabakh in 2020?")
    assert a.answer_type == "quantity"
    assert len(a.focus_lemmas) == len(a.focus_nouns) + len(a.focus_verbs)
    assert dict(zip((*a.focus_nouns, *a.focus_verbs), a.focus_lemmas))["sent"] == "send"
