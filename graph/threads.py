"""Thread exports: the JSON document that `export` writes and `import` reads back, and Markdown."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from langchain_core.messages import BaseMessage

from graph.prompts import ROLE_LABELS
from graph.tokens import message_text
from graph.transcript import decode_message, encode_message

EXPORT_FORMAT = "memoria.thread"
EXPORT_VERSION = 1
MEMORY_FIELDS = (
    "summary",
    "turns",
    "summarised_turns",
    "token_scale",
    "summary_error",
    "summary_failures",
    "settings",
)


class ExportFormatError(ValueError):
    """A file that is not a Memoria thread export."""


@dataclass(frozen=True)
class ThreadInfo:
    thread_id: str
    title: str
    turns: int
    updated_at: str
    size_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ThreadExport:
    """Everything a thread holds: its transcript, turn by turn, and its working memory."""

    thread_id: str
    turns: list[list[BaseMessage]]
    memory: dict[str, Any]
    """`summary`, counters and calibration, plus `messages`: the turns still in the model's view."""

    def to_json(self) -> dict[str, Any]:
        memory = {key: self.memory[key] for key in MEMORY_FIELDS if key in self.memory}
        memory["messages"] = [encode_message(m) for m in self.memory.get("messages", [])]
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "thread_id": self.thread_id,
            "memory": memory,
            "turns": [[encode_message(m) for m in turn] for turn in self.turns],
        }

    @classmethod
    def from_json(cls, document: Any) -> ThreadExport:
        if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
            raise ExportFormatError('not a Memoria thread export (no "format": "memoria.thread")')
        if document.get("version") != EXPORT_VERSION:
            raise ExportFormatError(f"unsupported export version {document.get('version')!r}")
        try:
            memory = dict(document["memory"])
            memory["messages"] = [decode_message(m) for m in memory.get("messages", [])]
            turns = [[decode_message(m) for m in turn] for turn in document["turns"]]
            return cls(thread_id=str(document["thread_id"]), turns=turns, memory=memory)
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportFormatError(f"malformed Memoria export: {exc}") from None

    def to_markdown(self) -> str:
        lines = [f"# Thread {self.thread_id}", ""]
        for number, turn in enumerate(self.turns, start=1):
            lines += [f"## Turn {number}", ""]
            for message in turn:
                label = ROLE_LABELS.get(message.type, message.type)
                lines += [f"**{label}:** {message_text(message)}", ""]
        if summary := self.memory.get("summary"):
            lines += ["## Running summary", "", summary, ""]
        return "\n".join(lines)


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
