"""The `memoria` command: a thin layer over `memoria.Memoria`.

Only click, python-dotenv and the standard library are imported up front; LangGraph and LangChain
load when a command needs them, so `memoria --help` and `threads list` start quickly.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import os
import secrets
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from memoria.presets import LANGUAGES, MEMORY_TOOL_MODES, PRESETS
from memoria.terminal import safe, safe_line

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from memoria.agent import Memoria, Turn
    from memoria.state import State

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
TITLE_WIDTH = 60
TOOL_LINE_WIDTH = 160
MARK_ON, MARK_OFF = "\ue000", "\ue001"
NO_MARKS = {ord(MARK_ON): "\ufffd", ord(MARK_OFF): "\ufffd"}
ADJECTIVES = ("amber", "brave", "calm", "clever", "eager", "gentle", "golden", "lucky", "merry")
NOUNS = ("otter", "falcon", "river", "meadow", "harbor", "comet", "cedar", "lantern", "willow")
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


class CliError(Exception):
    """A failure already worded for the user."""


def say(message: str, code: int = EXIT_ERROR) -> int:
    """Print `message` as the command's one error line; return the exit status to use."""
    from memoria.errors import redact

    click.echo(f"memoria: {safe_line(redact(message))}", err=True)
    return code


def fail(message: str, code: int = EXIT_ERROR) -> None:
    sys.exit(say(message, code))


def quiet_broken_pipe() -> None:
    """The reader went away (`memoria threads list | head -1`): stop quietly, as Unix tools do."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_BROKEN_PIPE)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every failure becomes one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            check_arguments(args, kwargs)
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except BrokenPipeError:
            quiet_broken_pipe()
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            from memoria.errors import describe_error

            fail(describe_error(exc))

    return wrapper


def check_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Arguments that were not valid UTF-8 reach Python as lone surrogates: refuse them."""
    context = click.get_current_context(silent=True)
    params = {p.name: p for p in context.command.params} if context is not None else {}
    for name, value in [*enumerate(args), *kwargs.items()]:
        if isinstance(value, str) and has_surrogates(value):
            # Named as the user typed it: the longest option (--thread), or the metavar (TEXT).
            param = params.get(name) if isinstance(name, str) else None
            if isinstance(param, click.Option):
                label = max(param.opts, key=len)
            elif param is not None:
                label = f"the argument {param.human_readable_name}"
            else:
                label = "an argument"
            raise CliError(f"{label} is not valid UTF-8 text")


