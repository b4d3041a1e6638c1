"""The thread archive, written once for both backends: every thread's transcript (one row per
completed turn, compact JSON), its full-text index, and the thread records (`memoria_threads`)
that make listing and "continue the latest" cheap.

A turn's row, its index entry and its thread record are always written in one transaction, so the
index never disagrees with the transcript. What differs between SQLite and Postgres is behind a
small `Dialect` each backend supplies: connections and transactions, the parameter style (SQL is
written here with `?`, and the dialect's cursor rewrites it), "no limit", and the full-text index
(FTS5 entries kept beside the rows, or a `tsvector` column in the row itself).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from memoria.analysis import detect_language, search_terms
from memoria.persistence.catalog import ThreadInfo, infos, iso
from memoria.persistence.schema import META, PENDING, Flavour, rows_as_meta
from memoria.transcript import (
    TRANSCRIPT_NAMESPACE,
    ArchivedTurn,
    SearchHit,
    decode_messages,
    encode_message,
    index_terms,
    now_iso,
    pack_summary,
    thread_id_of_namespace,
    title_of,
    unpack_summary,
)

NO_TURN_LIMIT = 2**31 - 1
"""Above any turn number (`memoria_turns.turn` is a 32-bit integer on Postgres)."""
TURN_COLUMNS = "thread_id, turn, language, created_at, messages, summary, folded"


class Cursor(Protocol):
    """A DB-API cursor taking `?` parameters and giving rows as tuples."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True)
class ThreadRecord:
    thread_id: str
    created_at: str
    updated_at: str
    title: str = ""
    language: str = ""
    turns: int = 0


class Dialect(ABC):
    """What one backend supplies to the archive (and to `schema.prepare`)."""

    flavour: Flavour
    ascii_json: bool = False
    """Messages as ASCII-only JSON, as Memoria has always written them on Postgres (whose text
    cannot hold a lone surrogate, which then stays escaped); SQLite keeps other characters as
    they are."""
    copied_columns: tuple[str, ...] = ()
    """Index columns of `memoria_turns` a copied row takes along."""

    # Connections

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Cursor]: ...

    @abstractmethod
    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def close(self) -> None:
        """Close what the dialect opened (not what it was given)."""

    @abstractmethod
    def turns_changing(self, cur: Cursor, thread_id: str, turns: int) -> None:
        """The thread will have `turns` turns once this transaction commits (before its record
        says so): for a backend that keeps a running total."""

    def clean(self, text: str) -> str:
        """Derived text (titles) as the database can store it."""
        return text

    # Schema (see `schema.prepare`)

    @abstractmethod
    def table_names(self) -> set[str]: ...

    def read_meta(self) -> dict[str, str]:
        return rows_as_meta(self.read(f"SELECT key, value FROM {META}"))

    @abstractmethod
    def prepare_empty(self) -> None:
        """Settings only a new, empty database takes (outside any transaction)."""

    @abstractmethod
    def create_tables(self, cur: Cursor, existing: set[str]) -> None: ...

    @abstractmethod
    def clashing_table(self, tables: set[str]) -> str | None: ...

    @abstractmethod
    def rebuild_index(self, cur: Cursor) -> None: ...

    # The full-text index

    @abstractmethod
    def insert_turn(self, cur: Cursor, row: Sequence[Any], terms: str) -> None:
        """Insert a turn's row (values of `TURN_COLUMNS`) and its index entry (`terms`)."""

    @abstractmethod
    def unindex(self, cur: Cursor, thread_id: str, from_turn: int) -> None:
        """Drop the index entries of the thread's turns numbered `from_turn` or later, before
        their rows are deleted (where the index is kept apart from the rows)."""

    @abstractmethod
    def index_copied(self, cur: Cursor, thread_id: str) -> None:
        """Index the rows just copied into `thread_id`, where `copied_columns` did not."""

    @abstractmethod
    def retag(self, cur: Cursor, old: str, new: str) -> None:
        """The thread's rows were renamed from `old` to `new`: follow in the index."""

    @abstractmethod
    def match_thread(
        self, thread_id: str, terms: Sequence[str], *, before: int, limit: int
    ) -> list[SearchHit]:
        """The thread's best `limit` turns below `before` matching any of `terms`."""

    @abstractmethod
    def match_all(
        self, terms: Sequence[str], *, language: str, thread_id: str | None, limit: int
    ) -> list[SearchHit]:
        """The best `limit` turns in `language` (of one thread, or all) matching any of `terms`."""

    @abstractmethod
    def term_frequencies(self, terms: Sequence[str]) -> tuple[dict[str, int], int]: ...


