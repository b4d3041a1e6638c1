"""Which sentences of the candidate turns recall puts in the prompt (`memoria.recall`, no I/O)."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from memoria.analysis import analyzer, sentence_spans
from memoria.prompts import RECALL_HEADER, render_excerpt
from memoria.recall import idf, searchable, select_excerpts
from memoria.tokens import estimate_text_tokens
from memoria.transcript import SearchHit, encode_message

SMALL_TALK = (
    "The weather has been awful all week. I keep forgetting my umbrella at home. "
    "Work was busy again and the trains were late. "
)


def hit(turn: int, *messages: BaseMessage, score: float = 1.0) -> SearchHit:
    return SearchHit("t", turn, score, "2026-12-01T10:00:00", [encode_message(m) for m in messages])


def choose(hits, question, budget=400, max_turns=64, language="en", frequencies=None):
    terms = analyzer(language).query_terms(question)
    frequencies = frequencies or {}
    weights = {t: idf(frequencies.get(t, 1), 100) for t in terms}
    return select_excerpts(
        hits,
        weights=weights,
        language=language,
        budget_tokens=budget,
        max_turns=max_turns,
        count=estimate_text_tokens,
    )


def test_a_fact_among_small_talk_comes_back_as_its_sentence_not_the_whole_turn():
    fact = "We finally found a vet we like, a Dr. Patel, and Luna adores her."
    turns = [
        hit(i, HumanMessage(SMALL_TALK * 3 + (fact if i == 7 else "")), AIMessage(SMALL_TALK))
        for i in range(10)
    ]
    (recalled,) = choose(turns, "What is the name of the vet they found?", budget=70)
    assert recalled.turn == 7
    assert fact in recalled.text  # the title's period did not cut the sentence
    assert recalled.text.startswith("User: … ")
    assert len(recalled.text) < len(SMALL_TALK * 3) / 2  # not the small talk around it


def test_sentences_from_more_turns_than_whole_turns_would_fit():
    turns = [
        hit(
            i,
            HumanMessage(f"{SMALL_TALK * 2}Last month I read the novel number {i}."),
            AIMessage("Nice."),
        )
        for i in range(12)
    ]
    whole = estimate_text_tokens(render_excerpt({"turn": 0, "text": SMALL_TALK * 2}))
    budget = 3 * whole
    recalled = choose(turns, "Which novel did they read?", budget=budget)
    assert len(recalled) >= 8  # whole turns: at most 3
    header = estimate_text_tokens(f"\n\n{RECALL_HEADER}\n")
    assert header + sum(r.tokens for r in recalled) <= budget
    assert [r.turn for r in recalled] == sorted(r.turn for r in recalled)


def test_the_reply_to_a_recalled_question_comes_with_it_when_it_fits():
    turns = [
        hit(
            3,
            HumanMessage("What is the wifi password of the office router?"),
            AIMessage("It is hunter2-blue, on the sticker."),
        ),
        hit(9, HumanMessage("Lunch was great."), AIMessage("Glad to hear.")),
    ]
    (recalled,) = choose(turns, "Remind me about the office wifi password")
    assert "hunter2-blue" in recalled.text
    assert recalled.text.splitlines()[1].startswith("Assistant: It is hunter2-blue")


def test_weightier_terms_win_the_budget_and_the_turn_cap_holds():
    common = [
        hit(i, HumanMessage(f"Luna was sleepy today, number {i}."), AIMessage("Cute."), score=5.0)
        for i in range(30)
    ]
    rare = hit(40, HumanMessage("Luna had her vaccination at the clinic."), AIMessage("Good."))
    frequencies = {"luna": 90, "vaccin": 1}
    recalled = choose(
        [*common[:10], rare, *common[10:]],
        "When did Luna get her vaccination?",
        budget=60,
        frequencies=frequencies,
    )
    assert 40 in [r.turn for r in recalled]
    capped = choose([*common, rare], "Luna", budget=4000, max_turns=5, frequencies=frequencies)
    assert len(capped) == 5


def test_one_sentence_longer_than_the_budget_is_cut_around_its_matches():
    page = (
        " ".join(f"word{i}" for i in range(600))
        + " the secret ingredient is saffron "
        + " ".join(f"tail{i}" for i in range(600))
    )
    (recalled,) = choose(
        [hit(0, HumanMessage(page), AIMessage("Noted."))], "secret ingredient saffron", budget=80
    )
    assert "saffron" in recalled.text and recalled.tokens <= 80


def test_no_matching_sentence_means_no_excerpt():
    assert choose([hit(0, HumanMessage(SMALL_TALK), AIMessage("Ok."))], "saffron recipe") == []


def test_titles_do_not_end_sentences_in_either_language():
    for text, expected in [
        ("Me atiende la Dra. Gómez. Es muy buena.", ["Me atiende la Dra. Gómez.", "Es muy buena."]),
        ("Ask Mr. Adeyemi. He knows.", ["Ask Mr. Adeyemi.", "He knows."]),
        ("I love St. Ives!\nSo much.", ["I love St. Ives!", "So much."]),
    ]:
        assert [text[a:b] for a, b in sentence_spans(text)] == expected


def test_only_terms_in_most_turns_leave_the_query_and_never_all_of_them():
    frequencies = {"luna": 20, "vet": 2, "dinner": 30, "work": 60, "today": 70}
    # A name in a fifth of the turns still counts (0.2 dropped anything above 5%).
    assert searchable(["luna", "vet", "dinner", "work"], frequencies, 100) == ["luna", "vet"]
    # A message made only of the thread's commonest words recalls nothing; the memory tool's
    # query (the model's own words) keeps its two rarest.
    common = (["today", "work", "dinner"], {**frequencies, "dinner": 40}, 100)
    assert searchable(*common) == []
    assert searchable(*common, keep_common=True) == ["dinner", "work"]
    assert searchable(["new"], {}, 2) == ["new"]  # a young thread: below the floor, kept
