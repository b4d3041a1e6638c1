"""The `memoria` command: a thin layer over `graph.agent.Memoria`."""

from __future__ import annotations

import sys
import uuid

import click
from dotenv import load_dotenv

from graph.agent import Memoria
from graph.context import Context
from graph.memory import PRESETS
from graph.models import ModelSpecError

EXIT_USAGE = 2


def fail(message: str) -> None:
    click.echo(f"memoria: {message}", err=True)
    sys.exit(EXIT_USAGE)


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
@click.option("--db", help="SQLite database (default: checkpoints/memoria.sqlite).")
def chat(thread_id, model, memory, k, max_tokens, system_prompt, db) -> None:
    """Chat in the terminal; /exit or Ctrl-D leaves."""
    overrides = {
        "model": model,
        "memory": memory,
        "k": k,
        "max_tokens": max_tokens,
        "system_prompt": system_prompt,
    }
    try:
        context = Context(**{key: value for key, value in overrides.items() if value is not None})
        agent = Memoria(db=db, context=context)
    except (ModelSpecError, ValueError) as exc:
        fail(str(exc))
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
            try:
                for piece in agent.stream(thread_id, text):
                    click.echo(piece, nl=False)
                click.echo()
            except ModelSpecError as exc:
                fail(str(exc))