class ThreadArchive:
    """Transcripts, their search index and the thread records, kept consistent by transactions.
    It is the graph's `Transcript`."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def close(self) -> None:
        self.dialect.close()

    # Writing

    def archive(self, thread_id: str, turn: ArchivedTurn, language: str) -> None:
        """Store `turn` (replacing any turn with that number or later) and index it."""
        with self.dialect.transaction() as cur:
            self.dialect.turns_changing(cur, thread_id, turn.number + 1)
            remove_turns(self.dialect, cur, thread_id, turn.number)
            insert_turn(self.dialect, cur, thread_id, turn, language)
            title = title_of(turn.messages) if turn.number == 0 else ""
            cur.execute(
                "INSERT INTO memoria_threads (thread_id, created_at, updated_at, title, language, "
                "turns) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (thread_id) DO UPDATE SET "
                "updated_at = excluded.updated_at, turns = excluded.turns, "
                "title = CASE WHEN memoria_threads.title = '' THEN excluded.title "
                "ELSE memoria_threads.title END, "
                "language = CASE WHEN memoria_threads.language = '' THEN excluded.language "
                "ELSE memoria_threads.language END",
                (
                    thread_id,
                    turn.created_at,
                    turn.created_at,
                    self.dialect.clean(title),
                    language,
                    turn.number + 1,
                ),
            )

    def discard(self, thread_id: str, from_turn: int) -> None:
        """Forget turns numbered `from_turn` or later (an undone or uncommitted turn)."""
        with self.dialect.transaction() as cur:
            remove_turns(self.dialect, cur, thread_id, from_turn)
            cur.execute(
                "UPDATE memoria_threads SET turns = ? WHERE thread_id = ? AND turns > ?",
                (from_turn, thread_id, from_turn),
            )

    def delete(self, thread_id: str) -> None:
        with self.dialect.transaction() as cur:
            remove_turns(self.dialect, cur, thread_id)
            cur.execute("DELETE FROM memoria_threads WHERE thread_id = ?", (thread_id,))

    def import_thread(
        self, record: ThreadRecord, turns: Sequence[ArchivedTurn], language: str
    ) -> None:
        """Write a whole thread (its record and turns) in one transaction."""
        with self.dialect.transaction() as cur:
            remove_turns(self.dialect, cur, record.thread_id)
            for turn in turns:
                insert_turn(self.dialect, cur, record.thread_id, turn, language)
            upsert_record(self.dialect, cur, record, language)

    def copy(self, source: str, target: str, *, turns: int) -> None:
        """Copy the first `turns` turns of `source` (record included) to the new thread `target`:
        the stored rows as they are, re-indexed only where the index names the thread."""
        record = self.thread(source)
        language = self.thread_language(source) or "en"
        if record is not None:
            title = record.title
        else:
            first = self.read(source, stop=min(turns, 1))
            title = title_of(first[0].messages) if first else ""
        columns = ", ".join((TURN_COLUMNS.split(", ", 1)[1], *self.dialect.copied_columns))
        with self.dialect.transaction() as cur:
            remove_turns(self.dialect, cur, target)
            cur.execute(
                f"INSERT INTO memoria_turns (thread_id, {columns}) SELECT ?, {columns} "
                "FROM memoria_turns WHERE thread_id = ? AND turn < ? ORDER BY turn",
                (target, source, turns),
            )
            self.dialect.index_copied(cur, target)
            now = now_iso()
            upsert_record(self.dialect, cur, ThreadRecord(target, now, now, title), language)

    def rename(self, old: str, new: str) -> None:
        """Give `old`'s transcript and record to `new` (which has neither), rows kept in place."""
        with self.dialect.transaction() as cur:
            cur.execute("UPDATE memoria_turns SET thread_id = ? WHERE thread_id = ?", (new, old))
            self.dialect.retag(cur, old, new)
            cur.execute("UPDATE memoria_threads SET thread_id = ? WHERE thread_id = ?", (new, old))

    def mark_pending(self, target: str, operation: str, source: str = "") -> None:
        """Record that `operation` ("import", "fork", "rename" from `source`) writes `target`."""
        with self.dialect.transaction() as cur:
            cur.execute(
                f"INSERT INTO {META} (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (PENDING + target, json.dumps({"operation": operation, "source": source})),
            )

    def clear_pending(self, target: str) -> None:
        with self.dialect.transaction() as cur:
            cur.execute(f"DELETE FROM {META} WHERE key = ?", (PENDING + target,))

    def pending(self) -> dict[str, dict[str, str]]:
        """Threads being written by an import, fork or rename: {target: {operation, source}}."""
        rows = self.dialect.read(
            f"SELECT key, value FROM {META} WHERE substr(key, 1, ?) = ?",
            (len(PENDING), PENDING),
        )
        return {key[len(PENDING) :]: json.loads(value) for key, value in rows}

    # Reading

    def read(self, thread_id: str, *, stop: int | None = None) -> list[ArchivedTurn]:
        """Turns numbered below `stop` (all if None), oldest first."""
        rows = self.dialect.read(
            "SELECT turn, created_at, messages, summary, folded FROM memoria_turns "
            "WHERE thread_id = ? AND turn < ? ORDER BY turn",
            (thread_id, NO_TURN_LIMIT if stop is None else stop),
        )
        return [
            ArchivedTurn(turn, decode_messages(raw), iso(created), unpack_summary(summary), folded)
            for turn, created, raw, summary, folded in rows
        ]

    def thread_language(self, thread_id: str) -> str | None:
        """The language the thread's turns are indexed in, if it has any."""
        rows = self.dialect.read(
            "SELECT language FROM memoria_threads WHERE thread_id = ? AND language != ''",
            (thread_id,),
        )
        return str(rows[0][0]) if rows else None

    def thread(self, thread_id: str) -> ThreadRecord | None:
        rows = self.dialect.read(
            "SELECT thread_id, created_at, updated_at, title, language, turns FROM memoria_threads "
            "WHERE thread_id = ?",
            (thread_id,),
        )
        if not rows:
            return None
        found, created, updated, title, language, turns = rows[0]
        return ThreadRecord(found, iso(created), iso(updated), title, language, int(turns))

    def infos(self, limit: int | None = None, thread_id: str | None = None) -> list[ThreadInfo]:
        """Listing rows (turns, times, size) of committed threads, most recently used first."""
        flavour = self.dialect.flavour
        return infos(
            self.dialect.read(flavour.listing, (thread_id, thread_id, flavour.limit(limit)))
        )

    def search(
        self, thread_id: str, terms: Sequence[str], *, before: int, limit: int
    ) -> list[SearchHit]:
        """The best `limit` turns numbered below `before` matching any of `terms`, best first."""
        if not terms or before <= 0 or limit <= 0:
            return []
        return self.dialect.match_thread(thread_id, terms, before=before, limit=limit)

    def term_frequencies(self, thread_id: str, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many turns hold each of `terms`, and out of how many turns (over the whole
        database: per thread it would cost a search per term)."""
        if not terms:
            return {}, 0
        return self.dialect.term_frequencies(terms)

    def search_all(
        self, text: str, *, thread_id: str | None = None, limit: int = 10
    ) -> list[SearchHit]:
        """Turns of every thread (or one) matching `text`, best first; the caller drops
        uncommitted turns."""
        hits: list[SearchHit] = []
        for (language,) in self.dialect.read("SELECT DISTINCT language FROM memoria_turns"):
            terms = search_terms(text, language)
            if terms:
                hits += self.dialect.match_all(
                    terms, language=language, thread_id=thread_id, limit=limit
                )
        return sorted(hits, key=lambda hit: -hit.score)[:limit]


# Rows, shared by the archive and the migrations


def dump_messages(dialect: Dialect, turn: ArchivedTurn) -> str:
    return json.dumps(
        [encode_message(m) for m in turn.messages],
        ensure_ascii=dialect.ascii_json,
        separators=(",", ":"),
    )


def insert_turn(
    dialect: Dialect, cur: Cursor, thread_id: str, turn: ArchivedTurn, language: str
) -> None:
    row = (
        thread_id,
        turn.number,
        language,
        turn.created_at,
        dump_messages(dialect, turn),
        pack_summary(turn.summary),
        turn.folded,
    )
    dialect.insert_turn(cur, row, index_terms(turn.messages, language))


def remove_turns(dialect: Dialect, cur: Cursor, thread_id: str, from_turn: int = 0) -> None:
    """Delete the thread's turns numbered `from_turn` or later, and their index entries."""
    found = cur.execute(
        "SELECT 1 FROM memoria_turns WHERE thread_id = ? AND turn >= ? LIMIT 1",
        (thread_id, from_turn),
    ).fetchone()
    if found is None:  # the common case (a new turn): a statement that writes nothing still
        return  # takes log space, which a full disk may not have to give
    dialect.unindex(cur, thread_id, from_turn)
    cur.execute(
        "DELETE FROM memoria_turns WHERE thread_id = ? AND turn >= ?", (thread_id, from_turn)
    )


def upsert_record(dialect: Dialect, cur: Cursor, record: ThreadRecord, language: str) -> None:
    """The thread's record, its turn count taken from its archived turns."""
    cur.execute(
        "INSERT INTO memoria_threads (thread_id, created_at, updated_at, title, language, turns) "
        "VALUES (?, ?, ?, ?, ?, (SELECT count(*) FROM memoria_turns WHERE thread_id = ?)) "
        "ON CONFLICT (thread_id) DO UPDATE SET created_at = excluded.created_at, "
        "updated_at = excluded.updated_at, title = excluded.title, "
        "language = excluded.language, turns = excluded.turns",
        (
            record.thread_id,
            record.created_at,
            record.updated_at,
            dialect.clean(record.title),
            language,
            record.thread_id,
        ),
    )


def indexed_rows(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, str]]:
    """(key, terms) of (key, language, stored messages) rows: their terms analysed again."""
    return [(key, index_terms(decode_messages(raw), language)) for key, language, raw in rows]


