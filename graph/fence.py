"""A turn's fence: once its owner cancels the turn, the turn's worker may write nothing more.

`Memoria` runs each turn on a worker thread so that the caller can cancel it at once (Ctrl-C, a
client that hangs up). The owner rolls the thread back and releases it immediately, but the worker
may still be inside a model call that returns later. The fence, passed to the graph in the run's
config, is checked under its lock by every write the worker makes (the transcript archive and the
checkpointer's `put` and `put_writes`), and cancelling takes the same lock: so either a write
happened before the rollback (and the rollback removes it), or it sees the cancellation and stops.

A node that raises marks the fence `failed`: the turn is over and will be rolled back, so the
checkpoint LangGraph writes when a run ends, even one that failed, is not written at all (on a full
disk, a failed turn that writes nothing leaves nothing to undo).

Waiting for a thread's lock, the other place a turn can be given up, is `persistence.waiting`'s.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp

Node = TypeVar("Node", bound=Callable[..., Any])

FENCE_KEY = "__memoria_fence"
"""Configurable key of a turn's fence; the double underscore keeps it out of checkpoint metadata."""


class TurnCancelled(RuntimeError):
    """The turn was cancelled; nothing it did is kept."""


@dataclass
class Fence:
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: bool = False
    ended: bool = False
    failed: bool = False
    """A node raised: the run's remaining checkpoint writes are skipped."""


def fence_of(config: Mapping[str, Any] | None) -> Fence | None:
    """The run's fence (None: a run that is not a Memoria turn)."""
    fence = ((config or {}).get("configurable") or {}).get(FENCE_KEY)
    return fence if isinstance(fence, Fence) else None


def failing_ends_writes(node: Node) -> Node:
    """`node`, marking its turn's fence `failed` when it raises (an interrupt is not a failure)."""

    @functools.wraps(node)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return node(*args, **kwargs)
        except GraphBubbleUp:
            raise
        except BaseException:
            if (fence := fence_of(get_config())) is not None:
                fence.failed = True
            raise

    return run  # type: ignore[return-value]


@contextmanager
def fenced(config: Mapping[str, Any] | None) -> Iterator[None]:
    """Hold the run's fence (if it has one) around a write; raise if the turn was cancelled."""
    fence = fence_of(config)
    if fence is None:
        yield
        return
    with fence.lock:
        if fence.cancelled:
            raise TurnCancelled("the turn was cancelled")
        yield
