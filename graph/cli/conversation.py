"""`memoria chat` and `memoria ask`: the commands that run turns, and the agent and thread their
options describe."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from memoria.cli.database import readable_thread_id, reading, where
from memoria.cli.env import loading, say_env_file
from memoria.cli.options import conversation_options
from memoria.cli.render import memory_lines, show_reply
from memoria.cli.reporting import CliError, ReportingCommand
from memoria.cli.session import ChatSession
from memoria.cli.signals import CtrlC

if TYPE_CHECKING:
    from memoria.agent import Memoria


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
    thread_id = readable_thread_id() if thread_id is None else thread_id
    # A resumed thread keeps its model and memory, with the options given here on top.
    agent = Memoria(
        db=db, context=Context(**explicit), tools=tools, resume=thread_id, init_db=init_db
    )
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


@click.command(cls=ReportingCommand)
@conversation_options
def chat(verbose: bool, **conversation: Any) -> None:
    """Chat in the terminal, streaming replies. Type /help for the in-chat commands."""
    say_env_file(verbose)
    agent, thread_id = open_conversation(**conversation)
    with agent:
        session = ChatSession(agent, thread_id, verbose)
        session.banner()
        session.run()


@click.command(cls=ReportingCommand)
@click.argument("text")
@conversation_options
@click.option("--json", "as_json", is_flag=True, help="Print the reply, thread and usage as JSON.")
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
            report = turn.report
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
            for line in memory_lines(turn.report, agent.state(thread_id)):
                click.echo(line, err=True)
