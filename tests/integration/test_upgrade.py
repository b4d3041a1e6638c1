"""A database written by Memoria 0.1 (transcripts in LangGraph's store) is upgraded on first open:
its transcripts move to Memoria's tables and get their search index, once, even when several
processes open it at the same moment."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import assert_index_matches_transcript

from memoria import Context, Memoria
from memoria.persistence.base import SCHEMA_VERSION

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "memoria-0.1.sqlite"
OPENER = """
import sys
from memoria import Context, Memoria
with Memoria(db=sys.argv[1], context=Context(model="echo")) as agent:
    print(len(agent.transcript("juan")))
"""


@pytest.fixture
def old_db(tmp_path) -> Path:
    db = tmp_path / "old.sqlite"
    shutil.copy(FIXTURE, db)
    return db


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_the_fixture_is_a_memoria_0_1_database():
    tables = {row[0] for row in rows(FIXTURE, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"checkpoints", "writes", "store", "store_migrations"}


def test_an_old_database_is_upgraded_and_everything_stays(old_db):
    with Memoria(db=old_db, context=Context(model="echo")) as agent:
        transcript = agent.transcript("juan")
        assert len(transcript) == 18 and transcript[0].content.startswith("Hola, soy Juan")
        assert {info.thread_id for info in agent.threads()} == {"juan", "juan.v2"}
        assert agent.thread_info("juan").title.startswith("Hola, soy Juan")
        assert agent.archive.thread_language("juan") == "es"
        assert agent.archive.thread_language("juan.v2") == "en"
        assert [hit.turn for hit in agent.search("perro", thread_id="juan")] == [0]
        assert [hit.thread_id for hit in agent.search("architect sister")] == ["juan.v2"]
        # The thread goes on, and recall reaches into the upgraded transcript.
        agent.send("juan", "¿Cómo se llama mi perro?")
        assert agent.state("juan").recalled[0]["turn"] == 0
    assert rows(old_db, "SELECT count(*) FROM store WHERE prefix LIKE 'memoria.%'") == [(0,)]
    assert rows(old_db, "SELECT value FROM memoria_meta WHERE key = 'schema'") == [
        (SCHEMA_VERSION,)
    ]
    assert_index_matches_transcript(old_db)


def test_a_read_only_command_upgrades_it_once_and_creates_nothing_else(old_db):
    with Memoria(db=old_db, context=Context(model="echo"), read_only=True) as a:
        assert len(a.transcript("juan")) == 18
    assert rows(old_db, "SELECT count(*) FROM memoria_turns") == [(11,)]
    assert not old_db.with_name(old_db.name + ".turnlock").exists()


def test_processes_opening_it_at_once_upgrade_it_exactly_once(old_db):
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(old_db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert out.strip() == "18"
    assert rows(old_db, "SELECT count(*) FROM memoria_turns") == [(11,)]
    assert rows(old_db, "SELECT count(*) FROM memoria_threads") == [(2,)]
    assert_index_matches_transcript(old_db)


def test_an_old_postgres_database_is_upgraded_too(postgres_url, tmp_path):
    """The same layout on Postgres, written through LangGraph's public PostgresSaver and
    PostgresStore from the SQLite fixture's checkpoints and transcript items."""
    import json

    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.store.postgres import PostgresStore

    from memoria.persistence.sqlite import strict_serializer

    with (
        SqliteSaver.from_conn_string(str(FIXTURE)) as old,
        PostgresSaver.from_conn_string(postgres_url) as saver,
        PostgresStore.from_conn_string(postgres_url) as store,
    ):
        old.serde = saver.serde = strict_serializer()
        saver.setup()
        store.setup()
        for saved in old.list(None):
            config = {"configurable": {**saved.config["configurable"]}}
            config["configurable"].pop("checkpoint_id")
            saver.put(
                config, saved.checkpoint, saved.metadata, saved.checkpoint["channel_versions"]
            )
        for prefix, key, value in rows(FIXTURE, "SELECT prefix, key, value FROM store"):
            store.put(tuple(prefix.split(".")), key, json.loads(value), index=False)
    with Memoria(db=postgres_url, context=Context(model="echo")) as agent:
        assert len(agent.transcript("juan")) == 18
        assert [hit.turn for hit in agent.search("perro", thread_id="juan")] == [0]
        assert agent.archive.thread_language("juan.v2") == "en"
        agent.send("juan", "¿Cómo se llama mi perro?")
        assert agent.state("juan").recalled[0]["turn"] == 0
