"""`Memoria`: one database, one configuration, many threads, and the turns that run on them.

from memoria import Memoria, Context

with Memoria(db="chat.sqlite", context=Context(memory="hybrid")) as agent:
    for piece in agent.stream("juan", "Hola, soy Juan"):
        print(piece, end="", flush=True)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool

from memoria.agent.admin import ThreadAdmin
from memoria.agent.turn import Turn
from memoria.context import Context
from memoria.ids import validate_thread_id
from memoria.parts import Parts
from memoria.summaries import Summariser
from memoria.tools import ToolLike, as_tools


class Memoria(ThreadAdmin):
    """A Memoria agent over one database (SQLite file or Postgres).

    >>> with Memoria(context=Context(model="echo")) as agent:
    ...     agent.send("demo", "Hola").content
    'Hola'

    The context's models are loaded when it opens, so that a bad spec, a missing key or tools the
    model cannot call fail before any turn is typed; with `resume`, the context is first replaced
    by that thread's saved settings, with the options the caller gave `Context` on top.
    """

    def __init__(
        self,
        *,
        db: str | os.PathLike[str] | None = None,
        context: Context | None = None,
        model: BaseChatModel | None = None,
        summary_model: BaseChatModel | Summariser | str | None = None,
        tools: Sequence[ToolLike] = (),
        resume: str | None = None,
        read_only: bool = False,
        init_db: bool = False,
        lock_timeout: float | None = None,
    ) -> None:
        self.offered_tools: list[BaseTool] = []
        """The tools the context's model is offered."""
        super().__init__(
            db=db,
            read_only=read_only,
            init_db=init_db,
            lock_timeout=lock_timeout,
            context=context,
            parts=Parts.fixed(model, summary_model, tools=as_tools(tools)),
        )
        try:
            if resume is not None:
                self.resume(resume, **self.context.given())
            else:
                self.load_models()
        except BaseException:
            self.close()
            raise

    def load_models(self) -> None:
        """Load the context's models now: a bad spec, a missing key or tools the model cannot
        call raise here rather than in a turn."""
        self.offered_tools = self.parts.check(self.context)

    def resume(self, thread_id: str, **explicit: Any) -> None:
        """Take the settings `thread_id` last ran with, with `explicit` options on top, and load
        their models."""
        if saved := self.state(thread_id).settings:
            self.context = Context.resume(saved, **explicit)
        self.load_models()

    # Turns

    def start(self, thread_id: str, text: str, *, streaming: bool = True) -> Turn:
        """Start a turn; iterate the result for the reply's pieces (with `streaming`), `wait()`
        for the reply, or `cancel()` it."""
        thread_id = validate_thread_id(thread_id)
        held = self._holding(thread_id)
        try:
            before = self._finish_undoing(thread_id)
            return Turn(
                self.graph,
                self.database,
                self.context,
                thread_id,
                text,
                held=held,
                before=before,
                streaming=streaming,
            )
        except BaseException:
            held.close()
            raise

    def send(self, thread_id: str, text: str) -> AIMessage:
        """Run one turn and return the reply."""
        return self.start(thread_id, text, streaming=False).wait()

    def stream(self, thread_id: str, text: str) -> Iterator[str]:
        """Run one turn, yielding the reply's text as the model produces it. Closing the iterator
        early (or an exception, Ctrl-C) cancels the turn: the thread stays as it was."""
        turn = self.start(thread_id, text)
        try:
            yield from turn
        finally:
            turn.cancel()  # a no-op once the turn has ended