# Memoria 0.1's transcripts (migration 0002)

_V1_PATTERN = TRANSCRIPT_NAMESPACE.replace("_", "\\_") + ".%"


def move_store_transcripts(dialect: Dialect, cur: Cursor) -> None:
    """Move Memoria 0.1 transcripts (items of LangGraph's store) into `memoria_turns`."""
    rows = cur.execute(
        "SELECT prefix, key, value, created_at FROM store WHERE prefix LIKE ? ESCAPE '\\'",
        (_V1_PATTERN,),
    ).fetchall()

    def turn(key: str, value: Any, created: Any) -> ArchivedTurn:
        value = value if isinstance(value, dict) else json.loads(value)
        return ArchivedTurn(
            int(key), decode_messages(value["messages"]), iso(created).replace(" ", "T")
        )

    items = ((prefix, turn(key, value, created)) for prefix, key, value, created in rows)
    for record, language, turns in v1_threads(items):
        for archived in turns:
            insert_turn(dialect, cur, record.thread_id, archived, language)
        upsert_record(dialect, cur, record, language)
    cur.execute("DELETE FROM store WHERE prefix LIKE ? ESCAPE '\\'", (_V1_PATTERN,))


def v1_threads(
    items: Iterable[tuple[str, ArchivedTurn]],
) -> list[tuple[ThreadRecord, str, list[ArchivedTurn]]]:
    """Memoria 0.1's archived turns, given as (store prefix, turn), grouped by thread in turn
    order, each with its thread record and its language (detected from its first turn)."""
    by_thread: dict[str, list[ArchivedTurn]] = {}
    for prefix, turn in items:
        by_thread.setdefault(thread_id_of_namespace(prefix.split(".", 1)[1]), []).append(turn)
    threads = []
    for thread_id, turns in by_thread.items():
        turns.sort(key=lambda turn: turn.number)
        first = " ".join(str(m.content) for m in turns[0].messages)
        record = ThreadRecord(
            thread_id, turns[0].created_at, turns[-1].created_at, title_of(turns[0].messages)
        )
        threads.append((record, detect_language(first) or "en", turns))
    return threads
