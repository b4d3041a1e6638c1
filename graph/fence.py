"""A turn's fence: once its owner cancels the turn, the turn's worker may write nothing more.

`Memoria` runs each turn on a worker thread so that the caller can cancel it at once (Ctrl-C, a
client that hangs up). The owner rolls the thread back and releases it immediately, but the worker
may still be inside a model call that returns later. The fence, passed to the graph in the run's
config, is checked under its lock by every write the worker makes (the transcript archive and the
checkpointer's `put` and `put_writes`), and cancelling takes the same lock: so either a write
happened before the rollback (and the rollback removes it), or it sees the cancellation and stops.

Waiting for a thread's lock, the other place a turn can be given up, is `persistence.waiting`'s.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

FENCE_KEY = "__memoria_fence"
"""Configurable key of a turn's fence; the double underscore keeps it out of checkpoint metadata."""


class TurnCancelled(RuntimeError):
    """The turn was cancelled; nothing it did is kept."""


@dataclass
class Fence:
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: bool = False
    ended: bool = False


@contextmanager
def fenced(config: Mapping[str, Any] | None) -> Iterator[None]:
    """Hold the run's fence (if it has one) around a write; raise if the turn was cancelled."""
    fence = ((config or {}).get("configurable") or {}).get(FENCE_KEY)
    if not isinstance(fence, Fence):
        yield
        return
    with fence.lock:
        if fence.cancelled:
            raise TurnCancelled("the turn was cancelled")
        yield
