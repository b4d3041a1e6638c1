"""Ctrl-C around turns: where SIGINT may interrupt, and where it must wait.

A turn is rolled back whole or not at all, so Python's default Ctrl-C (KeyboardInterrupt wherever
the main thread happens to be) is kept out of rollbacks, and, while the main thread reads a turn,
turned into a request that the reader honours at its next step (`Turn.interrupt`).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def signals_deferred() -> Iterator[None]:
    """A second Ctrl-C must not interrupt a rollback halfway: hold SIGINT until it is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def block_in_worker() -> None:
    """Ctrl-C belongs to the thread that reads the reply: blocked in a turn's worker (and so in
    the threads LangGraph starts from it), the kernel delivers it to the main thread, where it can
    wake a prompt and where a rollback can hold it off."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


@contextmanager
def ctrl_c_calls(interrupt: Callable[[], None], ended: Callable[[], bool]) -> Iterator[None]:
    """While the main thread reads a turn, Ctrl-C calls `interrupt` (which makes the reader raise
    KeyboardInterrupt where the turn can be rolled back whole, never halfway through a rollback
    or a lock), or, once the turn has `ended`, raises as usual. Only where SIGINT has Python's
    default handler, as `asyncio.run` leaves it; afterwards Ctrl-C is Python's again."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def on_ctrl_c(signum: int, frame: Any) -> None:
        if ended():
            signal.default_int_handler(signum, frame)
        interrupt()

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is on_ctrl_c
        ):
            signal.signal(signal.SIGINT, signal.default_int_handler)


class _QuietCancellations(logging.Filter):
    """LangChain logs every exception raised by a callback; a cancelled turn's is expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "TurnCancelled" not in record.getMessage()


_QUIET = _QuietCancellations()


def quiet_cancellations() -> None:
    """Keep cancelled turns out of LangChain's callback log (idempotent: a filter is added once)."""
    logging.getLogger("langchain_core.callbacks.manager").addFilter(_QUIET)