def has_surrogates(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def readable_thread_id() -> str:
    return f"{secrets.choice(ADJECTIVES)}-{secrets.choice(NOUNS)}-{secrets.token_hex(2)}"


db_option = click.option(
    "--db",
    help="A SQLite file (or sqlite:///path), a postgresql:// URL or a libpq 'host=... dbname=...' "
    "string (default: $MEMORIA_DB, else checkpoints/memoria.sqlite).",
)
init_option = click.option(
    "--init-db",
    is_flag=True,
    help="Add Memoria's tables to an existing database that holds other tables.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def conversation_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options `chat` and `ask` share."""
    options = [
        click.option("--thread", "thread_id", help="Thread to resume or start."),
        click.option(
            "-c", "--continue", "continue_", is_flag=True, help="Resume the most recent thread."
        ),
        click.option("--model", help="groq:<model>, <provider>:<model>, local or echo."),
        click.option(
            "--memory", type=click.Choice(PRESETS), help="Memory preset (default: hybrid)."
        ),
        click.option("-k", "k", type=click.IntRange(0, 100_000), help="Turns kept verbatim."),
        click.option(
            "--max-tokens",
            type=click.IntRange(1, 10_000_000),
            help="Token limit of the whole prompt (summarising fires above it).",
        ),
        click.option(
            "--recall-tokens",
            type=click.IntRange(0, 10_000_000),
            help="Budget of recalled earlier turns, part of --max-tokens; 0 turns recall off.",
        ),
        click.option(
            "--recall-turns",
            type=click.IntRange(0, 1000),
            help="Most earlier turns recalled into one prompt.",
        ),
        click.option(
            "--language",
            type=click.Choice(LANGUAGES),
            help="Language of a new thread for search (default: detected).",
        ),
        click.option("--system", "system_prompt", help="System prompt."),
        click.option(
            "--tools",
            "tool_references",
            multiple=True,
            metavar="MODULE:NAME",
            help="Tools for the model: a tool, a function or a list of them, in an importable "
            "module or a .py file (FILE.py:NAME); repeatable.",
        ),
        click.option(
            "--memory-tool",
            type=click.Choice(MEMORY_TOOL_MODES),
            help="The search_conversation tool (default auto: on when the model can call tools).",
        ),
        click.option(
            "--max-tool-rounds",
            type=click.IntRange(2, 100),
            help="Most model calls in one turn (default 10).",
        ),
        db_option,
        init_option,
        click.option("-v", "--verbose", is_flag=True, help="Show the memory at work on stderr."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """Loading LangGraph and LangChain creates some 10^5 objects that live as long as the process;
    the cyclic collector's passes over them while they load free nothing (`ask` on echo: 0.72 s
    with them, 0.67 s without). Load without it, then freeze what was loaded out of later passes
    (`run` unfreezes it before exit, so the interpreter's last collection still finalises it)."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


class CtrlC:
    """Where Ctrl-C goes while a command runs turns. Python's default handler raises
    KeyboardInterrupt wherever the main thread happens to be, halfway through a rollback or a
    lock included, and a burst of Ctrl-C does so several times. Installed instead, this one
    sends Ctrl-C to the running turn, which stops where it can be rolled back whole
    (`Turn.interrupt`); raises KeyboardInterrupt only inside `raising()` (a prompt, a command) and
    in a wait for a busy thread (`fence.pause`); and otherwise keeps it for the turn about to
    start, which it stops. It stays installed until the process ends: putting Python's handler
    back would hand it a Ctrl-C still in flight."""

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
        from memoria.fence import pausing  # not at the top: `--help` stays without it

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


def open_conversation(
    thread_id: str | None,
    continue_: bool,
    model: str | None,
    db: str | None,
    init_db: bool,
    tool_references: tuple[str, ...] = (),
    **settings: Any,
) -> tuple[Memoria, str]:
    """The agent and thread that `chat` and `ask` options describe; `settings` fill `Context`.
    Tools come from `--tools` only, never from the thread's saved settings."""
    with loading():
        from memoria.agent import Memoria, validate_thread_id
        from memoria.context import Context
        from memoria.tools import load_tools

    if thread_id is not None and continue_:
        raise CliError("use either --thread or --continue, not both")
    if thread_id is not None:
        thread_id = validate_thread_id(thread_id)
    explicit = {
        key: value for key, value in {"model": model, **settings}.items() if value is not None
    }
    if model is not None:  # a spec that cannot work fails before any database is created
        from memoria.models import load_chat_model

        load_chat_model(model)
    tools = [tool for reference in tool_references for tool in load_tools(reference)]
    if continue_:  # known before the database is opened for writing, which would create it
        with reading(db) as reader:
            thread_id = reader.latest_thread() if reader is not None else None
        if thread_id is None:
            raise CliError(f"no thread to continue in {where(db)}")
    agent = Memoria(
        db=db, context=Context(**explicit), tools=tools, load_models=False, init_db=init_db
    )
    try:
        thread_id = readable_thread_id() if thread_id is None else thread_id
        agent.resume(thread_id, **explicit)  # a resumed thread keeps its model and memory
        agent.load_models()
    except BaseException:
        agent.close()
        raise
    if (
        agent.context.model == "local"
        and "model" not in explicit
        and not os.environ.get("GROQ_API_KEY")
    ):
        click.echo(
            "memoria: no GROQ_API_KEY, so using the offline local model (SmolLM2-135M); "
            "set GROQ_API_KEY in the environment or a .env file to use Groq.",
            err=True,
        )
    return agent, thread_id


def admin(db: str | None, *, read_only: bool = False, init_db: bool = False) -> Memoria:
    """A Memoria for thread administration: no model is loaded."""
    with loading():
        from memoria.agent import Memoria
        from memoria.context import Context

    return Memoria(
        db=db,
        context=Context(model="echo"),
        load_models=False,
        read_only=read_only,
        init_db=init_db,
    )


@contextlib.contextmanager
def reading(db: str | None) -> Iterator[Memoria | None]:
    """A read-only Memoria, or None when there is no database yet (nothing is created)."""
    from memoria.persistence import NoDatabaseError

    try:
        agent = admin(db, read_only=True)
    except NoDatabaseError:
        yield None
        return
    with agent:
        yield agent


def where(db: str | None) -> str:
    """The database `--db` names, as messages show it (no password)."""
    from memoria.persistence import parse_location

    return parse_location(db).display


@contextlib.contextmanager
def reading_thread(db: str | None, thread_id: str) -> Iterator[Memoria]:
    """A read-only Memoria holding `thread_id`; ThreadNotFoundError when it (or the database)
    does not exist."""
    from memoria.agent import ThreadNotFoundError

    with reading(db) as agent:
        if agent is None or not agent.exists(thread_id):
            raise ThreadNotFoundError(f"no thread {thread_id!r} in {where(db)}")
        yield agent


def require_thread(db: str | None, thread_id: str) -> None:
    """Refuse, before opening the database for writing (which would create it), a thread that
    does not exist."""
    with reading_thread(db, thread_id):
        pass


def load_env() -> Path | None:
    """`.env` from the current directory (or the nearest parent), as python-dotenv users expect.
    It can set `MEMORIA_SYSTEM_PROMPT`, `MEMORIA_DB` and `GROQ_API_BASE`, so one that others can
    write, or that another user owns, is not loaded; nor is one that is not UTF-8. Either way one
    line says so and the command goes on without it. python-dotenv is only imported when there
    is such a file."""
    directory = Path.cwd()
    for folder in (directory, *directory.parents):
        if (folder / ".env").is_file():
            found = folder / ".env"
            break
    else:
        return None
    try:
        status = found.stat()
        if status.st_mode & stat.S_IWOTH or status.st_uid != os.getuid():
            who = "others can write it" if status.st_mode & stat.S_IWOTH else "another user owns it"
            click.echo(f"memoria: not loading {found}: {who}", err=True)
            return None
        text = found.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        click.echo(f"memoria: not loading {found}: not valid UTF-8 (byte {exc.start})", err=True)
        return None
    except OSError as exc:
        click.echo(f"memoria: not loading {found}: {exc.strerror or exc}", err=True)
        return None
    import io

    from dotenv import load_dotenv

    load_dotenv(stream=io.StringIO(text))
    return found


@click.group()
@click.version_option(package_name="langgraph-memoria")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Memoria: a chat agent whose conversations remember, stay cheap and survive restarts."""
    ctx.meta["env_file"] = load_env()


def say_env_file(verbose: bool) -> None:
    if verbose:
        env_file = click.get_current_context().find_root().meta.get("env_file")
        where = env_file if env_file else "none found from the current directory"
        click.echo(f"memoria: .env: {where}", err=True)


@main.command()
@conversation_options
@reports_errors
def chat(verbose: bool, **conversation: Any) -> None:
    """Chat in the terminal, streaming replies. Type /help for the in-chat commands."""
    say_env_file(verbose)
    agent, thread_id = open_conversation(**conversation)
    with agent:
        session = ChatSession(agent, thread_id, verbose)
        session.banner()
        session.run()


@main.command()
@click.argument("text")
@conversation_options
@click.option("--json", "as_json", is_flag=True, help="Print the reply, thread and usage as JSON.")
@reports_errors
def ask(text: str, verbose: bool, as_json: bool, **conversation: Any) -> None:
    """One turn: TEXT (or - for stdin) in, the reply alone on stdout."""
    say_env_file(verbose)
    if text == "-":
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CliError(f"stdin is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise CliError("empty message: nothing to send")
    agent, thread_id = open_conversation(**conversation)
    with agent:
        click.echo(f"memoria: thread {thread_id}", err=True)
        ctrl_c = CtrlC.install()
        turn = ctrl_c.start(agent, thread_id, text, streaming=not as_json)
        try:
            if as_json:
                reply = turn.wait()
            else:
                show_reply(turn, sys.stdout.isatty(), verbose)
        finally:
            ctrl_c.done()
        if as_json:
            report = agent.state(thread_id).report
            click.echo(
                json.dumps(
                    {
                        "thread_id": thread_id,
                        "reply": reply.text,
                        "model": agent.context.model,
                        "memory": agent.context.memory,
                        "usage": report.get("usage", {}),
                        "prompt_tokens_estimate": report.get("prompt_tokens_estimate"),
                        "recalled": report.get("recall", {}).get("turns", []),
                        "tool_calls": [
                            {
                                **call.as_dict(),
                                "result": result.content if result else None,
                                "error": result.error if result else None,
                            }
                            for call, result in turn.tool_calls
                        ],
                    },
                    ensure_ascii=False,
                )
            )
        if verbose:
            for line in memory_lines(agent.state(thread_id)):
                click.echo(line, err=True)


def show_reply(turn: Turn, on_terminal: bool, verbose: bool, dim: bool = False) -> None:
    """The reply on stdout as it streams; each tool call, with its result, on a line of its own
    on stderr (cut to one line unless `verbose`; dimmed in a styled chat)."""
    from memoria.events import ToolResult

    calls: dict[str, Any] = {}
    mid_line = False
    for event in turn.events():
        if isinstance(event, str):
            click.echo(safe(event) if on_terminal else event, nl=False)
            mid_line = not event.endswith("\n")
            continue
        if not isinstance(event, ToolResult):
            calls[event.id] = event
            continue
        if mid_line:
            click.echo()
            mid_line = False
        line = tool_line(calls.get(event.id), event, verbose)
        click.echo(click.style(line, dim=True) if dim else line, err=True)
    click.echo()


def tool_line(call: Any, result: Any, full: bool) -> str:
    """`[tool] weather(city="Lima") → Sunny, 24 °C` (the result cut to one line unless `full`)."""
    args = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}"
        for key, value in (call.args if call else {}).items()
    )
    outcome = "failed: " if result.error else ""
    text = f"[tool] {result.name}({args}) → {outcome}"
    if full:
        return safe(text + result.content)
    return safe_line(text + " ".join(result.content.split()), TOOL_LINE_WIDTH)


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
        self.history_file: Path | None = None
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
        self.switch_history()
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
            self.save_history()

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
            for line in memory_lines(self.agent.state(self.thread_id)):
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
        self.save_history()
        new = self.agent.fork_thread(self.thread_id, new=name or None)
        click.echo(f"forked {self.thread_id} into {new}; now continuing in {new}", err=True)
        self.thread_id = new
        self.switch_history()

    def new(self, _: str) -> None:
        self.save_history()
        self.thread_id = readable_thread_id()
        click.echo(f"new thread {self.thread_id}", err=True)
        self.switch_history()

    def style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.styled else text

    # Input history, one file per thread, so that deleting a thread deletes its lines too.

    def switch_history(self) -> None:
        if not self.interactive:
            return
        try:
            import readline
        except ImportError:
            return
        readline.clear_history()
        self.history_file = history_path(self.agent.db_path, self.thread_id)
        with contextlib.suppress(OSError):
            readline.read_history_file(self.history_file)
        readline.set_history_length(1000)

    def save_history(self) -> None:
        if self.history_file is None:
            return
        import readline

        with contextlib.suppress(OSError):
            self.history_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            readline.write_history_file(self.history_file)
            self.history_file.chmod(0o600)


def history_path(db: str, thread_id: str) -> Path:
    state_home = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    where = os.path.realpath(db) if "://" not in db else db
    key = hashlib.sha256(f"{where}\0{thread_id}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return state_home / "memoria" / "chat-history" / key


def memory_lines(state: State) -> list[str]:
    """What the memory did this turn, like the seed's `verbose=True`."""
    from memoria.errors import redact

    report = state.report
    parts = [f"[memory {report.get('memory', '?')}]"]
    if report.get("trimmed_turns"):
        parts.append(f"trimmed {report['trimmed_turns']} turn(s) out of the window")
    if report.get("folded_turns"):
        parts.append(
            f"folded {report['folded_turns']} turn(s) into the summary "
            f"(now {report.get('summary_tokens', '?')} tokens)"
        )
    if report.get("summary_error"):
        error = safe_line(redact(report["summary_error"]), 160)
        parts.append(
            f"summary failed: {error} (folded with the extractive summary instead; the next "
            "fold asks the summariser again)"
        )
    if (calls := report.get("model_calls", 1)) > 1:
        parts.append(f"{calls} model calls (a tool loop)")
    parts.append(f"context ~{report.get('context_tokens', '?')} tokens")
    parts.append(f"prompt sent ~{report.get('prompt_tokens_estimate', '?')} tokens")
    usage = report.get("usage") or {}
    if usage:
        parts.append(
            f"provider reported {usage.get('input_tokens', '?')} in / "
            f"{usage.get('output_tokens', '?')} out"
        )
    turns = f"{state.turns} turn" + ("" if state.turns == 1 else "s")
    parts.append(f"{len(state.messages)} messages kept verbatim, {turns} in all")
    lines = [" · ".join(parts)]
    recall = report.get("recall") or {}
    if recall.get("budget") and "searched_below_turn" not in recall:
        lines.append("[recall] every earlier turn is still in view: nothing to search")
    elif recall.get("budget"):
        found = recall.get("turns") or []
        shown = ", ".join(f"turn {t['turn']} (score {t['score']:.2f})" for t in found)
        lines.append(
            f"[recall] {shown or 'nothing matched'} · {recall.get('tokens', 0)} of "
            f"{recall['budget']} tokens · searched turns 1-{recall['searched_below_turn'] - 1}"
        )
    return lines


@main.group()
def threads() -> None:
    """List, read, search, export, import, fork, rename and delete threads."""


@threads.command("list")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=20, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Every thread.")
@json_option
@db_option
@reports_errors
def list_threads(limit: int, show_all: bool, as_json: bool, db: str | None) -> None:
    """The most recently used threads first: id, turns, last use, size, first message."""
    from memoria.persistence import parse_location
    from memoria.persistence.catalog import CatalogUnavailable
    from memoria.persistence.catalog import list_threads as catalogue

    try:  # plain SQL, without loading LangGraph
        infos = catalogue(parse_location(db), None if show_all else limit)
    except CatalogUnavailable:  # no Memoria schema of this version: the full path says why
        with reading(db) as agent:
            infos = agent.threads(None if show_all else limit) if agent else []
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in infos], ensure_ascii=False, indent=2))
    else:
        print_threads(infos)


def print_threads(infos: list[Any]) -> None:
    if not infos:
        click.echo("no threads yet", err=True)
        return
    width = max(16, *(len(info.thread_id) for info in infos))
    click.echo(
        f"{'THREAD':<{width}} {'TURNS':>5}  {'LAST USED (UTC)':<19}  {'SIZE':>9}  FIRST MESSAGE"
    )
    for info in infos:
        updated = info.updated_at[:19].replace("T", " ")
        click.echo(
            f"{safe_line(info.thread_id):<{width}} {info.turns:>5}  {updated:<19}  "
            f"{human_size(info.size_bytes):>9}  {safe_line(info.title, TITLE_WIDTH)}"
        )


@threads.command()
@click.argument("thread_id")
@click.option("--context", "show_context", is_flag=True, help="What the model will see next.")
@json_option
@db_option
@reports_errors
def show(thread_id: str, show_context: bool, as_json: bool, db: str | None) -> None:
    """A thread: its header (turns, times, settings, summary), then its whole transcript (or,
    with --context, the model's next input and what the last turn recalled)."""
    from memoria.transcript import encode_message

    with reading_thread(db, thread_id) as agent:
        info = agent.thread_info(thread_id)
        state = agent.state(thread_id)
        messages = (
            agent.next_prompt(thread_id)[:-1] if show_context else agent.transcript(thread_id)
        )
    if as_json:
        document = {
            **info.as_dict(),
            "summary": state.summary,
            "settings": state.settings,
            "recalled_last_turn": state.recalled,
            ("context" if show_context else "messages"): [encode_message(m) for m in messages],
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    for name, value in thread_header(info, state):
        click.echo(f"{name}: {value}")
    if show_context and state.recalled:
        click.echo("recalled for the last message:")
        for item in state.recalled:
            click.echo(
                f"  turn {item['turn'] + 1} · score {item['score']:.2f} · "
                f"{safe_line(item['text'], 100)}"
            )
    click.echo()
    for message in messages:
        click.echo(render(message))


def thread_header(info: Any, state: State) -> list[tuple[str, str]]:
    settings = state.settings or {}
    shown = ", ".join(
        f"{key}={safe_line(str(settings[key]), 40)}"
        for key in ("model", "memory", "k", "max_tokens", "recall_tokens", "language")
        if key in settings
    )
    summary = state.summary or "(none)"
    header = [
        ("thread", safe_line(info.thread_id)),
        ("turns", str(info.turns)),
        ("created", info.created_at),
        ("last used", info.updated_at),
        ("settings", shown or "(defaults)"),
        ("summary", safe_line(summary, 400)),
    ]
    if state.summary_error:
        failed = f"{safe_line(state.summary_error, 200)} ({state.summary_failures} in a row)"
        header.append(("last summary failed", failed))
    return header


@threads.command()
@click.argument("query")
@click.option("--thread", "thread_id", help="Search one thread only.")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@json_option
@db_option
@reports_errors
def search(query: str, thread_id: str | None, limit: int, as_json: bool, db: str | None) -> None:
    """Full-text search over every transcript (Spanish and English: accents, plurals and verb
    forms match), best matches first, with the matching words highlighted."""
    from memoria.analysis import MAX_SEARCH_TERMS, analyzer, snippet

    distinct = max(len(analyzer(language).query_terms(query)) for language in ("en", "es"))
    if distinct > MAX_SEARCH_TERMS:
        click.echo(
            f"memoria: the query has {distinct} distinct terms; searching for its first "
            f"{MAX_SEARCH_TERMS}",
            err=True,
        )
    with reading(db) as agent:
        hits = agent.search(query, thread_id=thread_id, limit=limit) if agent else []
        languages = {
            hit.thread_id: agent.archive.thread_language(hit.thread_id)
            for hit in hits
            if agent is not None
        }
    styled = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    rows = []
    for hit in hits:
        language = languages.get(hit.thread_id) or "en"
        # Private-use characters mark the matches; any already in the text are blanked first.
        text = "\n".join(str(m.text) for m in hit.messages).translate(NO_MARKS)
        terms = analyzer(language).query_terms(query)[:MAX_SEARCH_TERMS]
        cut = snippet(text, terms, language, start=MARK_ON, end=MARK_OFF)
        rows.append((hit, cut))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "thread_id": hit.thread_id,
                        "turn": hit.turn + 1,
                        "score": round(hit.score, 4),
                        "created_at": hit.created_at,
                        "snippet": cut.replace(MARK_ON, "[").replace(MARK_OFF, "]"),
                    }
                    for hit, cut in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("no match", err=True)
        return
    on, off = ("\x1b[1;33m", "\x1b[0m") if styled else ("[", "]")
    for hit, cut in rows:
        line = safe_line(cut, 400).replace(MARK_ON, on).replace(MARK_OFF, off)
        line += off if styled else ""  # a cut may have left a match open
        click.echo(f"{safe_line(hit.thread_id)}  turn {hit.turn + 1}  score {hit.score:.2f}")
        click.echo(f"  {line}")


@threads.command()
@click.argument("thread_id")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "md"]), default="json", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="File to write (replaced atomically, owner-only), a FIFO or device to write into, or - "
    "for stdout.",
)
@db_option
@reports_errors
def export(thread_id: str, fmt: str, output: Path | None, db: str | None) -> None:
    """Export a thread: transcript, memory and settings (JSON, re-importable) or Markdown."""
    from memoria.agent import ThreadNotFoundError, validate_thread_id
    from memoria.threads import dumps

    thread_id = validate_thread_id(thread_id)  # `ａｌｉｃｅ` exports `alice`, all of it
    with reading(db) as agent:
        if agent is None:
            raise ThreadNotFoundError(f"no thread {thread_id!r} in {where(db)}")
        if output is not None:
            refuse_database_path(output, agent)
        exported = agent.export_thread(thread_id)
        header = thread_header(agent.thread_info(thread_id), agent.state(thread_id))
    text = dumps(exported.to_json()) if fmt == "json" else exported.to_markdown(header)
    if output is None or str(output) == "-":
        # A terminal acts on escape sequences in the text, as `show` knows; a pipe gets it exact
        # (JSON escapes them itself; click would otherwise strip what looks like a colour code).
        if sys.stdout.isatty():
            click.echo(safe(text), nl=False)
        else:
            click.echo(text, nl=False, color=True)
        return
    write_export(output, text)
    click.echo(f"exported {thread_id} to {output}", err=True)


