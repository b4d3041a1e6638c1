"""What a Memoria database holds, and the one routine that creates or upgrades it, for SQLite and
Postgres alike.

- Table names, and the SQL facts each backend differs by (`Flavour`): its tables, how a row's size
  is measured, its "no limit", its parameter style. No LangGraph or LangChain is imported here, so
  the light thread catalogue (`catalog.py`) shares the listing query and the version check.
- Layout detection (`classify`): an empty database, Memoria's (current, to upgrade, or written by a
  newer Memoria: refused, never downgraded), or another program's (refused unless `--init-db`).
- Named, append-only migrations (`MIGRATIONS`). Each applied one is recorded in `memoria_meta` as
  `migration:<name>`; a database written by Memoria 0.2 has none recorded, and its `schema` value
  stands for the migrations that version had. `prepare` applies the missing ones, and rebuilds the
  search index when the text analysis changed, in one transaction under the setup lock: a failure
  leaves the database as it was.

`schema` in `memoria_meta` stays the compatibility level older Memorias check: bump it (and list
the migrations it implies) only for a change an older version could not read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from memoria.presets import ANALYSIS_RULES

if TYPE_CHECKING:  # the archive needs LangChain, which the light catalogue never loads
    from memoria.persistence.archive import Cursor, Dialect

SCHEMA_VERSION = "2"
"""1: transcripts in LangGraph's store table (Memoria 0.1, which wrote no `memoria_meta`).
2: Memoria's own tables with a full-text index (0.2 on)."""

META = "memoria_meta"
THREADS = "memoria_threads"
TURNS = "memoria_turns"
PENDING = "pending:"
"""`memoria_meta` keys `pending:<thread id>` record a thread an import, fork or rename is
writing: until the key goes, the thread is not shown, and a writer that opens the database after
a crash undoes (or, for a rename past its point of no return, completes) the operation."""
MIGRATION = "migration:"
"""`memoria_meta` keys `migration:<name>` record the migrations applied to the database."""


class DatabaseOpenError(RuntimeError):
    """The database cannot be created, opened or read as a Memoria database."""


class NoDatabaseError(DatabaseOpenError):
    """A read-only command found no database at the location: nothing to read, nothing created."""


Kind = Literal["empty", "memoria", "upgrade", "newer", "foreign"]


@dataclass(frozen=True)
class Flavour:
    """The SQL facts a backend differs by, known without its driver or LangGraph."""

    name: Literal["sqlite", "postgres"]
    own: frozenset[str]
    """Memoria's tables in a database of this kind."""
    saver: tuple[str, ...]
    """LangGraph's checkpoint tables."""
    v1: frozenset[str]
    """The tables every Memoria 0.1 database has; `v1_all`, all it may have."""
    v1_all: frozenset[str]
    turn_bytes: str
    """SQL summing the size of a thread's transcript rows (in `memoria_turns`)."""
    checkpoint_bytes: str
    """SQL giving the size of thread `t.thread_id`'s checkpoints."""
    no_limit: int | None
    """The LIMIT value meaning "all rows"."""
    pyformat: bool
    """Parameters written `%s` (psycopg) rather than `?` (sqlite3)."""

    def sql(self, query: str) -> str:
        """`query`, written with `?` parameters, in this driver's parameter style (archive cursors
        do this themselves; the light catalogue, on a bare connection, calls it)."""
        return _pyformat(query) if self.pyformat else query

    def limit(self, limit: int | None) -> int | None:
        return self.no_limit if limit is None else limit

    @functools.cached_property
    def listing(self) -> str:
        """Listing rows (id, title, turns, created, updated, size) of committed threads, most
        recently used first; parameters (`?`): a thread id or NULL (twice), the LIMIT."""
        return _LISTING.format(turn_bytes=self.turn_bytes, checkpoints=self.checkpoint_bytes)


@functools.lru_cache(maxsize=512)
def _pyformat(query: str) -> str:
    # Only Memoria's own constant SQL comes here, never a value: values are always parameters.
    return query.replace("%", "%%").replace("?", "%s")


_LISTING = f"""
SELECT t.thread_id, t.title, t.turns, t.created_at, t.updated_at,
       (SELECT coalesce(sum({{turn_bytes}}), 0) FROM {TURNS} WHERE thread_id = t.thread_id)
     + {{checkpoints}}
  FROM {THREADS} AS t
 WHERE EXISTS (SELECT 1 FROM checkpoints AS c WHERE c.thread_id = t.thread_id)
   AND NOT EXISTS (SELECT 1 FROM {META} AS m WHERE m.key = '{PENDING}' || t.thread_id)
   AND (CAST(? AS TEXT) IS NULL OR t.thread_id = ?)
 ORDER BY t.updated_at DESC, t.thread_id
 LIMIT ?
"""

