"""The schema module: layout detection, the named migrations and the one upgrade routine, checked
on SQLite files (the Postgres paths are the same code, driven by the integration tests)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from memoria.analysis import ANALYZER_VERSION
from memoria.persistence import schema
from memoria.persistence.schema import (
    MIGRATION,
    MIGRATIONS,
    POSTGRES,
    SCHEMA_VERSION,
    SQLITE,
    DatabaseOpenError,
    classify,
)
from memoria.persistence.sqlite import SqliteDialect

CURRENT = {"schema": SCHEMA_VERSION, "analyzer": ANALYZER_VERSION}


def kind(tables: set[str], meta: dict[str, str] | None = None, flavour=SQLITE) -> str:
    return classify(tables, lambda: meta or {}, flavour).kind


def test_migrations_are_uniquely_named_and_in_order():
    names = [m.name for m in MIGRATIONS]
    assert len(set(names)) == len(names)
    assert names == sorted(names), "append only, numbered in order"
    assert all(m.schema <= int(SCHEMA_VERSION) for m in MIGRATIONS)


def test_layouts_from_tables_and_meta():
    assert kind(set()) == "empty"
    assert kind({"invoices"}) == "foreign"
    assert kind({"memoria_meta"}) == "foreign", "a stray memoria_meta is another program's"
    assert kind(set(SQLITE.own), {"name": "x"}) == "foreign", "a meta holding no versions"
    assert kind({"checkpoints", "writes", "store", "store_migrations"}) == "upgrade"
    assert kind({"checkpoints", "store", *POSTGRES.saver}, flavour=POSTGRES) == "upgrade"
    assert kind({"checkpoints", "writes", "store", "notes"}) == "foreign"
    # A Memoria 0.2 database records no migration: its schema version implies them.
    assert kind(set(SQLITE.own), CURRENT) == "memoria"
    recorded = {MIGRATION + m.name: "t" for m in MIGRATIONS}
    assert kind(set(SQLITE.own), {**CURRENT, **recorded}) == "memoria"


@pytest.mark.parametrize(
    "meta",
    [
        {**CURRENT, "schema": str(int(SCHEMA_VERSION) + 1)},
        {**CURRENT, "analyzer": "memoria-analysis-99+pystemmer-9"},
        {**CURRENT, MIGRATION + "9999-from-the-future": "t"},
    ],
)
def test_a_newer_memoria_is_recognised(meta):
    assert kind(set(SQLITE.own), meta) == "newer"


def test_reindex_only_when_the_analysis_differs():
    other = {**CURRENT, "analyzer": "memoria-analysis-1+pystemmer-0+unicode-0+stop-x"}
    assert classify(set(SQLITE.own), lambda: other, SQLITE).reindex(ANALYZER_VERSION)
    assert not classify(set(SQLITE.own), lambda: CURRENT, SQLITE).reindex(ANALYZER_VERSION)


def test_placeholders_follow_the_driver():
    query = "SELECT ? WHERE key LIKE '%x' AND b = ?"
    assert SQLITE.sql(query) == query
    assert POSTGRES.sql(query) == "SELECT %s WHERE key LIKE '%%x' AND b = %s"
    assert "LIMIT ?" in SQLITE.listing and "pg_column_size" in POSTGRES.listing


def prepare(path: Path, *, init: bool = False) -> schema.Layout:
    conn = sqlite3.connect(path, isolation_level=None)
    with closing(conn):
        return schema.prepare(SqliteDialect(conn), str(path), init=init, analyzer=ANALYZER_VERSION)


def meta(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as conn:
        return dict(conn.execute("SELECT key, value FROM memoria_meta").fetchall())


def test_a_new_database_gets_every_migration_recorded_once(tmp_path):
    db = tmp_path / "new.sqlite"
    assert prepare(db).kind == "empty"
    first = meta(db)
    assert {key for key in first if key.startswith(MIGRATION)} == {
        MIGRATION + m.name for m in MIGRATIONS
    }
    assert first["schema"] == SCHEMA_VERSION and first["analyzer"] == ANALYZER_VERSION
    assert prepare(db).kind == "memoria"
    assert meta(db) == first, "nothing to do the second time"


def prepared_then(db: Path, sql: str) -> None:
    """A database this version prepared, then changed by `sql`."""
    prepare(db)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(sql)


def test_a_0_2_database_without_records_is_current_and_left_alone(tmp_path):
    db = tmp_path / "v2.sqlite"
    prepared_then(db, "DELETE FROM memoria_meta WHERE key LIKE 'migration:%'")
    layout = prepare(db)
    assert layout.kind == "memoria" and layout.pending == ()
    assert meta(db) == CURRENT


def test_an_unknown_migration_is_refused_and_nothing_changes(tmp_path):
    db = tmp_path / "future.sqlite"
    prepared_then(db, "INSERT INTO memoria_meta VALUES ('migration:9999-future', 't')")
    before = meta(db)
    with pytest.raises(DatabaseOpenError, match="written by a newer Memoria"):
        prepare(db)
    assert meta(db) == before


def test_another_programs_database_needs_init_and_no_clash(tmp_path):
    db = tmp_path / "theirs.sqlite"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(DatabaseOpenError, match=r"it holds invoices\); pass --init-db"):
        prepare(db)
    assert prepare(db, init=True).kind == "foreign"
    assert meta(db)["schema"] == SCHEMA_VERSION


def test_the_light_modules_load_neither_langchain_nor_the_drivers():
    code = (
        "import sys, memoria.persistence.catalog, memoria.persistence.schema\n"
        "heavy = ('langchain', 'langgraph', 'Stemmer', 'psycopg')\n"
        "print([m for m in sys.modules if m.startswith(heavy)])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
