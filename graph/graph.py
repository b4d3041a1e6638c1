"""Wiring: START -> trim -> [summarise ->] recall -> model -> [tools -> model ...] -> END.

`graph` is the module-level compiled graph that `langgraph.json` points at (the LangGraph server brings
its own checkpointer and store; the transcript lives in that store); `build_graph` makes one for
embedding, with your own models, summariser, tools, checkpointer and store or transcript.
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
from memoria.nodes import (
    Parts,
    call_model,
    recall,
    route_after_model,
    route_after_trim,
    summarise,
    trim,
)
from memoria.state import InputState, State
from memoria.summaries import ExtractiveSummariser, ModelSummariser, Summariser
from memoria.tools import ToolLike, as_tools, redacting, tool_error_text
from memoria.transcript import Transcript

MemoryGraph = CompiledStateGraph[State, Context, Any, Any]
"""The compiled graph (its input is a dict of messages, or an `InputState`)."""

RECURSION_LIMIT = 2 * MAX_TOOL_ROUNDS + 8
"""Graph steps a turn may take: trim, summarise and recall, then a model and a tools step per
round. The bound a turn really has is `Context.max_tool_rounds`, which ends it with a clear error."""


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
    parts = Parts(
        chat=_model(model),
        summariser=_summariser(summary_model),
        transcript=transcript,
        tools=tuple(as_tools(tools)),
    ).with_memory_tool()
    assert parts.memory_tool is not None
    builder = StateGraph(State, input_schema=InputState, context_schema=Context)
    builder.add_node("trim", partial(trim, parts=parts))
    builder.add_node("summarise", partial(summarise, parts=parts))
    builder.add_node("recall", partial(recall, parts=parts))
    builder.add_node("model", partial(call_model, parts=parts))
    builder.add_node(
        "tools",
        ToolNode(
            [*parts.tools, parts.memory_tool],
            handle_tool_errors=tool_error_text,
            wrap_tool_call=redacting,
        ),
    )
    builder.add_edge(START, "trim")
    builder.add_conditional_edges("trim", route_after_trim, ["summarise", "recall"])
    builder.add_edge("summarise", "recall")
    builder.add_edge("recall", "model")
    builder.add_conditional_edges("model", route_after_model, ["tools", "model", END])
    builder.add_edge("tools", "model")
    compiled = builder.compile(checkpointer=checkpointer, store=store, name=name)
    return compiled.with_config(recursion_limit=RECURSION_LIMIT)


def _model(model: BaseChatModel | str | None) -> BaseChatModel | None:
    from memoria.models import load_chat_model

    return load_chat_model(model) if isinstance(model, str) else model


def _summariser(summary_model: BaseChatModel | str | Summariser | None) -> Summariser | None:
    if summary_model is None or isinstance(summary_model, Summariser):
        return summary_model
    if summary_model == "extractive":
        return ExtractiveSummariser()
    chat = _model(summary_model)
    return ModelSummariser(chat) if chat is not None else None


graph = build_graph()
