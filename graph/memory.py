"""Pure memory logic: turns, memory policies and the plan of what to trim or fold.

Nothing here does I/O or calls a model, so every rule of the memory can be unit-tested on plain lists.
A *turn* is one human message and everything that answers it (AI messages, tool calls and their
results). Trimming and summarising only ever move whole turns, which is what keeps a tool call and its
result together and stops the model's input from starting with an orphan tool result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from memoria.presets import PRESETS, Preset

Turn = list[BaseMessage]


def group_turns(messages: Sequence[BaseMessage]) -> list[Turn]:
    """Split messages into turns: a HumanMessage opens a new turn once the previous one has an answer.

    A human message that never got a reply (a failed model call in a graph used without Memoria's
    rollback) therefore joins the next turn, which answers both. Messages before the first human
    message (possible only in a state edited by hand) form a turn of their own, so they are still
    moved as one block and never glued to a later human message.
    """
    turns: list[Turn] = []
    for message in messages:
        answered = bool(turns) and not all(isinstance(m, HumanMessage) for m in turns[-1])
        if not turns or (isinstance(message, HumanMessage) and answered):
            turns.append([message])
        else:
            turns[-1].append(message)
    return turns


def flatten(turns: Sequence[Turn]) -> list[BaseMessage]:
    return [message for turn in turns for message in turn]


def split_current(turns: Sequence[Turn]) -> tuple[list[Turn], Turn]:
    """Return (completed turns, current turn). The current turn is the last one: the one being answered."""
    if not turns:
        return [], []
    return list(turns[:-1]), list(turns[-1])


def unfinished_loop(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """What a tool loop that never got its final reply left behind (a failure in a graph run
    without Memoria's rollback): the calls and results of the last completed turn, when it does
    not end with an answer. Taking them out lets its human message join the next turn, which
    answers both, as after any failed call."""
    completed, _ = split_current(group_turns(messages))
    if not completed:
        return []
    last = completed[-1][-1]
    if isinstance(last, AIMessage) and not last.tool_calls:
        return []
    return [m for m in completed[-1] if not isinstance(m, HumanMessage)]


def drop_orphans(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """Remove tool results whose call is not in `messages`, and tool calls left without a result.

    Whole-turn trimming never creates either; this guards the model's input against a state that was
    edited from outside (Studio, `update_state`), since providers reject both shapes.
    """
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    called: set[str] = set()
    cleaned: list[BaseMessage] = []
    for index, message in enumerate(messages):
        if isinstance(message, ToolMessage):
            if message.tool_call_id in called:
                cleaned.append(message)
            continue
        if isinstance(message, AIMessage) and (message.tool_calls or message.invalid_tool_calls):
            is_last = index == len(messages) - 1
            if not is_last and not all(call["id"] in answered for call in message.tool_calls):
                message = message.model_copy(update={"tool_calls": []})
            # Providers send a malformed call as a call: without its result, they refuse it.
            unanswered = [c for c in message.invalid_tool_calls if c.get("id") not in answered]
            if unanswered:
                kept = [c for c in message.invalid_tool_calls if c not in unanswered]
                message = message.model_copy(update={"invalid_tool_calls": kept})
            if not message.content and not message.tool_calls and not message.invalid_tool_calls:
                continue
            called.update(call["id"] or "" for call in message.tool_calls)
            called.update(call.get("id") or "" for call in message.invalid_tool_calls)
        cleaned.append(message)
    return cleaned


@dataclass(frozen=True)
class MemoryPolicy:
    """The memory settings of one preset, already validated.

    `high` is the token count above which summarising fires, `low` the count it brings the context
    under (hysteresis: between the two marks nothing is folded, so summaries are batched).
    """

    preset: Preset = "hybrid"
    k: int = 5
    high: int = 2000
    low: int = 1000
    summary_cap: int = 300
    recall_tokens: int = 0
    """Part of `high` (and `low`) reserved for recalled excerpts."""

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(
                f"unknown memory preset {self.preset!r}; choose one of {', '.join(PRESETS)}"
            )
        if self.k < 0:
            raise ValueError(f"k must be 0 or more, not {self.k}")
        if self.high <= 0:
            raise ValueError(f"the token limit must be positive, not {self.high}")
        if not 0 < self.low <= self.high:
            raise ValueError(
                f"the target must be between 1 and the token limit ({self.high}), not {self.low}"
            )
        if self.summary_cap <= 0:
            raise ValueError(f"the summary cap must be positive, not {self.summary_cap}")
        if not 0 <= self.recall_tokens < self.high:
            raise ValueError(
                f"the recall budget must be 0 or more and below the token limit ({self.high}), "
                f"not {self.recall_tokens}"
            )

    @property
    def effective_summary_cap(self) -> int:
        """The summary may use at most half of what the low mark leaves beside the recall budget,
        so folding can always reach it."""
        if self.preset == "summary":
            return self.summary_cap
        return max(16, min(self.summary_cap, (self.low - self.recall_tokens) // 2))


@dataclass(frozen=True)
class MemoryPlan:
    """What to do with the oldest completed turns before the model is called."""

    drop: int = 0
    """Turns discarded without a summary (only the `window` preset does this, by design)."""
    fold: int = 0
    """Turns folded into the running summary, then removed from the model's view."""
    context_tokens: int = 0
    """Estimated tokens of the context as it stands, before dropping or folding."""


def plan_memory(
    completed_turn_tokens: Sequence[int],
    *,
    fixed_tokens: int,
    summary_tokens: int,
    policy: MemoryPolicy,
) -> MemoryPlan:
    """Decide how many of the oldest completed turns to drop or fold.

    `completed_turn_tokens` are the token counts of the completed turns, oldest first; `fixed_tokens`
    covers what can never be folded (system prompt and the current turn); `summary_tokens` the running
    summary as it stands. The policy's recall budget is reserved on top of these, so that the
    prompt with whatever is recalled after the fold stays under the high mark.
    """
    count = len(completed_turn_tokens)
    reserve = policy.recall_tokens
    total = fixed_tokens + summary_tokens + sum(completed_turn_tokens)
    preset = policy.preset
    if preset == "buffer":
        return MemoryPlan(context_tokens=total)
    if preset == "window":
        return MemoryPlan(drop=max(0, count - policy.k), context_tokens=total)
    if preset == "summary":
        return MemoryPlan(fold=count, context_tokens=total)
    if total + reserve <= policy.high:
        return MemoryPlan(context_tokens=total)
    # Above the high mark: fold oldest turns until the rest, with a summary at its cap, fits the low
    # mark; `hybrid` also keeps at most k turns verbatim.
    budget = policy.low - reserve - fixed_tokens - max(summary_tokens, policy.effective_summary_cap)
    kept = sum(completed_turn_tokens)
    fold = 0
    while fold < count and (kept > budget or (preset == "hybrid" and count - fold > policy.k)):
        kept -= completed_turn_tokens[fold]
        fold += 1
    return MemoryPlan(fold=fold, context_tokens=total)
