"""What a turn streams: the reply's text, each tool call, then its result.

`Turn.events()` (and `async for` over `Turn.aevents()`) yields the reply's text pieces as `str`,
interleaved with `ToolCall` when the model asks for a tool and `ToolResult` when it has run, so a
terminal can show each call and a backend can stream them beside its tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
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


def reply_piece(chunk: Any, metadata: Any) -> str:
    """The reply text in a `stream_mode="messages"` event ("" for summaries and other nodes). A
    model that does not stream sends its whole reply as one message, once."""
    if metadata.get("langgraph_node") == "model" and isinstance(chunk, AIMessage):
        return str(chunk.text)
    return ""


async def astream_reply(
    graph: Any,
    thread_id: str,
    text: str,
    *,
    context: Any = None,
) -> AsyncIterator[str]:
    """Run one turn of Memoria's `graph` on a thread and yield the reply token by token (async).

    Works with any async checkpointer, e.g. `AsyncSqliteSaver` or `AsyncPostgresSaver`:

        async with AsyncSqliteSaver.from_conn_string("chat.sqlite") as saver:
            graph = build_graph(checkpointer=saver)
            async for piece in astream_reply(graph, "juan", "Hola", context=Context(model="echo")):
                print(piece, end="")
    """
    from langchain_core.messages import HumanMessage

    from memoria.context import Context
    from memoria.ids import validate_thread_id

    async for chunk, metadata in graph.astream(
        {"messages": [HumanMessage(text)]},
        {"configurable": {"thread_id": validate_thread_id(thread_id)}},
        context=context or Context(),
        stream_mode="messages",
    ):
        if piece := reply_piece(chunk, metadata):
            yield piece
