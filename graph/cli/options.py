"""Options several commands share: the database, and everything that sets up a conversation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from memoria.presets import LANGUAGES, MEMORY_TOOL_MODES, PRESETS

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
