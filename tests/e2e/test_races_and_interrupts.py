"""Races and interrupts, as a careless user meets them (issue 10, items 1, 2, 3 and 11).

- One SQLite file reached by several paths (a symlink, `./x`, an absolute path, a symlinked folder):
  concurrent turns through two paths lose nothing; a hard-linked file is refused.
- `threads delete` while a turn runs on the thread: it waits (or says "busy"), and the thread
  never comes back.
- Two `memoria import` of one thread id at once: one wins, the other says "already exists".
- Ctrl-C stops a reply within half a second (echo and Groq, streaming and `--json`, `ask` and
  `chat`), with the thread as it was.
- `Turn.cancel()` from another thread frees the thread at once, and the abandoned model call
  writes nothing when it returns.

Every wait has a timeout, so a hang fails instead of blocking the run.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pexpect
import pytest
from fakes import assert_index_matches_transcript
from groq_stub import Fault
from langchain_core.messages import BaseMessage
from processes import (
    PROMPT,
    SLOW_MEMORIA,
    TESTS,
    TIMEOUT,
    Running,
    interrupt,
    spawn_chat,
    user_env,
)
from slow_echo import SlowEcho

from memoria import Context
from memoria.agent import Memoria
from memoria.models import EchoChatModel
from memoria.persistence import DatabaseOpenError
from memoria.threads import dumps

WORKER = str(Path(__file__).with_name("turn_worker.py"))
GROQ_MODEL = "groq:llama-3.3-70b-versatile"
INTERRUPT_LIMIT = 0.5
"""Ctrl-C must stop a turn within half a second (issue 10, item 11)."""


def words(count: int, tag: str) -> str:
    return " ".join(f"{tag}{n}" for n in range(count))


def unique(name: str) -> str:
    """A thread id of its own: the Postgres database is shared by the module's tests."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path) -> str:
    """A database for the test: a SQLite file, or the module's Postgres database."""
    if request.param == "sqlite":
        return str(tmp_path / "memoria.sqlite")
    return request.getfixturevalue("postgres_url")


def stored_rows(db: str, thread_id: str) -> dict[str, int]:
    """Rows the database holds for a thread, table by table, read straight from the tables."""
    if db.startswith("postgresql://"):
        import psycopg

        tables = (
            "checkpoints",
            "checkpoint_blobs",
            "checkpoint_writes",
            "memoria_turns",
            "memoria_threads",
        )
        with psycopg.connect(db) as conn:
            return {
                table: conn.execute(
                    f"SELECT count(*) FROM {table} WHERE thread_id = %s", (thread_id,)
                ).fetchone()[0]
                for table in tables
            }
    with sqlite3.connect(db) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE thread_id = ?", (thread_id,)
            ).fetchone()[0]
            for table in ("checkpoints", "writes", "memoria_turns", "memoria_threads")
        }


def texts(messages: list[BaseMessage]) -> list[tuple[str, str]]:
    return [(m.type, m.text) for m in messages]


def exchange(*sent: str) -> list[tuple[str, str]]:
    """The transcript of echo turns: each message, then the same text as the reply."""
    return [pair for text in sent for pair in (("human", text), ("ai", text))]


def snapshot(agent: Memoria, thread_id: str) -> dict[str, Any]:
    """Everything a turn could change: the checkpoint, the committed state and the transcript."""
    saved = agent.checkpointer.get_tuple(agent.config(thread_id))
    state = agent.state(thread_id)
    return {
        "checkpoint_id": saved.config["configurable"]["checkpoint_id"] if saved else None,
        "turns": state.turns,
        "view": texts(state.messages),
        "transcript": texts(agent.transcript(thread_id)),
        "archived": [texts(turn.messages) for turn in agent.archive.read(thread_id)],
        "rows": stored_rows(str(agent.database.location.target), thread_id)
        if agent.database.location.kind == "sqlite"
        else None,
    }


def seed(db: str, thread_id: str, *sent: str) -> None:
    with Memoria(db=db, context=Context(model="echo")) as agent:
        for text in sent:
            agent.send(thread_id, text)


def shown(memoria, thread_id: str, db: str) -> dict[str, Any]:
    """`memoria threads show ID --json`, parsed."""
    result = memoria("threads", "show", thread_id, "--json", "--db", db)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def shown_messages(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["type"], m["content"]) for m in document["messages"]]


# 1. One database file, several paths: one turn lock.

PATH_FORMS = ["symlink", "relative", "symlinked-folder"]


def two_paths(folder: Path, form: str) -> tuple[str, str]:
    """Two spellings of `folder/s.sqlite` (which must exist), as users come to type them. (A hard
    link is refused outright: see test_a_hard_linked_database_is_refused_and_loses_nothing.)"""
    real = folder / "s.sqlite"
    if form == "symlink":
        (folder / "l.sqlite").symlink_to("s.sqlite")
        return str(real), str(folder / "l.sqlite")
    if form == "relative":
        return "./s.sqlite", str(real)  # processes run in `folder`
    if form == "symlinked-folder":
        (folder / "via").symlink_to(".")
        return str(real), str(folder / "via" / "s.sqlite")
    raise AssertionError(form)


