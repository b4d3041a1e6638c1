"""Test doubles and helpers shared by several test modules."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
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


class ScriptedToolModel(BaseChatModel):
    """A tool-calling chat model whose replies follow a script, for driving real tools.

    `bind_tools` works as a provider's does: the bound tools' names reach `_generate`, which
    records them (`offered`) and may only call those. The default script:
    - a human message with lines `call NAME {json args}` calls those tools (in parallel);
    - after tool results, it answers `Done: ` and the results since the human message;
    - a summariser's request gets the first words of each turn line (a deterministic summary);
    - anything else is echoed back.
    `script` replaces it: a function of (messages, offered tool names) returning an AIMessage.
    """

    script: Any = None
    prompts: list[list[BaseMessage]] = Field(default_factory=list, exclude=True)
    offered: list[list[str]] = Field(default_factory=list, exclude=True)
    delay: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "scripted-tools"

    def bind_tools(self, tools, **kwargs):
        names = [convert_to_openai_tool(t)["function"]["name"] for t in tools]
        return self.bind(tool_names=names, **kwargs)

    def _generate(self, messages, stop=None, run_manager=None, tool_names=(), **kwargs):
        self.prompts.append(list(messages))
        self.offered.append(list(tool_names))
        time.sleep(self.delay)
        script = self.script or default_script
        reply = script(list(messages), list(tool_names))
        reply.usage_metadata = {
            "input_tokens": sum(len(str(m.content)) for m in messages) // 4 + 1,
            "output_tokens": len(str(reply.content)) // 4 + 1,
            "total_tokens": 0,
        }
        return ChatResult(generations=[ChatGeneration(message=reply)])


def default_script(messages: list[BaseMessage], tool_names: list[str]) -> AIMessage:
    if (
        messages
        and isinstance(messages[0], SystemMessage)
        and "running summary" in str(messages[0].content)
    ):
        turns = str(messages[-1].content).split("New turns:", 1)[-1].strip().splitlines()
        return AIMessage("\n".join(" ".join(line.split()[:8]) for line in turns[-10:]))
    last_human = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    results = [m for m in messages[last_human:] if isinstance(m, ToolMessage)]
    if results:
        return AIMessage("Done: " + " | ".join(str(m.content) for m in results))
    calls = []
    for line in str(messages[last_human].content).splitlines():
        if line.startswith("call ") and line.split()[1] in tool_names:
            _, name, *rest = line.split(" ", 2)
            args = json.loads(rest[0]) if rest else {}
            calls.append({"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"})
    if calls:
        return AIMessage("", tool_calls=calls)
    return AIMessage(str(messages[last_human].content))
