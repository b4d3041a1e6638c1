"""Run-time configuration of the graph: which model, which memory preset, which limits.

`Context` is the graph's `context_schema`, so LangGraph Studio shows these fields as the assistant's
configuration. Fields left at their default are read from `MEMORIA_<FIELD>` environment variables
(`MEMORIA_MODEL`, `MEMORIA_MEMORY`, `MEMORIA_K`, ...), as the LangGraph templates do.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from graph.memory import PRESETS, MemoryPolicy, Preset
from graph.prompts import SYSTEM_PROMPT

DEFAULT_GROQ_MODEL = "groq:llama-3.3-70b-versatile"
LOCAL_MODEL = "local"
ENV_PREFIX = "MEMORIA_"


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
            "description": "Model that writes summaries (may be cheaper). Empty: the chat model."
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
        metadata={"description": "High mark: summarising fires when the context passes it."},
    )
    target_tokens: int = field(
        default=0,
        metadata={
            "description": "Low mark: summarising brings the context under it. 0: half of max_tokens."
        },
    )
    summary_max_tokens: int = field(
        default=300,
        metadata={"description": "Cap on the running summary, in tokens."},
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

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) != f.default:
                continue
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            setattr(self, f.name, _parse_env(f.name, raw, type(f.default)))
        if not self.model:
            self.model = default_model_spec()
        self.policy()  # validate now, so a bad setting fails before any turn runs

    def settings(self) -> dict[str, Any]:
        """The fields as plain values, as a thread records them."""
        return asdict(self)

    @classmethod
    def from_settings(cls, saved: dict[str, Any], **overrides: Any) -> Context:
        """A thread's recorded settings, with `overrides` on top (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in {**saved, **overrides}.items() if k in known})

    @property
    def summary_model_spec(self) -> str:
        return self.summary_model or self.model

    def policy(self) -> MemoryPolicy:
        return MemoryPolicy(
            preset=self.memory,
            k=self.k,
            high=self.max_tokens,
            low=self.target_tokens or max(1, self.max_tokens // 2),
            summary_cap=self.summary_max_tokens,
        )


def _parse_env(name: str, raw: str, kind: type) -> object:
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind.__name__}"
        ) from None