@pytest.mark.parametrize("form", PATH_FORMS)
def test_two_asks_through_two_paths_to_one_file_keep_both_turns(tmp_path, spawn, form):
    seed(str(tmp_path / "s.sqlite"), "t", "seed")
    first_path, second_path = two_paths(tmp_path, form)
    env = user_env(tmp_path, MEMORIA_LOCK_TIMEOUT="120")
    first_text, second_text = words(500, "a"), words(40, "b")  # a ten-second turn, then a short one
    ask = ("ask", "--model", "echo:0.02", "--thread", "t", "--db")
    first = spawn(ask[0], first_text, *ask[1:], first_path, env=env, program=SLOW_MEMORIA)
    first.wait_for("a0 ", "out")  # the first turn holds the thread and is streaming
    second = spawn(ask[0], second_text, *ask[1:], second_path, env=env, program=SLOW_MEMORIA)
    second.wait_for("memoria: thread t")  # the second now asks for the thread...
    assert first.ended_at is None, "no overlap: the first turn ended too soon to race"

    assert first.finish() == 0, first.err
    assert second.finish() == 0, second.err
    assert first.out == first_text + "\n" and second.out == second_text + "\n"
    for path in (first_path, second_path):
        with Memoria(db=path, context=Context(model="echo")) as agent:
            assert agent.state("t").turns == 3, f"a turn acknowledged to the user is gone ({path})"
            assert texts(agent.transcript("t")) == exchange("seed", first_text, second_text)
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert_index_matches_transcript(tmp_path / "s.sqlite")


@pytest.mark.parametrize("form", PATH_FORMS)
def test_two_long_running_writers_through_two_paths_lose_no_turn(tmp_path, spawn, form):
    """Two processes that keep the database open across turns (a service, `memoria chat`), each
    through its own path to one file, take turns on one thread."""
    seed(str(tmp_path / "s.sqlite"), "other", "the file exists before its links")
    first_path, second_path = two_paths(tmp_path, form)
    turns = 8
    workers = [
        spawn(path, "shared", label, str(turns), program=[sys.executable, WORKER])
        for path, label in ((first_path, "A"), (second_path, "B"))
    ]
    for worker in workers:
        assert worker.finish() == 0, worker.err
    for path in (first_path, second_path):
        with Memoria(db=path, context=Context(model="echo")) as agent:
            transcript = agent.transcript("shared")
            assert agent.state("shared").turns == len(transcript) // 2 == 2 * turns, path
        sent = [m.text.split(":")[0].split() for m in transcript if m.type == "human"]
        for label in ("A", "B"):
            assert [int(n) for who, n in sent if who == label] == list(range(turns)), label


@pytest.mark.parametrize("form", PATH_FORMS)
def test_two_memoria_objects_on_two_paths_in_one_process_lose_no_turn(tmp_path, form):
    seed(str(tmp_path / "s.sqlite"), "t", "seed")
    first_path, second_path = two_paths(tmp_path, form)
    turns, failures = 6, []
    context = Context(model="echo")

    def run(agent: Memoria, label: str) -> None:
        try:
            for n in range(turns):
                agent.send("t", f"{label} {n}: palabra palabra palabra")
        except BaseException as exc:  # reported below
            failures.append(exc)

    with (
        Memoria(db=first_path, context=context, model=SlowEcho(delay=0.001)) as first,
        Memoria(db=second_path, context=context, model=SlowEcho(delay=0.001)) as second,
    ):
        runners = [
            threading.Thread(target=run, args=(first, "A")),
            threading.Thread(target=run, args=(second, "B")),
        ]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join(TIMEOUT)
            assert not runner.is_alive(), "a turn hung"
    assert not failures, failures
    for path in (first_path, second_path):
        with Memoria(db=path, context=Context(model="echo")) as agent:
            transcript = agent.transcript("t")
            assert agent.state("t").turns == len(transcript) // 2 == 1 + 2 * turns, path
        sent = [m.text.split(":")[0].split() for m in transcript[2:] if m.type == "human"]
        for label in ("A", "B"):
            assert [int(n) for who, n in sent if who == label] == list(range(turns)), label


