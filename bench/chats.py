"""Generated chats between two people who know each other, for `bench.recall`.

The other set (`bench.conversations`) is one person telling an assistant about themselves, one fact
per short message. Real long conversations are not like that, and recall tuned on that set alone
lost five points to a plain bm25 search on an outside set of real two-person chats. This set is
written to resemble those chats:

- Two friends, A (the user's side, sent with `Memoria.send`) and B (the reply, scripted: the model
  says exactly B's line), talk over many sessions: a greeting, reactions to what the other said,
  several sentences of small talk per message, questions back, a goodbye.
- The small talk keeps coming back to the same people and topics (each one's partner, child, pet,
  job, sport and city), so those words are common across the conversation.
- Facts are one sentence among the small talk, said by either speaker: a single detail, an event
  with a date relative to the session ("last Saturday"), something a consequence follows from, and
  things of one kind mentioned two or three times far apart (places visited, books read).
- Questions come in the last 20% as A's messages, about either speaker, by name, in the kinds such
  conversations get: `single` (one fact), `multi` (the facts of several turns), `temporal` (when
  something happened) and `inference` (what follows from what was said). A question's evidence is
  the turns (message and reply) that hold its facts.

Word banks and templates are data, in `bench/data/chat_en.json` and `chat_es.json`; this module
only draws from them, deterministically from a seed. `python -m bench.chats` prints the set's
statistics and one conversation's questions with their evidence.
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.conversations import (
    LANGUAGES,
    Conversation,
    Question,
    load_data,
    question_problems,
)

CHAT_KINDS = ("single", "multi", "temporal", "inference")
DEFAULT_SEED = 20261208

FACTS_FROM, FACTS_UNTIL = 0.03, 0.75  # facts are said in this part of the conversation
QUESTION_START = 0.80  # questions come in the last 20%
# Questions per conversation by kind; a multi question has two or three evidence turns.
QUESTIONS = {"single": 6, "multi": 3, "temporal": 4, "inference": 3}
SESSION_EXCHANGES = (5, 14)
MIN_GAP = 12  # exchanges between two statements of one multi question, at least
PLACEHOLDER = re.compile(r"\{(\w+)\}")
FACT = re.compile(r"\[([^\[\]]+)\]")


@dataclass(frozen=True)
class Person:
    name: str
    values: dict[str, str]
    """What the templates' placeholders become when this person speaks."""


@functools.cache
def bank(language: str) -> dict[str, Any]:
    """The word banks and templates of one language, checked."""
    return load_data(f"chat_{language}", check_bank)


def check_bank(data: dict[str, Any]) -> list[str]:
    """What is wrong with a data file: missing keys, too few templates, misplaced markers."""
    problems: list[str] = []
    for key in ("persona", "greetings", "reactions", "follow_ups", "closers", "small_talk"):
        if not data.get(key):
            problems.append(f"no {key}")
    for fact in data.get("facts", []):
        where = f"{fact.get('kind')} fact {fact.get('ask', ['?'])[0]!r}"
        if fact.get("kind") not in CHAT_KINDS or fact.get("topic") not in data["small_talk"]:
            problems.append(f"{where}: unknown kind or topic")
        for say in fact.get("say", []):
            spans = FACT.findall(say)
            if len(spans) != 1 or ("{x}" not in spans[0] and fact.get("values")):
                problems.append(f"{where}: {say!r} needs one [fact] holding {{x}}")
            if fact["kind"] == "temporal" and "{when}" not in spans[0]:
                problems.append(f"{where}: {say!r} has no {{when}} in its fact")
        if fact.get("kind") == "multi" and len(fact.get("values", [])) < 3:
            problems.append(f"{where}: a multi fact needs three values at least")
    kinds = Counter(f.get("kind") for f in data.get("facts", []))
    problems += [f"only {kinds[k]} {k} facts" for k in QUESTIONS if kinds[k] < QUESTIONS[k]]
    return problems


def make_person(rng: random.Random, persona: dict[str, list[str]], taken: set[str]) -> Person:
    name = rng.choice([n for n in persona["names"] if n not in taken])
    values = {
        "pet": rng.choice(persona["pet_names"]),
        "pet_kind": rng.choice(persona["pet_kinds"]),
        "partner": rng.choice([n for n in persona["partners"] if n not in taken | {name}]),
        "kid": rng.choice([n for n in persona["kids"] if n not in taken | {name}]),
        "job": rng.choice(persona["jobs"]),
        "sport": rng.choice(persona["sports"]),
        "city": rng.choice(persona["cities"]),
    }
    taken |= {name, values["partner"], values["kid"], values["pet"]}
    return Person(name, values)


