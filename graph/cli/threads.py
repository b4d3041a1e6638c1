"""`memoria threads ...` and `memoria import`: reading, searching, exporting, importing, forking,
renaming and deleting threads. No model is loaded, and `threads list` does not load LangGraph."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import click

from memoria.cli.database import (
    admin,
    readable_thread_id,
    reading,
    reading_thread,
    require_thread,
    where,
)
from memoria.cli.files import refuse_database_path, write_export
from memoria.cli.history import history_path
from memoria.cli.options import db_option, init_option, json_option
from memoria.cli.render import (
    MARK_OFF,
    MARK_ON,
    NO_MARKS,
    print_hits,
    print_threads,
    render,
    thread_header,
)
from memoria.cli.reporting import ReportingCommand, ReportingGroup
from memoria.terminal import safe, safe_line


@click.group(cls=ReportingGroup)
def threads() -> None:
    """List, read, search, export, import, fork, rename and delete threads."""


@threads.command("list")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=20, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Every thread.")
@json_option
@db_option
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


@threads.command()
@click.argument("thread_id")
@click.option("--context", "show_context", is_flag=True, help="What the model will see next.")
@json_option
@db_option
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


@threads.command()
@click.argument("query")
@click.option("--thread", "thread_id", help="Search one thread only.")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@json_option
@db_option
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
    print_hits(rows, styled)


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


@threads.command()
@click.argument("thread_id")
@db_option
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
def fork(thread_id: str, at: int | None, new: str | None, db: str | None) -> None:
    """Copy a thread (as it stands, or as it stood after turn N) into a new one."""
    require_thread(db, thread_id)
    with admin(db) as agent:
        created = agent.fork_thread(thread_id, at=at, new=new)
    click.echo(created)


@click.command("import", cls=ReportingCommand)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--thread", "thread_id", help="Thread id to import under (default: the export's).")
@db_option
@init_option
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


threads.add_command(import_thread)
