"""The generated long-conversation set behind `python -m bench.recall` (no I/O, under a second)."""

from __future__ import annotations

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