def fill(template: str, values: dict[str, str]) -> str:
    """The template with its placeholders filled and its first letter capitalised; `[fact]`
    markers are kept (see `unmark`)."""
    text = PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    at = 1 if text.startswith("[") else 0
    return text[:at] + text[at : at + 1].upper() + text[at + 1 :]


def unmark(text: str) -> tuple[str, str]:
    """The text without its `[fact]` markers, and the fact."""
    match = FACT.search(text)
    return FACT.sub(lambda m: m.group(1), text), match.group(1) if match else ""


@dataclass
class _Statement:
    at: int
    speaker: int  # 0: A (the user's message), 1: B (the reply)
    sentence: str  # filled, markers removed
    fact: str
    topic: str


@dataclass
class _Plan:
    kind: str
    about: int  # whose fact: 0 (A) or 1 (B)
    question: str
    answer: str
    statements: list[_Statement]


class _Speaker:
    """One side of the conversation: draws its sentences, preferring the least used."""

    def __init__(self, rng: random.Random, data: dict[str, Any], me: Person, other: Person):
        self.rng, self.data, self.me, self.other = rng, data, me, other
        self.values = {
            **me.values,
            "other": other.name,
            **{f"other_{k}": other.values[k] for k in ("pet", "partner", "kid")},
        }
        self.used: Counter[str] = Counter()

    def pick(self, options: Sequence[str]) -> str:
        fewest = min(self.used[o] for o in options)
        choice = self.rng.choice([o for o in options if self.used[o] == fewest])
        self.used[choice] += 1
        return fill(choice, self.values)

    def message(
        self,
        topics: Sequence[str],
        *,
        opening: bool,
        closing: bool,
        replying: bool,
        inserted: Sequence[str] = (),
    ) -> str:
        rng, data = self.rng, self.data
        parts: list[str] = []
        if opening:
            parts.append(self.pick(data["greetings"]))
        elif replying and rng.random() < 0.7:
            parts.append(self.pick(data["reactions"]))
        talk = [self.pick(data["small_talk"][rng.choice(topics)]) for _ in range(rng.randint(1, 3))]
        for sentence in inserted:
            talk.insert(rng.randint(0, len(talk)), sentence)
        parts += talk
        if closing:
            parts.append(self.pick(data["closers"]))
        elif rng.random() < 0.3:
            parts.append(self.pick(data["follow_ups"]))
        return " ".join(parts)


def make_chat(index: int, exchanges: int = 320, seed: int = DEFAULT_SEED) -> Conversation:
    """Chat `index` (Spanish for even indices, English for odd): `exchanges` message/reply pairs."""
    language = LANGUAGES[index % len(LANGUAGES)]
    rng = random.Random(f"{seed}:chat:{index}")
    data = bank(language)
    taken: set[str] = set()
    people = [make_person(rng, data["persona"], taken) for _ in range(2)]
    speakers = [
        _Speaker(rng, data, people[0], people[1]),
        _Speaker(rng, data, people[1], people[0]),
    ]

    sessions: list[int] = []  # the first exchange of each session
    at = 0
    while at < exchanges:
        sessions.append(at)
        at += rng.randint(*SESSION_EXCHANGES)
    session_of = [
        max(i for i, start in enumerate(sessions) if start <= x) for x in range(exchanges)
    ]

    plans = _plan_facts(rng, data, people, speakers, exchanges)
    stated: dict[tuple[int, int], list[str]] = {}
    for plan in plans:
        for s in plan.statements:
            stated.setdefault((s.at, s.speaker), []).append(s.sentence)
    question_at = sorted(rng.sample(range(int(QUESTION_START * exchanges), exchanges), len(plans)))
    rng.shuffle(plans)
    asked = dict(zip(question_at, plans, strict=True))

    topics = list(data["small_talk"])
    session_topics = [rng.sample(topics, 2) for _ in sessions]
    for plan in plans:  # a session that holds a fact talks about its topic
        for s in plan.statements:
            session_topics[session_of[s.at]][0] = s.topic

    turns: list[str] = []
    replies: list[str] = []
    questions: list[Question] = []
    for x in range(exchanges):
        session = session_of[x]
        opening = sessions[session] == x
        closing = x + 1 == exchanges or session_of[x + 1] != session
        plan = asked.get(x)
        if plan is not None:
            lead = speakers[0].pick(data["reactions"]) + " " if not opening else ""
            turns.append(lead + plan.question)
            questions.append(
                Question(
                    at=x,
                    text=turns[-1],
                    evidence=[s.at for s in plan.statements],
                    facts=[s.fact for s in plan.statements],
                    answer=plan.answer,
                    kind=plan.kind,
                )
            )
        else:
            turns.append(
                speakers[0].message(
                    session_topics[session],
                    opening=opening,
                    closing=False,
                    replying=not opening,
                    inserted=stated.get((x, 0), ()),
                )
            )
        replies.append(
            speakers[1].message(
                session_topics[session],
                opening=False,
                closing=closing,
                replying=True,
                inserted=stated.get((x, 1), ()),
            )
        )
    return Conversation(
        id=f"chat-{index:02d}-{language}",
        language=language,
        turns=turns,
        questions=questions,
        replies=replies,
        set="chat",
    )


