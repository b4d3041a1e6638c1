"""Recall benchmark: `python -m bench.recall`.

Measures how much of what a late question needs is in front of the model, and at what prompt size,
for each memory preset with recall off and (when this build has it) with recall at its defaults,
against a plain full-text search in recall's place.

Data: two generated sets, both deterministic, Spanish and English. `assistant`
(`bench.conversations`): one person telling an assistant about themselves, one fact per short
message, the replies echoed. `chat` (`bench.chats`): two friends chatting over many sessions, a
fact one sentence among small talk in either speaker's message, the replies scripted.

Method. Every conversation is replayed turn by turn through the library API (`Memoria.send`), one
fresh SQLite database per conversation and configuration, on the deterministic `echo` model (a
small subclass that keeps the last prompt it was sent and says the scripted reply where there is
one). At each question turn the harness records:

- the prompt tokens the model reported (`usage_metadata["input_tokens"]`);
- *evidence in view*: whether every `facts` substring of the question (the words of the earlier
  turns that answer it) occurs somewhere in the text of that prompt, system message included (the
  running summary and any recalled excerpts are part of the input). Checking the planted words, not
  an answer, keeps the measure independent of any model's ability to answer;
- for recall configurations, the same measure with the *plain search* (`PlainSearch`: SQLite FTS5
  bm25 over whole turns, the question's words OR-ed, the best turns until the same budget) in place
  of recall's excerpts, in the same view: the baseline every kind of question is compared with.

Per configuration it reports evidence in view (overall, per set, per set and question kind, per
language), the mean prompt tokens per question and per turn. It also times the recall step (median
of 50 different questions) on one thread grown to 100, 1,000 and 10,000 archived turns.
Results are printed as Markdown tables and written to `bench/out/recall.json` and `bench/recall.png`.
`python -m bench.recall_tune` tries variants of the recall step faster (one replay for all).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import Field

from bench.chats import CHAT_KINDS, make_chats, validate_chats
from bench.conversations import (
    DEFAULT_SEED,
    KINDS,
    LANGUAGES,
    Conversation,
    describe,
    filler_message,
    make_conversations,
    make_persona,
    validate,
)
from memoria.agent import Memoria
from memoria.context import Context
from memoria.models import EchoChatModel
from memoria.prompts import RECALL_HEADER, render_excerpt, render_turn_inline
from memoria.recall import find_excerpts
from memoria.tokens import estimate_text_tokens, message_text

MEMORY_PRESETS = ("buffer", "window", "summary-buffer", "hybrid")
WINDOW_K = 5
LATENCY_SIZES = (100, 1_000, 10_000)
LATENCY_CALLS = 50
# The recall issue's bars: evidence in view for at least 75% of the questions at a mean prompt of at
# most 2,500 tokens, and recall at least 5 points above a plain search on every kind of question.
QUALITY_BAR_MEMORY, QUALITY_BAR_IN_VIEW, QUALITY_BAR_TOKENS = "hybrid", 75.0, 2_500
QUALITY_BAR_MARGIN = 5.0
"""Points above the plain search in recall's place, on every kind of question."""
LATENCY_THREAD = "recall-latency"
LARGER_PROMPT = (2_500, 1_250)
"""max_tokens and recall_tokens of the extra hybrid + recall configuration."""


def recall_setting_available() -> bool:
    """Whether `Context` has the recall budget (`recall_tokens`), i.e. recall can be configured."""
    return "recall_tokens" in {f.name for f in dataclasses.fields(Context)}


def recall_method_available() -> bool:
    return hasattr(Memoria, "recall")


