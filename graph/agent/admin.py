"""A database's threads, with no model loaded up front: reading them, previewing a thread's next
prompt (with the thread's own models), and importing, exporting, forking, renaming and deleting
them, each all or nothing. `Memoria` adds the models it loads when it opens, and the turns."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Self

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from memoria.agent.interrupts import signals_deferred
from memoria.agent.preview import preview_turn
from memoria.context import Context
from memoria.errors import ThreadBusyError
from memoria.graph import MemoryGraph, compile_graph
from memoria.ids import MAX_THREAD_ID, validate_thread_id
from memoria.legacy import load_legacy_memory
from memoria.memory import flatten, group_turns
from memoria.parts import Parts
from memoria.persistence import DEFAULT_LOCK_TIMEOUT, ThreadRecord, open_database
from memoria.persistence.catalog import ThreadInfo
from memoria.prompts import build_prompt
from memoria.recall import Recalled
from memoria.state import State
from memoria.threads import ThreadExport, vet_settings
from memoria.tokens import TokenCounter
from memoria.transcript import ArchivedTurn, SearchHit, now_iso

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


@dataclass(frozen=True)
class ImportResult:
    thread_id: str
    turns: int
    settings: dict[str, Any]
    """The settings kept from the import."""
    notes: list[str]
    """Settings dropped, and why."""


class ThreadAdmin:
    """The threads of one database (SQLite file or Postgres), with no model loaded up front: what
    the command line's thread commands use. Thread ids are validated where they come in."""

    def __init__(
        self,
        *,
        db: str | os.PathLike[str] | None = None,
        read_only: bool = False,
        init_db: bool = False,
        lock_timeout: float | None = None,
        context: Context | None = None,
        parts: Parts | None = None,
    ) -> None:
        self.context = context or Context()
        """The settings of the threads started here; a resumed thread keeps its own."""
        self.parts = parts or Parts()
        """The models and tools fixed for every thread (none: each run's context names them)."""
        self.lock_timeout = lock_timeout_setting(lock_timeout)
        self._resources = ExitStack()
        self.database = self._resources.enter_context(
            open_database(db, read_only=read_only, init=init_db)
        )
        self.checkpointer = self.database.checkpointer
        self.archive = self.database.archive
        self.db_path = self.database.display
        try:
            self.graph = self._build(self.checkpointer)
            if not read_only:
                self.recover()
        except BaseException:
            self.close()
            raise

    def _build(self, checkpointer: BaseCheckpointSaver | Any) -> MemoryGraph:
        """The graph over `checkpointer` and this database's transcript."""
        return compile_graph(self.parts.with_transcript(self.archive), checkpointer=checkpointer)

    def _context_of(self, state: State) -> Context:
        """The settings a thread runs with: its own, or for a new thread this object's."""
        return Context.resume(state.settings) if state.settings else self.context

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def config(thread_id: str) -> RunnableConfig:
        """The run config of a thread (its id validated, as every entry point does)."""
        return {"configurable": {"thread_id": validate_thread_id(thread_id)}}

    # Reading a thread

    def exists(self, thread_id: str) -> bool:
        """Whether the thread has a checkpoint, and is not being written by an import, fork or
        rename (or left half-written by one that was killed)."""
        thread_id = validate_thread_id(thread_id)
        found = self.checkpointer.get_tuple(self.config(thread_id)) is not None
        return found and thread_id not in self.archive.pending()

    def state(self, thread_id: str) -> State:
        values = self.graph.get_state(self.config(validate_thread_id(thread_id))).values
        return State(**values) if values else State()

    def turns(self, thread_id: str) -> list[ArchivedTurn]:
        """Every committed turn of the thread, with its time, oldest first."""
        thread_id = validate_thread_id(thread_id)
        return self.archive.read(thread_id, stop=self.state(thread_id).turns)

    def transcript(self, thread_id: str) -> list[Any]:
        """Every message of the thread, in order, including those trimmed or summarised."""
        return [message for turn in self.turns(thread_id) for message in turn.messages]

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

    # What the next turn would do (run up to the model on a scratch copy)

    def next_prompt(self, thread_id: str, text: str = "") -> list[BaseMessage]:
        """Exactly what the model will be sent if `text` is the next message: the system prompt with
        the summary (after any fold this message triggers) and the recalled excerpts, the turns
        kept in view, then `text`. Computed by running the graph up to the model on a copy of the
        thread's state; the thread itself is not touched (a fold is previewed with the summariser
        the thread uses, so a model summariser may word the real one differently)."""
        state = self._preview(thread_id, text)
        context = self._context_of(state)
        return build_prompt(
            context.system_prompt,
            state.summary,
            state.messages,
            state.recalled,
            limit=context.max_tokens,
            counter=TokenCounter(self.parts.chat, state.token_scale),
        )

    def recall(self, thread_id: str, text: str) -> list[Recalled]:
        """The earlier turns `text` would bring back into the prompt, in conversation order."""
        return [Recalled(**item) for item in self._preview(thread_id, text).recalled]

    def _preview(self, thread_id: str, text: str) -> State:
        thread_id = validate_thread_id(thread_id)
        current = self.state(thread_id)
        existing = current if self.exists(thread_id) else None
        return preview_turn(self._build, thread_id, existing, self._context_of(current), text)

    # Administration

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
                self.graph.update_state(self.config(thread_id), values, as_node="archive")
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
                self.graph.update_state(self.config(new), values, as_node="archive")
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
            with signals_deferred():
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
        recovered. Runs whenever a database is opened for writing."""
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


def lock_timeout_setting(value: float | None) -> float:
    """Seconds to wait for a thread busy with another turn: `value`, else MEMORIA_LOCK_TIMEOUT,
    else the default."""
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
