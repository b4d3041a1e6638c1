"""Memoria: a LangGraph chat agent with checkpointed, bounded short-term memory and recall.

    from memoria import Memoria, Context, build_graph, astream_reply, MemoriaMiddleware

The names are imported on first use, so that `memoria --help` and other light commands do not pay
for importing LangGraph and LangChain.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memoria.agent import Memoria, astream_reply
    from memoria.context import Context
    from memoria.errors import ThreadBusyError
    from memoria.events import ToolCall, ToolResult
    from memoria.graph import build_graph
    from memoria.memory import PRESETS, MemoryPolicy
    from memoria.middleware import MemoriaMiddleware
    from memoria.state import InputState, State
    from memoria.tools import ToolLoopError

_EXPORTS = {
    "Memoria": "memoria.agent",
    "ThreadBusyError": "memoria.errors",
    "astream_reply": "memoria.agent",
    "Context": "memoria.context",
    "MemoriaMiddleware": "memoria.middleware",
    "ToolCall": "memoria.events",
    "ToolLoopError": "memoria.tools",
    "ToolResult": "memoria.events",
    "build_graph": "memoria.graph",
    "PRESETS": "memoria.memory",
    "MemoryPolicy": "memoria.memory",
    "InputState": "memoria.state",
    "State": "memoria.state",
}

__all__ = [
    "PRESETS",
    "Context",
    "InputState",
    "Memoria",
    "MemoriaMiddleware",
    "MemoryPolicy",
    "State",
    "ThreadBusyError",
    "ToolCall",
    "ToolLoopError",
    "ToolResult",
    "astream_reply",
    "build_graph",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'memoria' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
