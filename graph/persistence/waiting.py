"""Waiting for a thread's lock, on every backend: try, pause, try again until a deadline.

A pause between two tries is the one place where a Ctrl-C may raise KeyboardInterrupt in the
middle of a command without leaving anything half done: nothing is taken or half-written across
it. The command line's Ctrl-C handler asks `pausing()` to know that it is there, so that a turn
waiting for a thread busy elsewhere can be given up at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from memoria.errors import ThreadBusyError

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
