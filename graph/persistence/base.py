"""The small typed interface every storage backend gives Memoria.

A backend (SQLite in `sqlite.py`, Postgres in `postgres.py`) provides:
- a LangGraph checkpointer that can also undo a failed turn (`RollbackSaver`);
- a `ThreadArchive`: the transcript of every thread with its full-text index, plus the thread
  records (`memoria_threads`) that make listing and "continue the latest" cheap;
- `ThreadLocks`: exclusive use of a thread across threads, processes and servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata

from memoria.analysis import ANALYZER_VERSION, detect_language
from memoria.fence import fenced
from memoria.persistence.catalog import SCHEMA_VERSION, ThreadInfo
from memoria.persistence.location import Location
from memoria.transcript import (
    ArchivedTurn,
    SearchHit,
    Transcript,
    thread_id_of_namespace,
    title_of,
)

PENDING = "pending:"
"""`memoria_meta` keys `pending:<thread id>` record a thread an import, fork or rename is
writing: until the key goes, the thread is not shown, and a writer that opens the database after
a crash undoes (or, for a rename past its point of no return, completes) the operation."""

DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds a turn (or delete, import...) waits for a thread busy with another turn."""


class DatabaseOpenError(RuntimeError):
    """The database cannot be created, opened or read as a Memoria database."""


class NoDatabaseError(DatabaseOpenError):
    """A read-only command found no database at the location: nothing to read, nothing created."""


@dataclass(frozen=True)
class ThreadRecord:
    thread_id: str
    created_at: str
    updated_at: str
    title: str = ""
    language: str = ""
    turns: int = 0


def layout_of(
    tables: set[str],
    meta: Callable[[], Mapping[str, str]],
    v1: set[str],
    v1_tables: set[str],
    own: set[str],
) -> str:
    """What a database holds, from its table names (and `memoria_meta`, read only when present):
    'memoria' (current); 'reindex' (current schema, its search index built by another version of
    the text analysis); 'upgrade' (Memoria, but an older schema: `v1` are the tables every Memoria
    0.1 database has, `v1_tables` all it may have); 'newer' (written by a newer Memoria: refused,
    never downgraded); 'empty'; or 'foreign' (not Memoria's, a stray `memoria_meta` included:
    `own` are the tables a Memoria database has)."""
    if "memoria_meta" in tables:
        try:
            values = meta() if own <= tables else {}
            schema = int(values["schema"])
            rules = analysis_rules(values["analyzer"])
        except Exception:  # no such columns, values that are no versions: not Memoria's table
            return "foreign"
        if schema > int(SCHEMA_VERSION) or rules > analysis_rules(ANALYZER_VERSION):
            return "newer"
        if schema < int(SCHEMA_VERSION):
            return "upgrade"
        return "memoria" if values["analyzer"] == ANALYZER_VERSION else "reindex"
    if not tables:
        return "empty"
    if v1 <= tables <= v1_tables:
        return "upgrade"
    return "foreign"


def analysis_rules(version: str) -> int:
    """The rules' number in an analysis version (`memoria-analysis-1+pystemmer-...`)."""
    prefix = "memoria-analysis-"
    if not version.startswith(prefix):
        raise ValueError(f"not an analysis version: {version[:60]!r}")
    return int(version[len(prefix) :].split("+", 1)[0])


def newer_database(display: str, meta: Mapping[str, str]) -> DatabaseOpenError:
    """The refusal of a database a newer Memoria wrote, naming both versions."""
    return DatabaseOpenError(
        f"{display} was written by a newer Memoria (schema {meta.get('schema', '?')}, analysis "
        f"{str(meta.get('analyzer', '?'))[:60]}); this one knows schema {SCHEMA_VERSION}, "
        f"analysis {ANALYZER_VERSION[:60]}: upgrade Memoria to use it"
    )


def v1_threads(
    items: Iterable[tuple[str, ArchivedTurn]],
) -> list[tuple[ThreadRecord, str, list[ArchivedTurn]]]:
    """Memoria 0.1's archived turns, given as (store prefix, turn), grouped by thread in turn
    order, each with its thread record and its language (detected from its first turn)."""
    by_thread: dict[str, list[ArchivedTurn]] = {}
    for prefix, turn in items:
        by_thread.setdefault(thread_id_of_namespace(prefix.split(".", 1)[1]), []).append(turn)
    threads = []
    for thread_id, turns in by_thread.items():
        turns.sort(key=lambda turn: turn.number)
        first = " ".join(str(m.content) for m in turns[0].messages)
        record = ThreadRecord(
            thread_id, turns[0].created_at, turns[-1].created_at, title_of(turns[0].messages)
        )
        threads.append((record, detect_language(first) or "en", turns))
    return threads


class FencedWrites:
    """A checkpointer whose writes check the turn's fence (see `memoria.fence`): a cancelled
    turn's worker can write nothing."""

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        with fenced(config):
            return super().put(config, checkpoint, metadata, new_versions)  # type: ignore[misc]

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        with fenced(config):
            super().put_writes(config, writes, task_id, task_path)  # type: ignore[misc]


