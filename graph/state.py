"""The graph's state: what a thread remembers between turns.

The state holds the model's working memory only: the running summary and the turns not yet folded
into it. It never holds the whole transcript, so a checkpoint stays the same size however long the
thread grows; every completed turn is archived separately (see `memoria.transcript`), and the
`recall` node brings back, each turn, the archived turns that bear on the new message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages


def merge_report(current: dict[str, Any] | None, update: dict[str, Any]) -> dict[str, Any]:
    """Nodes report what they did this turn key by key; `trim`, the first, starts it afresh."""
    if update.get("turn_started"):
        return dict(update)
    return {**(current or {}), **update}


@dataclass(kw_only=True)
class InputState:
    """What a caller sends: the new human message (or messages)."""

    messages: Annotated[Sequence[AnyMessage], add_messages] = field(default_factory=list)
    """Turns the model still sees verbatim; the new message is appended by `add_messages`."""


@dataclass(kw_only=True)
class OutputState(InputState):
    """What a run returns to its caller: the thread's memory, without the channels the nodes use
    among themselves (`fold_due`, `recalled`, `settings`, `report`), which stay in the checkpoint
    (`graph.get_state`)."""

    summary: str = ""
    """Running summary of every turn folded out of `messages`, in the conversation's language."""

    turns: int = 0
    """Completed turns in the thread, including those since trimmed or folded."""

    summarised_turns: int = 0
    """How many of those turns live only in the summary (and the transcript)."""

    summary_error: str = ""
    """Why the last summary attempt failed; empty once one succeeds. The turns stay verbatim."""

    summary_failures: int = 0
    """Summary attempts that failed in a row; the next turn retries."""

    token_scale: float = 1.0
    """Calibration of the token estimate: provider-reported prompt tokens / our estimate."""

    language: str = ""
    """The thread's language for search ("en", "es"): the setting, or detected from its first turn."""


@dataclass(kw_only=True)
class State(OutputState):
    """Every channel of the graph: the memory and the nodes' working channels."""

    fold_due: int = 0
    """Oldest completed turns `trim` has handed to `summarise` this turn."""

    recalled: list[dict[str, Any]] = field(default_factory=list)
    """Earlier turns recalled for the current turn: `turn` (from 0), `score`, `created_at`, `text`
    (what the model sees) and `tokens`. Replaced every turn."""

    settings: dict[str, Any] = field(default_factory=dict)
    """The `Context` of the thread's last turn (model specs, preset, limits, system prompt; never a
    key), so that a resumed thread keeps its settings and its next prompt can be shown exactly."""

    report: Annotated[dict[str, Any], merge_report] = field(default_factory=dict)
    """What the memory did this turn (trimmed, folded, token counts, usage): for verbose output."""
