"""How a command fails: one line on stderr (`memoria: ...`) and an exit status, never a traceback.

Commands are `ReportingCommand`s: whatever escapes one is turned into a `click.ClickException`
carrying the line and the status, and `app.run` prints it. Click's own standalone mode cannot be
used as it is: it prints usage errors over several lines, exits 1 on Ctrl-C and on a closed
stdout, and prints "Aborted!".
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, NoReturn

import click

from memoria.terminal import safe_line

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class CliError(Exception):
    """A failure already worded for the user."""


class Failure(click.ClickException):
    """A command's failure as the user sees it: its one line (the message) and exit 1."""

    exit_code = EXIT_ERROR


class Interrupted(Failure):
    """Ctrl-C ended the command."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")


def say(message: str, code: int = EXIT_ERROR) -> int:
    """Print `message` as the command's one error line; return the exit status to use."""
    from memoria.errors import redact

    click.echo(f"memoria: {safe_line(redact(message))}", err=True)
    return code


def quiet_broken_pipe() -> NoReturn:
    """The reader went away (`memoria threads list | head -1`): stop quietly, as Unix tools do."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_BROKEN_PIPE)


class ReportingCommand(click.Command):
    """A command whose every failure becomes one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        # Caught here, inside click's main: past it, click would print a blank line before
        # Ctrl-C's error line, and end a closed stdout with exit 1 instead of 141.
        try:
            check_arguments(ctx)
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None
        except BrokenPipeError:
            quiet_broken_pipe()
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            from memoria.errors import describe_error

            raise Failure(describe_error(exc)) from exc


class ReportingGroup(click.Group):
    """A group whose commands (and subgroups) report their failures so."""

    command_class = ReportingCommand
    group_class = type  # subgroups are ReportingGroups too


def check_arguments(ctx: click.Context) -> None:
    """Arguments that were not valid UTF-8 reach Python as lone surrogates: refuse them."""
    params = {p.name: p for p in ctx.command.params}
    for name, value in ctx.params.items():
        if isinstance(value, str) and has_surrogates(value):
            # Named as the user typed it: the longest option (--thread), or the metavar (TEXT).
            param = params.get(name)
            if isinstance(param, click.Option):
                label = max(param.opts, key=len)
            elif param is not None:
                label = f"the argument {param.human_readable_name}"
            else:
                label = "an argument"
            raise CliError(f"{label} is not valid UTF-8 text")


def has_surrogates(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)