def test_a_hard_linked_database_is_refused_and_loses_nothing(tmp_path, spawn):
    """SQLite keeps the write-ahead log beside the name it opened, so two hard links would be two
    logs and lost turns: both names are refused in one line, before anything is written."""
    real, link = tmp_path / "s.sqlite", tmp_path / "h.sqlite"
    seed(str(real), "t", "seed")
    before = state_of(str(real), "t")
    os.link(real, link)
    askers = [
        spawn(
            "ask",
            words(40, tag),
            *("--model", "echo:0.02", "--thread", "t", "--db", str(path)),
            program=SLOW_MEMORIA,
        )
        for path, tag in ((real, "a"), (link, "b"))
    ]
    for asker, path in zip(askers, (real, link), strict=True):
        assert asker.finish() == 1, asker.err
        assert asker.out == ""
        lines = asker.err.splitlines()
        assert len(lines) == 1 and "has several hard links" in lines[0], asker.err
        assert lines[0].startswith(f"memoria: {path}")
    with pytest.raises(DatabaseOpenError, match="several hard links"):
        Memoria(db=link, context=Context(model="echo"))
    listing = spawn("threads", "list", "--db", str(link))
    assert listing.finish() == 1 and "several hard links" in listing.err
    os.unlink(link)  # one name again: the thread is as it was
    assert state_of(str(real), "t") == before
    with sqlite3.connect(real) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


# 2. `threads delete` while a turn runs on the thread.


def assert_thread_gone(memoria, db: str, thread_id: str) -> None:
    for extra in ((), ("--context",)):
        result = memoria("threads", "show", thread_id, *extra, "--db", db)
        assert result.returncode == 1, result.stdout
        assert result.stderr.strip() == f"memoria: no thread {thread_id!r} in {result_db(db)}"
    listing = memoria("threads", "list", "--all", "--json", "--db", db)
    assert listing.returncode == 0, listing.stderr
    assert thread_id not in [info["thread_id"] for info in json.loads(listing.stdout)]
    assert set(stored_rows(db, thread_id).values()) == {0}, stored_rows(db, thread_id)


def result_db(db: str) -> str:
    from memoria.persistence import parse_location

    return parse_location(db).display


def test_delete_during_a_turn_waits_for_it_and_the_thread_never_returns(
    db, memoria, spawn, tmp_path
):
    thread = unique("doomed")
    seed(db, thread, "secreto número uno")
    reply = words(200, "w")  # 200 words at 0.05 s: a ten-second turn
    asker = spawn(
        "ask", reply, "--model", "echo:0.05", "--thread", thread, "--db", db, program=SLOW_MEMORIA
    )
    asker.wait_for("w0 ", "out")
    deleter = spawn(
        "threads", "delete", thread, "--db", db, env=user_env(tmp_path, MEMORIA_LOCK_TIMEOUT="120")
    )
    assert deleter.finish() == 0, deleter.err
    assert asker.finish() == 0, asker.err
    assert asker.out == reply + "\n", "the turn ran to its end"
    assert deleter.err.strip() == f"deleted thread {thread}"
    last_word = asker.seen_at("w199", "out")
    assert last_word is not None and deleter.ended_at > last_word, (
        "the delete did not wait for the turn"
    )

    assert_thread_gone(memoria, db, thread)
    time.sleep(1.0)  # nothing of it is written back later either
    assert set(stored_rows(db, thread).values()) == {0}

    again = memoria("ask", "empezar de nuevo", "--model", "echo", "--thread", thread, "--db", db)
    assert again.returncode == 0, again.stderr
    document = shown(memoria, thread, db)
    assert document["turns"] == 1
    assert shown_messages(document) == exchange("empezar de nuevo")
    context = memoria("threads", "show", thread, "--context", "--db", db)
    assert "secreto" not in context.stdout and "w199" not in context.stdout


@pytest.mark.parametrize("wait", ["0", "0.5"])
def test_delete_with_a_short_lock_wait_says_busy_and_deletes_nothing(
    db, memoria, spawn, tmp_path, wait
):
    thread = unique("busy")
    seed(db, thread, "primero")
    reply = words(240, "w")  # a twelve-second turn
    asker = spawn(
        "ask", reply, "--model", "echo:0.05", "--thread", thread, "--db", db, program=SLOW_MEMORIA
    )
    asker.wait_for("w0 ", "out")
    deleter = spawn(
        "threads", "delete", thread, "--db", db, env=user_env(tmp_path, MEMORIA_LOCK_TIMEOUT=wait)
    )
    assert deleter.finish() == 1, deleter.err
    assert deleter.err.strip() == (
        f"memoria: thread {thread!r} is busy with another turn; try again in a moment"
    )
    assert asker.ended_at is None, "the delete waited for the turn instead of saying busy"

    assert asker.finish() == 0, asker.err
    document = shown(memoria, thread, db)
    assert document["turns"] == 2
    assert shown_messages(document) == exchange("primero", reply)
    rows = stored_rows(db, thread)
    assert rows["memoria_turns"] == 2 and rows["memoria_threads"] == 1

    later = memoria("threads", "delete", thread, "--db", db)
    assert later.returncode == 0, later.stderr
    assert_thread_gone(memoria, db, thread)


