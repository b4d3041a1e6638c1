"""The full transcript of a thread, kept apart from the model's bounded view, and its search.

The `model` node archives each completed turn: one compact JSON record of its messages, numbered
from 0, with the time it was made and, when the turn changed it, the running summary (so that a
thread can be forked as it stood after any turn). The `recall` node searches the turns that have
left the model's view. Both go through the `Transcript` protocol:

- Memoria's own databases (`memoria.persistence`) keep turns in a table of their own, with the
  full-text index written in the same transaction (SQLite FTS5, Postgres tsvector).
- Any other LangGraph store (LangGraph Studio's, an `InMemoryStore`) gets `StoreTranscript`: turns are
  items in the namespace ("memoria", <thread id>), and recall ranks them with an in-memory SQLite
  FTS5 index built from the thread's items when asked (linear in the thread's length: fine for
  development and Studio; Memoria's databases index incrementally).

A process killed after archiving a turn but before saving its checkpoint leaves one uncommitted
turn, numbered as the checkpoint's turn count: readers only take turns below that count, and the
thread's next turn replaces it.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Protocol

from langchain_core.messages import BaseMessage, messages_from_dict
from langgraph.store.base import BaseStore, Item

from memoria.analysis import analyzer
from memoria.tokens import message_text

TRANSCRIPT_NAMESPACE = "memoria"
PAGE = 500
INDEXED_CHARS = 100_000
"""Of a turn's text, the first this many characters are indexed (a 5 MB paste stays searchable
by its start, and Postgres tsvectors stay under their 1 MB limit)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ArchivedTurn:
    number: int
    """Position in the thread, from 0 (users see number + 1)."""
    messages: list[BaseMessage]
    created_at: str = field(default_factory=now_iso)
    summary: str | None = None
    """The running summary after this turn, when this turn changed it (a fold); else None."""
    folded: int = 0
    """How many turns lived only in the summary after this turn."""


@dataclass(frozen=True)
class SearchHit:
    thread_id: str
    turn: int
    score: float
    """Higher is better: bm25 (SQLite, sign flipped) or ts_rank_cd (Postgres)."""
    created_at: str
    encoded: str | list[dict[str, Any]] = field(repr=False)
    """The turn's messages as stored (JSON text, or its parsed list): most hits of a search are
    passed over for lack of budget, so they are decoded only when read."""

    @cached_property
    def messages(self) -> list[BaseMessage]:
        return decode_messages(self.encoded)


