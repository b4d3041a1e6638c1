"""Wiring: START -> trim -> [summarise ->] model -> END.

`graph` is the module-level compiled graph that `langgraph.json` points at (the LangGraph server brings
its own checkpointer and store); `build_graph` makes one for embedding, with your own models,
checkpointer and store.
"""

from __future__ import annotations

from functools import partial

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore

from graph.context import Context
from graph.models import load_chat_model
from graph.nodes import Models, call_model, route_after_trim, summarise, trim
from graph.state import InputState, State


def build_graph(
    model: BaseChatModel | str | None = None,
    *,
    summary_model: BaseChatModel | str | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    store: BaseStore | None = None,
    name: str = "memoria",
) -> CompiledStateGraph:
    """Compile the memory graph.

    `model` and `summary_model` (a chat model or a spec string) take precedence over the run's
    `Context`; left as None, the models are read from the context at run time. Memory settings are
    always the run's: pass `context=Context(memory="window", k=2)` to `invoke`/`stream`.
    """
    models = Models(chat=_resolve(model), summary=_resolve(summary_model))
    builder = StateGraph(State, input_schema=InputState, context_schema=Context)
    builder.add_node("trim", partial(trim, models=models))
    builder.add_node("summarise", partial(summarise, models=models))
    builder.add_node("model", partial(call_model, models=models))
    builder.add_edge(START, "trim")
    builder.add_conditional_edges("trim", route_after_trim, ["summarise", "model"])
    builder.add_edge("summarise", "model")
    builder.add_edge("model", END)
    return builder.compile(checkpointer=checkpointer, store=store, name=name)


def _resolve(model: BaseChatModel | str | None) -> BaseChatModel | None:
    return load_chat_model(model) if isinstance(model, str) else model


graph = build_graph()