# 3. Two imports of one thread id at once.

BARRIER = """\
import os, sys, time
ready, go = sys.argv[1:3]
sys.argv = ["memoria", *sys.argv[3:]]
import memoria.agent, memoria.cli, memoria.threads, memoria.persistence.sqlite
try:
    import memoria.persistence.postgres
except ImportError:
    pass
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
memoria.cli.run()
"""
"""`memoria ARGS`, held back after its imports until the file `go` exists, so that several
processes reach the command at the same moment."""


def test_two_imports_of_one_thread_at_once_one_wins(db, spawn, tmp_path):
    source = str(tmp_path / "source.sqlite")
    seed(source, "orig", "uno", "dos", "tres")
    with Memoria(db=source, context=Context(model="echo")) as agent:
        document = agent.export_thread("orig").to_json()
    expected = exchange("uno", "dos", "tres")
    for attempt in range(3):
        thread = unique(f"same{attempt}")
        export = tmp_path / f"same{attempt}.json"
        export.write_text(dumps({**document, "thread_id": thread}), encoding="utf-8")
        go = tmp_path / f"go{attempt}"
        ready = [tmp_path / f"ready{attempt}-{n}" for n in range(2)]
        importers = [
            spawn(
                str(flag),
                str(go),
                "import",
                str(export),
                "--db",
                db,
                program=[sys.executable, "-c", BARRIER],
                env=user_env(tmp_path, MEMORIA_LOCK_TIMEOUT="60"),
            )
            for flag in ready
        ]
        deadline = time.monotonic() + TIMEOUT
        while not all(flag.exists() for flag in ready):
            assert time.monotonic() < deadline, [i.err for i in importers]
            assert all(i.ended_at is None for i in importers), [i.err for i in importers]
            time.sleep(0.01)
        go.touch()
        codes = [importer.finish() for importer in importers]
        assert sorted(codes) == [0, 1], [i.err for i in importers]
        winner, loser = importers if codes[0] == 0 else importers[::-1]
        assert winner.out == thread + "\n"
        assert loser.out == ""
        assert loser.err.strip() == (
            f"memoria: thread {thread!r} already exists in {result_db(db)}; "
            "import under a new --thread"
        )
        with Memoria(db=db, context=Context(model="echo")) as agent:
            assert agent.state(thread).turns == 3
            assert texts(agent.transcript(thread)) == expected
            assert [texts(turn.messages) for turn in agent.archive.read(thread)] == [
                expected[0:2],
                expected[2:4],
                expected[4:6],
            ], "the transcript holds the export exactly once"
            assert texts(agent.state(thread).messages) == expected
        rows = stored_rows(db, thread)
        assert rows["memoria_turns"] == 3 and rows["memoria_threads"] == 1


# 11. Ctrl-C stops a reply within half a second, the thread as it was.


def check_interrupted_ask(process: Running, took: float) -> None:
    assert process.proc.returncode == 130, process.err
    assert "Traceback" not in process.err
    assert process.out == ""
    # After "memoria: thread t", one line; and the process gone within half a second.
    assert process.err.splitlines()[1:] == ["memoria: interrupted"] and took < INTERRUPT_LIMIT, (
        f"exited {took:.2f} s after Ctrl-C; stderr: {process.err}"
    )


def state_of(db: str, thread: str) -> dict[str, Any]:
    with Memoria(db=db, context=Context(model="echo"), read_only=True) as agent:
        return snapshot(agent, thread)


@pytest.mark.parametrize(
    ("model", "output"),
    [
        ("echo", "stream"),
        ("echo", "json"),
        ("groq", "stream"),
        ("groq", "json"),
    ],
)
def test_ctrl_c_stops_ask_within_half_a_second(request, memoria, spawn, tmp_path, model, output):
    """`ask` on a slow model (echo:10, or a Groq response that takes five seconds), Ctrl-C a
    second in: exit 130 at once, one line, and the thread as it was."""
    db = str(tmp_path / "m.sqlite")
    flags = ["--json"] if output == "json" else []
    if model == "echo":
        seed(db, "t", "antes")
        env = user_env(tmp_path)
        flags += ["--model", "echo:10"]
    else:
        groq = request.getfixturevalue("groq")
        with Memoria(db=db, context=Context(model=GROQ_MODEL)) as agent:
            agent.send("t", "antes")
        groq.faults.append(Fault(200, body="", delay=5.0))  # the provider takes five seconds
        env = user_env(
            tmp_path, GROQ_API_KEY=os.environ["GROQ_API_KEY"], GROQ_API_BASE=groq.base_url
        )
    before = state_of(db, "t")
    program = SLOW_MEMORIA if model == "echo" else None
    asker = spawn(
        "ask", "one two three", *flags, "--thread", "t", "--db", db, env=env, program=program
    )
    asker.wait_for("memoria: thread t")
    if model == "groq":
        deadline = time.monotonic() + TIMEOUT
        while len(groq.chat_requests()) < 2:  # the request is at the provider
            assert time.monotonic() < deadline and asker.ended_at is None, asker.err
            time.sleep(0.01)
    time.sleep(1.0)
    assert asker.ended_at is None, f"the turn was over before Ctrl-C: {asker.out!r}"
    took = interrupt(asker)
    assert state_of(db, "t") == before, "the interrupted turn left something"
    check_interrupted_ask(asker, took)
    later = memoria("ask", "después", "--model", "echo", "--thread", "t", "--db", db)
    assert later.returncode == 0, later.stderr
    document = shown(memoria, "t", db)
    assert document["turns"] == 2, "the next turn is numbered right"
    first_reply = "antes" if model == "echo" else "Respuesta a: antes"
    assert shown_messages(document) == [
        ("human", "antes"),
        ("ai", first_reply),
        *exchange("después"),
    ]


