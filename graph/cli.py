"""The `memoria` command: a thin layer over `graph.agent.Memoria`."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from dotenv import load_dotenv
from langchain_core.messages import BaseMessage

from graph.agent import Memoria, ThreadNotFoundError, validate_thread_id
from graph.context import Context
from graph.errors import describe_error
from graph.legacy import LegacyPickleError
from graph.memory import PRESETS
from graph.prompts import ROLE_LABELS
from graph.state import State
from graph.threads import ExportFormatError, ThreadExport, dumps
from graph.tokens import message_text
from graph.transcript import encode_message

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
ADJECTIVES = ("amber", "brave", "calm", "clever", "eager", "gentle", "golden", "lucky", "merry")
NOUNS = ("otter", "falcon", "river", "meadow", "harbor", "comet", "cedar", "lantern", "willow")
CHAT_HELP = """\
/history   the whole transcript of this thread
/summary   the running summary
/context   exactly what the model will see next
/threads   every thread in the database
/new       start a new thread
/help      this list
/exit      leave (Ctrl-D works too); Ctrl-C stops a reply without saving it"""


class CliError(Exception):
    """A failure already worded for the user."""


def fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"memoria: {message}", err=True)
    sys.exit(code)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every failure becomes one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            fail(describe_error(exc))

    return wrapper


def readable_thread_id() -> str:
    return f"{secrets.choice(ADJECTIVES)}-{secrets.choice(NOUNS)}-{secrets.token_hex(2)}"


db_option = click.option(
    "--db",
    help="A SQLite file or a postgresql:// URL (default: $MEMORIA_DB, else checkpoints/memoria.sqlite).",
)


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
        click.option("-k", "k", type=click.IntRange(min=0), help="Turns kept verbatim."),
        click.option(
            "--max-tokens",
            type=click.IntRange(min=1),
            help="Token limit (high mark) of the context.",
        ),
        click.option("--system", "system_prompt", help="System prompt."),
        db_option,
        click.option("-v", "--verbose", is_flag=True, help="Show the memory at work on stderr."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def open_conversation(
    thread_id: str | None,
    continue_: bool,
    model: str | None,
    db: str | None,
    **settings: Any,
) -> tuple[Memoria, str]:
    """The agent and thread that `chat` and `ask` options describe; `settings` fill `Context`."""
    if thread_id is not None and continue_:
        raise CliError("use either --thread or --continue, not both")
    if thread_id is not None:
        validate_thread_id(thread_id)
    explicit = {
        key: value for key, value in {"model": model, **settings}.items() if value is not None
    }
    agent = Memoria(db=db, context=Context(**explicit), load_models=False)
    try:
        if continue_:
            thread_id = agent.latest_thread()
            if thread_id is None:
                raise CliError(f"no thread to continue in {agent.db_path}")
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


def admin(db: str | None) -> Memoria:
    """A Memoria for thread administration: no model is loaded."""
    return Memoria(db=db, context=Context(model="echo"), load_models=False)


@click.group()
@click.version_option(package_name="memoria")
def main() -> None:
    """Memoria: a chat agent whose conversations remember, stay cheap and survive restarts."""
    load_dotenv()


@main.command()
@conversation_options
@reports_errors
def chat(verbose: bool, **conversation: Any) -> None:
    """Chat in the terminal, streaming replies. Type /help for the in-chat commands."""
    agent, thread_id = open_conversation(**conversation)
    session = ChatSession(agent, thread_id, verbose)
    with agent:
        session.banner()
        session.run()


@main.command()
@click.argument("text")
@conversation_options
@click.option("--json", "as_json", is_flag=True, help="Print the reply, thread and usage as JSON.")
@reports_errors
def ask(text: str, verbose: bool, as_json: bool, **conversation: Any) -> None:
    """One turn: TEXT (or - for stdin) in, the reply alone on stdout."""
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
        if as_json:
            reply = agent.send(thread_id, text)
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
                    },
                    ensure_ascii=False,
                )
            )
        else:
            for piece in agent.stream(thread_id, text):
                click.echo(piece, nl=False)
            click.echo()
        if verbose:
            click.echo(memory_line(agent.state(thread_id)), err=True)


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
        self.commands: dict[str, Callable[[], None]] = {
            "/history": self.history,
            "/summary": self.summary,
            "/context": self.context,
            "/threads": self.threads,
            "/new": self.new,
            "/help": lambda: click.echo(CHAT_HELP),
        }

    def banner(self) -> None:
        context = self.agent.context
        resumed = "resumed" if self.agent.exists(self.thread_id) else "new"
        click.echo(
            f"memoria · model {context.model} · memory {context.memory} (k={context.k}, "
            f"max {context.max_tokens} tokens) · thread {self.thread_id} ({resumed}) · "
            f"db {self.agent.db_path} · /help",
            err=True,
        )

    def run(self) -> None:
        history = enable_line_editing() if self.interactive else None
        try:
            while (text := self.read()) is not None:
                command = text.strip()
                if command == "/exit":
                    break
                if not command:
                    continue
                if command.startswith("/"):
                    action = self.commands.get(command.split()[0])
                    if action is None:
                        click.echo(
                            f"unknown command {command.split()[0]}; /help lists them", err=True
                        )
                    else:
                        action()
                    continue
                self.turn(text)
        finally:
            if history:
                save_history(history)

    def read(self) -> str | None:
        while True:
            try:
                return input(self.style("you> ", fg="green", bold=True) if self.interactive else "")
            except EOFError:
                if self.interactive:
                    click.echo(err=True)
                return None
            except KeyboardInterrupt:
                click.echo(err=True)  # Ctrl-C at the prompt clears the line, like a shell

    def turn(self, text: str) -> None:
        if self.on_terminal:
            click.echo(self.style("memoria> ", fg="cyan", bold=True), nl=False)
        try:
            for piece in self.agent.stream(self.thread_id, text):
                click.echo(piece, nl=False)
            click.echo()
        except KeyboardInterrupt:
            click.echo()
            click.echo("[interrupted: that turn was not saved; the thread is as it was]", err=True)
            return
        except Exception as exc:
            click.echo()
            click.echo(
                f"memoria: {describe_error(exc)} (the thread is as it was; try again)", err=True
            )
            return
        if self.verbose:
            state = self.agent.state(self.thread_id)
            click.echo(self.style(memory_line(state), dim=True), err=True)

    def history(self) -> None:
        for message in self.agent.transcript(self.thread_id):
            click.echo(render(message))

    def summary(self) -> None:
        state = self.agent.state(self.thread_id)
        click.echo(state.summary or "(no summary yet)")
        if state.summary_error:
            click.echo(f"(last summary attempt failed: {state.summary_error})", err=True)

    def context(self) -> None:
        for message in self.agent.next_prompt(self.thread_id):
            click.echo(render(message))

    def threads(self) -> None:
        print_threads(self.agent)

    def new(self) -> None:
        self.thread_id = readable_thread_id()
        click.echo(f"new thread {self.thread_id}", err=True)

    def style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.styled else text


def memory_line(state: State) -> str:
    """What the memory did this turn, like the seed's `verbose=True`."""
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
        parts.append(f"summary failed: {report['summary_error']} (turns kept verbatim, will retry)")
    parts.append(f"context ~{report.get('context_tokens', '?')} tokens")
    parts.append(f"prompt sent ~{report.get('prompt_tokens_estimate', '?')} tokens")
    usage = report.get("usage") or {}
    if usage:
        parts.append(
            f"provider reported {usage.get('input_tokens', '?')} in / "
            f"{usage.get('output_tokens', '?')} out"
        )
    parts.append(f"{len(state.messages)} messages kept verbatim, {state.turns} turns in all")
    return " · ".join(parts)


