"""The library API that the CLI and backends share: one database, one configuration, many threads.

    from memoria import Memoria, Context

    with Memoria(db="chat.sqlite", context=Context(memory="hybrid")) as agent:
        for piece in agent.stream("juan", "Hola, soy Juan"):
            print(piece, end="", flush=True)

A turn either completes or leaves the thread exactly as it was. Each turn runs the graph on a worker
thread while the caller reads its reply, so a turn can be cancelled at once from any thread (Ctrl-C,
a client that hangs up): the thread is rolled back and released immediately, and whatever the
abandoned model call returns later is fenced off from the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import threading
import unicodedata
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver

from memoria.context import Context
from memoria.errors import (
    StreamRedactor,
    ThreadBusyError,
    TurnSavedError,
    TurnUndoError,
    describe_error,
)
from memoria.events import ToolCall, ToolResult, TurnEvent, tool_events
from memoria.fence import FENCE_KEY, Fence, TurnCancelled
from memoria.graph import MemoryGraph, build_graph
from memoria.legacy import load_legacy_memory
from memoria.memory import flatten, group_turns
from memoria.persistence import DEFAULT_LOCK_TIMEOUT, ThreadRecord, open_database
from memoria.persistence.catalog import ThreadInfo
from memoria.prompts import build_prompt
from memoria.recall import Recalled
from memoria.state import State
from memoria.summaries import Summariser
from memoria.threads import ThreadExport, vet_settings
from memoria.tokens import TokenCounter
from memoria.tools import ToolInterruptError, ToolLike, as_tools
from memoria.transcript import ArchivedTurn, SearchHit, now_iso

MAX_THREAD_ID = 128
POLL_SECONDS = 0.1
ASYNC_POLL_SECONDS = 0.02
MEMORY_FIELDS = (
    "summary",
    "turns",
    "summarised_turns",
    "token_scale",
    "summary_error",
    "summary_failures",
    "language",
)


class ThreadNotFoundError(LookupError):
    pass


class ThreadExistsError(ValueError):
    pass


def validate_thread_id(thread_id: str) -> str:
    """The thread id in NFKC form; refuse control, invisible and mixed-script ids."""
    from memoria.ids import check_thread_id

    return check_thread_id(thread_id, MAX_THREAD_ID)


def reply_piece(chunk: Any, metadata: Any) -> str:
    """The reply text in a `stream_mode="messages"` event ("" for summaries and other nodes). A
    model that does not stream sends its whole reply as one message, once."""
    if metadata.get("langgraph_node") == "model" and isinstance(chunk, AIMessage):
        return str(chunk.text)
    return ""


async def astream_reply(
    graph: MemoryGraph,
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


class _QuietCancellations(logging.Filter):
    """LangChain logs every exception raised by a callback; a cancelled turn's is expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "TurnCancelled" not in record.getMessage()


logging.getLogger("langchain_core.callbacks.manager").addFilter(_QuietCancellations())


class _StopOnCancel(BaseCallbackHandler):
    """Once the turn is cancelled, stops a streaming model call at its next token, and a tool
    loop before its next model call or tool: an abandoned turn does nothing more."""

    raise_error = True

    def __init__(self, fence: Fence) -> None:
        self.fence = fence

    def _stop_if_cancelled(self) -> None:
        if self.fence.cancelled:
            raise TurnCancelled("the turn was cancelled")

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self._stop_if_cancelled()

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self._stop_if_cancelled()

    def on_tool_start(self, serialized: Any, input_str: str, **kwargs: Any) -> None:
        self._stop_if_cancelled()


