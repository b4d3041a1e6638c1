"""Recall, the pure part: the search query for a new message, and which excerpts fit the budget.

The `recall` node (nodes.py) asks the thread's transcript for the turns that best match the query
(the database's own full-text ranking: FTS5 bm25 or Postgres ts_rank_cd) among those no longer in
the model's view; `select_excerpts` then ranks the *sentences* of those turns by the weight (idf)
of the query terms each holds, and takes the best while they fit the token budget, each with the
turn it comes from. A turn's chosen sentences make one excerpt, in conversation order. Sentences
rather than whole turns: in real conversation a fact is one sentence among small talk, and whole
turns spend the budget on the small talk (measured in `python -m bench.recall_tune`).
"""

from __future__ import annotations

import functools
import heapq
import json
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage

from memoria.analysis import ELLIPSIS, analyzer, excerpt, join_sentences, sentence_spans
from memoria.prompts import RECALL_HEADER, labelled, render_excerpt
from memoria.transcript import SearchHit, Transcript, decode_messages

MAX_QUERY_TERMS = 48
"""A pasted page makes a long query; its first terms carry the question."""
CANDIDATE_TURNS = 48
"""Turns fetched from the full-text index, whose sentences are then ranked."""
MIN_EXCERPT_TOKENS = 8
"""Below this, nothing more fits: a sentence with its turn's stamp takes more."""
READ_AHEAD = 2
"""Candidate turns are read best first until their matching sentences hold this many times the
budget: past that a lower-ranked turn seldom has a better sentence, and where every turn matches
(long messages on one topic) reading all the candidates would cost more than the turn itself."""
NEIGHBOUR_WEIGHT = 0.25
"""A chosen sentence's neighbours (the sentences before and after it, and the reply that follows a
message) compete for the budget at this share of its weight: they often carry the answer to a
question, or what a pronoun refers to."""
COMMON_SHARE = 0.25
"""A term held by more than this share of the turns (and by more than COMMON_FLOOR turns) weighs
next to nothing in the ranking but makes the search read most of the index: it is left out of the
query (the memory tool, when no other term is left, searches the rarest KEPT_WHEN_COMMON). Measured
(`python -m bench.recall_tune`): no question lost against keeping every term; the previous recall
left out the terms of more than 5% of the turns, which cost evidence on chats that keep returning
to the same people and topics."""
COMMON_FLOOR = 3
KEPT_WHEN_COMMON = 2
MAX_REMEMBERED_CHARS = 8_000
"""Turns up to this size (as stored) keep their analysis in memory, 2,048 of them at most."""
MIN_OWN_TERMS = 2
"""Below this many terms, a message is a follow-up and its query takes the previous turn's terms."""


@dataclass(frozen=True)
class Recalled:
    """One earlier turn brought back into the prompt."""

    turn: int
    """Its number, from 0 (shown from 1)."""
    score: float
    created_at: str
    text: str
    """What the model sees: the turn's sentences that bear on the message, per speaker."""
    tokens: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def query_terms(
    message: str, language: str, *, context: str = "", limit: int = MAX_QUERY_TERMS
) -> list[str]:
    """Distinct analysed terms of the new message, capped. A message with almost no terms of its
    own ("¿y eso?", "why?") borrows those of `context`, the previous turn it follows up on."""
    language_analyzer = analyzer(language)
    terms = language_analyzer.query_terms(message)
    if len(terms) < MIN_OWN_TERMS and context:
        terms += [t for t in language_analyzer.query_terms(context) if t not in terms]
    return terms[:limit]


@dataclass(frozen=True)
class Found:
    """What one search brought back."""

    terms: list[str]
    """The query terms searched for."""
    excerpts: list[Recalled]
    """The best matches that fit the budget, in conversation order."""
    skipped: list[int]
    """Matching turns left out because the caller already shows them (`exclude`), best first."""


