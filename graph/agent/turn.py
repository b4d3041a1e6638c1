"""A running turn: its worker thread, its fence, and its rollback.

A turn either completes or leaves the thread exactly as it was. It runs the graph on a worker
thread while the caller reads its reply, so that it can be cancelled at once from any thread
(Ctrl-C, a client that hangs up): the thread is rolled back and released immediately, and
whatever the abandoned model call returns later is fenced off from the database (`memoria.fence`).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from functools import partial
from typing import Any, cast

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple

from memoria.agent.interrupts import (
    block_in_worker,
    ctrl_c_calls,
    quiet_cancellations,
    signals_deferred,
)
from memoria.context import Context
from memoria.errors import StreamRedactor, TurnSavedError, TurnUndoError, describe_error
from memoria.events import ToolCall, ToolResult, TurnEvent, reply_piece, tool_events
from memoria.fence import FENCE_KEY, Fence, TurnCancelled
from memoria.graph import MemoryGraph
from memoria.persistence import Database
from memoria.state import merge_report
from memoria.tools import ToolInterruptError

POLL_SECONDS = 0.1
ASYNC_POLL_SECONDS = 0.02
IDLE_WORKERS = 4
"""Worker threads kept waiting for the next turn; more than that many idle ones end."""
IDLE_NAME = "memoria-idle"


class Workers:
    """The threads turns run on, kept between turns: a thread started per turn cost a turn about
    0.2 ms (its start, and the hand-over of the interpreter lock to it). A busy worker is named
    after its turn (`memoria-turn-<thread id>`), an idle one `memoria-idle`; all are daemons, so
    that a model call abandoned by a cancelled turn never holds the process open."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def forget(self) -> None:
        """After a fork: the child has none of the parent's threads (nor its lock's holder)."""
        self._idle = []
        self._lock = threading.Lock()

    def run(self, job: Callable[[], None], name: str) -> threading.Thread:
        """Run `job` on an idle worker, or on a new one; the thread it runs on."""
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None or not worker.thread.is_alive():
            worker = _Worker(self)
        worker.thread.name = name
        worker.jobs.put(job)
        return worker.thread

    def _rest(self, worker: _Worker) -> bool:
        """Whether `worker` is kept for another turn (else it ends)."""
        with self._lock:
            if len(self._idle) >= IDLE_WORKERS:
                return False
            self._idle.append(worker)
            return True


class _Worker:
    def __init__(self, workers: Workers) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._workers = workers
        self.thread = threading.Thread(target=self._serve, name=IDLE_NAME, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        block_in_worker()
        while True:
            job = self.jobs.get()
            # Each turn starts from an empty context, as it would on a thread of its own.
            contextvars.Context().run(job)
            del job  # an idle worker must not keep its last turn (and its database) alive
            self.thread.name = IDLE_NAME
            if not self._workers._rest(self):
                return


WORKERS = Workers()
os.register_at_fork(after_in_child=WORKERS.forget)


class _StopOnCancel(BaseCallbackHandler):
    """Once the turn is cancelled, stops a streaming model call at its next token, and a tool
    loop before its next model call or tool: an abandoned turn does nothing more."""

    raise_error = True
    ignore_chain = True  # node starts and ends: the fence already guards what nodes write

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
    `tool_calls` the calls the model made, each with its result, and `report` what the memory
    did (`State.report`, as the turn's nodes streamed it).

    Made by `Memoria.start`, which holds the thread's lock (`held`, released when the turn ends)
    and has found the checkpoint the turn starts from (`before`)."""

    def __init__(
        self,
        graph: MemoryGraph,
        database: Database,
        context: Context,
        thread_id: str,
        text: str,
        *,
        held: ExitStack,
        before: CheckpointTuple | None,
        streaming: bool = True,
    ) -> None:
        self.thread_id = thread_id
        self.reply: AIMessage | None = None
        self.tool_calls: list[tuple[ToolCall, ToolResult | None]] = []
        self.report: dict[str, Any] = {}
        self.fence = Fence()
        self._database = database
        self._held = held
        self._before = before
        # A SimpleQueue, because `interrupt` puts into it from a signal handler: its `put` is
        # reentrant, where Queue's would deadlock on its own lock.
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._interrupted = False
        config: RunnableConfig = {
            "configurable": {"thread_id": thread_id, FENCE_KEY: self.fence},
            "callbacks": [_StopOnCancel(self.fence)],
        }
        quiet_cancellations()
        WORKERS.run(
            partial(self._run, graph, config, context, text, streaming),
            f"memoria-turn-{thread_id}",
        )

    def _run(
        self,
        graph: MemoryGraph,
        config: RunnableConfig,
        context: Context,
        text: str,
        streaming: bool,
    ) -> None:
        redactor = StreamRedactor()  # the stored reply is redacted too (`nodes.without_secrets`)
        try:
            for mode, event in graph.stream(
                {"messages": [HumanMessage(text)]},
                config,
                context=context,
                # Token events cost a little each; a caller who wants only the reply skips them.
                stream_mode=["messages", "updates"] if streaming else ["updates"],
                durability="exit",
            ):
                if mode == "messages":
                    chunk, metadata = cast(tuple[Any, dict[str, Any]], event)
                    if (piece := reply_piece(chunk, metadata)) and (shown := redactor.feed(piece)):
                        self._events.put(("piece", shown))
                elif isinstance(event, dict):
                    self._take_update(event, redactor)
            if rest := redactor.flush():
                self._events.put(("piece", rest))
        except BaseException as exc:
            self._end(("error", self._undo(exc)))
            return
        self._end(self._commit())

    def _end(self, event: tuple[str, Any]) -> None:
        """Tell the reader the turn is over, the worker named idle first: the command line leaves
        at once (without the interpreter's tear-down) only while a turn's worker is busy."""
        threading.current_thread().name = IDLE_NAME
        self._events.put(event)

    def _take_update(self, update: dict[str, Any], redactor: StreamRedactor) -> None:
        """One `updates` event: the report, the reply, and the tool calls and results in it."""
        if "__interrupt__" in update:
            raise ToolInterruptError(
                "a tool asked for human input (a LangGraph interrupt), which a "
                "Memoria turn cannot wait for; the turn was rolled back"
            )
        for values in update.values():
            if isinstance(values, dict) and "report" in values:
                self.report = merge_report(self.report, values["report"])
        if "model" in update:
            self.reply = next(
                m for m in reversed(update["model"]["messages"]) if isinstance(m, AIMessage)
            )
        for tool_event in tool_events(update):
            if rest := redactor.flush():  # the text before the call, whole
                self._events.put(("piece", rest))
            self._record(tool_event)
            self._events.put(("piece", tool_event))

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
                self._database.turn_committed(self.thread_id)
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
        """Discard what the turn wrote: checkpoints after the one it started from, and its turn
        in the transcript (the `archive` node's write)."""
        before = self._before
        before_id = before.config["configurable"]["checkpoint_id"] if before else None
        config: RunnableConfig = {"configurable": {"thread_id": self.thread_id}}
        self._database.checkpointer.discard_after(config, before_id)
        turns = before.checkpoint["channel_values"].get("turns", 0) if before else 0
        self._database.archive.discard(self.thread_id, turns)

    def cancel(self) -> bool:
        """End the turn now: roll the thread back and release it, whatever the model is doing.
        False if the turn had already ended (saved, or failed and rolled back)."""
        with signals_deferred(), self.fence.lock:
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
        with ctrl_c_calls(self.interrupt, lambda: self.fence.ended):
            try:
                while (piece := self._next_piece()) is not None:
                    yield piece
            except BaseException:
                self.cancel()
                raise

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
