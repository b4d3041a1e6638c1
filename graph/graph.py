"""Wiring: START -> trim -> [summarise ->] recall -> model -> END.

`graph` is the module-level compiled graph that `langgraph.json` points at (the LangGraph server brings
its own checkpointer and store; the transcript lives in that store); `build_graph` makes one for
embedding, with your own models, summariser, checkpointer and store or transcript.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore

from memoria.context import Context
from memoria.nodes import Parts, call_model, recall, route_after_trim, summarise, trim
from memoria.state import InputState, State
from memoria.summaries import ExtractiveSummariser, ModelSummariser, Summariser
from memoria.transcript import Transcript

MemoryGraph = CompiledStateGraph[State, Context, Any, Any]
"""The compiled graph (its input is a dict of messages, or an `InputState`)."""


def build_graph(
    model: BaseChatModel | str | None = None,
    *,
    summary_model: BaseChatModel | str | Summariser | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    store: BaseStore | None = None,
    transcript: Transcript | None = None,
    name: str = "memoria",
) -> MemoryGraph:
    """Compile the memory graph.

    `model` and `summary_model` (a chat model, a spec string, or for summaries any `Summariser`)
    take precedence over the run's `Context`; left as None, they are read from the context at run
    time. Memory settings are always the run's: pass `context=Context(memory="window", k=2)` to
    `invoke`/`stream`. Turns are archived in `transcript` if given (Memoria's databases), else in
    `store` (any LangGraph store), else not at all, and then nothing can be recalled.
    """
    parts = Parts(
        chat=_model(model),
        summariser=_summariser(summary_model),
        transcript=transcript,
    )
    builder = StateGraph(State, input_schema=InputState, context_schema=Context)
    builder.add_node("trim", partial(trim, parts=parts))
    builder.add_node("summarise", partial(summarise, parts=parts))
    builder.add_node("recall", partial(recall, parts=parts))
    builder.add_node("model", partial(call_model, parts=parts))
    builder.add_edge(START, "trim")
    builder.add_conditional_edges("trim", route_after_trim, ["summarise", "recall"])
    builder.add_edge("summarise", "recall")
    builder.add_edge("recall", "model")
    builder.add_edge("model", END)
    return builder.compile(checkpointer=checkpointer, store=store, name=name)


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