SQLITE = Flavour(
    name="sqlite",
    own=frozenset({META, THREADS, TURNS, "memoria_search", "memoria_vocabulary"}),
    saver=("checkpoints", "writes"),
    v1=frozenset({"checkpoints", "writes", "store"}),
    v1_all=frozenset({"checkpoints", "writes", "store", "store_migrations", "vector_migrations"}),
    turn_bytes="length(messages) + coalesce(length(summary), 0)",
    checkpoint_bytes=(
        "(SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) "
        "FROM checkpoints WHERE thread_id = t.thread_id)"
    ),
    no_limit=-1,
    pyformat=False,
)
_PG_SAVER = ("checkpoint_migrations", "checkpoints", "checkpoint_blobs", "checkpoint_writes")
POSTGRES = Flavour(
    name="postgres",
    own=frozenset({META, THREADS, TURNS}),
    saver=_PG_SAVER,
    v1=frozenset({"checkpoints", "store"}),
    v1_all=frozenset({*_PG_SAVER, "store", "store_migrations", "vector_migrations"}),
    turn_bytes=(
        "pg_column_size(messages) + coalesce(pg_column_size(summary), 0) + pg_column_size(terms)"
    ),
    checkpoint_bytes=(
        "(SELECT coalesce(sum(pg_column_size(checkpoint) + pg_column_size(metadata)), 0) "
        "FROM checkpoints WHERE thread_id = t.thread_id) "
        "+ (SELECT coalesce(sum(pg_column_size(blob)), 0) "
        "FROM checkpoint_blobs WHERE thread_id = t.thread_id)"
    ),
    no_limit=None,
    pyformat=True,
)


FORGET_MISSING_PARENTS = (
    "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ? "
    "AND parent_checkpoint_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM checkpoints AS p "
    "WHERE p.thread_id = checkpoints.thread_id AND p.checkpoint_ns = checkpoints.checkpoint_ns"
    " AND p.checkpoint_id = checkpoints.parent_checkpoint_id)"
)
"""Leave no checkpoint of thread `?` naming a deleted parent: it has none (LangGraph's tables,
the same on both backends)."""


@dataclass(frozen=True)
class Migration:
    name: str
    schema: int
    """The schema version that brought it: a database marked with that version (or a later
    one) has it, recorded or not."""
    apply: Callable[[Dialect, Cursor, set[str]], None]
    """Run inside the upgrade's transaction, given the tables the database had before it."""


def _create_tables(backend: Dialect, cur: Cursor, tables: set[str]) -> None:
    backend.create_tables(cur, tables)


def _move_store_transcripts(backend: Dialect, cur: Cursor, tables: set[str]) -> None:
    if "store" in tables:
        # Imported here: the archive needs LangChain, which the light catalogue never loads.
        from memoria.persistence.archive import move_store_transcripts

        move_store_transcripts(backend, cur)


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001-memoria-tables", 2, _create_tables),
    Migration("0002-transcripts-from-store", 2, _move_store_transcripts),
)
"""Append only: never rename, reorder or remove one; a change is a new migration."""


@dataclass(frozen=True)
class Layout:
    kind: Kind
    tables: frozenset[str] = frozenset()
    meta: Mapping[str, str] = field(default_factory=dict)
    pending: tuple[Migration, ...] = ()

    def reindex(self, analyzer: str) -> bool:
        """Whether the search index was built by another version of the text analysis."""
        return "analyzer" in self.meta and self.meta["analyzer"] != analyzer


def analysis_rules(version: str) -> int:
    """The rules' number in an analysis version (`memoria-analysis-1+pystemmer-...`)."""
    prefix = "memoria-analysis-"
    if not version.startswith(prefix):
        raise ValueError(f"not an analysis version: {version[:60]!r}")
    return int(version[len(prefix) :].split("+", 1)[0])


def applied_migrations(meta: Mapping[str, str]) -> set[str]:
    """The migrations recorded in `meta`, and those its schema version implies."""
    schema = int(meta["schema"])
    recorded = {key[len(MIGRATION) :] for key in meta if key.startswith(MIGRATION)}
    return recorded | {m.name for m in MIGRATIONS if m.schema <= schema}