class AsyncOnThreads:
    """The async methods of a LangGraph checkpointer, as the sync ones run on a worker thread.

    Memoria's savers are sync (a sqlite3 connection, a psycopg pool); async callers and the
    checkpointer conformance suite get these."""

    async def aget_tuple(self, config: RunnableConfig) -> Any:
        return await asyncio.to_thread(self.get_tuple, config)  # type: ignore[attr-defined]

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Any]:
        listed = self.list  # type: ignore[attr-defined]
        items = await asyncio.to_thread(
            lambda: list(listed(config, filter=filter, before=before, limit=limit))
        )
        for item in items:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        put = self.put  # type: ignore[attr-defined]
        return await asyncio.to_thread(put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        put_writes = self.put_writes  # type: ignore[attr-defined]
        await asyncio.to_thread(put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)  # type: ignore[attr-defined]

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)  # type: ignore[attr-defined]

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        copy = self.copy_thread  # type: ignore[attr-defined]
        await asyncio.to_thread(copy, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        prune = self.prune  # type: ignore[attr-defined]
        await asyncio.to_thread(lambda: prune(thread_ids, strategy=strategy))


class RollbackSaver(Protocol):
    """What Memoria adds to a LangGraph checkpointer: undoing a turn that did not complete."""

    def discard_after(self, config: RunnableConfig, checkpoint_id: str | None) -> None:
        """Delete the thread's checkpoints newer than `checkpoint_id` (all of them if None)."""
        ...


class ThreadLocks(Protocol):
    def hold(self, thread_id: str, timeout: float) -> AbstractContextManager[None]:
        """Exclusive use of a thread; raises ThreadBusyError after `timeout` seconds."""
        ...

    def setup(self) -> AbstractContextManager[None]:
        """Exclusive across processes while the schema is created or upgraded."""
        ...

    def close(self) -> None: ...


class ThreadArchive(Transcript, Protocol):
    """Transcripts, their search index and the thread records, kept consistent by transactions."""

    def read(self, thread_id: str, *, stop: int | None = None) -> list[ArchivedTurn]:
        """Turns numbered below `stop` (all if None), oldest first."""
        ...

    def thread_language(self, thread_id: str) -> str | None: ...

    def discard(self, thread_id: str, from_turn: int) -> None:
        """Forget turns numbered `from_turn` or later (an undone or uncommitted turn)."""
        ...

    def delete(self, thread_id: str) -> None: ...

    def search_all(
        self, text: str, *, thread_id: str | None = None, limit: int = 10
    ) -> list[SearchHit]:
        """Turns of every thread (or one) matching `text`, best first; the caller drops
        uncommitted turns."""
        ...

    def threads(self, limit: int | None = None) -> list[ThreadRecord]:
        """Thread records, most recently updated first."""
        ...

    def infos(self, limit: int | None = None, thread_id: str | None = None) -> list[ThreadInfo]:
        """Listing rows (turns, times, size) of committed threads, most recently used first."""
        ...

    def thread(self, thread_id: str) -> ThreadRecord | None: ...

    def import_thread(
        self, record: ThreadRecord, turns: Sequence[ArchivedTurn], language: str
    ) -> None:
        """Write a whole thread (its record and turns) in one transaction."""
        ...

    def copy(self, source: str, target: str, *, turns: int) -> None:
        """Copy the first `turns` turns of `source` (record included) to the new thread `target`."""
        ...

    def rename(self, old: str, new: str) -> None: ...

    def mark_pending(self, target: str, operation: str, source: str = "") -> None:
        """Record that `operation` ("import", "fork", "rename" from `source`) writes `target`."""
        ...

    def clear_pending(self, target: str) -> None: ...

    def pending(self) -> dict[str, dict[str, str]]:
        """Threads being written by an import, fork or rename: {target: {operation, source}}."""
        ...

    def size(self, thread_id: str) -> int:
        """Bytes the thread's transcript takes (rows, not index)."""
        ...

    def close(self) -> None: ...


@dataclass
class Database:
    """A checkpointer, the thread archive and the thread locks over one database."""

    location: Location
    checkpointer: Any
    """A LangGraph `BaseCheckpointSaver` that is also a `RollbackSaver`."""
    archive: ThreadArchive
    locks: ThreadLocks | None
    """None when the database was opened read-only."""
    checkpoint_bytes: Callable[[str], int]
    after_turn: Callable[[], None] = field(default=lambda: None)
    reclaim: Callable[[], None] = field(default=lambda: None)
    read_only: bool = False

    @property
    def display(self) -> str:
        return self.location.display

    def turn_committed(self, thread_id: str) -> None:
        """Prune the thread to its newest checkpoint, now that its turn is saved."""
        self.checkpointer.prune([thread_id])
        self.after_turn()

    def thread_bytes(self, thread_id: str) -> int:
        return self.checkpoint_bytes(thread_id) + self.archive.size(thread_id)
