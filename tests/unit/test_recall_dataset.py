"""The generated long-conversation set behind `python -m bench.recall` (no I/O, under a second)."""

from __future__ import annotations

import itertools
import sys
from collections import Counter
from pathlib import Path

import pytest

# `bench` is a folder of the repository, not an installed package: `python -m pytest` (make test)
# finds it from the working directory, plain `pytest` needs the repository root on the path.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.conversations import KINDS, LANGUAGES, make_conversations, validate  # noqa: E402


@pytest.fixture(scope="module")
def conversations():
    return make_conversations(count=24, turns=320)


def test_the_full_set_passes_its_own_validation(conversations):
    validate(conversations)


def test_both_languages_and_long_conversations(conversations):
    assert Counter(c.language for c in conversations) == {language: 12 for language in LANGUAGES}
    assert sum(len(c.turns) >= 300 for c in conversations) >= 20
    assert len({c.id for c in conversations}) == len(conversations)


def test_every_kind_of_question_is_asked_in_a_realistic_mix(conversations):
    kinds = Counter(q.kind for c in conversations for q in c.questions)
    assert set(kinds) == set(KINDS)
    total = sum(kinds.values())
    assert 0.25 <= kinds["inflected"] / total <= 0.35
    assert 0.25 <= kinds["paraphrase"] / total <= 0.35
    assert 0.05 <= kinds["update"] / total <= 0.15
    assert all(10 <= len(c.questions) <= 14 for c in conversations)


def test_questions_never_contain_their_planted_sentence(conversations):
    for c in conversations:
        for q in c.questions:
            for turn, fact in zip(q.evidence, q.facts, strict=True):
                assert c.turns[turn] not in q.text
                assert fact not in q.text


def test_an_update_question_points_at_the_newest_statement(conversations):
    updates = [(c, q) for c in conversations for q in c.questions if q.kind == "update"]
    assert updates
    for c, q in updates:
        (turn,) = q.evidence
        assert 0.35 * len(c.turns) <= turn < 0.75 * len(c.turns)


def test_generation_is_deterministic_and_seeded():
    first, again = make_conversations(count=2, turns=120), make_conversations(count=2, turns=120)
    assert [c.turns for c in first] == [c.turns for c in again]
    other = make_conversations(count=2, turns=120, seed=1)
    assert [c.turns for c in other] != [c.turns for c in first]
    validate(first)


# The two-person chats (bench.chats).

from bench.chats import CHAT_KINDS, QUESTIONS, bank, make_chats, validate_chats  # noqa: E402


@pytest.fixture(scope="module")
def chats():
    return make_chats(count=16, exchanges=320)


def test_the_chat_set_passes_its_own_validation_in_both_languages(chats):
    validate_chats(chats)
    assert Counter(c.language for c in chats) == {language: 8 for language in LANGUAGES}
    for c in chats:
        assert Counter(q.kind for q in c.questions) == QUESTIONS
        assert set(QUESTIONS) == set(CHAT_KINDS)


def test_both_speakers_state_facts_and_a_fact_is_one_sentence_among_small_talk(chats):
    in_message = in_reply = 0
    for c in chats:
        for q in c.questions:
            for turn, fact in zip(q.evidence, q.facts, strict=True):
                in_message += fact in c.turns[turn]
                in_reply += fact in c.replies[turn]
                assert len(c.exchange(turn)) > 2 * len(fact)  # there is talk around it
    assert in_message > 50 and in_reply > 50


def test_the_same_people_keep_coming_up_so_their_names_are_common_words(chats):
    for c in chats:
        words = [
            set(c.exchange(at).replace(".", " ").replace(",", " ").split()) for at in range(320)
        ]
        # The most frequent capitalised word other than sentence starts: a partner, child or pet.
        names = Counter(w for held in words for w in held if w.istitle() and len(w) > 3)
        assert names.most_common(1)[0][1] > 0.05 * len(words)


def test_temporal_facts_carry_a_date_relative_to_the_session(chats):
    for c in chats:
        dates = [d.casefold() for d in bank(c.language)["relative_dates"]]
        for q in (q for q in c.questions if q.kind == "temporal"):
            assert any(d in q.facts[0].casefold() for d in dates), q.facts[0]
            assert q.answer.casefold() in q.facts[0].casefold()


def test_multi_questions_need_turns_far_apart(chats):
    for c in chats:
        for q in (q for q in c.questions if q.kind == "multi"):
            assert 2 <= len(q.evidence) <= 3
            assert min(b - a for a, b in itertools.pairwise(q.evidence)) >= 12


def test_chats_are_deterministic_and_seeded():
    first, again = make_chats(count=2, exchanges=120), make_chats(count=2, exchanges=120)
    assert [c.turns + c.replies for c in first] == [c.turns + c.replies for c in again]
    other = make_chats(count=2, exchanges=120, seed=1)
    assert [c.turns for c in other] != [c.turns for c in first]