def find_excerpts(
    transcript: Transcript,
    thread_id: str,
    message: str,
    *,
    language: str,
    previous: str,
    before: int,
    budget_tokens: int,
    max_turns: int,
    count: Callable[[str], int],
    exclude: Collection[int] = (),
    keep_common: bool = False,
) -> Found:
    """The whole recall step: the query for `message`, the search of the thread's turns numbered
    below `before`, and the excerpts that fit. Turns in `exclude` are not excerpted (they are
    reported as `skipped`). The terms weigh by their idf, and those in most turns are left out
    (`searchable`): a message made only of them recalls nothing, unless `keep_common` (the memory
    tool's query is the model's own choice of words)."""
    terms = query_terms(message, language, context=previous)
    frequencies, total = transcript.term_frequencies(thread_id, terms)
    terms = searchable(terms, frequencies, total, keep_common=keep_common)
    hits = transcript.search(thread_id, terms, before=before, limit=CANDIDATE_TURNS + len(exclude))
    chosen = select_excerpts(
        [hit for hit in hits if hit.turn not in exclude],
        weights={term: idf(frequencies.get(term, 0), total) for term in terms},
        language=language,
        budget_tokens=budget_tokens,
        max_turns=max_turns,
        count=count,
    )
    return Found(terms, chosen, [hit.turn for hit in hits if hit.turn in exclude])


def searchable(
    terms: Sequence[str], frequencies: dict[str, int], total: int, *, keep_common: bool = False
) -> list[str]:
    """The query terms worth searching for (see COMMON_SHARE). With `keep_common`, a query made
    only of common terms keeps its rarest few."""
    limit = max(COMMON_FLOOR, COMMON_SHARE * total)
    kept = [term for term in terms if frequencies.get(term, 0) <= limit]
    if kept or not keep_common:
        return kept
    return sorted(terms, key=lambda term: frequencies.get(term, 0))[:KEPT_WHEN_COMMON]


def budget_after_fold(budget: int, low: int, prompt_without_recall: int) -> int:
    """What recall may take on a turn that folded: the fold aimed the prompt at the low mark
    planning with the summary as it was, and the new summary is often longer; recall gives way, so
    that the next fold stays several turns away."""
    return min(budget, max(0, low - prompt_without_recall))


def idf(holding: int, total: int) -> float:
    """How much a term says about which turn is meant: bm25's inverse document frequency."""
    return math.log(1 + (total - holding + 0.5) / (holding + 0.5))


_Line = tuple[str, str, tuple[tuple[int, int], ...], tuple[frozenset[str], ...]]
"""A message of a turn: its label, its text on one line, its sentences' spans and their terms."""


def _read(hit: SearchHit, language: str) -> tuple[_Line, ...]:
    """A candidate turn's messages, split into sentences and analysed. Remembered by content: the
    next turns' searches bring back many of the same turns."""
    encoded = hit.encoded if isinstance(hit.encoded, str) else json.dumps(hit.encoded)
    if len(encoded) > MAX_REMEMBERED_CHARS:
        return _analyse(hit.messages, language)
    return _analysed(encoded, language)


@functools.lru_cache(maxsize=2048)
def _analysed(encoded: str, language: str) -> tuple[_Line, ...]:
    return _analyse(decode_messages(encoded), language)


def _analyse(messages: Sequence[BaseMessage], language: str) -> tuple[_Line, ...]:
    lexicon = analyzer(language)
    lines = []
    for label, raw in labelled(messages):
        text = " ".join(raw.split())
        spans = tuple(sentence_spans(text))
        held = tuple(frozenset(lexicon.terms(text[a:b])) for a, b in spans)
        lines.append((label, text, spans, held))
    return tuple(lines)


@dataclass
class _Turn:
    """A candidate turn, as lines of sentences."""

    hit: SearchHit
    lines: tuple[_Line, ...]
    chosen: set[tuple[int, int]] = field(default_factory=set)
    """(line, sentence) picked so far."""
    tokens: int = 0
    cut: str | None = None
    """The excerpt, when its one sentence was too long and had to be cut to its matches."""

    def render(self, picked: set[tuple[int, int]]) -> str:
        """The picked sentences, per message, gaps marked "…"."""
        out = []
        for number, (label, text, spans, _) in enumerate(self.lines):
            indices = [i for line, i in picked if line == number]
            if indices:
                out.append(f"{label}: {join_sentences(text, spans, indices)}")
        return "\n".join(out)


