"""The interactive loop of `memoria chat`: the prompt, the turns, and the in-chat commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from memoria.cli.database import readable_thread_id
from memoria.cli.history import InputHistory
from memoria.cli.render import memory_lines, print_threads, render, show_reply
from memoria.cli.reporting import has_surrogates
from memoria.cli.signals import CtrlC
from memoria.terminal import safe, safe_line

if TYPE_CHECKING:
    from memoria.agent import Memoria

CHAT_HELP = """\
/history        the whole transcript of this thread
/summary        the running summary
/context        exactly what the model will see next (before your message)
/recall TEXT    which earlier turns TEXT would bring back, and why
/threads        the most recent threads
/fork [NAME]    continue in a copy of this thread (this one stays as it is)
/new            start a new thread
/help           this list
/exit           leave (Ctrl-D works too); Ctrl-C stops a reply without saving it"""


class ChatSession:
    """The interactive loop of `memoria chat`."""

    def __init__(self, agent: Memoria, thread_id: str, verbose: bool) -> None:
        self.agent = agent
        self.thread_id = thread_id
        self.verbose = verbose
        self.interactive = sys.stdin.isatty()
        self.on_terminal = sys.stdout.isatty()
        self.styled = (
            self.on_terminal and os.environ.get("TERM") != "dumb" and not os.environ.get("NO_COLOR")
        )
        self.input_history = InputHistory(agent.db_path, self.interactive)
        self.ctrl_c = CtrlC()
        self.commands: dict[str, Callable[[str], None]] = {
            "/history": self.history,
            "/summary": self.summary,
            "/context": self.context,
            "/recall": self.recall,
            "/threads": self.threads,
            "/fork": self.fork,
            "/new": self.new,
            "/help": lambda _: click.echo(CHAT_HELP),
        }

    def banner(self) -> None:
        context = self.agent.context
        resumed = "resumed" if self.agent.exists(self.thread_id) else "new"
        recall = f"recall {context.recall_budget} tokens" if context.recall_budget else "no recall"
        tools = ", ".join(t.name for t in self.agent.offered_tools)
        click.echo(
            f"memoria · model {safe_line(context.model)} · memory {context.memory} "
            f"(k={context.k}, max {context.max_tokens} tokens, {recall})"
            + (f" · tools {safe_line(tools)}" if tools else "")
            + f" · thread {self.thread_id} ({resumed}) · db {safe_line(self.agent.db_path)} · /help",
            err=True,
        )

    def run(self) -> None:
        self.input_history.switch(self.thread_id)
        self.ctrl_c = CtrlC.install()
        try:
            while (text := self.read()) is not None:
                command = text.strip()
                if command == "/exit":
                    break
                if not command:
                    continue
                if command.startswith("/"):
                    name, _, argument = command.partition(" ")
                    action = self.commands.get(name)
                    if action is None:
                        click.echo(
                            f"unknown command {safe_line(name, 40)}; /help lists them", err=True
                        )
                    else:
                        self.guarded(lambda: action(argument.strip()))  # noqa: B023
                    continue
                self.turn(text)
        finally:
            self.input_history.save()

    def guarded(self, action: Callable[[], None]) -> None:
        """An in-chat command that fails says why and the chat goes on."""
        from memoria.errors import describe_error

        try:
            with self.ctrl_c.raising():
                action()
        except KeyboardInterrupt:
            click.echo(err=True)
        except Exception as exc:
            click.echo(f"memoria: {safe_line(describe_error(exc))}", err=True)

    def read(self) -> str | None:
        while True:
            try:
                with self.ctrl_c.raising():
                    line = input(
                        self.style("you> ", fg="green", bold=True) if self.interactive else ""
                    )
            except EOFError:
                if self.interactive:
                    click.echo(err=True)
                return None
            except KeyboardInterrupt:
                click.echo(err=True)  # Ctrl-C at the prompt clears the line, like a shell
                continue
            except UnicodeDecodeError:
                click.echo("memoria: that line is not valid UTF-8; nothing was sent", err=True)
                continue
            if has_surrogates(line):
                click.echo("memoria: that line is not valid UTF-8; nothing was sent", err=True)
                continue
            return line

    def turn(self, text: str) -> None:
        from memoria.errors import describe_error

        if self.on_terminal:
            click.echo(self.style("memoria> ", fg="cyan", bold=True), nl=False)
        try:
            turn = self.ctrl_c.start(self.agent, self.thread_id, text)
            show_reply(turn, self.on_terminal, self.verbose, dim=self.styled)
        except KeyboardInterrupt:
            click.echo()
            click.echo("[interrupted: that turn was not saved; the thread is as it was]", err=True)
            return
        except BrokenPipeError:
            raise
        except Exception as exc:
            from memoria.errors import TurnSavedError, TurnUndoError

            click.echo()
            as_it_was = (
                ""
                if isinstance(exc, TurnSavedError | TurnUndoError)
                else (" (the thread is as it was; try again)")
            )
            click.echo(f"memoria: {safe_line(describe_error(exc))}{as_it_was}", err=True)
            return
        finally:
            self.ctrl_c.done()
        if self.verbose:
            for line in memory_lines(turn.report, self.agent.state(self.thread_id)):
                click.echo(self.style(line, dim=True), err=True)

    def history(self, _: str) -> None:
        for message in self.agent.transcript(self.thread_id):
            click.echo(render(message))

    def summary(self, _: str) -> None:
        state = self.agent.state(self.thread_id)
        context = self.agent.context
        if context.memory == "window":
            click.echo("(the window preset keeps no summary: it keeps the last k turns)")
        elif context.memory == "buffer":
            click.echo("(the buffer preset keeps no summary: the model sees every turn)")
        else:
            click.echo(safe(state.summary) or "(no summary yet)")
        if state.summary_error:
            click.echo(f"(last summary attempt failed: {safe_line(state.summary_error)})", err=True)

    def context(self, _: str) -> None:
        messages = self.agent.next_prompt(self.thread_id)
        for message in messages[:-1]:  # the last one stands for your next message
            click.echo(render(message))
        click.echo(
            "(then your message; the excerpts recalled depend on it: /recall TEXT previews them)",
            err=True,
        )

    def recall(self, text: str) -> None:
        if not text:
            click.echo("usage: /recall TEXT", err=True)
            return
        recalled = self.agent.recall(self.thread_id, text)
        if not self.agent.context.recall_budget:
            click.echo("(recall is off for this thread: --recall-tokens turns it on)", err=True)
        if not recalled:
            click.echo("(nothing earlier would be recalled)")
        for item in recalled:
            click.echo(f"turn {item.turn + 1} · score {item.score:.2f} · {item.tokens} tokens")
            click.echo(f"  {safe_line(item.text, 240)}")

    def threads(self, _: str) -> None:
        print_threads(self.agent.threads())

    def fork(self, name: str) -> None:
        if not self.agent.exists(self.thread_id):
            click.echo("nothing to fork yet: this thread has no turns", err=True)
            return
        self.input_history.save()
        new = self.agent.fork_thread(self.thread_id, new=name or None)
        click.echo(f"forked {self.thread_id} into {new}; now continuing in {new}", err=True)
        self.thread_id = new
        self.input_history.switch(self.thread_id)

    def new(self, _: str) -> None:
        self.input_history.save()
        self.thread_id = readable_thread_id()
        click.echo(f"new thread {self.thread_id}", err=True)
        self.input_history.switch(self.thread_id)

    def style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.styled else text