@pytest.mark.parametrize("output", ["stream", "json"])
@pytest.mark.parametrize("gap", [0.0, 0.02, 0.04])
def test_a_burst_of_ctrl_c_stops_ask_once(memoria, spawn, tmp_path, output, gap):
    """Three Ctrl-C in a row during `ask`: exit 130 with one line, no traceback, the thread as
    it was and free for the next turn at once."""
    db = str(tmp_path / "m.sqlite")
    seed(db, "t", "antes")
    before = state_of(db, "t")
    flags = ["--json"] if output == "json" else []
    asker = spawn(
        "ask",
        "one two three",
        *flags,
        *("--model", "echo:10", "--thread", "t", "--db", db),
        program=SLOW_MEMORIA,
    )
    asker.wait_for("memoria: thread t")
    time.sleep(0.5)
    took = interrupt(asker, times=3, gap=gap)
    check_interrupted_ask(asker, took)
    assert state_of(db, "t") == before, "the interrupted turn left something"
    later = memoria(
        "ask",
        "después",
        "--model",
        "echo",
        "--thread",
        "t",
        "--db",
        db,
        env={"MEMORIA_LOCK_TIMEOUT": "0"},
    )
    assert later.returncode == 0, later.stderr
    assert shown_messages(shown(memoria, "t", db)) == [*exchange("antes"), *exchange("después")]


def close_chat(child: pexpect.spawn) -> None:
    child.sendline("/exit")
    child.expect(pexpect.EOF, timeout=TIMEOUT)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("model", ["echo", "groq"])
def test_ctrl_c_in_chat_stops_the_reply_at_once_and_the_chat_goes_on(
    request, memoria, tmp_path, model
):
    """Ctrl-C during a slow reply (echo:1 streaming, or a Groq response that takes five
    seconds): "[interrupted" at once, the prompt back, the thread as it was, the next message
    answered (and the model not sent the interrupted message)."""
    db = str(tmp_path / "c.sqlite")
    if model == "echo":
        child, log = spawn_chat(
            tmp_path, "--model", "echo:1", "--db", db, "--thread", "c", program=SLOW_MEMORIA
        )
        reply = {"hola": "hola", "sigo aquí": "sigo aquí"}
    else:
        groq = request.getfixturevalue("groq")
        env = user_env(
            tmp_path, GROQ_API_KEY=os.environ["GROQ_API_KEY"], GROQ_API_BASE=groq.base_url
        )
        child, log = spawn_chat(
            tmp_path, "--model", GROQ_MODEL, "--db", db, "--thread", "c", env=env
        )
        reply = {"hola": "Respuesta a: hola", "sigo aquí": "Respuesta a: sigo aquí"}
    try:
        child.expect_exact(PROMPT)
        child.sendline("hola")
        child.expect_exact(PROMPT)
        before = state_of(db, "c")

        interrupted = words(20, "w")
        if model == "echo":
            child.sendline(interrupted)
            child.expect_exact("memoria> w0 ")  # a slow reply is streaming
        else:
            groq.faults.append(Fault(200, body="", delay=5.0))
            child.sendline(interrupted)
            deadline = time.monotonic() + TIMEOUT
            while len(groq.chat_requests()) < 2:  # the request is at the provider
                assert time.monotonic() < deadline, log.getvalue()
                time.sleep(0.01)
            time.sleep(0.5)
        sent = time.monotonic()
        child.sendintr()
        child.expect_exact("[interrupted", timeout=5)
        took = time.monotonic() - sent
        child.expect_exact(PROMPT, timeout=5)
        assert took < INTERRUPT_LIMIT, f"[interrupted] came {took:.2f} s after Ctrl-C"
        assert state_of(db, "c") == before, "the interrupted turn left something"

        child.sendline("sigo aquí")
        child.expect_exact("memoria> ")
        child.expect_exact(reply["sigo aquí"] + "\r\n")
        child.expect_exact(PROMPT)
        close_chat(child)
    finally:
        child.close(force=True)
    assert "Traceback" not in log.getvalue()
    if model == "groq":
        last = groq.chat_requests()[-1]["messages"]
        assert interrupted not in json.dumps(last, ensure_ascii=False)
    document = shown(memoria, "c", db)
    assert document["turns"] == 2
    assert shown_messages(document) == [
        ("human", "hola"),
        ("ai", reply["hola"]),
        ("human", "sigo aquí"),
        ("ai", reply["sigo aquí"]),
    ]


