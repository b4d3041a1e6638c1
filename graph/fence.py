"""A turn's fence: once its owner cancels the turn, the turn's worker may write nothing more.

`Memoria` runs each turn on a worker thread so that the caller can cancel it at once (Ctrl-C, a
client that hangs up). The owner rolls the thread back and releases it immediately, but the worker
may still be inside a model call that returns later. The fence, passed to the graph in the run's
config, is checked under its lock by every write the worker makes (the transcript archive and the
checkpointer's `put` and `put_writes`), and cancelling takes the same lock: so either a write
happened before the rollback (and the rollback removes it), or it sees the cancellation and stops.

`pause` is the other side of cancelling: the one place, in a wait for a thread's lock, where a
Ctrl-C may raise KeyboardInterrupt without leaving anything half done. Every lock wait goes
through it by way of `wait_for`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from memoria.errors import ThreadBusyError

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


LOCK_POLL_SECONDS = 0.02
"""Between two tries for a lock that another turn holds."""

_pausing = threading.local()


def pause(seconds: float) -> None:
    """Sleep between two tries for a lock. Nothing is taken or half-written across it, so a Ctrl-C
    handler may raise KeyboardInterrupt here (it asks `pausing`): a turn waiting for a thread that
    is busy elsewhere can be given up at once."""
    _pausing.active = True
    try:
        time.sleep(seconds)
    finally:
        _pausing.active = False


def pausing() -> bool:
    """Whether this thread is inside `pause`."""
    return getattr(_pausing, "active", False)


def wait_for(attempt: Callable[[], bool], deadline: float, busy: str) -> None:
    """Try `attempt` (a non-blocking lock) until it succeeds, pausing between tries; after
    `deadline` (a `time.monotonic()` value), ThreadBusyError with the message `busy`."""
    while not attempt():
        if time.monotonic() >= deadline:
            raise ThreadBusyError(busy)
        pause(LOCK_POLL_SECONDS)