def enable_line_editing() -> Path | None:
    """Arrow keys, editing and input history through readline, where the terminal has it."""
    try:
        import readline
    except ImportError:
        return None
    state_home = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    history = state_home / "memoria" / "history"
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    readline.set_history_length(1000)
    return history


def save_history(path: Path) -> None:
    import readline

    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(path)
        path.chmod(0o600)


@main.group()
def threads() -> None:
    """List, read, export, import and delete threads."""


@threads.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@reports_errors
def list_threads(as_json: bool, db: str | None) -> None:
    """Every thread, most recent first: id, turns, last update, size, first message."""
    with admin(db) as agent:
        if as_json:
            click.echo(
                json.dumps([i.as_dict() for i in agent.threads()], ensure_ascii=False, indent=2)
            )
        else:
            print_threads(agent)


def print_threads(agent: Memoria) -> None:
    infos = agent.threads()
    if not infos:
        click.echo("no threads yet", err=True)
        return
    width = max(16, *(len(info.thread_id) for info in infos))
    click.echo(
        f"{'THREAD':<{width}} {'TURNS':>5}  {'UPDATED (UTC)':<19}  {'SIZE':>9}  FIRST MESSAGE"
    )
    for info in infos:
        updated = info.updated_at[:19].replace("T", " ")
        click.echo(
            f"{info.thread_id:<{width}} {info.turns:>5}  {updated:<19}  "
            f"{human_size(info.size_bytes):>9}  {info.title}"
        )


