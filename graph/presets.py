"""Names the command line needs before anything heavy is imported: presets, languages and the
memory tool's modes."""

from __future__ import annotations

from typing import Literal

Preset = Literal["buffer", "window", "summary", "summary-buffer", "hybrid"]
PRESETS: tuple[Preset, ...] = ("buffer", "window", "summary", "summary-buffer", "hybrid")
SUMMARISING_PRESETS: frozenset[str] = frozenset({"summary", "summary-buffer", "hybrid"})
Language = Literal["auto", "en", "es"]
LANGUAGES: tuple[Language, ...] = ("auto", "en", "es")
ANALYSIS_RULES = 1
"""The version of the text analysis's own rules (`memoria.analysis`): bump it when they change the
terms. A database whose index newer rules built is a newer Memoria's, and is refused."""
MemoryToolMode = Literal["auto", "on", "off"]
MEMORY_TOOL_MODES: tuple[MemoryToolMode, ...] = ("auto", "on", "off")
RECALL_SHARE_BY_PRESET: dict[str, float] = {
    "buffer": 0.0,  # every turn is in view already
    "window": 0.0,  # discards by design
    "summary": 0.4,
    "summary-buffer": 0.4,
    "hybrid": 0.4,
}
"""Default recall budget: this share of the prompt's token limit (800 of the default 2,000).
Measured (`python -m bench.recall`, both generated sets): see the README's recall section."""
RECALL_TURNS = 64
"""Default most turns one prompt recalls from. Recall takes sentences, so one turn costs little:
16 turns left half the budget unused on two-person chats (`python -m bench.recall_tune`)."""