def test_three_quick_ctrl_c_in_chat_print_no_traceback(memoria, tmp_path):
    """Three Ctrl-C in a row during a reply: the first stops it, the others are spent on the same
    reply or clear the prompt's line. One "[interrupted" notice each time, the thread free for
    the next line at once (never "busy"), never a traceback or an early exit, and the thread keeps
    exactly the turns that were answered.

    Known and tolerated, as it depends on timing: a Ctrl-C that the kernel gives to a thread other
    than the main one, while the main thread waits at the prompt, is seen only when the next line
    arrives, and that line is dropped; it is typed again."""
    db = str(tmp_path / "c.sqlite")
    child, log = spawn_chat(
        tmp_path, "--model", "echo:0.5", "--db", db, "--thread", "c", program=SLOW_MEMORIA
    )
    answered = ["hola"]
    try:
        child.expect_exact(PROMPT)
        child.sendline("hola")
        child.expect_exact(PROMPT)
        for attempt in range(3):
            child.sendline(words(30, f"r{attempt}x"))
            child.expect_exact(f"memoria> r{attempt}x0 ")
            child.delaybeforesend = None
            for _ in range(3):
                child.sendintr()
                time.sleep(0.02 * attempt)  # no gap, 20 ms, 40 ms
            child.delaybeforesend = 0.05
            child.expect_exact("[interrupted", timeout=5)
            time.sleep(0.5)
            child.sendline("ok")
            if child.expect_exact(["memoria> ", pexpect.TIMEOUT], timeout=10) == 1:
                child.sendline("ok")  # the line was dropped (see above): type it again
                child.expect_exact("memoria> ")
            child.expect_exact("ok\r\n")
            child.expect_exact(PROMPT)
            answered.append("ok")
        close_chat(child)
    finally:
        child.close(force=True)
    assert "Traceback" not in log.getvalue(), log.getvalue()
    assert log.getvalue().count("[interrupted") == 3, log.getvalue()
    assert "busy" not in log.getvalue(), log.getvalue()
    document = shown(memoria, "c", db)
    assert document["turns"] == len(answered)
    assert shown_messages(document) == exchange(*answered)


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_ctrl_c_ends_the_wait_for_a_busy_thread_at_once(memoria, spawn, tmp_path, command):
    """A turn waiting (up to a minute) for a thread that a turn in another process holds: Ctrl-C
    gives the wait up within half a second, with the usual notice, and the other turn goes on
    and is saved."""
    db = str(tmp_path / "b.sqlite")
    seed(db, "t", "antes")
    long_text = words(20, "w")
    holder = spawn(
        "ask", long_text, "--model", "echo:1", "--thread", "t", "--db", db, program=SLOW_MEMORIA
    )
    holder.wait_for("w0", name="out")  # it holds the thread now, for some 20 s
    env = user_env(tmp_path, MEMORIA_LOCK_TIMEOUT="60")
    if command == "ask":
        waiter = spawn("ask", "otra", "--model", "echo", "--thread", "t", "--db", db, env=env)
        waiter.wait_for("memoria: thread t")
        time.sleep(1.0)
        assert waiter.ended_at is None, waiter.err
        check_interrupted_ask(waiter, interrupt(waiter))
    else:
        child, log = spawn_chat(tmp_path, "--model", "echo", "--db", db, "--thread", "t", env=env)
        try:
            child.expect_exact(PROMPT)
            child.sendline("otra")
            child.expect_exact("memoria> ")
            time.sleep(1.0)
            sent = time.monotonic()
            child.sendintr()
            child.expect_exact("[interrupted", timeout=5)
            took = time.monotonic() - sent
            child.expect_exact(PROMPT)
            close_chat(child)
        finally:
            child.close(force=True)
        assert "busy" not in log.getvalue(), log.getvalue()
        assert took < INTERRUPT_LIMIT, f"[interrupted] came {took:.2f} s after Ctrl-C"
    assert holder.finish() == 0, holder.err
    assert shown_messages(shown(memoria, "t", db)) == exchange("antes", long_text)


