"""The process around a command: the `.env` file it reads settings from, and the collector tuned
while LangGraph and LangChain load."""

from __future__ import annotations

import contextlib
import gc
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import click


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


def say_env_file(verbose: bool) -> None:
    """With `-v`, name the `.env` file the command read (`main` found it before the command)."""
    if verbose:
        env_file = click.get_current_context().find_root().meta.get("env_file")
        where = env_file if env_file else "none found from the current directory"
        click.echo(f"memoria: .env: {where}", err=True)
