"""What the next turn would send: the graph run up to the model on a scratch copy of a thread.

`Memoria.next_prompt` and `Memoria.recall` show exactly what the model would receive and which
earlier turns would come back, without touching the thread: the thread's state is copied into an
in-memory checkpointer and the graph stops before its `model` node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from memoria.context import Context
from memoria.graph import MemoryGraph
from memoria.state import State

PREVIEW_SKIPS = ("report",)
"""Channels the preview starts without: the report is the new turn's own."""


def preview_turn(
    build: Callable[[Any], MemoryGraph],
    thread_id: str,
    current: State | None,
    context: Context,
    text: str,
) -> State:
    """The state `text` would reach the model with, on a copy of `current` (None: a new
    thread), run by a graph `build` makes over a scratch checkpointer."""
    scratch = build(InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    if current is not None:
        values = {
            name: getattr(current, name)
            for name in State.__dataclass_fields__
            if name not in PREVIEW_SKIPS
        }
        scratch.update_state(config, values, as_node="archive")
    scratch.invoke(
        {"messages": [HumanMessage(text)]},
        config,
        context=context,
        interrupt_before=["model"],
    )
    return State(**scratch.get_state(config).values)