def write_export(path: Path, text: str) -> None:
    """Write an export where `-o` says. A symlink's target gets it. A regular file (or a new one)
    is replaced atomically and made owner-only; a FIFO or a character device (a pipe a reader
    waits on, /dev/null) is written into as a stream, never replaced; anything else is refused."""
    target = Path(os.path.realpath(path))
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        with open(target, "w", encoding="utf-8") as stream:
            stream.write(text)
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise CliError(f"{path} is neither a file, a FIFO nor a character device: not written")
    write_private(target, text)


def refuse_database_path(output: Path, agent: Memoria) -> None:
    """Never write an export over the database or its -wal, -shm and lock files."""
    location = agent.database.location
    if location.kind != "sqlite":
        return
    database = Path(location.target).expanduser()
    # SQLite names its -wal, -shm and -journal files after the database's real path (symlinks
    # resolved), so `--db link.sqlite` writes `real.sqlite-wal`: guard both spellings.
    targets = [
        sibling
        for base in dict.fromkeys((database, Path(os.path.realpath(database))))
        for sibling in (
            base,
            *(base.with_name(base.name + s) for s in ("-wal", "-shm", "-journal", ".turnlock")),
        )
    ]
    for target in targets:
        same = os.path.realpath(output) == os.path.realpath(target)
        with contextlib.suppress(OSError):
            same = same or os.path.samefile(output, target)
        if same:
            raise CliError(f"refusing to write the export over the database file {target}")


