"""Wiring: START -> trim -> [summarise ->] recall -> model -> [tools -> model ...] -> archive.

`build_graph` makes the graph for embedding, with your own models, summariser, tools, checkpointer
and store or transcript; `memoria.studio` holds the one `langgraph.json` serves. The graph takes
new messages (`InputState`) and returns the thread's memory (`OutputState`); its internal channels
stay in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.store.base import BaseStore

from memoria.context import MAX_TOOL_ROUNDS, Context
from memoria.fence import failing_ends_writes
from memoria.nodes import (
    archive,
    call_model,
    recall,
    route_after_model,
    route_after_trim,
    summarise,
    trim,
)
from memoria.parts import Parts
from memoria.state import InputState, OutputState, State
from memoria.summaries import Summariser
from memoria.tools import ToolLike, as_tools, redacting, tool_error_text
from memoria.transcript import Transcript

MemoryGraph = CompiledStateGraph[State, Context, Any, Any]
"""The compiled graph (its input is a dict of messages, or an `InputState`)."""

RECURSION_LIMIT = 2 * MAX_TOOL_ROUNDS + 8
"""Graph steps a turn may take: trim, summarise and recall, then a model and a tools step per
round, then archive. The bound a turn really has is `Context.max_tool_rounds`, which ends it with
a clear error."""


def build_graph(
    model: BaseChatModel | str | None = None,
    *,
    tools: Sequence[ToolLike] = (),
    summary_model: BaseChatModel | str | Summariser | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    store: BaseStore | None = None,
    transcript: Transcript | None = None,
    name: str = "memoria",
) -> MemoryGraph:
    """Compile the memory graph.

    `model` and `summary_model` (a chat model, a spec string, or for summaries any `Summariser`)
    take precedence over the run's `Context`; left as None, they are read from the context at run
    time. `tools` (LangChain tools or plain functions) are bound to the model every turn, beside
    the built-in `search_conversation` memory tool (see `Context.memory_tool`). Memory settings are
    always the run's: pass `context=Context(memory="window", k=2)` to `invoke`/`stream`. Turns are
    archived in `transcript` if given (Memoria's databases), else in `store` (any LangGraph
    store), else not at all, and then nothing can be recalled.
    """
    parts = Parts.fixed(model, summary_model, tools=as_tools(tools), transcript=transcript)
    return compile_graph(parts, checkpointer=checkpointer, store=store, name=name)


def compile_graph(
    parts: Parts,
    *,
    checkpointer: BaseCheckpointSaver | None = None,
    store: BaseStore | None = None,
    name: str = "memoria",
) -> MemoryGraph:
    """The graph over `parts` (what `build_graph` and `Memoria` fixed)."""
    parts = parts.with_memory_tool()
    assert parts.memory_tool is not None
    builder = StateGraph(
        State, input_schema=InputState, output_schema=OutputState, context_schema=Context
    )
    builder.add_node("trim", failing_ends_writes(partial(trim, parts=parts)))
    builder.add_node("summarise", failing_ends_writes(partial(summarise, parts=parts)))
    builder.add_node("recall", failing_ends_writes(partial(recall, parts=parts)))
    builder.add_node("model", failing_ends_writes(partial(call_model, parts=parts)))
    builder.add_node(
        "tools",
        ToolNode(
            [*parts.tools, parts.memory_tool],
            handle_tool_errors=tool_error_text,
            wrap_tool_call=redacting,
        ),
    )
    builder.add_node("archive", failing_ends_writes(partial(archive, parts=parts)))
    builder.add_edge(START, "trim")
    builder.add_conditional_edges("trim", route_after_trim, ["summarise", "recall"])
    builder.add_edge("summarise", "recall")
    builder.add_edge("recall", "model")
    builder.add_conditional_edges("model", route_after_model, ["tools", "model", "archive"])
    builder.add_edge("tools", "model")
    builder.add_edge("archive", END)
    compiled = builder.compile(checkpointer=checkpointer, store=store, name=name)
    return compiled.with_config(recursion_limit=RECURSION_LIMIT)
