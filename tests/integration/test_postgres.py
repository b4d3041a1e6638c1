"""Memoria on a real PostgreSQL server: `--db postgresql://...`.

Runs whenever a Postgres server answers (see tests/conftest.py); each test module gets a fresh
database, dropped after.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fakes import POSTGRES_SERVER, FailingEcho
from processes import MEMORIA, clean_env
from slow_echo import SlowEcho

from memoria import Context
from memoria.agent import Memoria
from memoria.memory import group_turns
from memoria.threads import ThreadExport

WORKER = str(Path(__file__).resolve().parents[1] / "e2e" / "turn_worker.py")


def count(url: str, sql: str, *params) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_threads_resume_stay_pruned_and_keep_their_transcript(postgres_url):
    context = Context(model="echo", memory="hybrid", k=2, max_tokens=200)
    with Memoria(db=postgres_url, context=context) as agent:
        sent = [f"Mensaje {n}: " + "contenido " * 10 for n in range(25)]
        for text in sent:
            agent.send("pg", text)
        user, server = urlsplit(postgres_url).username, urlsplit(postgres_url).netloc.split("@")[-1]
        assert agent.db_path == f"postgresql://{user}@{server}{urlsplit(postgres_url).path}"
    with Memoria(db=postgres_url, context=context) as agent:  # another "process"
        state = agent.state("pg")
        assert state.turns == 25 and state.summary and len(state.messages) < 20
        assert [m.content for m in agent.transcript("pg")] == [c for t in sent for c in (t, t)]
        assert [info.thread_id for info in agent.threads()] == ["pg"]
    assert count(postgres_url, "SELECT count(*) FROM checkpoints WHERE thread_id = 'pg'") == 1
    assert count(postgres_url, "SELECT count(*) FROM checkpoint_writes WHERE thread_id = 'pg'") == 0


def test_a_failed_turn_leaves_the_thread_as_it_was(postgres_url):
    model = FailingEcho()
    blobs = "SELECT count(*) FROM checkpoint_blobs WHERE thread_id = 'fail'"
    with Memoria(db=postgres_url, context=Context(model="echo"), model=model) as agent:
        agent.send("fail", "uno")
        before = agent.graph.get_state(agent.config("fail"))
        blobs_before = count(postgres_url, blobs)
        model.fail = True
        with pytest.raises(ConnectionError):
            agent.send("fail", "dos")
        after = agent.graph.get_state(agent.config("fail"))
        assert (after.config, after.values) == (before.config, before.values)
        assert count(postgres_url, blobs) == blobs_before, "the failed turn left channel values"
        model.fail = False
        agent.send("fail", "dos")
        assert [m.content for m in agent.transcript("fail")] == ["uno", "uno", "dos", "dos"]
    assert count(postgres_url, blobs) == blobs_before, "only the newest values are kept"


def test_move_a_thread_from_sqlite_to_postgres_and_delete_it(postgres_url, tmp_path):
    with Memoria(
        db=tmp_path / "old.sqlite", context=Context(model="echo", memory="summary")
    ) as old:
        for text in ["Me llamo Juan.", "Vivo en Bogotá.", "Soy ingeniero."]:
            old.send("moving", text)
        exported = old.export_thread("moving").to_json()
    with Memoria(db=postgres_url, context=Context(model="echo", memory="summary")) as new:
        new.import_thread(ThreadExport.from_json(exported))
        assert new.export_thread("moving").to_json() == exported
        new.send("moving", "¿Dónde vivo?")
        assert "Vivo en Bogotá." in new.state("moving").summary
        new.delete_thread("moving")
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        assert count(postgres_url, f"SELECT count(*) FROM {table} WHERE thread_id = 'moving'") == 0
    assert count(postgres_url, "SELECT count(*) FROM memoria_turns WHERE thread_id = 'moving'") == 0


def test_many_threads_at_once_from_asyncio_tasks_and_two_processes(postgres_url):
    threads = [f"busy-{n}" for n in range(6)]
    turns_per_writer = 8
    workers = [
        subprocess.Popen(
            [sys.executable, WORKER, postgres_url, thread, f"P{i}", str(turns_per_writer)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, thread in enumerate(threads[:2] * 2)  # two processes per thread for two threads
    ]

    context = Context(model="echo", memory="summary-buffer", max_tokens=160, target_tokens=80)
    with Memoria(db=postgres_url, context=context, model=SlowEcho(delay=0.001)) as agent:

        async def writer(thread: str, label: str) -> None:
            for n in range(turns_per_writer):
                await asyncio.to_thread(agent.send, thread, f"{label} {n}: " + "palabra " * 12)

        async def everyone() -> None:
            await asyncio.gather(*(writer(thread, f"T{i}") for i, thread in enumerate(threads)))

        asyncio.run(everyone())
        for worker in workers:
            _, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err

        for index, thread in enumerate(threads):
            writers = [f"T{index}"] + ([f"P{index}", f"P{index + 2}"] if index < 2 else [])
            turns = group_turns(agent.transcript(thread))
            assert agent.state(thread).turns == len(turns) == turns_per_writer * len(writers)
            sent = [turn[0].content.split(":")[0].split() for turn in turns]
            for label in writers:
                assert [int(n) for who, n in sent if who == label] == list(range(turns_per_writer))
            assert all(turn[1].content == turn[0].content for turn in turns)


def test_the_command_line_on_postgres(postgres_url):
    env = clean_env()
    run = lambda *args: subprocess.run(  # noqa: E731
        [MEMORIA, *args, "--db", postgres_url], capture_output=True, text=True, env=env, timeout=60
    )
    assert run("ask", "Hola desde la terminal", "--model", "echo", "--thread", "cli").stdout == (
        "Hola desde la terminal\n"
    )
    assert "cli" in run("threads", "list").stdout
    bad = subprocess.run(
        [MEMORIA, "threads", "list", "--db", "postgresql://nobody:secret@127.0.0.1:1/none"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 1 and "secret" not in bad.stderr
    assert bad.stderr.startswith(
        "memoria: cannot open the database postgresql://nobody@127.0.0.1:1/none"
    )


def test_servers_setting_up_a_new_database_at_once(postgres_url):
    """Migrations run under an advisory lock: several servers may start on an empty database."""
    import psycopg

    fresh = postgres_url + "_fresh"
    name = urlsplit(fresh).path.lstrip("/")
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        workers = [
            subprocess.Popen(
                [sys.executable, WORKER, fresh, f"s{i}", "S", "2"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(4)
        ]
        for worker in workers:
            _, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
        with Memoria(db=fresh, context=Context(model="echo")) as agent:
            assert sorted(i.thread_id for i in agent.threads(None)) == ["s0", "s1", "s2", "s3"]
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_nul_characters_are_kept_on_postgres_and_survive_a_move_from_sqlite(postgres_url, tmp_path):
    text = "antes\x00después: una pegada con NUL \x00 al final"
    with Memoria(
        db=tmp_path / "nul.sqlite", context=Context(model="echo", memory="summary")
    ) as old:
        old.send("nul", text)
        old.send("nul", "y otra")  # the summary now quotes the first turn, NUL and all
        exported = old.export_thread("nul")
    with Memoria(db=postgres_url, context=Context(model="echo", memory="summary")) as new:
        new.send("nul-direct", text)
        assert new.transcript("nul-direct")[0].content == text
        new.import_thread(ThreadExport.from_json(exported.to_json()))
        assert new.transcript("nul")[0].content == text, "stored losslessly"
        new.send("nul", "¿sigues ahí?")
        assert [h.thread_id for h in new.search("pegada") if h.thread_id.startswith("nul")]