def _plan_facts(
    rng: random.Random,
    data: dict[str, Any],
    people: Sequence[Person],
    speakers: Sequence[_Speaker],
    exchanges: int,
) -> list[_Plan]:
    """Which facts are said, by whom and where, and the question about each."""
    low, high = int(FACTS_FROM * exchanges), int(FACTS_UNTIL * exchanges)
    free = list(range(low, high))
    rng.shuffle(free)
    occupied: set[int] = set()

    def place(count: int) -> list[int]:
        chosen: list[int] = []
        for at in free:
            if at not in occupied and all(abs(at - c) >= MIN_GAP for c in chosen):
                chosen.append(at)
                if len(chosen) == count:
                    break
        occupied.update(chosen)
        return sorted(chosen)

    plans: list[_Plan] = []
    for kind, count in QUESTIONS.items():
        for fact in rng.sample([f for f in data["facts"] if f["kind"] == kind], count):
            about = rng.randrange(2)
            speaker = speakers[about]
            statements_count = rng.choice((2, 3)) if kind == "multi" else 1
            values = rng.sample(fact["values"], statements_count) if fact.get("values") else [""]
            templates = (
                rng.sample(fact["say"], statements_count)
                if kind == "multi"
                else [rng.choice(fact["say"])]
            )
            statements, dates = [], []
            for at, template, value in zip(place(statements_count), templates, values, strict=True):
                when = rng.choice(data["relative_dates"]) if "{when}" in template else ""
                dates.append(when)
                sentence, fact_text = unmark(
                    fill(template, {**speaker.values, "x": value, "when": when})
                )
                statements.append(_Statement(at, about, sentence, fact_text, fact["topic"]))
            question = fill(rng.choice(fact["ask"]), {"who": people[about].name, "x": values[0]})
            answer = ", ".join(dates if kind == "temporal" else values)
            plans.append(_Plan(kind, about, unmark(question)[0], answer, statements))
    return plans


def make_chats(
    count: int = 16, exchanges: int = 320, seed: int = DEFAULT_SEED
) -> list[Conversation]:
    """`count` chats, alternately Spanish and English."""
    return [make_chat(index, exchanges, seed) for index in range(count)]


def validate_chats(chats: Sequence[Conversation]) -> None:
    """Check the set's invariants; raise ValueError listing every violation."""
    problems: list[str] = []
    for c in chats:
        n = len(c.turns)
        if c.replies is None or len(c.replies) != n:
            problems.append(f"{c.id}: not one reply per message")
            continue
        problems += question_problems(c, CHAT_KINDS, QUESTION_START)
    if problems:
        raise ValueError(f"{len(problems)} problems in the chat set:\n" + "\n".join(problems[:50]))


def main() -> None:
    chats = make_chats()
    validate_chats(chats)
    tokens = [sum(len(c.exchange(i)) for i in range(len(c.turns))) / 4 for c in chats]
    kinds = Counter(q.kind for c in chats for q in c.questions)
    print(
        f"{len(chats)} chats, {len(chats[0].turns)} exchanges each, about "
        f"{sum(tokens) / len(tokens):,.0f} tokens each; questions: {dict(kinds)}"
    )
    for language in LANGUAGES:
        chat = next(c for c in chats if c.language == language)
        replies = chat.replies or []
        print(f"\n## {chat.id}\n\nturn 0:\nA: {chat.turns[0]}\nB: {replies[0]}")
        for q in chat.questions:
            print(f"\n[{q.kind}] turn {q.at}: {q.text}\n  answer: {q.answer}")
            for turn, fact in zip(q.evidence, q.facts, strict=True):
                print(f"  turn {turn}: {fact!r}")


if __name__ == "__main__":
    main()