def write_private(path: Path, text: str) -> None:
    """Write `text` atomically (a temporary file, then a rename), readable by the owner only."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, stat.S_IRUSR | stat.S_IWUSR)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@threads.command()
@click.argument("thread_id")
@db_option
@reports_errors
def delete(thread_id: str, db: str | None) -> None:
    """Delete a thread: checkpoints, transcript, index (waits for a turn running on it)."""
    require_thread(db, thread_id)
    with admin(db) as agent:
        agent.delete_thread(thread_id)
        history = history_path(agent.db_path, thread_id)
    with contextlib.suppress(OSError):
        history.unlink()
    click.echo(f"deleted thread {thread_id}", err=True)


@threads.command()
@click.argument("old")
@click.argument("new")
@db_option
@reports_errors
def rename(old: str, new: str, db: str | None) -> None:
    """Rename a thread."""
    require_thread(db, old)
    with admin(db) as agent:
        agent.rename_thread(old, new)
        with contextlib.suppress(OSError):
            history_path(agent.db_path, old).rename(history_path(agent.db_path, new))
    click.echo(f"renamed thread {old} to {new}", err=True)


@threads.command()
@click.argument("thread_id")
@click.option("--at", type=click.IntRange(min=1), help="Fork as the thread stood after turn N.")
@click.option("--as", "new", help="Id of the new thread (default: <id>-fork).")
@db_option
@reports_errors
def fork(thread_id: str, at: int | None, new: str | None, db: str | None) -> None:
    """Copy a thread (as it stands, or as it stood after turn N) into a new one."""
    require_thread(db, thread_id)
    with admin(db) as agent:
        created = agent.fork_thread(thread_id, at=at, new=new)
    click.echo(created)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--thread", "thread_id", help="Thread id to import under (default: the export's).")
@db_option
@init_option
@reports_errors
def import_thread(file: Path, thread_id: str | None, db: str | None, init_db: bool) -> None:
    """Import a JSON export, or a legacy LangChain memory pickle (read safely, never unpickled)."""
    from memoria.legacy import LegacyPickleError
    from memoria.prompts import SYSTEM_PROMPT
    from memoria.threads import ExportFormatError, ThreadExport, decode_document, looks_like_json

    data = file.read_bytes()
    if looks_like_json(data):
        try:
            export = ThreadExport.from_json(decode_document(data))
        except ExportFormatError as exc:
            raise ExportFormatError(f"{file}: {exc}") from None
        with admin(db, init_db=init_db) as agent:
            result = agent.import_thread(export, thread_id)
    else:
        with admin(db, init_db=init_db) as agent:
            try:
                result = agent.import_legacy_pickle(data, thread_id or readable_thread_id())
            except LegacyPickleError as exc:
                raise LegacyPickleError(f"{exc} ({file})") from None
    settings = dict(result.settings)
    prompt = settings.pop("system_prompt", None)
    if prompt is not None:  # shown whole unless it is the default: nothing rides along unseen
        settings["system_prompt"] = "(the default)" if prompt == SYSTEM_PROMPT else "(below)"
    kept = ", ".join(
        f"{key}={safe_line(str(value), 60)}" for key, value in sorted(settings.items())
    )
    click.echo(f"memoria: imported {result.turns} turns; settings kept: {kept or 'none'}", err=True)
    if prompt is not None and prompt != SYSTEM_PROMPT:
        shown = safe_line(" ".join(prompt.split()))  # runs of blanks cannot push text aside
        click.echo(f"memoria: the thread's system prompt: {shown}", err=True)
    for note in result.notes:
        click.echo(f"memoria: {safe_line(note)}", err=True)
    click.echo(result.thread_id)


main.add_command(import_thread)
threads.add_command(import_thread)


def render(message: BaseMessage) -> str:
    """A message as `show`, `/history` and `/context` print it: `user: ...`, `assistant called
    weather({"city": "Lima"})`, `tool weather: ...`."""
    from memoria.prompts import labelled

    return "\n".join(f"{label.lower()}: {safe(text)}" for label, text in labelled([message]))


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def run() -> None:
    """The console script: `main`, with usage errors on one line (`memoria: ...`, exit 2) and a
    closed stdout ending the command quietly. A turn cancelled by Ctrl-C leaves its model call
    running on a worker thread; the process does not wait for it to return."""
    code = 0
    try:
        main(standalone_mode=False)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except click.exceptions.Exit as exit_:
        code = exit_.exit_code
    except click.Abort:
        code = say("interrupted", EXIT_INTERRUPTED)
    except click.ClickException as exc:
        code = say(exc.format_message(), exc.exit_code)
    except BrokenPipeError:
        quiet_broken_pipe()
    except KeyboardInterrupt:
        code = say("interrupted", EXIT_INTERRUPTED)
    gc.unfreeze()  # so that the interpreter's last collection finalises them while it can
    # After Ctrl-C, or with a cancelled turn's model call still running, leave without the
    # interpreter's tear-down (a few tenths of a second with LangGraph loaded): what matters is
    # written or rolled back already, and a database survives even SIGKILL at any point.
    if code == EXIT_INTERRUPTED or any(
        t.name.startswith("memoria-turn") and t.is_alive() for t in threading.enumerate()
    ):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)
