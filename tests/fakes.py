"""Test doubles and helpers shared by several test modules."""

from __future__ import annotations

import os
import sqlite3
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langgraph.store.base import BaseStore
from pydantic import Field

from memoria.models import EchoChatModel
from memoria.summaries import ExtractiveSummariser
from memoria.transcript import StoreTranscript

POSTGRES_SERVER = (
    os.environ.get("MEMORIA_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"
)
"""The server the Postgres tests use (they skip, saying why, when none answers)."""


def body(shown: str) -> list[str]:
    """The messages of `memoria threads show` output: the lines after its header."""
    return shown.split("\n\n", 1)[1].splitlines()


class RecordingEcho(EchoChatModel):
    """The echo model, keeping every prompt it is sent, so tests can check what the model saw."""

    prompts: list[list[BaseMessage]] = Field(default_factory=list, exclude=True)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.prompts.append(list(messages))
        return super()._generate(messages, stop, run_manager, **kwargs)

    def _stream(
        self, messages, stop=None, run_manager=None, **kwargs
    ) -> Iterator[ChatGenerationChunk]:
        self.prompts.append(list(messages))
        yield from super()._stream(messages, stop, run_manager, **kwargs)


class FailingEcho(RecordingEcho):
    """The echo model, raising ConnectionError instead while `fail` is set."""

    fail: bool = False

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        if self.fail:
            raise ConnectionError("provider down")
        return super()._generate(messages, stop, run_manager, **kwargs)

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        if self.fail:
            raise ConnectionError("provider down")
        yield from super()._stream(messages, stop, run_manager, **kwargs)


class RecordingSummariser(ExtractiveSummariser):
    """The extractive summariser, recording which messages each summary folded."""

    def __init__(self) -> None:
        self.folded: list[list[str | None]] = []

    def summarise(self, previous, turns, cap_tokens, count):
        self.folded.append([m.id for m in turns])
        return super().summarise(previous, turns, cap_tokens, count)


class BrokenSummariser(ExtractiveSummariser):
    """A summariser that fails the way `mode` says until `mode` is set to "ok"."""

    def __init__(self, mode: str = "raise", answer: str = "") -> None:
        self.mode, self.answer, self.calls = mode, answer, 0

    def summarise(self, previous, turns, cap_tokens, count):
        self.calls += 1
        if self.mode == "raise":
            raise ConnectionError("summary provider unreachable")
        if self.mode == "slow":
            time.sleep(2)
        if self.mode == "empty":
            return "   "
        if self.mode == "huge":
            return "palabra " * (cap_tokens * 10)
        if self.mode == "answer":
            return self.answer
        return super().summarise(previous, turns, cap_tokens, count)


def assert_index_matches_transcript(db: Path) -> None:
    """The SQLite full-text index holds exactly the transcript's turns, and is sound."""
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO memoria_search (memoria_search) VALUES ('integrity-check')")
        turns = {row[0] for row in conn.execute("SELECT id FROM memoria_turns")}
        indexed = {row[0] for row in conn.execute("SELECT id FROM memoria_search_docsize")}
    assert turns == indexed, f"index and transcript differ: {sorted(turns ^ indexed)[:10]}"


def raw_controls(text: str) -> list[str]:
    """Characters a terminal would act on rather than show (newline and tab aside)."""
    return [
        c
        for c in text
        if c not in "\n\t"
        and (
            unicodedata.category(c) == "Cc"
            or "\u202a" <= c <= "\u202e"
            or "\u2066" <= c <= "\u2069"
        )
    ]


def store_transcript(store: BaseStore, thread_id: str) -> list[BaseMessage]:
    """Every archived message of a thread kept in a LangGraph store, in order."""
    return [m for turn in StoreTranscript(store).read(thread_id) for m in turn.messages]


def contents(messages: list[Any]) -> list[str]:
    return [m.content for m in messages]
