"""The `memoria` command group and the console script that runs it: every failure one line on
stderr with its exit status, a closed stdout a quiet end, Ctrl-C exit 130."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading

import click

from memoria.cli.conversation import ask, chat
from memoria.cli.env import load_env
from memoria.cli.reporting import EXIT_INTERRUPTED, ReportingGroup, quiet_broken_pipe, say
from memoria.cli.threads import import_thread, threads


@click.group(cls=ReportingGroup)
@click.version_option(package_name="langgraph-memoria")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Memoria: a chat agent whose conversations remember, stay cheap and survive restarts."""
    ctx.meta["env_file"] = load_env()


main.add_command(chat)
main.add_command(ask)
main.add_command(threads)
main.add_command(import_thread)


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
