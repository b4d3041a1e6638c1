"""What a running turn reports besides the reply's text: each tool call, then its result.

`Turn.events()` (and `async for` over `Turn.aevents()`) yields the reply's text pieces as `str`,
interleaved with `ToolCall` when the model asks for a tool and `ToolResult` when it has run, so a
terminal can show each call and a backend can stream them beside its tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

from memoria.tokens import message_text


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    args: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ToolResult:
    id: str
    name: str
    content: str
    error: bool
    """The tool raised (`content` says why) or was not one the model may call."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


TurnEvent = str | ToolCall | ToolResult


def tool_events(update: Mapping[str, Any]) -> Iterator[ToolCall | ToolResult]:
    """The tool calls and results in one `stream_mode="updates"` event of Memoria's graph."""
    for node, values in update.items():
        messages = values.get("messages", []) if isinstance(values, Mapping) else []
        for message in messages:
            if node == "model" and isinstance(message, AIMessage):
                for call in message.tool_calls:
                    yield ToolCall(call["id"] or "", call["name"], dict(call["args"]))
                for bad in message.invalid_tool_calls:  # its result is the error `model` wrote
                    yield ToolCall(bad.get("id") or "", bad.get("name") or "", {})
            elif node in ("model", "tools") and isinstance(message, ToolMessage):
                yield ToolResult(
                    message.tool_call_id,
                    message.name or "",
                    message_text(message),
                    message.status == "error",
                )
