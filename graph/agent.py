"""The library API that the CLI and backends share: one database, one configuration, many threads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from graph.context import Context
from graph.graph import build_graph
from graph.memory import flatten
from graph.nodes import Models, plan_turn
from graph.persistence import open_sqlite, resolve_db_path
from graph.prompts import build_prompt
from graph.state import State
from graph.transcript import read_transcript


class Memoria:
    """A Memoria agent over one SQLite database.

    >>> with Memoria(context=Context(model="echo")) as agent:
    ...     agent.send("demo", "Hola").content
    'Hola'
    """

    def __init__(
        self,
        *,
        db: str | os.PathLike[str] | None = None,
        context: Context | None = None,
        model: BaseChatModel | None = None,
        summary_model: BaseChatModel | None = None,
    ) -> None:
        self.context = context or Context()
        self.db_path = resolve_db_path(db)
        self._models = Models(chat=model, summary=summary_model)
        # Load the models now, so a bad spec or a missing key fails before any turn is typed.
        self._models.chat_model(self.context)
        self._models.summary_model(self.context)
        self._resources = ExitStack()
        self.checkpointer, self.store = self._resources.enter_context(open_sqlite(self.db_path))
        self.graph = build_graph(
            model, summary_model=summary_model, checkpointer=self.checkpointer, store=self.store
        )

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> Memoria:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def config(thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}}

    def send(self, thread_id: str, text: str) -> AIMessage:
        """Run one turn and return the reply."""
        result = self.graph.invoke(
            {"messages": [HumanMessage(text)]}, self.config(thread_id), context=self.context
        )
        return result["messages"][-1]

    def stream(self, thread_id: str, text: str) -> Iterator[str]:
        """Run one turn, yielding the reply's text as the model produces it."""
        for chunk, metadata in self.graph.stream(
            {"messages": [HumanMessage(text)]},
            self.config(thread_id),
            context=self.context,
            stream_mode="messages",
        ):
            is_reply = metadata.get("langgraph_node") == "model"
            if is_reply and isinstance(chunk, AIMessageChunk) and (piece := chunk.text):
                yield piece

    def state(self, thread_id: str) -> State:
        values = self.graph.get_state(self.config(thread_id)).values
        return State(**values) if values else State()

    def last_report(self, thread_id: str) -> dict[str, Any]:
        return dict(self.state(thread_id).report)

    def transcript(self, thread_id: str) -> list[BaseMessage]:
        """Every message of the thread, in order, including those trimmed or summarised."""
        return read_transcript(self.store, thread_id)

    def next_prompt(self, thread_id: str) -> list[BaseMessage]:
        """Exactly what the model would be sent next, before the next message is added."""
        state = self.state(thread_id)
        plan, completed = plan_turn(
            State(
                messages=[*state.messages, HumanMessage("")],
                summary=state.summary,
                token_scale=state.token_scale,
            ),
            self.context,
            self._models.chat_model(self.context),
        )
        kept = completed[plan.drop :]
        return build_prompt(self.context.system_prompt, state.summary, flatten(kept))
