"""Memoria: a LangGraph chat agent with checkpointed, bounded, honest short-term memory."""

from graph.context import Context
from graph.graph import build_graph
from graph.memory import PRESETS, MemoryPolicy
from graph.state import InputState, State

__all__ = ["PRESETS", "Context", "InputState", "MemoryPolicy", "State", "build_graph"]