def meta_kind(meta: Mapping[str, str]) -> Kind:
    """'memoria', 'upgrade' or 'newer', from `memoria_meta`'s values; raises (KeyError,
    ValueError) when they are not Memoria's."""
    schema = int(meta["schema"])
    rules = analysis_rules(meta["analyzer"])
    applied = applied_migrations(meta)
    if (
        schema > int(SCHEMA_VERSION)
        or rules > ANALYSIS_RULES
        or applied - {m.name for m in MIGRATIONS}
    ):
        return "newer"
    if schema < int(SCHEMA_VERSION) or any(m.name not in applied for m in MIGRATIONS):
        return "upgrade"
    return "memoria"


def classify(
    tables: set[str], read_meta: Callable[[], Mapping[str, str]], flavour: Flavour
) -> Layout:
    """What a database holds, from its table names (and `memoria_meta`, read only when Memoria's
    tables are all there). A stray `memoria_meta`, or one holding no versions, is another
    program's."""
    names = frozenset(tables)
    if META in tables:
        try:
            meta = dict(read_meta()) if flavour.own <= tables else {}
            kind = meta_kind(meta)
        except Exception:  # no such columns, values that are no versions: not Memoria's table
            return Layout("foreign", names)
        applied = applied_migrations(meta)
        pending = tuple(m for m in MIGRATIONS if m.name not in applied)
        return Layout(kind, names, meta, pending if kind == "upgrade" else ())
    if not tables:
        return Layout("empty", names, pending=MIGRATIONS)
    if flavour.v1 <= tables <= flavour.v1_all:
        return Layout("upgrade", names, pending=MIGRATIONS)
    return Layout("foreign", names, pending=MIGRATIONS)


def check_readable(layout: Layout, display: str, analyzer: str) -> None:
    """Raise unless a read-only command can read the database as it is (an empty one is the
    caller's to report; one to upgrade is upgraded once by the caller)."""
    if layout.kind == "newer":
        raise newer_database(display, layout.meta, analyzer)
    if layout.kind == "foreign":
        raise DatabaseOpenError(f"{display} is not a Memoria database")


def prepare(backend: Dialect, display: str, *, init: bool, analyzer: str) -> Layout:
    """Create or upgrade Memoria's schema: the one upgrade routine of both backends. Run it under
    the setup lock. `init`: allow adding Memoria's tables to another program's database. Returns
    the layout found before."""
    layout = classify(backend.table_names(), backend.read_meta, backend.flavour)
    if layout.kind == "newer":
        raise newer_database(display, layout.meta, analyzer)
    if layout.kind == "foreign":
        refuse_foreign(display, set(layout.tables), backend.clashing_table, init=init)
    reindex = layout.reindex(analyzer)
    if not layout.pending and not reindex:
        return layout
    if layout.kind == "empty":
        backend.prepare_empty()
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    with backend.transaction() as cur:
        for migration in layout.pending:
            migration.apply(backend, cur, set(layout.tables))
        if reindex:
            backend.rebuild_index(cur)
        # Every migration is recorded from now on, those a 0.2 database had implied included.
        values = [("schema", SCHEMA_VERSION), ("analyzer", analyzer)]
        values += [
            (MIGRATION + m.name, now) for m in MIGRATIONS if MIGRATION + m.name not in layout.meta
        ]
        cur.executemany(
            f"INSERT INTO {META} (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            values,
        )
    return layout


def refuse_foreign(
    display: str,
    tables: set[str],
    clashing_table: Callable[[set[str]], str | None],
    *,
    init: bool,
) -> None:
    """The refusal of another program's database: without `init` always; with it, when a table
    Memoria needs is already there."""
    if not init:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise DatabaseOpenError(
            f"{display} is not a Memoria database (it holds {shown}); "
            "pass --init-db to add Memoria's tables to it"
        )
    if clash := clashing_table(tables):
        raise DatabaseOpenError(
            f"{display} already has a table named {clash} that is not Memoria's: "
            "Memoria cannot use this database"
        )


def newer_database(display: str, meta: Mapping[str, str], analyzer: str) -> DatabaseOpenError:
    """The refusal of a database a newer Memoria wrote, naming both versions."""
    return DatabaseOpenError(
        f"{display} was written by a newer Memoria (schema {meta.get('schema', '?')}, analysis "
        f"{str(meta.get('analyzer', '?'))[:60]}); this one knows schema {SCHEMA_VERSION}, "
        f"analysis {analyzer[:60]}: upgrade Memoria to use it"
    )


def statements(script: str) -> Iterator[str]:
    """The statements of a DDL script (no `;` inside any of them)."""
    return (s.strip() for s in script.split(";") if s.strip())


def rows_as_meta(rows: Sequence[Sequence[Any]]) -> dict[str, str]:
    return {str(key): str(value) for key, value in rows}
