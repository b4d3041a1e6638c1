"""The `memoria` command: a thin layer over `graph.agent.Memoria`."""

from __future__ import annotations

import functools
import json
import sqlite3
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from dotenv import load_dotenv
from langchain_core.messages import BaseMessage

from graph.agent import Memoria, ThreadExistsError, ThreadNotFoundError
from graph.context import Context
from graph.legacy import LegacyPickleError
from graph.memory import PRESETS
from graph.models import ModelSpecError
from graph.prompts import ROLE_LABELS
from graph.threads import ExportFormatError, ThreadExport, dumps
from graph.tokens import message_text
from graph.transcript import encode_message

EXIT_ERROR = 1
REPORTED_ERRORS = (
    ModelSpecError,
    ThreadNotFoundError,
    ThreadExistsError,
    ExportFormatError,
    LegacyPickleError,
    ValueError,
    OSError,
    sqlite3.Error,
)


def fail(message: str) -> None:
    click.echo(f"memoria: {message}", err=True)
    sys.exit(EXIT_ERROR)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Known failures become one line on stderr and exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            fail(f"database error: {exc}")
        except REPORTED_ERRORS as exc:
            fail(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)

    return wrapper


db_option = click.option(
    "--db", help="SQLite database (default: $MEMORIA_DB or checkpoints/memoria.sqlite)."
)


def admin(db: str | None) -> Memoria:
    """A Memoria for thread administration: no model is loaded."""
    return Memoria(db=db, context=Context(model="echo"), load_models=False)


@click.group()
def main() -> None:
    """Memoria: a chat agent whose conversations remember, stay cheap and survive restarts."""
    load_dotenv()


@main.command()
@click.option("--thread", "thread_id", help="Thread to resume or start (default: a new one).")
@click.option("--model", help="groq:<model>, <provider>:<model>, local or echo.")
@click.option("--memory", type=click.Choice(PRESETS), help="Memory preset (default: hybrid).")
@click.option("-k", "k", type=click.IntRange(min=0), help="Turns kept verbatim.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Token limit of the context.")
@click.option("--system", "system_prompt", help="System prompt.")
@db_option
@reports_errors
def chat(thread_id, model, memory, k, max_tokens, system_prompt, db) -> None:
    """Chat in the terminal; /exit or Ctrl-D leaves."""
    overrides = {
        "model": model,
        "memory": memory,
        "k": k,
        "max_tokens": max_tokens,
        "system_prompt": system_prompt,
    }
    context = Context(**{key: value for key, value in overrides.items() if value is not None})
    agent = Memoria(db=db, context=context)
    thread_id = thread_id or uuid.uuid4().hex[:12]
    if context.model == "local" and model is None:
        click.echo(
            "No GROQ_API_KEY: chatting with the offline local model (SmolLM2-135M). "
            "Set GROQ_API_KEY in the environment or a .env file to use Groq.",
            err=True,
        )
    click.echo(
        f"memoria · model {context.model} · memory {context.memory} · thread {thread_id} · "
        f"db {agent.db_path}",
        err=True,
    )
    with agent:
        while True:
            try:
                text = input("you> ")
            except EOFError:
                click.echo(err=True)
                break
            if text.strip() == "/exit":
                break
            if not text.strip():
                continue
            for piece in agent.stream(thread_id, text):
                click.echo(piece, nl=False)
            click.echo()


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
        infos = agent.threads()
    if as_json:
        click.echo(json.dumps([info.as_dict() for info in infos], ensure_ascii=False, indent=2))
        return
    if not infos:
        click.echo("no threads yet", err=True)
        return
    click.echo(f"{'THREAD':<16} {'TURNS':>5}  {'UPDATED':<19}  {'SIZE':>9}  FIRST MESSAGE")
    for info in infos:
        updated = info.updated_at[:19].replace("T", " ")
        click.echo(
            f"{info.thread_id:<16} {info.turns:>5}  {updated:<19}  "
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
            imported = agent.import_legacy_pickle(data, thread_id or uuid.uuid4().hex[:12])
    click.echo(imported)


main.add_command(import_thread)
threads.add_command(import_thread)


def render(message: BaseMessage) -> str:
    label = ROLE_LABELS.get(message.type, message.type).lower()
    return f"{label}: {message_text(message)}"


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
