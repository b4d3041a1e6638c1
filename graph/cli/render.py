"""Everything the commands print about messages, turns, threads and the memory, as text for a
terminal: untrusted text is escaped (`memoria.terminal`) wherever it is shown."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from memoria.terminal import safe, safe_line

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from memoria.agent import Turn
    from memoria.state import State

TITLE_WIDTH = 60
TOOL_LINE_WIDTH = 160
MARK_ON, MARK_OFF = "\ue000", "\ue001"
"""Around the matching words of a search snippet: private-use characters, so that the text cannot
fake them (`NO_MARKS` blanks any it holds)."""
NO_MARKS = {ord(MARK_ON): "\ufffd", ord(MARK_OFF): "\ufffd"}


def render(message: BaseMessage) -> str:
    """A message as `show`, `/history` and `/context` print it: `user: ...`, `assistant called
    weather({"city": "Lima"})`, `tool weather: ...`."""
    from memoria.prompts import labelled

    return "\n".join(f"{label.lower()}: {safe(text)}" for label, text in labelled([message]))


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


def memory_lines(report: dict[str, Any], state: State) -> list[str]:
    """What the memory did this turn (the turn's `report`), and the thread after it (`state`),
    like the seed's `verbose=True`."""
    from memoria.errors import redact

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


def print_threads(infos: list[Any]) -> None:
    """The table `threads list` and `/threads` print: id, turns, last use, size, first message."""
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


def thread_header(info: Any, state: State) -> list[tuple[str, str]]:
    """The header of `threads show` and of a Markdown export, as (name, value) pairs."""
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


def print_hits(rows: list[tuple[Any, str]], styled: bool) -> None:
    """Search hits, each with its snippet; the matches (between `MARK_ON` and `MARK_OFF`) in bold
    yellow on a terminal, else in brackets."""
    on, off = ("\x1b[1;33m", "\x1b[0m") if styled else ("[", "]")
    for hit, cut in rows:
        line = safe_line(cut, 400).replace(MARK_ON, on).replace(MARK_OFF, off)
        line += off if styled else ""  # a cut may have left a match open
        click.echo(f"{safe_line(hit.thread_id)}  turn {hit.turn + 1}  score {hit.score:.2f}")
        click.echo(f"  {line}")


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
