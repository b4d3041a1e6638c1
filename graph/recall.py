"""Recall, the pure part: the search query for a new message, and which excerpts fit the budget.

The `recall` node (nodes.py) asks the thread's transcript for the turns that best match the query
(the database's own full-text ranking: FTS5 bm25 or Postgres ts_rank_cd) among those no longer in
the model's view, then `select_excerpts` keeps the best that fit the token budget, cutting a long
turn down to its matching sentences, and returns them in conversation order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from memoria.analysis import analyzer, excerpt
from memoria.prompts import RECALL_HEADER, render_excerpt, render_turn_inline
from memoria.transcript import SearchHit, Transcript

MAX_QUERY_TERMS = 48
"""A pasted page makes a long query; its first terms carry the question."""
CANDIDATES_PER_TURN = 3
"""Hits fetched per recalled turn, so that turns too long for the budget can be passed over."""
MIN_EXCERPT_TOKENS = 24
"""An excerpt cut below this says too little to be worth its place."""
COMMON_SHARE = 0.05
"""A term held by more than this share of the turns (and by more than COMMON_FLOOR turns) says
nothing about which turn is meant ("quick question", "cambiando de tema"): it is left out of the
query. Measured on the recall benchmark: evidence in the top 8 from 54% to 63%."""
COMMON_FLOOR = 3
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
    """What the model sees: the turn, or its matching sentences when the whole does not fit."""
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


def informative(terms: Sequence[str], frequencies: dict[str, int], total: int) -> list[str]:
    """The query terms that are not common in the archive (see COMMON_SHARE)."""
    limit = max(COMMON_FLOOR, COMMON_SHARE * total)
    return [term for term in terms if frequencies.get(term, 0) <= limit]


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
    reported as `skipped`). With `keep_common`, a query made only of common terms keeps them (the
    memory tool's query is the model's own choice of words)."""
    terms = query_terms(message, language, context=previous)
    frequencies, total = transcript.term_frequencies(thread_id, terms)
    terms = informative(terms, frequencies, total) or (terms if keep_common else [])
    limit = (max_turns + len(exclude)) * CANDIDATES_PER_TURN
    hits = transcript.search(thread_id, terms, before=before, limit=limit)
    chosen = select_excerpts(
        [hit for hit in hits if hit.turn not in exclude],
        terms=terms,
        language=language,
        budget_tokens=budget_tokens,
        max_turns=max_turns,
        count=count,
    )
    return Found(terms, chosen, [hit.turn for hit in hits if hit.turn in exclude])


def select_excerpts(
    hits: Sequence[SearchHit],
    *,
    terms: Sequence[str],
    language: str,
    budget_tokens: int,
    max_turns: int,
    count: Callable[[str], int],
) -> list[Recalled]:
    """The best hits that fit `budget_tokens` (each whole, or cut to its matching sentences),
    at most `max_turns` of them, in conversation order."""
    chosen: list[Recalled] = []
    left = budget_tokens - count(f"\n\n{RECALL_HEADER}\n")  # the excerpts come under it
    for hit in hits:
        if len(chosen) >= max_turns or left < MIN_EXCERPT_TOKENS:
            break
        text = render_turn_inline(hit.messages)
        recalled = _fitted(hit, text, terms, language, left, count)
        if recalled is not None:
            chosen.append(recalled)
            left -= recalled.tokens
    return sorted(chosen, key=lambda r: r.turn)


def _fitted(
    hit: SearchHit,
    text: str,
    terms: Sequence[str],
    language: str,
    left: int,
    count: Callable[[str], int],
) -> Recalled | None:
    def size(candidate: str) -> int:
        return count(
            render_excerpt({"turn": hit.turn, "created_at": hit.created_at, "text": candidate})
        )

    tokens = size(text)
    if tokens > left:
        # Keep the sentences that matched, within what is left (characters per token ~ 4).
        max_chars = max(0, int(len(text) * left / tokens) - 8)
        text = excerpt(text, terms, language, max_chars)
        tokens = size(text)
        while tokens > left and len(text) > 40:
            text = text[: int(len(text) * 0.85)].rstrip() + "…"
            tokens = size(text)
        if tokens > left or tokens < MIN_EXCERPT_TOKENS:
            return None
    return Recalled(hit.turn, round(hit.score, 4), hit.created_at, text, tokens)