class Transcript(Protocol):
    """What the graph needs from a thread's archive."""

    def archive(self, thread_id: str, turn: ArchivedTurn, language: str) -> None:
        """Store `turn` (replacing any turn with that number or later) and index it."""
        ...

    def search(
        self, thread_id: str, terms: Sequence[str], *, before: int, limit: int
    ) -> list[SearchHit]:
        """The best `limit` turns numbered below `before` matching any of `terms`, best first."""
        ...

    def thread_language(self, thread_id: str) -> str | None:
        """The language the thread's turns are indexed in, if it has any."""
        ...

    def term_frequencies(self, thread_id: str, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many turns hold each of `terms`, and out of how many turns."""
        ...


def encode_message(message: BaseMessage) -> dict[str, Any]:
    """Compact JSON form of a message: its type, the fields that differ from their defaults, and of
    the provider's metadata only the model name and the token usage (as `[input, output]`)."""
    data = {
        "type": message.type,
        **message.model_dump(
            exclude_defaults=True, exclude={"type", "response_metadata", "usage_metadata"}
        ),
    }
    if model_name := message.response_metadata.get("model_name"):
        data["model"] = model_name
    if usage := getattr(message, "usage_metadata", None):
        data["usage"] = [usage["input_tokens"], usage["output_tokens"]]
    return data


def decode_message(data: dict[str, Any]) -> BaseMessage:
    fields = {key: value for key, value in data.items() if key not in ("type", "model", "usage")}
    if "model" in data:
        fields["response_metadata"] = {"model_name": data["model"]}
    if "usage" in data:
        input_tokens, output_tokens = data["usage"]
        fields["usage_metadata"] = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
    return messages_from_dict([{"type": data["type"], "data": fields}])[0]


def decode_messages(encoded: str | list[dict[str, Any]]) -> list[BaseMessage]:
    """A turn's messages from their stored JSON (text, or already parsed)."""
    items = json.loads(encoded) if isinstance(encoded, str) else encoded
    return [decode_message(m) for m in items]


def pack_summary(summary: str | None) -> bytes | None:
    """A summary snapshot as stored: zlib-compressed (one per fold, a third of the raw text in
    a long thread otherwise)."""
    return None if summary is None else zlib.compress(summary.encode("utf-8", "surrogatepass"))


def unpack_summary(packed: bytes | str | None) -> str | None:
    if packed is None or isinstance(packed, str):
        return packed
    return zlib.decompress(packed).decode("utf-8", "surrogatepass")


def turn_text(messages: Sequence[BaseMessage]) -> str:
    """The text of a turn that the search index sees: every message's text, capped."""
    return "\n".join(message_text(m) for m in messages)[:INDEXED_CHARS]


def index_terms(messages: Sequence[BaseMessage], language: str) -> str:
    """The analysed terms of a turn, space-separated, as both full-text engines index them."""
    return " ".join(analyzer(language).terms(turn_text(messages)))


def title_of(messages: Sequence[BaseMessage]) -> str:
    """A thread's title: its first human message, on one line."""
    for message in messages:
        if message.type == "human":
            return " ".join(message_text(message).split())[:200]
    return ""


# Any LangGraph store


def transcript_namespace(thread_id: str) -> tuple[str, str]:
    # Store namespace labels may not contain "."; escape it reversibly.
    return (TRANSCRIPT_NAMESPACE, thread_id.replace("%", "%25").replace(".", "%2E"))


def thread_id_of_namespace(label: str) -> str:
    return label.replace("%2E", ".").replace("%25", "%")


class StoreTranscript:
    """A thread's transcript as items of a LangGraph store (Studio's, or any other)."""

    def __init__(self, store: BaseStore) -> None:
        self.store = store

    def archive(self, thread_id: str, turn: ArchivedTurn, language: str) -> None:
        value: dict[str, Any] = {
            "messages": [encode_message(m) for m in turn.messages],
            "created_at": turn.created_at,
            "language": language,
            "folded": turn.folded,
            # Analysed once here, so that a search does not analyse every turn again.
            "terms": index_terms(turn.messages, language),
        }
        if turn.summary is not None:
            value["summary"] = turn.summary
        self.store.put(transcript_namespace(thread_id), str(turn.number), value, index=False)

    def items(self, thread_id: str) -> list[Item]:
        namespace = transcript_namespace(thread_id)
        items: list[Item] = []
        while page := self.store.search(namespace, limit=PAGE, offset=len(items)):
            items.extend(page)
            if len(page) < PAGE:
                break
        return sorted(items, key=lambda item: int(item.key))

    def read(self, thread_id: str, committed: int | None = None) -> list[ArchivedTurn]:
        return [
            ArchivedTurn(
                number=int(item.key),
                messages=decode_messages(item.value["messages"]),
                created_at=item.value.get("created_at") or item.created_at.isoformat(),
                summary=item.value.get("summary"),
                folded=item.value.get("folded", 0),
            )
            for item in self.items(thread_id)
            if committed is None or int(item.key) < committed
        ]

    def search(
        self, thread_id: str, terms: Sequence[str], *, before: int, limit: int
    ) -> list[SearchHit]:
        """Rank the thread's earlier turns with SQLite FTS5's bm25 in a throwaway in-memory index."""
        if not terms or before <= 0 or limit <= 0:
            return []
        candidates = [item for item in self.items(thread_id) if int(item.key) < before]
        if not candidates:
            return []
        with sqlite3.connect(":memory:") as conn:
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(terms, tokenize='unicode61')")
            conn.executemany(
                "INSERT INTO t (rowid, terms) VALUES (?, ?)",
                [(int(item.key), _item_terms(item)) for item in candidates],
            )
            rows = conn.execute(
                "SELECT rowid, bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t), rowid DESC LIMIT ?",
                (fts5_query(terms), limit),
            ).fetchall()
        by_turn = {int(item.key): item for item in candidates}
        return [
            SearchHit(
                thread_id=thread_id,
                turn=turn,
                score=-score,
                created_at=by_turn[turn].value.get("created_at")
                or by_turn[turn].created_at.isoformat(),
                encoded=by_turn[turn].value["messages"],
            )
            for turn, score in rows
        ]

    def term_frequencies(self, thread_id: str, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        items = self.items(thread_id)
        documents = [set(_item_terms(item).split()) for item in items]
        return {term: sum(term in doc for doc in documents) for term in terms}, len(documents)

    def thread_language(self, thread_id: str) -> str | None:
        first = self.store.get(transcript_namespace(thread_id), "0")
        return first.value.get("language") if first is not None else None


def _item_terms(item: Item) -> str:
    """A stored turn's analysed terms (items archived before they were stored get analysed)."""
    terms = item.value.get("terms")
    if isinstance(terms, str):
        return terms
    return index_terms(decode_messages(item.value["messages"]), item.value.get("language", "en"))


def fts5_query(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of `terms` (analysed terms: letters and digits only)."""
    return " OR ".join(f'"{term}"' for term in terms)