def select_excerpts(
    hits: Sequence[SearchHit],
    *,
    weights: dict[str, float],
    language: str,
    budget_tokens: int,
    max_turns: int,
    count: Callable[[str], int],
) -> list[Recalled]:
    """The best sentences of `hits` that fit `budget_tokens`, from at most `max_turns` turns, as
    one excerpt per turn in conversation order.

    A sentence weighs the sum of the idf of the query terms it holds (ties: the better-ranked
    turn, then the earlier sentence); once taken, its neighbours compete at NEIGHBOUR_WEIGHT of
    its weight. Each is taken if what it adds to its turn's excerpt still fits."""
    terms = list(weights)
    left = budget_tokens - count(f"\n\n{RECALL_HEADER}\n")  # the excerpts come under it
    turns: list[_Turn] = []
    queue: list[tuple[float, int, int, int]] = []  # -weight, turn, line, sentence
    matching = 0  # tokens of the matching sentences read so far
    for rank, hit in enumerate(hits):
        if matching > READ_AHEAD * budget_tokens:
            break
        turn = _Turn(hit, _read(hit, language))
        for number, (_, text, spans, held_by) in enumerate(turn.lines):
            for i, held in enumerate(held_by):
                if not held.isdisjoint(weights):
                    weight = sum(weights[t] for t in held if t in weights)
                    heapq.heappush(queue, (-weight, rank, number, i))
                    matching += count(text[spans[i][0] : spans[i][1]])
        turns.append(turn)
    taken, cutting = 0, True
    while queue and left >= MIN_EXCERPT_TOKENS:
        weight, rank, number, i = heapq.heappop(queue)
        turn = turns[rank]
        if (number, i) in turn.chosen or (not turn.chosen and taken >= max_turns):
            continue
        picked = turn.chosen | {(number, i)}
        text = turn.render(picked)
        tokens = _size(turn.hit, text, count)
        if tokens - turn.tokens > left and not turn.chosen:
            if not cutting:
                continue
            # One sentence too long for what is left (a pasted page): its matching part. Once
            # a cut fails, what is left is too little for any.
            text = excerpt(text, terms, language, max(0, int(len(text) * left / tokens) - 8))
            tokens = _size(turn.hit, text, count)
            while tokens > left and len(text) > 40:
                text = text[: int(len(text) * 0.85)].rstrip() + ELLIPSIS
                tokens = _size(turn.hit, text, count)
            if tokens > left or tokens < MIN_EXCERPT_TOKENS:
                cutting = False
                continue
            turn.chosen, turn.tokens, turn.cut = picked, tokens, text
            left, taken = left - tokens, taken + 1
            continue
        if tokens - turn.tokens > left or turn.cut is not None:
            continue
        taken += not turn.chosen
        left -= tokens - turn.tokens
        turn.chosen, turn.tokens = picked, tokens
        for neighbour in _neighbours(turn, number, i):
            if neighbour not in turn.chosen:
                heapq.heappush(queue, (weight * NEIGHBOUR_WEIGHT, rank, *neighbour))
    chosen = [
        Recalled(
            t.hit.turn,
            round(t.hit.score, 4),
            t.hit.created_at,
            t.cut or t.render(t.chosen),
            t.tokens,
        )
        for t in turns
        if t.chosen
    ]
    return sorted(chosen, key=lambda r: r.turn)


def _neighbours(turn: _Turn, line: int, i: int) -> list[tuple[int, int]]:
    """The sentences before and after (line, i); after a message's last sentence, the first of
    the next message (the reply)."""
    found = [(line, i - 1)] if i > 0 else []
    if i + 1 < len(turn.lines[line][2]):
        found.append((line, i + 1))
    elif line + 1 < len(turn.lines) and turn.lines[line + 1][2]:
        found.append((line + 1, 0))
    return found


def _size(hit: SearchHit, text: str, count: Callable[[str], int]) -> int:
    """Tokens of the excerpt as the prompt shows it: on a line of its own."""
    stamped = render_excerpt({"turn": hit.turn, "created_at": hit.created_at, "text": text})
    return count(f"\n{stamped}")