def test_an_interrupted_turn_prints_nothing_into_the_next_reply(tmp_path):
    db = str(tmp_path / "c.sqlite")
    child, log = spawn_chat(
        tmp_path, "--model", "echo:1", "--db", db, "--thread", "c", program=SLOW_MEMORIA
    )
    try:
        child.expect_exact(PROMPT)
        child.sendline(words(10, "w"))
        child.expect_exact("memoria> w0 ")
        child.sendintr()
        child.expect_exact("[interrupted", timeout=5)
        child.expect_exact(PROMPT, timeout=5)
        child.sendline("dos palabras")  # its reply streams while the abandoned call ends
        child.expect_exact(PROMPT)
        close_chat(child)
    finally:
        child.close(force=True)
    session = log.getvalue()
    assert "TurnCancelled" not in session and "callback" not in session, session
    assert "memoria> dos palabras\r\n" in session


TGKILL = {"x86_64": 234, "aarch64": 131}
"""Linux syscall numbers of tgkill, to hand a signal to one thread as the kernel does."""


def signal_a_worker_thread(pid: int, signum: int) -> None:
    """Deliver `signum` to a thread of process `pid` other than its main thread. The kernel does
    this with a process-wide signal (Ctrl-C) when the main thread already has one pending: the
    second of two quick Ctrl-C goes to whichever thread is free."""
    import ctypes
    import platform

    number = TGKILL.get(platform.machine())
    if not sys.platform.startswith("linux") or number is None:
        pytest.skip("tgkill: Linux on x86_64 or aarch64")
    workers = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
    assert workers, "the chat has no thread besides its main one"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(number, pid, workers[0], signum) == 0, ctypes.get_errno()


def test_a_ctrl_c_at_the_prompt_never_eats_the_next_line(memoria, tmp_path):
    db = str(tmp_path / "c.sqlite")
    child, log = spawn_chat(
        tmp_path, "--model", "echo:5", "--db", db, "--thread", "c", program=SLOW_MEMORIA
    )
    try:
        child.expect_exact(PROMPT)
        child.sendline("uno dos tres")
        child.expect_exact("memoria> ")
        time.sleep(1.0)
        child.sendintr()  # stops the reply; its worker is still in the model's wait
        child.expect_exact("[interrupted", timeout=5)
        child.expect_exact(PROMPT, timeout=5)
        signal_a_worker_thread(child.pid, signal.SIGINT)  # a second Ctrl-C, at the prompt
        time.sleep(1.0)
        child.sendline("ok")
        answered = child.expect_exact(["memoria> ", pexpect.TIMEOUT], timeout=10) == 0
        assert answered, f"the line typed after Ctrl-C was dropped: {log.getvalue()[-300:]!r}"
        child.expect_exact("ok\r\n")
        child.expect_exact(PROMPT)
        close_chat(child)
    finally:
        child.close(force=True)
    assert "Traceback" not in log.getvalue()
    assert shown_messages(shown(memoria, "c", db)) == exchange("ok")


SECOND_CTRL_C = """\
import json, os, signal, sys, threading, time
from memoria import Context
from memoria.agent import Memoria
from slow_echo import SlowEcho

db = sys.argv[1]
steps = []
with Memoria(db=db, context=Context(model="echo"), model=SlowEcho(delay=5)) as agent:
    real = agent.checkpointer.discard_after

    def slow_discard_after(*args, **kwargs):  # a rollback that takes a moment (a remote database)
        steps.append("rollback started")
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C again
        time.sleep(0.5)
        real(*args, **kwargs)
        steps.append("rollback finished")

    agent.checkpointer.discard_after = slow_discard_after
    threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT)).start()  # Ctrl-C mid-reply
    try:
        for _ in agent.stream("t", "one two three"):
            pass
    except KeyboardInterrupt:
        steps.append("interrupted")
    time.sleep(0.5)
print(json.dumps(steps), flush=True)
os._exit(0)
"""


def test_a_second_ctrl_c_does_not_cut_the_rollback_short(tmp_path, spawn):
    db = str(tmp_path / "r.sqlite")
    seed(db, "t", "antes")
    before = state_of(db, "t")
    env = user_env(tmp_path, PYTHONPATH=str(TESTS))  # for slow_echo
    script = spawn(db, program=[sys.executable, "-c", SECOND_CTRL_C], env=env)
    assert script.finish() == 0, script.err
    assert state_of(db, "t") == before
    assert json.loads(script.out) == ["rollback started", "rollback finished", "interrupted"]


# 5. Turn.cancel() from another thread.


class LateReply(EchoChatModel):
    """The echo model answering in one piece after `pause` seconds, whatever happens meanwhile:
    a provider that already has the request. `started` is set when a call begins, `finished`
    when it returns."""

    disable_streaming: bool = True
    pause: float = 0.0
    started: Any = None
    finished: Any = None

    def model_post_init(self, context: Any) -> None:
        self.started, self.finished = threading.Event(), threading.Event()

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.started.set()
        time.sleep(self.pause)
        try:
            return super()._generate(messages, stop, run_manager, **kwargs)
        finally:
            self.finished.set()


