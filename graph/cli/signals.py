"""Ctrl-C while a command runs turns: it stops the turn (which rolls back whole) rather than
interrupting whatever the main thread happens to be doing."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memoria.agent import Memoria, Turn


class CtrlC:
    """Where Ctrl-C goes while a command runs turns. Python's default handler raises
    KeyboardInterrupt wherever the main thread happens to be, halfway through a rollback or a
    lock included, and a burst of Ctrl-C does so several times. Installed instead, this one
    sends Ctrl-C to the running turn, which stops where it can be rolled back whole
    (`Turn.interrupt`); raises KeyboardInterrupt only inside `raising()` (a prompt, a command) and
    in a wait for a busy thread (`persistence.waiting.pause`); and otherwise keeps it for the turn
    about to start, which it stops. It stays installed until the process ends: putting Python's
    handler back would hand it a Ctrl-C still in flight."""

    def __init__(self) -> None:
        self.turn: Turn | None = None
        self.raises = False
        self.pending = False

    @classmethod
    def install(cls) -> CtrlC:
        handler = cls()
        signal.signal(signal.SIGINT, handler)
        return handler

    def __call__(self, signum: int, frame: Any) -> None:
        from memoria.persistence.waiting import pausing  # not at the top: `--help` stays light

        if self.turn is not None:
            self.turn.interrupt()
        elif self.raises or pausing():
            raise KeyboardInterrupt
        else:
            self.pending = True

    @contextlib.contextmanager
    def raising(self) -> Iterator[None]:
        self.raises = True
        try:
            yield
        finally:
            self.raises = False

    def start(self, agent: Memoria, thread_id: str, text: str, **options: Any) -> Turn:
        """`agent.start`. A Ctrl-C while it waits for a thread busy elsewhere ends the wait
        (KeyboardInterrupt); one while it sets the turn up stops the turn as soon as it begins."""
        self.pending = False
        turn = agent.start(thread_id, text, **options)
        self.turn = turn
        if self.pending:
            turn.interrupt()
        return turn

    def done(self) -> None:
        """The turn is over (cancelled, if whatever stopped reading it did not end it): Ctrl-C
        goes back to waiting for the next one."""
        if self.turn is not None:
            self.turn.cancel()  # a no-op once the turn has ended
            self.turn = None
