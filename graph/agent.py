"""The library API that the CLI and backends share: one database, one configuration, many threads."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from graph.context import Context
from graph.graph import build_graph
from graph.legacy import load_legacy_memory
from graph.memory import flatten, group_turns
from graph.models import ModelSpecError
from graph.nodes import Models, plan_turn
from graph.persistence import open_database
from graph.prompts import build_prompt
from graph.state import State
from graph.threads import MEMORY_FIELDS, ThreadExport, ThreadInfo
from graph.transcript import (
    archive_turn,
    delete_transcript,
    read_turns,
    transcript_namespace,
    turn_key,
)

THREAD_ID = re.compile(r"[\w.:@-]{1,128}")
TITLE_LENGTH = 60


class ThreadNotFoundError(LookupError):
    pass


class ThreadExistsError(ValueError):
    pass


def validate_thread_id(thread_id: str) -> str:
    if not THREAD_ID.fullmatch(thread_id):
        raise ValueError(f"invalid thread id {thread_id!r}: use 1-128 letters, digits or . _ - : @")
    return thread_id


def reply_piece(chunk: Any, metadata: dict[str, Any]) -> str:
    """The reply text in a `stream_mode="messages"` event ("" for summaries and other nodes)."""
    if metadata.get("langgraph_node") == "model" and isinstance(chunk, AIMessageChunk):
        return chunk.text
    return ""


async def astream_reply(
    graph: CompiledStateGraph,
    thread_id: str,
    text: str,
    *,
    context: Context | None = None,
) -> AsyncIterator[str]:
    """Run one turn of `graph` on a thread and yield the reply token by token (async).

    Works with any async checkpointer, e.g. `AsyncSqliteSaver` or `AsyncPostgresSaver`:

        async with AsyncSqliteSaver.from_conn_string("chat.sqlite") as saver:
            graph = build_graph(checkpointer=saver)
            async for piece in astream_reply(graph, "juan", "Hola", context=Context(model="echo")):
                print(piece, end="")
    """
    async for chunk, metadata in graph.astream(
        {"messages": [HumanMessage(text)]},
        {"configurable": {"thread_id": validate_thread_id(thread_id)}},
        context=context or Context(),
        stream_mode="messages",
    ):
        if piece := reply_piece(chunk, metadata):
            yield piece


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
        load_models: bool = True,
    ) -> None:
        self.context = context or Context()
        self._models = Models(chat=model, summary=summary_model)
        if load_models:
            self.load_models()
        self._resources = ExitStack()
        self.database = self._resources.enter_context(open_database(db))
        self.checkpointer, self.store = self.database.checkpointer, self.database.store
        self.db_path = self.database.location
        self.graph = build_graph(
            model, summary_model=summary_model, checkpointer=self.checkpointer, store=self.store
        )

    def load_models(self) -> None:
        """Load the context's models now, so that a bad spec or a missing key fails before any
        turn is typed. Thread administration skips it: it needs no model."""
        self._models.chat_model(self.context)
        self._models.summary_model(self.context)

    def resume(self, thread_id: str, **overrides: Any) -> None:
        """Take the settings `thread_id` last ran with, with `overrides` (explicit options) on top."""
        if saved := self.state(thread_id).settings:
            self.context = Context.from_settings(saved, **overrides)

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> Memoria:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def config(thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": validate_thread_id(thread_id)}}

    # Turns

    def send(self, thread_id: str, text: str) -> AIMessage:
        """Run one turn and return the reply."""
        with self._turn(thread_id) as config:
            result = self.graph.invoke(
                {"messages": [HumanMessage(text)]},
                config,
                context=self.context,
                durability="exit",
            )
        return result["messages"][-1]

    def stream(self, thread_id: str, text: str) -> Iterator[str]:
        """Run one turn, yielding the reply's text as the model produces it."""
        with self._turn(thread_id) as config:
            for chunk, metadata in self.graph.stream(
                {"messages": [HumanMessage(text)]},
                config,
                context=self.context,
                stream_mode="messages",
                durability="exit",
            ):
                if piece := reply_piece(chunk, metadata):
                    yield piece

    @contextmanager
    def _turn(self, thread_id: str) -> Iterator[RunnableConfig]:
        """A turn either completes or leaves the thread exactly as it was (error, Ctrl-C)."""
        config = self.config(thread_id)
        with self.database.locks.hold(thread_id):
            before = self.checkpointer.get_tuple(config)
            try:
                yield config
            except BaseException:
                before_id = before.config["configurable"]["checkpoint_id"] if before else None
                self.checkpointer.discard_after(config, before_id)
                turns = before.checkpoint["channel_values"].get("turns", 0) if before else 0
                self.store.delete(transcript_namespace(thread_id), turn_key(turns))
                raise
            self.database.turn_committed(thread_id)

    # Reading a thread

    def exists(self, thread_id: str) -> bool:
        return self.checkpointer.get_tuple(self.config(thread_id)) is not None

    def state(self, thread_id: str) -> State:
        values = self.graph.get_state(self.config(thread_id)).values
        return State(**values) if values else State()

    def transcript(self, thread_id: str) -> list[BaseMessage]:
        """Every message of the thread, in order, including those trimmed or summarised."""
        return flatten(read_turns(self.store, thread_id, self.state(thread_id).turns))

    def next_prompt(self, thread_id: str) -> list[BaseMessage]:
        """What the model will be sent next: system prompt, summary and the turns it will keep.

        If the next message pushes a summarising preset over its limit, older turns are folded first.
        """
        state = self.state(thread_id)
        context = Context.from_settings(state.settings) if state.settings else self.context
        pending = State(
            messages=[*state.messages, HumanMessage("")],
            summary=state.summary,
            token_scale=state.token_scale,
        )
        try:
            model: Any = self._models.chat_model(context)
        except ModelSpecError:
            model = None  # e.g. no key here: the calibrated estimate is close enough to plan with
        plan, completed = plan_turn(pending, context, model)
        return build_prompt(context.system_prompt, state.summary, flatten(completed[plan.drop :]))

    # Administration

    def threads(self) -> list[ThreadInfo]:
        """Every thread, most recently updated first."""
        infos = [self._thread_info(thread_id) for thread_id in self.database.thread_ids()]
        return sorted(infos, key=lambda info: info.updated_at, reverse=True)

    def _thread_info(self, thread_id: str) -> ThreadInfo:
        saved = self.checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
        first = self.store.get(transcript_namespace(thread_id), turn_key(0))
        title = ""
        if first is not None:
            title = " ".join(str(first.value["messages"][0].get("content", "")).split())
        return ThreadInfo(
            thread_id=thread_id,
            title=title[:TITLE_LENGTH] + ("…" if len(title) > TITLE_LENGTH else ""),
            turns=saved.checkpoint["channel_values"].get("turns", 0) if saved else 0,
            updated_at=saved.checkpoint["ts"] if saved else "",
            size_bytes=self.database.thread_bytes(thread_id),
        )

    def latest_thread(self) -> str | None:
        threads = self.threads()
        return threads[0].thread_id if threads else None

    def export_thread(self, thread_id: str) -> ThreadExport:
        if not self.exists(thread_id):
            raise ThreadNotFoundError(f"no thread {thread_id!r} in {self.db_path}")
        state = self.state(thread_id)
        memory: dict[str, Any] = {key: getattr(state, key) for key in MEMORY_FIELDS}
        memory["messages"] = list(state.messages)
        return ThreadExport(thread_id, read_turns(self.store, thread_id, state.turns), memory)

    def import_thread(self, export: ThreadExport, thread_id: str | None = None) -> str:
        """Write an exported thread under `thread_id` (default: its own id), which must be new."""
        thread_id = validate_thread_id(thread_id or export.thread_id)
        if self.exists(thread_id):
            raise ThreadExistsError(
                f"thread {thread_id!r} already exists in {self.db_path}; import under a new --thread"
            )
        for index, turn in enumerate(export.turns):
            archive_turn(self.store, thread_id, index, turn)
        values = {key: export.memory[key] for key in MEMORY_FIELDS if key in export.memory}
        values["messages"] = export.memory.get("messages", [])
        self.graph.update_state(self.config(thread_id), values, as_node="model")
        return thread_id

    def import_legacy_pickle(self, data: bytes, thread_id: str) -> str:
        """Import a LangChain memory pickle (read through an allow-list, never `pickle.load`)."""
        messages, summary = load_legacy_memory(data)
        turns = group_turns(messages)
        memory = {"summary": summary, "turns": len(turns), "messages": messages}
        return self.import_thread(ThreadExport(thread_id, turns, memory), thread_id)

    def delete_thread(self, thread_id: str) -> None:
        """Delete the thread's checkpoints and transcript, and give the space back to the file."""
        if not self.exists(thread_id):
            raise ThreadNotFoundError(f"no thread {thread_id!r} in {self.db_path}")
        self.checkpointer.delete_thread(thread_id)
        delete_transcript(self.store, thread_id)
        self.database.reclaim()
