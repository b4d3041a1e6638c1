"""Recall tuning: `python -m bench.recall_tune`.

`bench.recall` replays every conversation once per configuration, which is right for the report but
slow for trying variants of the recall step. Here each conversation is replayed once (`hybrid` with
recall at the given budget); at each question the harness keeps what the model saw without the
recalled excerpts (the view does not depend on what recall brings back: the fold makes room for
the whole budget) and runs every variant of the recall step against the same transcript, with the
same budget. Evidence in view is then the view plus the variant's excerpts, as in `bench.recall`.

The variants are `memoria.recall` itself with a constant changed, a re-implementation of the
previous recall (whole turns cut to their matching sentences, query terms held by more than 5% of
the turns dropped, 16 turns), sentence units with that filter, and the plain search of
`bench.recall.PlainSearch`. The `memoria` column is what the live run put in the prompt; the
variants run after the replay, on the finished thread, so their term counts include the turns after
the question (a difference of a question or two). Use it to choose; report with `bench.recall`.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from bench.chats import make_chats
from bench.conversations import Conversation, make_conversations
from bench.recall import (
    PlainSearch,
    RecordingEchoModel,
    kind_of,
    percent,
    turns_in_view,
    without_recall,
)
from memoria import recall
from memoria.agent import Memoria
from memoria.analysis import analyzer, excerpt, join_sentences, sentence_spans
from memoria.context import Context
from memoria.prompts import RECALL_HEADER, render_excerpt, render_turn_inline
from memoria.recall import query_terms
from memoria.tokens import estimate_text_tokens, message_text
from memoria.transcript import SearchHit, Transcript


@dataclass(frozen=True)
class Params:
    common_share: float | None = 0.05
    """Drop query terms held by more than this share of the turns (None: keep every term)."""
    max_terms: int = 48
    borrow: bool = True
    max_turns: int = 16
    cut: bool = True
    """Cut a turn that does not fit to its matching sentences (else skip it)."""
    unit: str = "turn"
    """`turn`: whole turns (cut when too long); `passage`: sentences with their neighbours."""
    neighbours: int = 1
    candidates: int = 48
    """Turns fetched for `passage`."""


VARIANTS: dict[str, Params | dict[str, Any]] = {
    "before: whole turns cut to their matches, common 5%, 16 turns": Params(),
    "before, without the common-term filter": Params(common_share=None),
    "sentences, common 5%, 64 turns": Params(unit="passage", neighbours=0, max_turns=64),
    "sentences ±1 (passages of three)": Params(
        common_share=None, unit="passage", neighbours=1, max_turns=64
    ),
    "recall.py": {},
    "recall.py, no neighbours": {"NEIGHBOUR_WEIGHT": 0.0},
    "recall.py, neighbours 0.5": {"NEIGHBOUR_WEIGHT": 0.5},
    "recall.py, 16 turns": {"max_turns": 16},
    "recall.py, no common-term filter": {"COMMON_SHARE": 1.0},
    "recall.py, common terms at 5% (as before)": {"COMMON_SHARE": 0.05},
    "recall.py, common terms at 10%": {"COMMON_SHARE": 0.1},
    "recall.py, 24 candidate turns": {"CANDIDATE_TURNS": 24},
    "recall.py, 32 candidate turns": {"CANDIDATE_TURNS": 32},
    "recall.py, 96 candidate turns": {"CANDIDATE_TURNS": 96},
    "recall.py, read ahead 4": {"READ_AHEAD": 4},
}
"""A `Params` runs this module's re-implementation; a dict runs `memoria.recall.find_excerpts`
with those module constants changed (and `max_turns` from the settings)."""


@dataclass(frozen=True)
class Ask:
    transcript: Transcript
    thread_id: str
    question: str
    previous: str
    before: int
    budget: int
    language: str
    max_turns: int


def idf(df: int, total: int) -> float:
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


def search(ask: Ask, p: Params | dict[str, Any]) -> list[str]:
    """One variant of the recall step: the excerpts it would put in the prompt."""
    if isinstance(p, dict):
        return product_search(ask, p)
    terms = query_terms(
        ask.question,
        ask.language,
        context=ask.previous if p.borrow else "",
        limit=p.max_terms,
    )
    frequencies, total = ask.transcript.term_frequencies(ask.thread_id, terms)
    if p.common_share is not None:
        limit = max(3, p.common_share * total)
        terms = [t for t in terms if frequencies.get(t, 0) <= limit]
    if not terms or ask.before <= 0:
        return []
    left = ask.budget - estimate_text_tokens(f"\n\n{RECALL_HEADER}\n")
    if p.unit == "passage":
        hits = ask.transcript.search(ask.thread_id, terms, before=ask.before, limit=p.candidates)
        weights = {t: idf(frequencies.get(t, 0), total) for t in terms}
        return passages(hits, weights, ask.language, left, p)
    hits = ask.transcript.search(ask.thread_id, terms, before=ask.before, limit=p.max_turns * 3)
    chosen: list[tuple[int, str]] = []
    for hit in hits:
        if len(chosen) >= p.max_turns or left < 24:
            break
        text = render_turn_inline(hit.messages)
        rendered = render_excerpt({"turn": hit.turn, "created_at": hit.created_at, "text": text})
        tokens = estimate_text_tokens(rendered)
        if tokens > left:
            if not p.cut:
                continue
            text = excerpt(text, terms, ask.language, max(0, left * 4 - 40))
            rendered = render_excerpt(
                {"turn": hit.turn, "created_at": hit.created_at, "text": text}
            )
            tokens = estimate_text_tokens(rendered)
            if tokens > left or tokens < 24:
                continue
        chosen.append((hit.turn, rendered))
        left -= tokens
    return [text for _, text in sorted(chosen)]


def product_search(ask: Ask, overrides: dict[str, Any]) -> list[str]:
    overrides = dict(overrides)
    max_turns = overrides.pop("max_turns", ask.max_turns)
    saved = {name: getattr(recall, name) for name in overrides}
    try:
        for name, value in overrides.items():
            setattr(recall, name, value)
        found = recall.find_excerpts(
            ask.transcript,
            ask.thread_id,
            ask.question,
            language=ask.language,
            previous=ask.previous,
            before=ask.before,
            budget_tokens=ask.budget,
            max_turns=max_turns,
            count=estimate_text_tokens,
        )
    finally:
        for name, value in saved.items():
            setattr(recall, name, value)
    return [render_excerpt(r.as_dict()) for r in found.excerpts]


def passages(
    hits: Sequence[SearchHit], weights: dict[str, float], language: str, left: int, p: Params
) -> list[str]:
    """Sentences (with `p.neighbours` on each side) of the best turns, ranked by the idf of the
    query terms they hold, taken while they fit; a turn's passages are joined with " … "."""
    lexicon = analyzer(language)
    scored: list[tuple[float, int, int, int, int]] = []  # score, rank, hit index, first, last
    texts: list[str] = []
    for index, hit in enumerate(hits):
        text = render_turn_inline(hit.messages)
        texts.append(text)
        spans = sentence_spans(text)
        held = [set(lexicon.query_terms(text[a:b])) & weights.keys() for a, b in spans]
        for i, terms in enumerate(held):
            if not terms:
                continue
            first, last = max(0, i - p.neighbours), min(len(spans) - 1, i + p.neighbours)
            window = set().union(*held[first : last + 1])
            score = sum(weights[t] for t in window)
            scored.append((score, -index, index, first, last))
    scored.sort(reverse=True)
    chosen: dict[int, set[int]] = {}
    spent: dict[int, int] = {}
    for _score, _rank, index, first, last in scored:
        wanted = chosen.get(index, set()) | set(range(first, last + 1))
        if wanted == chosen.get(index) or (index not in chosen and len(chosen) >= p.max_turns):
            continue
        rendered = render_passages(hits[index], texts[index], wanted)
        cost = estimate_text_tokens(rendered) - spent.get(index, 0)
        if cost > left:
            continue
        chosen[index], spent[index] = wanted, spent.get(index, 0) + cost
        left -= cost
    return [
        render_passages(hits[i], texts[i], chosen[i])
        for i in sorted(chosen, key=lambda i: hits[i].turn)
        if chosen[i]
    ]