def turn_workers(thread_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"memoria-turn-{thread_id}"]


def cancel_from_another_thread(turn: Any) -> float:
    took: list[float] = []

    def cancel() -> None:
        start = time.monotonic()
        turn.cancel()
        took.append(time.monotonic() - start)

    canceller = threading.Thread(target=cancel)
    canceller.start()
    canceller.join(10)
    assert took, "cancel() hung"
    return took[0]


@pytest.mark.parametrize("reply", ["late", "streaming"])
def test_cancel_from_another_thread_frees_the_thread_and_the_late_reply_writes_nothing(db, reply):
    thread = unique("cancel")
    model = LateReply(pause=0.0) if reply == "late" else None
    context = Context(model="echo")
    with (
        Memoria(db=db, context=context, model=model or SlowEcho(delay=0.4)) as agent,
        Memoria(db=db, context=Context(model="echo"), lock_timeout=0) as other,
    ):
        agent.send(thread, "antes")
        before = snapshot(agent, thread)
        if model is not None:
            model.pause = 2.0
            model.started.clear()
            model.finished.clear()
        turn = agent.start(thread, words(10, "w"))
        workers = turn_workers(thread)
        if model is not None:
            assert model.started.wait(30), "the model was never called"
        else:
            assert next(iter(turn)) == "w0 "  # the reply is streaming

        took = cancel_from_another_thread(turn)
        assert took < INTERRUPT_LIMIT, f"cancel() took {took:.2f} s"
        start = time.monotonic()
        probe = other.start(thread, "¿libre?")  # lock_timeout=0: busy would raise at once
        assert time.monotonic() - start < INTERRUPT_LIMIT
        probe.cancel()
        assert snapshot(agent, thread) == before

        if model is not None:
            assert model.finished.wait(30), "the abandoned model call never returned"
        for worker in workers:
            # A worker outlives its turn, idle, for the next one: the turn has ended once the
            # worker no longer carries its name.
            deadline = time.monotonic() + 30
            while worker.name == f"memoria-turn-{thread}" and time.monotonic() < deadline:
                time.sleep(0.01)
            assert worker.name != f"memoria-turn-{thread}", "the abandoned turn never ended"
        assert snapshot(agent, thread) == before, "the abandoned turn wrote after its cancel"

        other.send(thread, "después")
        assert other.state(thread).turns == 2
        assert texts(other.transcript(thread)) == exchange("antes", "después")
        assert [texts(t.messages) for t in other.archive.read(thread)] == [
            exchange("antes"),
            exchange("después"),
        ]


def test_a_cancelled_turn_ends_the_reader_at_once(tmp_path):
    """A reader iterating the reply in one thread, a stop button in another: the reader's loop
    ends when the turn is cancelled, not when the abandoned model call comes back."""
    model = LateReply(pause=0.0)
    with Memoria(db=tmp_path / "r.sqlite", context=Context(model="echo"), model=model) as agent:
        agent.send("t", "antes")
        model.pause = 5.0
        turn = agent.start("t", "uno dos tres")
        ended: list[tuple[float, str]] = []

        def read() -> None:
            try:
                for _ in turn:
                    pass
                outcome = "ended"
            except Exception as exc:
                outcome = type(exc).__name__
            ended.append((time.monotonic(), outcome))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert model.started.wait(30)
        cancelled = time.monotonic()
        turn.cancel()
        reader.join(10)
        assert ended, "the reader never ended"
        assert ended[0][0] - cancelled < INTERRUPT_LIMIT, (
            f"the reader ended {ended[0][0] - cancelled:.2f} s after cancel() ({ended[0][1]})"
        )


def test_ctrl_c_between_two_pieces_stops_the_turn_at_the_next_one(tmp_path):
    """A script reading a reply in the main thread, where SIGINT has Python's default handler:
    a Ctrl-C that comes while the script handles a piece does not raise there (in the middle of
    whatever it was doing) but at the next piece, once the turn is rolled back and the thread is
    free; afterwards Ctrl-C is Python's again."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with Memoria(
        db=tmp_path / "r.sqlite", context=Context(model="echo"), model=SlowEcho(delay=0.05)
    ) as agent:
        agent.send("t", "antes")
        before = snapshot(agent, "t")
        handled: list[str] = []
        with pytest.raises(KeyboardInterrupt):
            for piece in agent.start("t", words(40, "w")):
                if not handled:
                    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the piece is handled
                    time.sleep(0.05)  # the handler has run by now, in this thread
                handled.append(piece)
        assert handled == ["w0 "], "the Ctrl-C was not taken at the next piece"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert snapshot(agent, "t") == before
        agent.lock_timeout = 0.0  # the thread is free at once
        agent.send("t", "después")
        assert texts(agent.transcript("t")) == exchange("antes", "después")
