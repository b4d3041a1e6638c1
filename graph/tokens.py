"""Token counting: exact where the model can count its own prompt, a calibrated estimate elsewhere.

Remote providers only tell us the prompt size after the call (`usage_metadata`), so the memory works
from an estimate (characters per token plus a per-message overhead) that is scaled by the ratio between
what the provider reported and what we estimated for the same prompt. The scale lives in the graph
state, so it survives restarts and follows the thread.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from langchain_core.messages import AIMessage, BaseMessage

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD_TOKENS = 4
REPLY_PRIMER_TOKENS = 3
MIN_SCALE, MAX_SCALE = 0.25, 4.0
CALIBRATION_WEIGHT = 0.5


@runtime_checkable
class CountsOwnTokens(Protocol):
    """A chat model that can count the tokens of a prompt exactly (the local llama.cpp model)."""

    def count_prompt_tokens(self, messages: Sequence[BaseMessage]) -> int: ...

    def count_text_tokens(self, text: str) -> int: ...


def message_text(message: BaseMessage) -> str:
    """The text a provider will see for a message: its content plus any tool calls."""
    content = message.content
    if isinstance(content, str):
        text = content
    else:
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        text = "\n".join(parts)
    if isinstance(message, AIMessage) and message.tool_calls:
        text += json.dumps(
            [{"name": c["name"], "args": c["args"]} for c in message.tool_calls], ensure_ascii=False
        )
    return text


def estimate_text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_prompt_tokens(messages: Sequence[BaseMessage]) -> int:
    """Uncalibrated estimate of a prompt: characters / 4 plus a fixed overhead per message."""
    if not messages:
        return 0
    return REPLY_PRIMER_TOKENS + sum(
        estimate_text_tokens(message_text(m)) + MESSAGE_OVERHEAD_TOKENS for m in messages
    )


def calibrate(scale: float, estimated: int, reported: int | None) -> float:
    """Move the scale towards reported/estimated (an exponential moving average, clamped)."""
    if not reported or estimated <= 0:
        return scale
    observed = min(MAX_SCALE, max(MIN_SCALE, reported / estimated))
    return round((1 - CALIBRATION_WEIGHT) * scale + CALIBRATION_WEIGHT * observed, 4)


class TokenCounter:
    """Counts tokens for one chat model: exactly when it can, else the calibrated estimate."""

    def __init__(self, model: object, scale: float = 1.0) -> None:
        self.exact = model if isinstance(model, CountsOwnTokens) else None
        self.scale = scale

    def prompt(self, messages: Sequence[BaseMessage]) -> int:
        if self.exact is not None:
            return self.exact.count_prompt_tokens(messages)
        return round(self.scale * estimate_prompt_tokens(messages))

    def messages(self, messages: Sequence[BaseMessage]) -> int:
        """Tokens that `messages` add to a prompt (without the reply primer)."""
        if not messages:
            return 0
        if self.exact is not None:
            return sum(
                self.exact.count_text_tokens(message_text(m)) + MESSAGE_OVERHEAD_TOKENS
                for m in messages
            )
        return round(self.scale * (estimate_prompt_tokens(messages) - REPLY_PRIMER_TOKENS))

    def text(self, text: str) -> int:
        if self.exact is not None:
            return self.exact.count_text_tokens(text)
        return round(self.scale * estimate_text_tokens(text))
