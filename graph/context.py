"""Run-time configuration of the graph: which model, which memory preset, which limits.

`Context` is the graph's `context_schema`, so LangGraph Studio shows these fields as the assistant's
configuration. Which value wins, for the CLI and the library alike:

    an explicit option or argument > the thread's saved settings > MEMORIA_<FIELD> > the default

`Context(memory="hybrid")` is explicit even though "hybrid" is the default: the environment only
fills the fields a caller did not pass. A resumed thread's saved settings are passed explicitly
(`Context.resume`), so the environment never overrides them either.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from memoria.memory import MemoryPolicy
from memoria.presets import (
    LANGUAGES,
    MEMORY_TOOL_MODES,
    PRESETS,
    RECALL_SHARE_BY_PRESET,
    RECALL_TURNS,
    Language,
    MemoryToolMode,
    Preset,
)
from memoria.prompts import SYSTEM_PROMPT

DEFAULT_GROQ_MODEL = "groq:llama-3.3-70b-versatile"
LOCAL_MODEL = "local"
EXTRACTIVE = "extractive"
ENV_PREFIX = "MEMORIA_"
MAX_TOKENS_LIMIT = 10_000_000
MAX_K = 100_000
MAX_SECONDS = 24 * 3600.0
MAX_TOOL_ROUNDS = 100
MEMORY_TOOL_SHARE = 0.4
"""Where recall is off (buffer, window), one memory-tool search may take this share of max_tokens."""


def default_model_spec() -> str:
    """Groq when a key is available, else the offline local model."""
    return DEFAULT_GROQ_MODEL if os.environ.get("GROQ_API_KEY") else LOCAL_MODEL


@dataclass(kw_only=True)
class Context:
    """The memory settings and models of a Memoria run."""

    model: str = field(
        default="",
        metadata={
            "description": "Chat model: 'groq:<model>', any 'provider:model' that init_chat_model "
            "accepts, 'local' (SmolLM2 offline) or 'echo'. Empty: Groq if GROQ_API_KEY is set, "
            "else local."
        },
    )
    summary_model: str = field(
        default="",
        metadata={
            "description": "Model that writes summaries (may be cheaper), or 'extractive' (no "
            "model: first sentences, deterministic). Empty: the chat model, except for 'local' "
            "and 'echo', which get 'extractive'."
        },
    )
    memory: Preset = field(
        default="hybrid",
        metadata={"description": f"Memory preset: one of {', '.join(PRESETS)}."},
    )
    k: int = field(
        default=5,
        metadata={"description": "Turns kept verbatim (window; hybrid after a summary)."},
    )
    max_tokens: int = field(
        default=2000,
        metadata={
            "description": "Token limit of the whole prompt (system prompt, summary, recalled "
            "excerpts, recent turns): summarising fires above it."
        },
    )
    target_tokens: int = field(
        default=0,
        metadata={
            "description": "Low mark: summarising brings the prompt under it. 0: half of "
            "max_tokens plus half of the recall budget."
        },
    )
    summary_max_tokens: int = field(
        default=300,
        metadata={"description": "Cap on the running summary, in tokens."},
    )
    recall_tokens: int | None = field(
        default=None,
        metadata={
            "description": "Budget of the recalled excerpts, in tokens, part of max_tokens; 0 "
            "turns recall off. Empty: 40% of max_tokens for hybrid, summary-buffer and "
            "summary; 0 for buffer and window."
        },
    )
    recall_turns: int = field(
        default=RECALL_TURNS,
        metadata={"description": "Most earlier turns recalled into one prompt."},
    )
    language: Language = field(
        default="auto",
        metadata={
            "description": "Language of the thread for search (stemming, stop words): 'auto' "
            "(detected from its first turn), 'en' or 'es'."
        },
    )
    summary_timeout: float = field(
        default=60.0,
        metadata={
            "description": "Seconds the summary model may take before the attempt counts as failed."
        },
    )
    request_timeout: float = field(
        default=60.0,
        metadata={
            "description": "Seconds each request to a remote model may take (retried twice)."
        },
    )
    system_prompt: str = field(
        default=SYSTEM_PROMPT,
        metadata={"description": "System prompt of the chat model."},
    )
    memory_tool: MemoryToolMode = field(
        default="auto",
        metadata={
            "description": "The search_conversation tool, with which the model searches the "
            "thread's whole transcript itself: 'auto' (on when the chat model can call tools; "
            "off for local and echo), 'on' or 'off'."
        },
    )
    memory_tool_tokens: int | None = field(
        default=None,
        metadata={
            "description": "Budget of one search_conversation result, in tokens. Empty: the "
            "recall budget, or 40% of max_tokens where recall is off."
        },
    )
    max_tool_rounds: int = field(
        default=10,
        metadata={
            "description": "Most model calls in one turn; a turn whose model still calls tools "
            "after that many ends with an error, the thread as it was."
        },
    )

    def __new__(cls, **given: Any) -> Context:
        context = super().__new__(cls)
        # Which fields the caller passed: the environment fills only the others.
        context._given = frozenset(given)  # type: ignore[attr-defined]
        return context

    def __post_init__(self) -> None:
        given: frozenset[str] = getattr(self, "_given", frozenset())
        for f in fields(self):
            if f.name in given:
                continue
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            setattr(self, f.name, _parse_env(f.name, raw, f.type))
        if not self.model:
            self.model = default_model_spec()
        self.validate()

    def validate(self) -> None:
        """Refuse settings no run could use, with the field's name in the message."""
        if self.memory not in PRESETS:
            raise ValueError(
                f"unknown memory preset {self.memory!r}; choose one of {', '.join(PRESETS)}"
            )
        if self.language not in LANGUAGES:
            raise ValueError(
                f"language must be one of {', '.join(LANGUAGES)}, not {self.language!r}"
            )
        _int_in("k", self.k, 0, MAX_K)
        _int_in("max_tokens", self.max_tokens, 1, MAX_TOKENS_LIMIT)
        _int_in("target_tokens", self.target_tokens, 0, MAX_TOKENS_LIMIT)
        _int_in("summary_max_tokens", self.summary_max_tokens, 1, MAX_TOKENS_LIMIT)
        _int_in("recall_turns", self.recall_turns, 0, 1000)
        # One model call leaves no room for a tool's result to be read: two at the least.
        _int_in("max_tool_rounds", self.max_tool_rounds, 2, MAX_TOOL_ROUNDS)
        if self.memory_tool_tokens is not None:
            _int_in("memory_tool_tokens", self.memory_tool_tokens, 1, MAX_TOKENS_LIMIT)
        if self.memory_tool not in MEMORY_TOOL_MODES:
            raise ValueError(
                f"memory_tool must be one of {', '.join(MEMORY_TOOL_MODES)}, "
                f"not {self.memory_tool!r}"
            )
        if self.recall_tokens is not None:
            _int_in("recall_tokens", self.recall_tokens, 0, MAX_TOKENS_LIMIT)
        if self.recall_budget and self.recall_budget >= self.max_tokens:
            raise ValueError(
                f"the recall budget ({self.recall_budget}) must be below max_tokens "
                f"({self.max_tokens}), of which it is a part"
            )
        _seconds("summary_timeout", self.summary_timeout)
        _seconds("request_timeout", self.request_timeout)
        for name in ("model", "summary_model", "system_prompt"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be text")
        self.policy()

    def settings(self) -> dict[str, Any]:
        """The fields as plain values, as a thread records them."""
        return asdict(self)

    def given(self) -> dict[str, Any]:
        """The fields the caller passed (the environment filled the others)."""
        names: frozenset[str] = getattr(self, "_given", frozenset())
        return {name: getattr(self, name) for name in names}

    @classmethod
    def resume(cls, saved: dict[str, Any], **explicit: Any) -> Context:
        """A thread's saved settings with explicit options on top; unknown keys are ignored, and
        the environment fills only fields that neither names."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in {**saved, **explicit}.items() if k in known})

    @property
    def summary_model_spec(self) -> str:
        if self.summary_model:
            return self.summary_model
        if self.model == LOCAL_MODEL or self.model.split(":", 1)[0] == "echo":
            # SmolLM2-135M cannot summarise (it repeated its own instructions); the echo model
            # has nothing to say. Both get the deterministic extractive summariser.
            return EXTRACTIVE
        return self.model

    @property
    def recall_budget(self) -> int:
        """Tokens reserved for recalled excerpts (0: recall is off)."""
        if self.recall_turns == 0:
            return 0
        if self.recall_tokens is not None:
            return self.recall_tokens
        return int(self.max_tokens * RECALL_SHARE_BY_PRESET.get(self.memory, 0.0))

    @property
    def memory_tool_budget(self) -> int:
        """Tokens one search_conversation result may take."""
        if self.memory_tool_tokens is not None:
            return self.memory_tool_tokens
        return self.recall_budget or max(1, int(self.max_tokens * MEMORY_TOOL_SHARE))

    def policy(self) -> MemoryPolicy:
        recall = self.recall_budget
        return MemoryPolicy(
            preset=self.memory,
            k=self.k,
            high=self.max_tokens,
            low=self.target_tokens or max(1, self.max_tokens // 2 + recall // 2),
            summary_cap=self.summary_max_tokens,
            recall_tokens=recall,
        )


def _int_in(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {value}")


def _seconds(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise ValueError(
            f"{name} must be a number of seconds above 0 and at most a day, not {value}"
        )


def _parse_env(name: str, raw: str, annotation: Any) -> object:
    kind = str(annotation)
    variable = f"{ENV_PREFIX}{name.upper()}={raw!r}"
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        expected = "whole number" if kind.startswith("int") else "number"
        raise ValueError(f"{variable} is not a {expected}") from None
    return raw