@threads.command()
@click.argument("thread_id")
@click.option("--context", "show_context", is_flag=True, help="What the model will see next.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
@reports_errors
def show(thread_id: str, show_context: bool, as_json: bool, db: str | None) -> None:
    """The whole transcript of a thread (or, with --context, the model's next input)."""
    with admin(db) as agent:
        if not agent.exists(thread_id):
            raise ThreadNotFoundError(f"no thread {thread_id!r} in {agent.db_path}")
        messages = agent.next_prompt(thread_id) if show_context else agent.transcript(thread_id)
    if as_json:
        click.echo(json.dumps([encode_message(m) for m in messages], ensure_ascii=False, indent=2))
        return
    for message in messages:
        click.echo(render(message))


@threads.command()
@click.argument("thread_id")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "md"]), default="json", show_default=True
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@db_option
@reports_errors
def export(thread_id: str, fmt: str, output: Path | None, db: str | None) -> None:
    """Export a thread: transcript and memory (JSON, re-importable) or Markdown."""
    with admin(db) as agent:
        exported = agent.export_thread(thread_id)
    text = dumps(exported.to_json()) if fmt == "json" else exported.to_markdown()
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"exported {thread_id} to {output}", err=True)
    else:
        click.echo(text, nl=False)


@threads.command()
@click.argument("thread_id")
@db_option
@reports_errors
def delete(thread_id: str, db: str | None) -> None:
    """Delete a thread's checkpoints and transcript."""
    with admin(db) as agent:
        agent.delete_thread(thread_id)
    click.echo(f"deleted thread {thread_id}", err=True)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--thread", "thread_id", help="Thread id to import under (default: the export's).")
@db_option
@reports_errors
def import_thread(file: Path, thread_id: str | None, db: str | None) -> None:
    """Import a JSON export, or a legacy LangChain memory pickle (read safely, never unpickled)."""
    data = file.read_bytes()
    with admin(db) as agent:
        if data.lstrip().startswith(b"{"):
            try:
                document = json.loads(data)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ExportFormatError(f"{file} is not valid JSON: {exc}") from None
            imported = agent.import_thread(ThreadExport.from_json(document), thread_id)
        else:
            try:
                imported = agent.import_legacy_pickle(data, thread_id or readable_thread_id())
            except LegacyPickleError as exc:
                raise LegacyPickleError(f"{exc} ({file})") from None
    click.echo(imported)


main.add_command(import_thread)
threads.add_command(import_thread)


def render(message: BaseMessage) -> str:
    label = ROLE_LABELS.get(message.type, message.type).lower()
    return f"{label}: {message_text(message)}"


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
