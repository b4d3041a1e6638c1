"""Summarisers fold old turns into the running summary; `check_summary` refuses what is not one.

A summariser is anything with `summarise(previous, turns, cap_tokens, count) -> str`:
- `ModelSummariser` asks a chat model (the chat model itself, or a cheaper `summary_model`);
- `ExtractiveSummariser` uses no model: the first sentence of each message, trimmed to the cap.
  It is deterministic, and the default for the offline `local` and `echo` models.
Pass your own to `build_graph(summary_model=...)`, `Memoria(summary_model=...)` or
`MemoriaMiddleware(summary_model=...)`.

A summary that repeats the summariser's instructions, or shares almost none of its words with the
turns it folds and the previous summary, is refused like a failed call: the turns stay verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langgraph.constants import TAG_NOSTREAM

from memoria.analysis import analyzer, detect_language
from memoria.prompts import (
    NO_PREVIOUS_SUMMARY,
    SUMMARISER_INSTRUCTIONS,
    summariser_messages,
)
from memoria.tokens import message_text

TokenCount = Callable[[str], int]
MIN_GROUNDED_SHARE = 0.3
"""Share of a summary's terms that must occur in what it summarises."""
ECHOED_WORDS = 8
"""A run of this many words of the instructions inside a summary means it repeated them."""


class SummaryError(RuntimeError):
    """The summariser answered, but not with a usable summary."""


@runtime_checkable
class Summariser(Protocol):
    def summarise(
        self, previous: str, turns: Sequence[BaseMessage], cap_tokens: int, count: TokenCount
    ) -> str:
        """Merge `turns` into `previous`, in at most `cap_tokens` tokens as `count` counts them."""
        ...


class ModelSummariser:
    """A chat model prompted to merge the previous summary and the new turns (prompts.py)."""

    def __init__(self, model: BaseChatModel) -> None:
        self.model = model

    def summarise(
        self, previous: str, turns: Sequence[BaseMessage], cap_tokens: int, count: TokenCount
    ) -> str:
        # Words per token is about 0.75 in English and a little lower in Spanish.
        prompt = summariser_messages(previous, turns, max_words=max(10, int(cap_tokens * 0.7)))
        model = self.model
        runnable = (
            model.bind(max_tokens=cap_tokens) if "max_tokens" in type(model).model_fields else model
        )
        reply = runnable.invoke(prompt, config={"tags": [TAG_NOSTREAM], "run_name": "summarise"})
        return reply.text if hasattr(reply, "text") else str(reply.content)


class ExtractiveSummariser:
    """The previous summary's lines plus one line per new message (its first sentence, at most 20
    words); while over the cap, the longest lines lose their last words, and once every line is
    down to three words the oldest lines go."""

    extractive = True
    """What it writes is taken from the turns: no check for an echoed prompt is needed."""

    def summarise(
        self, previous: str, turns: Sequence[BaseMessage], cap_tokens: int, count: TokenCount
    ) -> str:
        lines = [line for line in previous.splitlines() if line.strip()]
        for message in turns:
            if message.type not in ("human", "ai"):
                continue
            # An AI message that only calls tools has no words of its own to keep.
            text = " ".join(message.text.split())
            sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
            if words := sentence.split()[:20]:
                lines.append(" ".join(words))
        word_lists = [line.split() for line in lines]

        def joined(longest: int, dropped: int = 0) -> str:
            return "\n".join(" ".join(w[:longest]) for w in word_lists[dropped:])

        # The same result as trimming the longest line word by word, then dropping the oldest
        # lines once every line is down to three words, found by bisection: counting is costly.
        widest = max((len(w) for w in word_lists), default=0)
        if count(joined(widest)) <= cap_tokens:
            return joined(widest)
        if count(joined(3)) <= cap_tokens:
            low, high = 3, widest  # joined(low) fits, joined(high) does not
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if count(joined(middle)) <= cap_tokens else (low, middle)
            return joined(low)
        low, high = 0, len(word_lists)  # dropping `high` lines fits (nothing left), `low` does not
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if count(joined(3, middle)) <= cap_tokens else (middle, high)
        return joined(3, high)


_MARKERS = (
    "previous summary:",
    "new turns:",
    NO_PREVIOUS_SUMMARY,
    "reply with the summary text only",
)
"""Lines of the summariser's input (prompts.py): a summary quoting them is its prompt echoed back."""
_INSTRUCTION_WORDS = re.findall(r"\w+", SUMMARISER_INSTRUCTIONS.lower())
_INSTRUCTION_RUNS = {
    tuple(_INSTRUCTION_WORDS[i : i + ECHOED_WORDS])
    for i in range(len(_INSTRUCTION_WORDS) - ECHOED_WORDS + 1)
}


def check_summary(summary: str, previous: str, folded: Sequence[BaseMessage]) -> None:
    """Raise SummaryError unless `summary` is a summary of `previous` and `folded`."""
    if not summary.strip():
        raise SummaryError("the summary model returned an empty summary")
    lowered = summary.lower()
    if any(marker in lowered for marker in _MARKERS):
        raise SummaryError("the summary repeats the summariser's prompt instead of summarising")
    words = re.findall(r"\w+", lowered)
    runs = (tuple(words[i : i + ECHOED_WORDS]) for i in range(len(words) - ECHOED_WORDS + 1))
    if any(run in _INSTRUCTION_RUNS for run in runs):
        raise SummaryError("the summary repeats the summariser's instructions")
    source = "\n".join([previous, *(message_text(m) for m in folded)])
    language = detect_language(source) or "en"
    terms = set(analyzer(language).query_terms(summary))
    if terms:
        grounded = len(terms & set(analyzer(language).query_terms(source))) / len(terms)
        if grounded < MIN_GROUNDED_SHARE:
            raise SummaryError(
                f"the summary shares almost nothing with the turns it folds "
                f"({grounded:.0%} of its words)"
            )
