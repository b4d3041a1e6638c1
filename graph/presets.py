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
Measured (`python -m bench.recall`): 40% and 16 turns put the evidence in view for 67.0% of the
questions; 50% and 20 turns for 70.1% at the same mean prompt, but by folding earlier, so fewer
recent turns stay verbatim (which the benchmark does not measure)."""