def render_passages(hit: SearchHit, text: str, sentences: set[int]) -> str:
    body = join_sentences(text, sentence_spans(text), sentences)
    return render_excerpt({"turn": hit.turn, "created_at": hit.created_at, "text": body})


def run(job: tuple[Conversation, int, int | None, int]) -> list[dict[str, Any]]:
    conversation, max_tokens, recall_tokens, recall_turns = job
    context = Context(
        model="echo",
        memory="hybrid",
        max_tokens=max_tokens,
        recall_tokens=recall_tokens,
        recall_turns=recall_turns,
    )
    questions = {q.at: q for q in conversation.questions}
    model = RecordingEchoModel()
    plain = PlainSearch()
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="memoria-tune-") as tmp,
        Memoria(db=Path(tmp) / "tune.sqlite", context=context, model=model) as agent,
    ):
        previous = ""
        for at, text in enumerate(conversation.turns):
            if conversation.replies is not None:
                model.next_reply = conversation.replies[at]
            reply = agent.send(conversation.id, text)
            question = questions.get(at)
            if question is not None:
                view = without_recall(model.last_prompt)
                before = at - turns_in_view(model.last_prompt)
                ask = Ask(
                    agent.archive,
                    conversation.id,
                    text,
                    previous,
                    before,
                    context.recall_budget,
                    agent.archive.thread_language(conversation.id) or "en",
                    context.recall_turns,
                )
                prompt = "\n".join(message_text(m) for m in model.last_prompt)
                outcome = {"memoria": all(f in prompt for f in question.facts)}
                seen = (
                    view
                    + "\n"
                    + "\n".join(
                        plain.recall(text, before=before, budget_tokens=context.recall_budget)
                    )
                )
                outcome["plain bm25"] = all(f in seen for f in question.facts)
                for name, params in VARIANTS.items():
                    seen = view + "\n" + "\n".join(search(ask, params))
                    outcome[name] = all(f in seen for f in question.facts)
                rows.append(
                    {
                        "kind": kind_of({"set": conversation.set, "kind": question.kind}),
                        "language": conversation.language,
                        **outcome,
                    }
                )
            plain.add(at, render_turn_inline([HumanMessage(text), reply]))
            previous = text
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recall_tune", description=__doc__)
    parser.add_argument("--conversations", type=int, default=24)
    parser.add_argument("--chats", type=int, default=16)
    parser.add_argument("--turns", type=int, default=320)
    parser.add_argument("--max-tokens", type=int, default=2000)
    parser.add_argument("--recall-tokens", type=int, default=None)
    parser.add_argument("--recall-turns", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    conversations = make_conversations(args.conversations, args.turns) + make_chats(
        args.chats, args.turns
    )
    jobs = [(c, args.max_tokens, args.recall_tokens, args.recall_turns) for c in conversations]
    with multiprocessing.get_context("fork").Pool(args.processes) as pool:
        rows = [r for result in pool.imap_unordered(run, jobs) for r in result]
    names = ["memoria", "plain bm25", *VARIANTS]
    kinds = sorted({r["kind"] for r in rows}, key=lambda k: (not k.startswith("assistant"), k))
    count = Counter(r["kind"] for r in rows)
    print(
        f"max_tokens {args.max_tokens}, recall_tokens {args.recall_tokens or 'default'}; "
        f"{len(rows)} questions\n"
    )
    print("| variant | all | " + " | ".join(f"{k} ({count[k]})" for k in kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    for name in names:
        cells = [percent(sum(r[name] for r in rows if r["kind"] == k), count[k]) for k in kinds]
        total = percent(sum(r[name] for r in rows), len(rows))
        print(f"| {name} | {total} | " + " | ".join(str(c) for c in cells) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