class Turn:
    """One running turn. Iterate it for the reply's text as the model produces it (`events()` adds
    each tool call and result); `cancel()` (from any thread) ends it at once with the thread as it
    was; `interrupt()` (from a signal handler) has its reader do so; `reply` is the whole reply,
    `tool_calls` the calls the model made, each with its result."""

    def __init__(
        self, agent: Memoria, thread_id: str, text: str, *, streaming: bool = True
    ) -> None:
        self.agent = agent
        self.thread_id = thread_id
        self.streaming = streaming
        self.reply: AIMessage | None = None
        self.tool_calls: list[tuple[ToolCall, ToolResult | None]] = []
        self.fence = Fence()
        # A SimpleQueue, because `interrupt` puts into it from a signal handler: its `put` is
        # reentrant, where Queue's would deadlock on its own lock.
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._interrupted = False
        self._config: RunnableConfig = {
            "configurable": {"thread_id": thread_id, FENCE_KEY: self.fence},
            "callbacks": [_StopOnCancel(self.fence)],
        }
        self._held = agent._holding(thread_id)
        try:
            self._before = agent._finish_undoing(thread_id)
            worker = threading.Thread(
                target=self._run, args=(text,), name=f"memoria-turn-{thread_id}", daemon=True
            )
            worker.start()
        except BaseException:
            self._held.close()
            raise

    def _run(self, text: str) -> None:
        # Ctrl-C belongs to the thread that reads the reply: blocked here (and so in the threads
        # LangGraph starts from here), the kernel delivers it to the main thread, where it can
        # wake a prompt and where a rollback can hold it off.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        redactor = StreamRedactor()  # the stored reply is redacted too (`nodes.without_secrets`)
        try:
            for mode, event in self.agent.graph.stream(
                {"messages": [HumanMessage(text)]},
                self._config,
                context=self.agent.context,
                # Token events cost a little each; a caller who wants only the reply skips them.
                stream_mode=["messages", "updates"] if self.streaming else ["updates"],
                durability="exit",
            ):
                if mode == "messages":
                    chunk, metadata = cast(tuple[Any, dict[str, Any]], event)
                    if (piece := reply_piece(chunk, metadata)) and (shown := redactor.feed(piece)):
                        self._events.put(("piece", shown))
                elif isinstance(event, dict):
                    if "__interrupt__" in event:
                        raise ToolInterruptError(
                            "a tool asked for human input (a LangGraph interrupt), which a "
                            "Memoria turn cannot wait for; the turn was rolled back"
                        )
                    if "model" in event:
                        self.reply = next(
                            m
                            for m in reversed(event["model"]["messages"])
                            if isinstance(m, AIMessage)
                        )
                    for tool_event in tool_events(event):
                        if rest := redactor.flush():  # the text before the call, whole
                            self._events.put(("piece", rest))
                        self._record(tool_event)
                        self._events.put(("piece", tool_event))
            if rest := redactor.flush():
                self._events.put(("piece", rest))
        except BaseException as exc:
            self._events.put(("error", self._undo(exc)))
            return
        self._events.put(self._commit())

    def _undo(self, error: BaseException) -> BaseException:
        """Roll a failed turn back (unless it was cancelled, which rolled it back already);
        the error its reader gets, which says so if undoing it failed too. Never raises: the
        reader must hear of the turn's end whatever happens here."""
        with self.fence.lock:
            if self.fence.cancelled or self.fence.ended:
                return error
            self.fence.ended = True
            try:
                self._rollback()
            except Exception as undo_error:
                return TurnUndoError(
                    f"{describe_error(error)}; undoing the turn failed too "
                    f"({describe_error(undo_error)}): the thread's next turn finishes undoing it"
                )
            finally:
                self._held.close()
        return error

    def _commit(self) -> tuple[str, Any]:
        """The turn's end once it is saved: prune the thread to its newest checkpoint. If that
        fails (a full disk), the turn is kept and the reader is told so. Never raises."""
        with self.fence.lock:
            if self.fence.cancelled or self.fence.ended:
                return ("done", None)
            self.fence.ended = True
            try:
                self.agent.database.turn_committed(self.thread_id)
            except Exception as exc:
                saved = TurnSavedError(
                    f"the turn was saved, but tidying up after it failed: {describe_error(exc)}"
                )
                return ("error", saved)
            finally:
                self._held.close()
        return ("done", None)

    def _record(self, event: ToolCall | ToolResult) -> None:
        if isinstance(event, ToolCall):
            self.tool_calls.append((event, None))
            return
        for index, (call, result) in enumerate(self.tool_calls):
            if call.id == event.id and result is None:
                self.tool_calls[index] = (call, event)

    def _rollback(self) -> None:
        """Discard what the turn wrote: checkpoints after the one it started from, and its turn."""
        before = self._before
        before_id = before.config["configurable"]["checkpoint_id"] if before else None
        self.agent.checkpointer.discard_after(self.agent.config(self.thread_id), before_id)
        turns = before.checkpoint["channel_values"].get("turns", 0) if before else 0
        self.agent.database.archive.discard(self.thread_id, turns)

    def cancel(self) -> bool:
        """End the turn now: roll the thread back and release it, whatever the model is doing.
        False if the turn had already ended (saved, or failed and rolled back)."""
        with _signals_deferred(), self.fence.lock:
            if self.fence.ended:
                return False
            self.fence.cancelled = self.fence.ended = True
            try:
                self._rollback()
            finally:
                self._held.close()
                # A reader still waiting for pieces learns at once that there will be none.
                self._events.put(("error", TurnCancelled("the turn was cancelled")))
            return True

    def interrupt(self) -> None:
        """Stop the turn as Ctrl-C does: the code reading it cancels it at its next step and
        raises KeyboardInterrupt there; a turn already saved is read to its end. Safe to call
        from a signal handler: it takes no lock."""
        self._interrupted = True
        self._events.put(("interrupt", None))

    def _stop_if_interrupted(self) -> None:
        """After `interrupt`: cancel the turn and raise KeyboardInterrupt, unless it has ended."""
        if self._interrupted:
            self._interrupted = False
            if self.cancel():
                raise KeyboardInterrupt

    def _piece(self, kind: str, value: Any) -> TurnEvent | None:
        """The reply piece or tool event an event carries; None once the turn is done; its error
        raised."""
        if kind == "error":
            raise value
        return cast(TurnEvent, value) if kind == "piece" else None

    def _next_piece(self) -> TurnEvent | None:
        """The next piece of the reply or tool event; None once the turn is done; its error
        raised."""
        while True:
            self._stop_if_interrupted()
            try:
                # Wake up now and then: a Ctrl-C that the kernel gave to another thread runs
                # its handler only when this thread next runs Python code.
                kind, value = self._events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if kind != "interrupt":  # that one only wakes the reader up
                return self._piece(kind, value)

    def __iter__(self) -> Iterator[str]:
        """The reply's text, piece by piece."""
        for event in self.events():
            if isinstance(event, str):
                yield event

    def events(self) -> Iterator[TurnEvent]:
        """The reply's text pieces (`str`), with a `ToolCall` as the model asks for each tool and
        a `ToolResult` once it has run."""
        with self._ctrl_c_interrupts():
            try:
                while (piece := self._next_piece()) is not None:
                    yield piece
            except BaseException:
                self.cancel()
                raise

    @contextmanager
    def _ctrl_c_interrupts(self) -> Iterator[None]:
        """While the main thread reads this turn, Ctrl-C stops it through `interrupt`, so that
        KeyboardInterrupt is raised where the turn can be rolled back whole, never halfway
        through a rollback or a lock. Only where SIGINT has Python's default handler, as
        `asyncio.run` does; once the turn has ended, Ctrl-C is Python's again."""
        if (
            threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield
            return

        def on_ctrl_c(signum: int, frame: Any) -> None:
            if self.fence.ended:
                signal.default_int_handler(signum, frame)
            self.interrupt()

        signal.signal(signal.SIGINT, on_ctrl_c)
        try:
            yield
        finally:
            if (
                threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is on_ctrl_c
            ):
                signal.signal(signal.SIGINT, signal.default_int_handler)

    async def __aiter__(self) -> AsyncIterator[str]:
        """The same, for an event loop: a task cancelled mid-reply (a client that hung up)
        cancels the turn."""
        async for event in self.aevents():
            if isinstance(event, str):
                yield event

    async def aevents(self) -> AsyncIterator[TurnEvent]:
        """`events()` for an event loop; a task cancelled mid-reply cancels the turn."""
        try:
            while True:
                self._stop_if_interrupted()
                try:
                    kind, value = self._events.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(ASYNC_POLL_SECONDS)
                    continue
                if kind == "interrupt":
                    continue
                if (piece := self._piece(kind, value)) is None:
                    return
                yield piece
        except BaseException:
            self.cancel()
            raise

    def wait(self) -> AIMessage:
        for _ in self:
            pass
        assert self.reply is not None
        return self.reply


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """A second Ctrl-C must not interrupt a rollback halfway: hold SIGINT until it is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class Memoria:
    """A Memoria agent over one database (SQLite file or Postgres).

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
        summary_model: BaseChatModel | Summariser | str | None = None,
        tools: Sequence[ToolLike] = (),
        load_models: bool = True,
        read_only: bool = False,
        init_db: bool = False,
        lock_timeout: float | None = None,
    ) -> None:
        self.context = context or Context()
        self._model, self._summary_model = model, summary_model
        self.tools = as_tools(tools)
        self.offered_tools: list[BaseTool] = []
        """The tools the context's model is offered (`load_models` finds them)."""
        self.lock_timeout = _lock_timeout(lock_timeout)
        self._resources = ExitStack()
        self.database = self._resources.enter_context(
            open_database(db, read_only=read_only, init=init_db)
        )
        self.checkpointer = self.database.checkpointer
        self.archive = self.database.archive
        self.db_path = self.database.display
        self.graph = self._build(self.checkpointer)
        if not read_only:
            self.recover()
        if load_models:
            try:
                self.load_models()
            except BaseException:
                self.close()
                raise

    def _build(self, checkpointer: Any) -> MemoryGraph:
        return build_graph(
            self._model,
            tools=self.tools,
            summary_model=self._summary_model,
            checkpointer=checkpointer,
            transcript=self.archive,
        )

    def load_models(self) -> None:
        """Load the context's models now, so that a bad spec, a missing key or tools the model
        cannot call fail before any turn is typed. Thread administration skips it: it needs no
        model."""
        from memoria.nodes import Parts

        parts = Parts(chat=self._model, tools=tuple(self.tools)).with_memory_tool()
        self.offered_tools = parts.offered_tools(self.context, parts.chat_model(self.context))
        if self._summary_model is None:
            parts.summariser_for(self.context)

    def resume(self, thread_id: str, **explicit: Any) -> None:
        """Take the settings `thread_id` last ran with, with `explicit` options on top."""
        if saved := self.state(thread_id).settings:
            self.context = Context.resume(saved, **explicit)

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

    def start(self, thread_id: str, text: str, *, streaming: bool = True) -> Turn:
        """Start a turn; iterate the result for the reply's pieces (with `streaming`), `wait()`
        for the reply, or `cancel()` it."""
        return Turn(self, validate_thread_id(thread_id), text, streaming=streaming)

    def send(self, thread_id: str, text: str) -> AIMessage:
        """Run one turn and return the reply."""
        return self.start(thread_id, text, streaming=False).wait()

    def stream(self, thread_id: str, text: str) -> Iterator[str]:
        """Run one turn, yielding the reply's text as the model produces it. Closing the iterator
        early (or an exception, Ctrl-C) cancels the turn: the thread stays as it was."""
        turn = self.start(thread_id, text)
        try:
            yield from turn
        finally:
            turn.cancel()  # a no-op once the turn has ended

    # Reading a thread

    def exists(self, thread_id: str) -> bool:
        """Whether the thread has a checkpoint, and is not being written by an import, fork or
        rename (or left half-written by one that was killed)."""
        found = self.checkpointer.get_tuple(self.config(thread_id)) is not None
        return found and thread_id not in self.archive.pending()

    def state(self, thread_id: str) -> State:
        values = self.graph.get_state(self.config(thread_id)).values
        return State(**values) if values else State()

    def turns(self, thread_id: str) -> list[ArchivedTurn]:
        """Every committed turn of the thread, with its time, oldest first."""
        thread_id = validate_thread_id(thread_id)
        return self.archive.read(thread_id, stop=self.state(thread_id).turns)

    def transcript(self, thread_id: str) -> list[BaseMessage]:
        """Every message of the thread, in order, including those trimmed or summarised."""
        return [message for turn in self.turns(thread_id) for message in turn.messages]

    def next_prompt(self, thread_id: str, text: str = "") -> list[BaseMessage]:
        """Exactly what the model will be sent if `text` is the next message: the system prompt with
        the summary (after any fold this message triggers) and the recalled excerpts, the turns
        kept in view, then `text`. Computed by running the graph up to the model on a copy of the
        thread's state; the thread itself is not touched (a fold is previewed with the summariser
        the thread uses, so a model summariser may word the real one differently)."""
        thread_id = validate_thread_id(thread_id)
        state = self._preview(thread_id, text)
        context = self._context_of(state)
        return build_prompt(
            context.system_prompt,
            state.summary,
            state.messages,
            state.recalled,
            limit=context.max_tokens,
            counter=TokenCounter(self._model, state.token_scale),
        )

    def recall(self, thread_id: str, text: str) -> list[Recalled]:
        """The earlier turns `text` would bring back into the prompt, in conversation order."""
        thread_id = validate_thread_id(thread_id)
        state = self._preview(thread_id, text)
        return [Recalled(**item) for item in state.recalled]

    def _context_of(self, state: State) -> Context:
        return Context.resume(state.settings) if state.settings else self.context

    def _preview(self, thread_id: str, text: str) -> State:
        thread_id = validate_thread_id(thread_id)
        current = self.state(thread_id)
        context = self._context_of(current)
        scratch = self._build(InMemorySaver())
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        if self.exists(thread_id):
            values = {
                name: getattr(current, name)
                for name in State.__dataclass_fields__
                if name != "report"
            }
            scratch.update_state(config, values, as_node="model")
        scratch.invoke(
            {"messages": [HumanMessage(text)]},
            config,
            context=context,
            interrupt_before=["model"],
        )
        return State(**scratch.get_state(config).values)

    def search(
        self, query: str, *, thread_id: str | None = None, limit: int = 10
    ) -> list[SearchHit]:
        """Committed turns of every thread (or one) that match `query`, best first."""
        thread_id = None if thread_id is None else validate_thread_id(thread_id)
        committed: dict[str, int] = {}

        def is_committed(hit: SearchHit) -> bool:
            if hit.thread_id not in committed:
                saved = self.checkpointer.get_tuple(self.config(hit.thread_id))
                committed[hit.thread_id] = (
                    saved.checkpoint["channel_values"].get("turns", 0) if saved else 0
                )
            return hit.turn < committed[hit.thread_id]

        hits = self.archive.search_all(query, thread_id=thread_id, limit=limit + 5)
        return [hit for hit in hits if is_committed(hit)][:limit]

    # Administration

    def threads(self, limit: int | None = 20) -> list[ThreadInfo]:
        """The most recently used threads first (`limit=None`: all of them)."""
        return self.archive.infos(limit)

    def thread_info(self, thread_id: str) -> ThreadInfo:
        thread_id = validate_thread_id(thread_id)
        found = self.archive.infos(1, thread_id=thread_id)
        if not found:
            raise self._not_found(thread_id)
        return found[0]

    def latest_thread(self) -> str | None:
        threads = self.threads(limit=5)
        return threads[0].thread_id if threads else None

    def export_thread(self, thread_id: str) -> ThreadExport:
        thread_id = validate_thread_id(thread_id)
        info = self.thread_info(thread_id)
        state = self.state(thread_id)
        memory: dict[str, Any] = {key: getattr(state, key) for key in MEMORY_FIELDS}
        memory["messages"] = list(state.messages)
        return ThreadExport(
            thread_id,
            self.archive.read(thread_id, stop=state.turns),
            memory,
            settings=state.settings,
            created_at=info.created_at,
            updated_at=info.updated_at,
        )

    def import_thread(self, export: ThreadExport, thread_id: str | None = None) -> ImportResult:
        """Write an exported thread under `thread_id` (default: its own id), which must be new.
        Its settings are vetted (see `threads.vet_settings`); the result says which were kept."""
        thread_id = validate_thread_id(thread_id or export.thread_id)
        settings, notes = vet_settings(export.settings)
        with self._holding(thread_id):
            self._refuse_existing(thread_id, "; import under a new --thread")
            memory = export.memory
            language = memory.get("language") or _language_of(export.turns)
            now = now_iso()
            record = ThreadRecord(
                thread_id,
                export.created_at or now,
                export.updated_at or now,
                _title(export.turns),
            )
            turns = [
                ArchivedTurn(i, t.messages, t.created_at, t.summary, t.folded)
                for i, t in enumerate(export.turns)
            ]
            with self._all_or_nothing(thread_id, "import"):
                self.archive.import_thread(record, turns, language)
                values = {key: memory[key] for key in MEMORY_FIELDS if key in memory}
                values.update(language=language, settings=settings)
                values["messages"] = memory.get("messages", [])
                self.graph.update_state(self.config(thread_id), values, as_node="model")
        return ImportResult(thread_id, len(turns), settings, [*export.notes, *notes])

    def import_legacy_pickle(self, data: bytes, thread_id: str) -> ImportResult:
        """Import a LangChain memory pickle (read through an allow-list, never `pickle.load`)."""
        messages, summary = load_legacy_memory(data)
        grouped = group_turns(messages)
        now = now_iso()
        turns = [ArchivedTurn(i, turn, now) for i, turn in enumerate(grouped)]
        memory = {"summary": summary, "turns": len(turns), "messages": messages}
        return self.import_thread(ThreadExport(thread_id, turns, memory), thread_id)

    def delete_thread(self, thread_id: str) -> None:
        """Delete the thread's checkpoints and transcript, waiting for a turn running on it, and
        give the space back to the file."""
        thread_id = validate_thread_id(thread_id)
        with self._holding(thread_id):
            if not self.exists(thread_id) and self.archive.thread(thread_id) is None:
                raise self._not_found(thread_id)
            self.archive.delete(thread_id)
            self.checkpointer.delete_thread(thread_id)
        self.database.reclaim()

    def rename_thread(self, old: str, new: str) -> None:
        old, new = validate_thread_id(old), validate_thread_id(new)
        with self._holding(old, new):
            if not self.exists(old):
                raise self._not_found(old)
            self._refuse_existing(new)
            with self._all_or_nothing(new, "rename", source=old):
                self.checkpointer.copy_thread(old, new)
                self.archive.rename(old, new)  # the point of no return: see `_undo_pending`
                self.checkpointer.delete_thread(old)

    def fork_thread(self, thread_id: str, *, at: int | None = None, new: str | None = None) -> str:
        """A new thread holding `thread_id` as it stood after turn `at` (1-based; default: now):
        its transcript up to there, and its summary and view as they were then. The original is
        untouched; the two evolve independently."""
        thread_id = validate_thread_id(thread_id)
        new = validate_thread_id(new or _fork_name(thread_id, self.archive))
        with self._holding(thread_id, new):
            if not self.exists(thread_id):
                raise self._not_found(thread_id)
            self._refuse_existing(new)
            state = self.state(thread_id)
            at = state.turns if at is None else at
            if not 1 <= at <= state.turns:
                raise ValueError(f"--at must be a turn from 1 to {state.turns}, not {at}")
            if at == state.turns:
                with self._all_or_nothing(new, "fork"):
                    self.checkpointer.copy_thread(thread_id, new)
                    self.archive.copy(thread_id, new, turns=at)
                    self.checkpointer.prune([new])
                return new
            turns = self.archive.read(thread_id, stop=at)
            summary, folded = "", 0
            for turn in turns:
                if turn.summary is not None:
                    summary, folded = turn.summary, turn.folded
            context = self._context_of(state)
            # After a turn, `window` holds the k turns trim kept plus the turn just answered.
            kept = turns[folded:] if context.memory != "window" else turns[-(context.k + 1) :]
            values = {
                "summary": summary,
                "turns": at,
                "summarised_turns": folded,
                "token_scale": state.token_scale,
                "language": state.language,
                "settings": state.settings,
                "messages": flatten([turn.messages for turn in kept]),
            }
            with self._all_or_nothing(new, "fork"):
                self.archive.copy(thread_id, new, turns=at)
                self.graph.update_state(self.config(new), values, as_node="model")
        return new

    @contextmanager
    def _all_or_nothing(self, target: str, operation: str, source: str = "") -> Iterator[None]:
        """An import, fork or rename writing `target` takes effect whole or not at all: a record
        says it is under way (readers do not see `target` meanwhile) until it is done; if it
        fails, it is undone here, and if the process dies, by the next writer to open the
        database (`recover`)."""
        self.archive.mark_pending(target, operation, source)
        try:
            yield
        except BaseException:
            with _signals_deferred():
                self._undo_pending(target, operation, source)
                self.archive.clear_pending(target)
            raise
        self.archive.clear_pending(target)

    def _undo_pending(self, target: str, operation: str, source: str) -> None:
        """Undo an operation that did not finish: `target` goes, with its checkpoints and its
        transcript. A rename that had already moved the transcript (its point of no return) is
        completed instead: the old name's checkpoints go."""
        moved = (
            operation == "rename"
            and self.archive.thread(source) is None
            and self.archive.thread(target) is not None
        )
        if moved:
            self.checkpointer.delete_thread(source)
            return
        self.archive.delete(target)
        self.checkpointer.delete_thread(target)

    def recover(self) -> list[str]:
        """Finish what an import, fork or rename killed halfway left (see `_all_or_nothing`);
        operations that another process is running now are left to it. Returns the threads
        recovered. Memoria runs it whenever it opens a database for writing."""
        recovered = []
        for target, record in self.archive.pending().items():
            operation, source = record.get("operation", ""), record.get("source", "")
            try:
                with self._holding(target, *([source] if source else []), timeout=0):
                    if target not in self.archive.pending():
                        continue  # finished meanwhile
                    self._undo_pending(target, operation, source)
                    self.archive.clear_pending(target)
            except ThreadBusyError:
                continue  # under way right now
            recovered.append(target)
        return recovered

    def _finish_undoing(self, thread_id: str) -> CheckpointTuple | None:
        """Drop what a failed turn left when undoing it failed too (a full disk): a thread holds
        one checkpoint between turns, so a newer one whose run did not finish (work still
        pending) is such a remnant; it goes, with any turn it archived. One cheap query when
        there is none. Returns the checkpoint the thread's next turn starts from (None for a
        new thread). Call under the thread's lock."""
        config = self.config(thread_id)
        # The graph's own checkpoints only: a sub-agent a tool runs with `checkpointer=True`
        # keeps its own under another namespace, newer than the turn's start.
        root: RunnableConfig = {"configurable": {**config["configurable"], "checkpoint_ns": ""}}
        saved = list(self.checkpointer.list(root, limit=2))
        if len(saved) < 2 or not self.graph.get_state(config).next:
            return saved[0] if saved else None  # or a finished turn whose tidying was cut short
        kept = saved[1]
        self.checkpointer.discard_after(config, kept.config["configurable"]["checkpoint_id"])
        self.archive.discard(thread_id, kept.checkpoint["channel_values"].get("turns", 0))
        return kept

    def _not_found(self, thread_id: str) -> ThreadNotFoundError:
        return ThreadNotFoundError(f"no thread {thread_id!r} in {self.db_path}")

    def _refuse_existing(self, thread_id: str, advice: str = "") -> None:
        """ThreadExistsError if `thread_id` has checkpoints or a transcript (call under its lock)."""
        if self.exists(thread_id) or self.archive.thread(thread_id) is not None:
            raise ThreadExistsError(
                f"thread {thread_id!r} already exists in {self.db_path}{advice}"
            )

    def _holding(self, *thread_ids: str, timeout: float | None = None) -> ExitStack:
        """The turn locks of `thread_ids` (validated ids), taken in a fixed order (no deadlock
        between two), waiting up to `timeout` seconds (default: the lock timeout)."""
        locks = self.database.locks
        if locks is None:
            raise PermissionError("this database was opened read-only")
        wait = self.lock_timeout if timeout is None else timeout
        stack = ExitStack()
        try:
            for thread_id in sorted(set(thread_ids)):
                stack.enter_context(locks.hold(thread_id, wait))
        except BaseException:
            stack.close()
            raise
        return stack