class RecordingEchoModel(EchoChatModel):
    """The echo model, keeping only the last prompt it was sent (not a growing list). Where the
    conversation scripts the other speaker (`bench.chats`), it says `next_reply` instead."""

    last_prompt: list[BaseMessage] = Field(default_factory=list, exclude=True)
    next_reply: str | None = Field(default=None, exclude=True)

    def _record(self, messages: list[BaseMessage]) -> None:
        self.last_prompt = list(messages)

    def _reply(self, messages: Sequence[BaseMessage]) -> str:
        return super()._reply(messages) if self.next_reply is None else self.next_reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._record(messages)
        return super()._generate(messages, stop, run_manager, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self._record(messages)
        yield from super()._stream(messages, stop, run_manager, **kwargs)


@dataclass(frozen=True)
class Configuration:
    memory: str
    recall: bool
    max_tokens: int | None = None
    """Where set, the prompt's limit and the recall budget instead of the defaults."""
    recall_tokens: int | None = None

    @property
    def name(self) -> str:
        name = f"{self.memory} + recall" if self.recall else self.memory
        if self.max_tokens is not None:
            name += f" ({self.max_tokens:,} tokens, recall {self.recall_tokens:,})"
        return name

    def context(self) -> Context:
        """Recall on: its defaults (nothing passed). Recall off: `recall_tokens=0` where it exists."""
        settings: dict[str, Any] = {"model": "echo", "memory": self.memory}
        if self.memory == "window":
            settings["k"] = WINDOW_K
        if not self.recall and recall_setting_available():
            settings["recall_tokens"] = 0
        if self.max_tokens is not None:
            settings |= {"max_tokens": self.max_tokens, "recall_tokens": self.recall_tokens}
        return Context(**settings)


def configurations(with_recall: bool, buffer_recall: bool = False) -> list[Configuration]:
    """Every preset with recall off; with recall on too when the build has it. `buffer + recall`
    only on request: the buffer already has every turn in view, so recall can only add tokens,
    and it is the slowest replay (LangGraph reloads the whole history from the checkpoint)."""
    configs = [Configuration(memory, recall=False) for memory in MEMORY_PRESETS]
    if with_recall:
        configs += [
            Configuration(memory, recall=True)
            for memory in MEMORY_PRESETS
            if memory != "buffer" or buffer_recall
        ]
        # The product's bar allows a 2,500-token prompt: what recall does with more of it.
        configs.append(Configuration("hybrid", True, *LARGER_PROMPT))
    return configs


# Replay


class PlainSearch:
    """The baseline recall: SQLite FTS5 (its default `unicode61` tokenizer, accents folded) over
    whole turns, the question's words OR-ed, ranked by bm25; the best turns that are not in view
    are taken whole while they fit the same budget as Memoria's recall. No stemming, no stop
    words, no caps, no cutting."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute(
            "CREATE VIRTUAL TABLE turns USING fts5(text, tokenize='unicode61 remove_diacritics 2')"
        )

    def add(self, turn: int, text: str) -> None:
        self.db.execute("INSERT INTO turns(rowid, text) VALUES (?, ?)", (turn, text))

    def recall(self, question: str, *, before: int, budget_tokens: int) -> list[str]:
        """The excerpts (rendered as Memoria renders its own), best first."""
        words = dict.fromkeys(re.findall(r"\w+", question.lower()))
        if not words:
            return []
        query = " OR ".join(f'"{word}"' for word in words)
        rows = self.db.execute(
            "SELECT rowid, text FROM turns WHERE turns MATCH ? AND rowid < ? ORDER BY bm25(turns)",
            (query, before),
        )
        left = budget_tokens - estimate_text_tokens(f"\n\n{RECALL_HEADER}\n")
        chosen = []
        for turn, text in rows:
            rendered = render_excerpt({"turn": turn, "text": text})
            tokens = estimate_text_tokens(rendered)
            if tokens <= left:
                chosen.append(rendered)
                left -= tokens
        return chosen


def turns_in_view(prompt: Sequence[BaseMessage]) -> int:
    """How many earlier turns the prompt shows as messages (the last human message is the new
    one)."""
    return max(0, sum(isinstance(m, HumanMessage) for m in prompt) - 1)


def without_recall(prompt: Sequence[BaseMessage]) -> str:
    """The prompt's text without the recalled excerpts (the end of the system message)."""
    text = "\n".join(message_text(m) for m in prompt)
    head, _, rest = text.partition(RECALL_HEADER)
    if not rest:
        return text
    # The excerpts end where the system message ends, i.e. where the first turn in view begins.
    system = message_text(prompt[0])
    return head + text[len(system) :]


def replay(conversation: Conversation, configuration: Configuration) -> dict[str, Any]:
    """Send every user turn of `conversation`; measure the prompt at each question turn. With
    recall on, also measure the plain search (`PlainSearch`) in its place: the same view, the
    same budget."""
    questions = {q.at: q for q in conversation.questions}
    records: list[dict[str, Any]] = []
    total_tokens = 0
    started = time.perf_counter()
    model = RecordingEchoModel()
    plain = PlainSearch()
    context = configuration.context()
    with (
        tempfile.TemporaryDirectory(prefix="memoria-recall-") as tmp,
        Memoria(db=Path(tmp) / "bench.sqlite", context=context, model=model) as agent,
    ):
        for at, text in enumerate(conversation.turns):
            if conversation.replies is not None:
                model.next_reply = conversation.replies[at]
            reply = agent.send(conversation.id, text)
            tokens = reply.usage_metadata["input_tokens"] if reply.usage_metadata else 0
            total_tokens += tokens
            question = questions.get(at)
            if question is not None:
                prompt_text = "\n".join(message_text(m) for m in model.last_prompt)
                found = [fact in prompt_text for fact in question.facts]
                record = {
                    "conversation": conversation.id,
                    "set": conversation.set,
                    "language": conversation.language,
                    "at": at,
                    "kind": question.kind,
                    "prompt_tokens": tokens,
                    "in_view": all(found),
                    "facts_in_view": sum(found),
                    "facts": len(found),
                }
                if configuration.recall and context.recall_budget:
                    view = without_recall(model.last_prompt)
                    excerpts = plain.recall(
                        text,
                        before=at - turns_in_view(model.last_prompt),
                        budget_tokens=context.recall_budget,
                    )
                    seen = view + "\n" + "\n".join(excerpts)
                    plain_found = [fact in seen for fact in question.facts]
                    record["plain"] = {
                        "in_view": all(plain_found),
                        "facts_in_view": sum(plain_found),
                        "prompt_tokens": tokens
                        - estimate_text_tokens(prompt_text)
                        + estimate_text_tokens(seen),
                    }
                records.append(record)
            plain.add(at, render_turn_inline([HumanMessage(text), reply]))
    return {
        "conversation": conversation.id,
        "configuration": configuration.name,
        "turns": len(conversation.turns),
        "prompt_tokens_all_turns": total_tokens,
        "questions": records,
        "seconds": time.perf_counter() - started,
    }


def _run_job(job: tuple) -> dict[str, Any]:
    if job[0] == "grow":
        return grow_latency_thread(*job[1:])
    return replay(*job[1:])


def run_jobs(jobs: list[tuple], processes: int) -> list[dict[str, Any]]:
    """Run replay and growth jobs on `processes` worker processes; results come back in job order,
    so the report does not depend on which worker finishes first."""
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    done = 0

    def collect(index: int, result: dict[str, Any]) -> None:
        nonlocal done
        results[index], done = result, done + 1
        label = result.get("label") or f"{result['conversation']} {result['configuration']}"
        print(
            f"  [{done}/{len(jobs)}] {label}: {result['turns']} turns in {result['seconds']:.1f} s",
            file=sys.stderr,
            flush=True,
        )

    # Longest first (growing the latency thread, then the buffer replays) to balance the workers.
    def cost_rank(index: int) -> tuple[bool, bool]:
        job = jobs[index]
        return job[0] != "grow", job[0] == "replay" and job[2].memory != "buffer"

    order = sorted(range(len(jobs)), key=cost_rank)
    if processes <= 1:
        for index in order:
            collect(index, _run_job(jobs[index]))
    else:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            pending = {index: pool.apply_async(_run_job, (jobs[index],)) for index in order}
            while pending:
                for index, handle in list(pending.items()):
                    if handle.ready():
                        collect(index, handle.get())
                        del pending[index]
                time.sleep(0.05)
    return [r for r in results if r is not None]


def percent(hits: int, total: int) -> float | None:
    return round(100 * hits / total, 1) if total else None


KIND_ORDER = tuple(f"assistant:{k}" for k in KINDS) + tuple(f"chat:{k}" for k in CHAT_KINDS)


def kind_of(record: dict[str, Any]) -> str:
    return f"{record.get('set', 'assistant')}:{record['kind']}"


def summarise_results(
    conversations: Sequence[Conversation],
    configs: Sequence[Configuration],
    results: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Per configuration: evidence in view overall, per set, per kind and per language, and the
    prompt sizes. Each recall configuration is followed by the plain search in its place
    (`PlainSearch`: same view, same budget)."""
    summary: dict[str, dict[str, Any]] = {}
    kinds = [
        k
        for k in KIND_ORDER
        if any(kind_of(r) == k for run in results.values() for r in run["questions"])
    ]
    sets = list(dict.fromkeys(c.set for c in conversations))
    for cfg in configs:
        runs = [results[(c.id, cfg.name)] for c in conversations]
        records = [r for run in runs for r in run["questions"]]
        turns = sum(run["turns"] for run in runs)
        variants = [(cfg.name, records, cfg.recall)]
        if cfg.recall and all("plain" in r for r in records):
            plain = [{**r, **r["plain"]} for r in records]
            variants.append((f"{cfg.name} · plain bm25 instead", plain, None))
        for name, rows, recall in variants:
            summary[name] = {
                "memory": cfg.memory,
                "recall": recall,
                "questions": len(rows),
                "evidence_in_view": in_view(rows)["in_view"],
                "facts_in_view": percent(
                    sum(r["facts_in_view"] for r in rows), sum(r["facts"] for r in rows)
                ),
                "mean_prompt_tokens_per_question": round(
                    statistics.fmean(r["prompt_tokens"] for r in rows), 1
                ),
                "mean_prompt_tokens_per_turn": round(
                    sum(run["prompt_tokens_all_turns"] for run in runs) / turns, 1
                )
                if recall is not None
                else None,
                "per_set": {
                    name: in_view([r for r in rows if r.get("set", "assistant") == name])
                    for name in sets
                },
                "per_kind": {k: in_view([r for r in rows if kind_of(r) == k]) for k in kinds},
                "per_language": {
                    lang: in_view([r for r in rows if r["language"] == lang]) for lang in LANGUAGES
                },
                "replay_seconds": round(sum(run["seconds"] for run in runs), 1),
            }
    return summary


def in_view(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"questions": len(rows), "in_view": percent(sum(r["in_view"] for r in rows), len(rows))}


# Recall latency


def latency_texts(count: int, seed: int) -> list[str]:
    """Filler messages to grow the latency thread, alternately Spanish and English."""
    rng = random.Random(f"{seed}:latency")
    personas = {lang: make_persona(rng, lang) for lang in LANGUAGES}
    used: dict[str, Counter] = {lang: Counter() for lang in LANGUAGES}
    return [
        filler_message(rng, lang, personas[lang], used[lang])
        for lang in (LANGUAGES[i % 2] for i in range(count))
    ]


def grow_latency_thread(sizes: Sequence[int], seed: int, directory: str) -> dict[str, Any]:
    """Grow one thread through `Memoria.send` with filler text and copy the database at each size
    in `sizes`.

    All turns but the last of each step run with recall off (`window` preset), so growing the
    thread is not slowed by recall; the last one runs with the default settings, because
    `Memoria.recall` previews a message with the settings the thread last ran with.
    """
    texts = latency_texts(max(sizes), seed)
    settings: dict[str, Any] = {"model": "echo", "memory": "window"}
    if recall_setting_available():
        settings["recall_tokens"] = 0
    grow_context, default_context = Context(**settings), Context(model="echo")
    started = time.perf_counter()
    growth: dict[str, float] = {}
    database = Path(directory) / "latency.sqlite"
    with Memoria(db=database, context=grow_context, model=RecordingEchoModel()) as agent:
        grown = 0
        for size in sorted(sizes):
            t0 = time.perf_counter()
            agent.context = grow_context
            for text in texts[grown : size - 1]:
                agent.send(LATENCY_THREAD, text)
            growth[str(size)] = round(
                1000 * (time.perf_counter() - t0) / max(1, size - 1 - grown), 2
            )
            agent.context = default_context
            agent.send(LATENCY_THREAD, texts[size - 1])
            with (
                closing(sqlite3.connect(database)) as source,
                closing(sqlite3.connect(snapshot(directory, size))) as copy,
            ):
                source.backup(copy)
            grown = size
    return {
        "label": "latency thread",
        "turns": max(sizes),
        "seconds": time.perf_counter() - started,
        "send_ms": growth,
    }


def snapshot(directory: str | Path, size: int) -> Path:
    return Path(directory) / f"latency-{size}.sqlite"


def time_recall(
    directory: str | Path, sizes: Sequence[int], queries: Sequence[str], calls: int
) -> dict[str, Any]:
    """Median time of the recall step (`memoria.recall.find_excerpts`: query, term counts,
    full-text search, excerpts; the whole archive searched) and of `Memoria.recall` (a preview,
    which also runs the graph up to the model on a copy of the thread) at each size, on `calls`
    different questions, after one warm-up call.

    The sizes are timed in turn for each question, so a burst of load on the machine falls on all
    of them alike rather than on whichever size happened to be running.
    """
    timings: dict[int, list[float]] = {size: [] for size in sorted(sizes)}
    steps: dict[int, list[float]] = {size: [] for size in sorted(sizes)}
    with ExitStack() as stack:
        agents = {
            size: stack.enter_context(
                Memoria(
                    db=snapshot(directory, size),
                    context=Context(model="echo"),
                    model=RecordingEchoModel(),
                )
            )
            for size in timings
        }
        for agent in agents.values():
            agent.recall(LATENCY_THREAD, queries[0])
        for query in queries[:calls]:
            for size, agent in agents.items():
                t0 = time.perf_counter()
                find_excerpts(
                    agent.archive,
                    LATENCY_THREAD,
                    query,
                    language=agent.archive.thread_language(LATENCY_THREAD) or "en",
                    previous="",
                    before=size,
                    budget_tokens=agent.context.recall_budget,
                    max_turns=agent.context.recall_turns,
                    count=lambda text: len(text) // 4,
                )
                steps[size].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                agent.recall(LATENCY_THREAD, query)
                timings[size].append((time.perf_counter() - t0) * 1000)
    return {
        str(size): {
            "step_median_ms": round(statistics.median(steps[size]), 3),
            "step_p90_ms": round(statistics.quantiles(steps[size], n=10)[-1], 3),
            "median_ms": round(statistics.median(values), 3),
            "p90_ms": round(statistics.quantiles(values, n=10)[-1], 3),
            "calls": len(values),
        }
        for size, values in timings.items()
    }


# Report


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def tables(summary: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| configuration | recall | evidence in view | "
        + " | ".join(next(iter(summary.values()))["per_set"])
        + " | mean prompt tokens per question | mean prompt tokens per turn | facts in view |",
        "|---|---|---|" + "---|" * len(next(iter(summary.values()))["per_set"]) + "---|---|---|",
    ]
    for name, row in summary.items():
        recall = {True: "on", False: "off", None: "plain bm25"}[row["recall"]]
        per_turn = row["mean_prompt_tokens_per_turn"]
        sets = " | ".join(fmt_pct(v["in_view"]) for v in row["per_set"].values())
        lines.append(
            f"| {name} | {recall} | {fmt_pct(row['evidence_in_view'])} | {sets} | "
            f"{row['mean_prompt_tokens_per_question']:,.0f} | "
            f"{'—' if per_turn is None else f'{per_turn:,.0f}'} | {fmt_pct(row['facts_in_view'])} |"
        )
    kinds = list(next(iter(summary.values()))["per_kind"])
    counts = next(iter(summary.values()))["per_kind"]
    lines += [
        "",
        "Evidence in view per set and question kind (questions in brackets); for recall, the "
        "difference with the plain search in its place:",
        "",
        "| configuration | "
        + " | ".join(f"{k} ({counts[k]['questions']})" for k in kinds)
        + " | "
        + " | ".join(LANGUAGES)
        + " |",
        "|---|" + "---|" * (len(kinds) + len(LANGUAGES)),
    ]
    for name, row in summary.items():
        plain = summary.get(f"{name} · plain bm25 instead")
        cells = []
        for k in kinds:
            value = row["per_kind"][k]["in_view"]
            cell = fmt_pct(value)
            if plain is not None and value is not None:
                cell += f" ({value - plain['per_kind'][k]['in_view']:+.1f})"
            cells.append(cell)
        langs = " | ".join(fmt_pct(row["per_language"][lang]["in_view"]) for lang in LANGUAGES)
        lines.append(f"| {name} | {' | '.join(cells)} | {langs} |")
    return "\n".join(lines)


def latency_table(latency: dict[str, Any]) -> str:
    lines = [
        "| archived turns | recall step, median (ms) | recall step, p90 (ms) "
        "| `Memoria.recall` preview, median (ms) "
        "| send while growing the thread, recall off (ms per turn) |",
        "|---|---|---|---|---|",
    ]
    for size, row in latency.items():
        lines.append(
            f"| {int(size):,} | {row['step_median_ms']:.2f} | {row['step_p90_ms']:.2f} "
            f"| {row['median_ms']:.2f} | {row['send_ms_while_growing']:.2f} |"
        )
    return "\n".join(lines)


def quality_bar(summary: dict[str, dict[str, Any]]) -> str:
    """The bars of the recall issue, for each hybrid + recall configuration: evidence in view
    ≥ 75% at a mean prompt ≤ 2,500 tokens, and ≥ 5 points above the plain search in recall's
    place (same view, same budget) on every kind of question."""
    names = [
        n for n, row in summary.items() if row["memory"] == QUALITY_BAR_MEMORY and row["recall"]
    ]
    if not names:
        return f"Quality bars: not measured, no {QUALITY_BAR_MEMORY} + recall configuration."
    lines = []
    for name in names:
        row, plain = summary[name], summary[f"{name} · plain bm25 instead"]
        met = (row["evidence_in_view"] or 0) >= QUALITY_BAR_IN_VIEW and row[
            "mean_prompt_tokens_per_question"
        ] <= QUALITY_BAR_TOKENS
        short = [
            f"{kind} ({value['in_view'] - plain['per_kind'][kind]['in_view']:+.1f})"
            for kind, value in row["per_kind"].items()
            if value["in_view"] - plain["per_kind"][kind]["in_view"] < QUALITY_BAR_MARGIN
        ]
        lines.append(
            f"{name}: evidence in view ≥ {QUALITY_BAR_IN_VIEW:.0f}% at a mean prompt ≤ "
            f"{QUALITY_BAR_TOKENS:,}: {'met' if met else 'NOT met'} "
            f"({fmt_pct(row['evidence_in_view'])} at "
            f"{row['mean_prompt_tokens_per_question']:,.0f}); "
            f"≥ {QUALITY_BAR_MARGIN:.0f} points above the plain search on every kind: "
            + ("met" if not short else f"NOT met on {', '.join(short)}")
            + "."
        )
    return "\n".join(lines)


PLOT_COLOURS = {
    "buffer": "tab:grey",
    "window": "tab:orange",
    "summary-buffer": "tab:green",
    "hybrid": "tab:blue",
}
# Which side of its point a label goes (hybrid and summary-buffer sit close together); labels of
# recall-on points go above the point, recall-off ones below, as the two often coincide.
PLOT_LABEL_SIDE = {"buffer": "right", "window": "left", "summary-buffer": "left", "hybrid": "right"}


def plot(summary: dict[str, dict[str, Any]], path: Path) -> None:
    """Evidence in view against mean prompt tokens: one labelled point per configuration, circles
    without recall, triangles with it, one colour per preset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(9, 6))
    drawn: list[tuple[float, float]] = []
    # The default preset's points first: where another preset's coincide, they are left out.
    ordered = sorted(summary.items(), key=lambda item: item[1]["memory"] != QUALITY_BAR_MEMORY)
    for name, row in ordered:
        x, y = row["mean_prompt_tokens_per_question"], row["evidence_in_view"] or 0.0
        if any(abs(x - a) <= 0.01 * a and abs(y - b) < 0.5 for a, b in drawn):
            continue
        drawn.append((x, y))
        label = name.replace(" · plain bm25 instead", ": plain bm25 instead")
        ax.scatter(
            x,
            y,
            marker={True: "^", False: "o", None: "s"}[row["recall"]],
            s=110,
            color=PLOT_COLOURS.get(row["memory"], "black"),
            edgecolors="black",
            zorder=3,
        )
        align = PLOT_LABEL_SIDE.get(row["memory"], "left")
        offset = (-7 if align == "right" else 7, -15 if row["recall"] is False else 7)
        if row["recall"] is None:  # the plain search: on the other side of the recall point
            align, offset = ("left" if align == "right" else "right"), (-offset[0], -15)
        ax.annotate(
            f"{label} ({y:.0f}%)", (x, y), textcoords="offset points", xytext=offset,
            ha=align, fontsize=8,
        )  # fmt: skip
    ax.axhline(QUALITY_BAR_IN_VIEW, color="tab:red", linestyle=":", linewidth=1)
    ax.axvline(QUALITY_BAR_TOKENS, color="tab:red", linestyle=":", linewidth=1)
    ax.annotate(
        "quality bar (hybrid + recall):\nup and to the left of here",
        (QUALITY_BAR_TOKENS, QUALITY_BAR_IN_VIEW),
        textcoords="offset points", xytext=(4, -24), fontsize=8, color="tab:red",
    )  # fmt: skip
    handles = [
        Line2D([], [], marker="o", linestyle="", color="white", markeredgecolor="black",
               markersize=9, label="recall off"),
        Line2D([], [], marker="^", linestyle="", color="white", markeredgecolor="black",
               markersize=9, label="recall on"),
        Line2D([], [], marker="s", linestyle="", color="white", markeredgecolor="black",
               markersize=9, label="plain bm25 in recall's place"),
        *(Line2D([], [], marker="s", linestyle="", color=colour, markersize=9, label=memory)
          for memory, colour in PLOT_COLOURS.items()),
    ]  # fmt: skip
    lowest = min(r["mean_prompt_tokens_per_question"] for r in summary.values())
    highest = max(r["mean_prompt_tokens_per_question"] for r in summary.values())
    ax.set(
        xscale="log",
        xlim=(lowest / 2.5, highest * 2.5),
        ylim=(-8, 106),
        xlabel="mean prompt tokens per question (log scale)",
        ylabel="evidence in view (% of questions)",
        title="Recall: is the evidence in the prompt, and at what cost?",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(handles=handles, loc="lower right", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.recall",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--conversations", type=int, default=24, help="how many (default 24)")
    parser.add_argument("--turns", type=int, default=320, help="user turns each (default 320)")
    parser.add_argument(
        "--chats", type=int, default=16, help="two-person chats (bench.chats; default 16)"
    )
    parser.add_argument(
        "--set",
        choices=("both", "assistant", "chat"),
        default="both",
        help="which generated set to replay (default both)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--no-latency", action="store_true", help="skip the recall latency runs")
    parser.add_argument(
        "--recall-off",
        action="store_true",
        help="run the recall-off configurations only, even when the build has recall",
    )
    parser.add_argument(
        "--buffer-recall",
        action="store_true",
        help="also run buffer + recall (about four more minutes; the buffer sees every turn anyway)",
    )
    parser.add_argument("--json", type=Path, default=Path("bench/out/recall.json"))
    parser.add_argument("--plot", type=Path, default=Path("bench/recall.png"))
    args = parser.parse_args(argv)

    started = time.perf_counter()
    # Settings come from the configurations only: MEMORIA_* variables would change the presets.
    ignored = sorted(name for name in os.environ if name.startswith("MEMORIA_"))
    for name in ignored:
        del os.environ[name]

    conversations = []
    if args.set != "chat":
        conversations += make_conversations(args.conversations, args.turns, args.seed)
        validate(conversations)
    dataset = describe(conversations) if conversations else {}
    if args.set != "assistant":
        chats = make_chats(args.chats, args.turns)
        validate_chats(chats)
        conversations += chats
    dataset["sets"] = dict(Counter(c.set for c in conversations))
    dataset["languages"] = dict(Counter(c.language for c in conversations))
    dataset["questions"] = sum(len(c.questions) for c in conversations)
    has_setting, has_method = recall_setting_available(), recall_method_available()
    configs = configurations(
        with_recall=has_setting and not args.recall_off, buffer_recall=args.buffer_recall
    )

    notes = []
    if ignored:
        notes.append(f"ignored environment settings: {', '.join(ignored)}")
    if not has_setting:
        notes.append(
            "recall is not in this build (Context has no recall_tokens): "
            "ran the recall-off configurations only"
        )
    elif args.recall_off:
        notes.append("recall configurations left out (--recall-off)")
    elif not args.buffer_recall:
        notes.append(
            "buffer + recall left out (the buffer already has every turn in view); "
            "--buffer-recall adds it"
        )
    for cfg in configs:
        if cfg.recall and getattr(cfg.context(), "recall_budget", None) == 0:
            notes.append(
                f"{cfg.name}: the preset's default recall budget is 0, so recall stays off there"
            )
    measure_latency = has_method and not args.no_latency
    if args.no_latency:
        notes.append("recall latency: skipped (--no-latency)")
    elif not has_method:
        notes.append("recall latency: not measured, Memoria has no recall method in this build")

    with tempfile.TemporaryDirectory(prefix="memoria-recall-latency-") as latency_dir:
        jobs: list[tuple] = [("replay", c, cfg) for cfg in configs for c in conversations]
        if measure_latency:
            jobs.append(("grow", LATENCY_SIZES, args.seed, latency_dir))
        print(
            f"Replaying {len(conversations)} conversations ({dataset['sets']}) of "
            f"{args.turns} turns, {dataset['questions']} questions, through {len(configs)} "
            f"configurations{' and growing the latency thread' if measure_latency else ''} "
            f"on {args.processes} process(es)...",
            file=sys.stderr,
            flush=True,
        )
        finished = run_jobs(jobs, args.processes)
        replay_seconds = time.perf_counter() - started
        results = {
            (r["conversation"], r["configuration"]): r for r in finished if "conversation" in r
        }
        summary = summarise_results(conversations, configs, results)

        latency: dict[str, Any] | None = None
        latency_seconds = 0.0
        if measure_latency:
            t0 = time.perf_counter()
            growth = next(r for r in finished if r.get("label") == "latency thread")
            queries = list(dict.fromkeys(q.text for c in conversations for q in c.questions))
            latency = time_recall(latency_dir, LATENCY_SIZES, queries, LATENCY_CALLS)
            for size, row in latency.items():
                row["send_ms_while_growing"] = growth["send_ms"][size]
            latency_seconds = time.perf_counter() - t0 + growth["seconds"]
    total_seconds = time.perf_counter() - started

    print(
        f"\n## Recall benchmark: {len(conversations)} conversations "
        f"({', '.join(f'{n} {name}' for name, n in dataset['sets'].items())}; "
        f"{', '.join(f'{n} {lang}' for lang, n in dataset['languages'].items())}), "
        f"{args.turns} turns each, {dataset['questions']} questions\n"
    )
    for note in notes:
        print(f"Note: {note}.")
    if notes:
        print()
    print(tables(summary))
    print()
    print(quality_bar(summary))
    if latency is not None:
        print("\n### Recall latency (one thread, median of 50 different questions)\n")
        print(latency_table(latency))
    print(
        f"\nRun time: {total_seconds:.0f} s on {args.processes} process(es) (replays"
        f"{' and growing the latency thread' if latency else ''}: {replay_seconds:.0f} s)."
    )

    records = [
        {**r, "configuration": cfg.name}
        for cfg in configs
        for c in conversations
        for r in results[(c.id, cfg.name)]["questions"]
    ]
    report = {
        "dataset": {**dataset, "seed": args.seed},
        "recall_setting_available": has_setting,
        "recall_method_available": has_method,
        "notes": notes,
        "configurations": summary,
        "quality_bar": quality_bar(summary),
        "latency": latency,
        "run_seconds": {
            "total": round(total_seconds, 1),
            "replay_and_growth": round(replay_seconds, 1),
            "latency_thread_growth_and_timing": round(latency_seconds, 1),
            "processes": args.processes,
        },
        "questions": records,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    plot(summary, args.plot)
    print(f"\nplot: {args.plot}  data: {args.json}")


if __name__ == "__main__":
    main()
