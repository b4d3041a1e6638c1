"""Another program's database: read-only commands change nothing, writing needs --init-db, and
schema setup is all or nothing. SQLite and Postgres."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from pathlib import Path

import pytest
from processes import MEMORIA

from memoria import Context, Memoria
from memoria.analysis import ANALYZER_VERSION
from memoria.persistence import DatabaseOpenError
from memoria.persistence.catalog import SCHEMA_VERSION


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def their_sqlite(tmp_path) -> Path:
    db = tmp_path / "their.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    return db


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MEMORIA, *args], capture_output=True, text=True, timeout=120)


def test_read_only_commands_leave_another_programs_sqlite_file_untouched(their_sqlite):
    before = digest(their_sqlite)
    for args in (("threads", "list"), ("threads", "show", "x"), ("threads", "search", "hola")):
        result = run(*args, "--db", str(their_sqlite))
        assert result.returncode == 1, result
        assert result.stderr.count("\n") == 1 and "is not a Memoria database" in result.stderr
    assert digest(their_sqlite) == before
    assert not Path(str(their_sqlite) + "-wal").exists()
    with sqlite3.connect(their_sqlite) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_writing_into_it_needs_an_explicit_option(their_sqlite):
    before = digest(their_sqlite)
    refused = run("ask", "hola", "--model", "echo", "--db", str(their_sqlite))
    assert refused.returncode == 1
    assert "is not a Memoria database (it holds invoices); pass --init-db" in refused.stderr
    assert digest(their_sqlite) == before
    accepted = run("ask", "hola", "--model", "echo", "--db", str(their_sqlite), "--init-db")
    assert accepted.returncode == 0, accepted.stderr
    with sqlite3.connect(their_sqlite) as conn:
        assert conn.execute("SELECT total FROM invoices").fetchall() == [(12.5,)]
    assert run("threads", "list", "--db", str(their_sqlite)).returncode == 0


def test_a_clashing_table_is_refused_before_anything_is_created(tmp_path):
    db = tmp_path / "clash.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE checkpoints (id INTEGER PRIMARY KEY, label TEXT)")
        conn.execute("CREATE TABLE notes (body TEXT)")
    tables = lambda: {  # noqa: E731
        row[0]
        for row in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    with pytest.raises(DatabaseOpenError, match="already has a table named checkpoints"):
        Memoria(db=db, context=Context(model="echo"), init_db=True)
    assert tables() == {"checkpoints", "notes"}, "nothing was left behind"


def test_setup_is_all_or_nothing_when_it_fails_halfway(tmp_path, monkeypatch):
    """A failure inside schema setup (here: while creating the index) rolls every table back."""
    import memoria.persistence.sqlite as backend

    db = tmp_path / "half.sqlite"
    broken = backend.SCHEMA.replace("CREATE VIRTUAL TABLE memoria_vocabulary", "CREATE NONSENSE")
    monkeypatch.setattr(backend, "SCHEMA", broken)
    with pytest.raises(DatabaseOpenError):
        Memoria(db=db, context=Context(model="echo"))
    with sqlite3.connect(db) as conn:
        left = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert left == []
    monkeypatch.undo()
    with Memoria(db=db, context=Context(model="echo")) as agent:  # and a retry then works
        agent.send("t", "hola")


def test_postgres_read_only_commands_change_nothing_and_writing_needs_init(postgres_url):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id serial PRIMARY KEY, total numeric)")

    def tables() -> set[str]:
        with psycopg.connect(postgres_url) as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchall()
        return {row[0] for row in rows}

    listed = run("threads", "list", "--db", postgres_url)
    assert listed.returncode == 1 and "is not a Memoria database" in listed.stderr
    assert listed.stderr.count("\n") == 1, "one line, no migration log"
    refused = run("ask", "hola", "--model", "echo", "--db", postgres_url)
    assert refused.returncode == 1 and "pass --init-db" in refused.stderr
    assert tables() == {"invoices"}
    accepted = run("ask", "hola", "--model", "echo", "--db", postgres_url, "--init-db")
    assert accepted.returncode == 0, accepted.stderr
    assert {"invoices", "checkpoints", "memoria_turns"} <= tables()
    assert accepted.stderr.count("\n") <= 2, "no migration log on stderr"


# Issue 16, items 3 and 14: a newer Memoria's database, another analysis, a stray memoria_meta.


@pytest.fixture(params=["sqlite", "postgres"])
def memoria_db(request, tmp_path):
    """A Memoria database with one thread, and a way to run SQL on it."""
    if request.param == "sqlite":
        db = str(tmp_path / "m.sqlite")

        def sql(statement: str, *params: object) -> list[tuple]:
            with sqlite3.connect(db) as conn:
                return conn.execute(statement.replace("%s", "?"), params).fetchall()

    else:
        import psycopg

        db = request.getfixturevalue("own_postgres_url")

        def sql(statement: str, *params: object) -> list[tuple]:
            with psycopg.connect(db, autocommit=True) as conn:
                cursor = conn.execute(statement, params)
                return cursor.fetchall() if cursor.description else []

    assert run("ask", "Mi perro se llama Toby", "--model", "echo", "--db", db).returncode == 0
    return db, sql


def meta_of(sql) -> dict[str, str]:
    return dict(sql("SELECT key, value FROM memoria_meta"))


@pytest.mark.parametrize(
    ("key", "value"),
    [("schema", "3"), ("analyzer", "memoria-analysis-99+pystemmer-9+unicode-99+stop-x")],
)
def test_a_newer_memorias_database_is_refused_never_downgraded(memoria_db, key, value):
    db, sql = memoria_db
    sql("UPDATE memoria_meta SET value = %s WHERE key = %s", value, key)
    before = meta_of(sql)
    for args in (
        ("threads", "list"),
        ("threads", "search", "perro"),
        ("ask", "hola", "--model", "echo"),
    ):
        result = run(*args, "--db", db)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert "was written by a newer Memoria (schema " in result.stderr
        assert f"this one knows schema {SCHEMA_VERSION}, analysis " in result.stderr
    assert meta_of(sql) == before, "nothing re-marked"


def test_reading_never_rebuilds_an_index_another_analysis_built(memoria_db):
    db, sql = memoria_db
    other = "memoria-analysis-1+pystemmer-0.0+unicode-0+stop-other"
    sql("UPDATE memoria_meta SET value = %s WHERE key = 'analyzer'", other)
    for args in (("threads", "list"), ("threads", "search", "perro"), ("threads", "show", "x")):
        run(*args, "--db", db)
        assert meta_of(sql)["analyzer"] == other, args
    found = run("threads", "search", "perro", "--db", db)
    assert found.returncode == 0 and "turn 1" in found.stdout, "read as it is"
    assert run("ask", "hola", "--model", "echo", "--db", db).returncode == 0
    assert meta_of(sql)["analyzer"] == ANALYZER_VERSION, "a writing command rebuilds it"


def test_a_stray_memoria_meta_table_is_another_programs(tmp_path):
    db = tmp_path / "stray.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE memoria_meta (name TEXT, note TEXT)")
    before = digest(db)
    listed = run("threads", "list", "--db", str(db))
    assert listed.returncode == 1 and listed.stderr == f"memoria: {db} is not a Memoria database\n"
    refused = run("ask", "hola", "--model", "echo", "--db", str(db), "--init-db")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "already has a table named memoria_meta" in refused.stderr
    assert digest(db) == before