@dataclass(frozen=True)
class ImportResult:
    thread_id: str
    turns: int
    settings: dict[str, Any]
    """The settings kept from the import."""
    notes: list[str]
    """Settings dropped, and why."""


def _lock_timeout(value: float | None) -> float:
    raw: Any = value if value is not None else os.environ.get("MEMORIA_LOCK_TIMEOUT")
    if raw is None or raw == "":
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not (0 <= seconds <= 3600):
        raise ValueError(f"the lock timeout must be from 0 to 3600 seconds, not {raw!r}")
    return seconds


def _language_of(turns: list[ArchivedTurn]) -> str:
    from memoria.analysis import detect_language
    from memoria.tokens import message_text

    text = " ".join(message_text(m) for m in turns[0].messages) if turns else ""
    return detect_language(text) or "en"


def _title(turns: list[ArchivedTurn]) -> str:
    from memoria.transcript import title_of

    return title_of(turns[0].messages) if turns else ""


def _fork_name(thread_id: str, archive: Any) -> str:
    base = unicodedata.normalize("NFKC", thread_id)[: MAX_THREAD_ID - 8]
    for n in range(2, 10_000):
        candidate = f"{base}-fork{n if n > 2 else ''}"
        if archive.thread(candidate) is None:
            return candidate
    raise ThreadExistsError("no free name for the fork: give it one")
