"""The interface every storage backend gives Memoria, and what backends share beyond the archive.

A backend (SQLite in `sqlite.py`, Postgres in `postgres.py`) opens a `Database`:
- a LangGraph checkpointer that can also undo a failed turn (`RollbackSaver`), writing through the
  turn's fence (`FencedWrites`), with async methods on worker threads (`AsyncOnThreads`) and the
  strict serializer (no pickle);
- a `ThreadArchive` (`archive.py`, one implementation over the backend's dialect): the transcript
  of every thread with its full-text index, plus the thread records;
- `ThreadLocks`: exclusive use of a thread across threads, processes and servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from memoria.fence import fence_of, fenced
from memoria.persistence.archive import ThreadArchive, ThreadRecord
from memoria.persistence.location import Location
from memoria.persistence.schema import (
    PENDING,
    SCHEMA_VERSION,
    DatabaseOpenError,
    NoDatabaseError,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "PENDING",
    "SCHEMA_VERSION",
    "AsyncOnThreads",
    "Database",
    "DatabaseOpenError",
    "FencedWrites",
    "NoDatabaseError",
    "RollbackSaver",
    "ThreadArchive",
    "ThreadLocks",
    "ThreadRecord",
    "strict_serializer",
]

DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds a turn (or delete, import...) waits for a thread busy with another turn."""


def strict_serializer() -> JsonPlusSerializer:
    """Msgpack limited to LangGraph's allow-list of safe types (messages, dates, ...); no pickle."""
    return JsonPlusSerializer(pickle_fallback=False, allowed_msgpack_modules=None)


class FencedWrites:
    """A checkpointer whose writes check the turn's fence (see `memoria.fence`): a cancelled
    turn's worker can write nothing, and a failed turn's last checkpoint is not written."""

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        if _failed(config):
            return config
        with fenced(config):
            return super().put(config, checkpoint, metadata, new_versions)  # type: ignore[misc]

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if _failed(config):
            return
        with fenced(config):
            super().put_writes(config, writes, task_id, task_path)  # type: ignore[misc]


def _failed(config: RunnableConfig) -> bool:
    """Whether a node of the run failed: the turn is being rolled back, nothing more to write."""
    fence = fence_of(config)
    return fence is not None and fence.failed


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


class Database:
    """A checkpointer, the thread archive and the thread locks over one database. Backends
    subclass it for their upkeep (`after_turn`, `reclaim`)."""

    def __init__(
        self,
        location: Location,
        checkpointer: Any,
        archive: ThreadArchive,
        locks: ThreadLocks | None,
        *,
        read_only: bool = False,
    ) -> None:
        self.location = location
        self.checkpointer = checkpointer
        """A LangGraph `BaseCheckpointSaver` that is also a `RollbackSaver`."""
        self.archive = archive
        self.locks = locks
        """None when the database was opened read-only."""
        self.read_only = read_only

    @property
    def display(self) -> str:
        return self.location.display

    def turn_committed(self, thread_id: str) -> None:
        """Prune the thread to its newest checkpoint, now that its turn is saved."""
        self.checkpointer.prune([thread_id])
        self.after_turn()

    def after_turn(self) -> None:
        """Upkeep after each committed turn; none by default."""

    def reclaim(self) -> None:
        """Give the space of deleted threads back (to the file system); nothing by default."""
