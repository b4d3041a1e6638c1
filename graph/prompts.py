"""Prompts: the chat system prompt, how the summary joins it, and the summariser's instructions."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from memoria.memory import drop_orphans
from memoria.tokens import TokenCounter, message_text

SYSTEM_PROMPT = (
    "You are Memoria, a helpful assistant. Answer in the language the user writes in. "
    "Be accurate and concise."
)

SUMMARY_HEADER = "Summary of the earlier conversation:"

RECALL_HEADER = (
    "Excerpts recalled from earlier in this conversation (found by search, oldest first; "
    "where they disagree, the later turn is the current one):"
)

SUMMARISER_INSTRUCTIONS = """\
You keep the running summary of a conversation between a user and an assistant.
Merge the previous summary and the new turns below into ONE updated summary:
- keep every fact, name, number, date, decision, preference and open question from both;
- never drop what the previous summary says unless a new turn corrects it;
- leave out greetings and filler;
- write it in the same language as the conversation itself (if the user writes Spanish, write Spanish);
- use at most {max_words} words.
Reply with the summary text only, no preamble."""

SUMMARISER_INPUT = """\
Previous summary:
{previous}

New turns:
{turns}"""

NO_PREVIOUS_SUMMARY = "(none yet)"

ROLE_LABELS = {"human": "User", "ai": "Assistant", "tool": "Tool", "system": "System"}

LEFT_OUT = (
    "[{name} result left out to keep the prompt within its limit: {chars} characters, kept "
    "whole in the transcript]"
)
"""What the model sees of an older tool result when the prompt would outgrow its limit."""
CUT_NOTE = "\n[cut to keep the prompt within its limit: {shown} of {chars} characters shown]"
SUMMARY_RESULT_CHARS = 2000
"""Of a tool result, the summariser reads this much: a page of output must not overflow its
context, and the transcript keeps the whole."""
MIN_RESULT_CHARS = 200
"""A tool result the model still needs is never cut below this."""


def system_message(
    system_prompt: str, summary: str, recalled: Sequence[Mapping[str, Any]] = ()
) -> SystemMessage:
    """One system message: the prompt, the running summary and the recalled excerpts, if any.

    Recalled turns go here rather than as messages of their own so that the conversation keeps
    strictly alternating turns, which some providers and chat templates require."""
    parts = [system_prompt]
    if summary:
        parts.append(f"{SUMMARY_HEADER}\n{summary}")
    if recalled:
        parts.append("\n".join([RECALL_HEADER, *(render_excerpt(e) for e in recalled)]))
    return SystemMessage("\n\n".join(parts))


def render_excerpt(excerpt: Mapping[str, Any]) -> str:
    """`[turn 12 · 2026-11-25] User: ... / Assistant: ...` (turn numbers start at 1)."""
    day = str(excerpt.get("created_at", ""))[:10]
    stamp = f"turn {excerpt['turn'] + 1}" + (f" · {day}" if day else "")
    return f"[{stamp}] {excerpt['text']}"


def render_turn_inline(messages: Sequence[BaseMessage]) -> str:
    """A turn on few lines, for an excerpt: `User: ...`, `Assistant called tool(...)`,
    `Tool tool: ...`, then `Assistant: ...`."""
    return "\n".join(f"{label}: {' '.join(text.split())}" for label, text in labelled(messages))


def render_turns(messages: Sequence[BaseMessage], max_result_chars: int | None = None) -> str:
    """A turn as the summariser reads it; tool results cut to `max_result_chars`."""
    lines = []
    for label, text in labelled(messages):
        if max_result_chars and label.startswith("Tool") and len(text) > max_result_chars:
            text = f"{text[:max_result_chars]} [... {len(text) - max_result_chars} more characters]"
        lines.append(f"{label}: {text}")
    return "\n".join(lines)


def labelled(messages: Sequence[BaseMessage]) -> list[tuple[str, str]]:
    """Each message as (label, text): a tool call reads `Assistant called name({...})` and its
    result `Tool name`."""
    lines: list[tuple[str, str]] = []
    for message in messages:
        label = ROLE_LABELS.get(message.type, message.type)
        if isinstance(message, AIMessage) and message.tool_calls:
            if message.text.strip():
                lines.append((label, str(message.text)))
            for call in message.tool_calls:
                args = json.dumps(call["args"], ensure_ascii=False)
                lines.append((f"{label} called", f"{call['name']}({args})"))
        elif isinstance(message, ToolMessage):
            lines.append((f"{label} {message.name or ''}".rstrip(), message_text(message)))
        else:
            lines.append((label, message_text(message)))
    return lines


def summariser_messages(
    previous_summary: str, turns: Sequence[BaseMessage], max_words: int
) -> list[BaseMessage]:
    return [
        SystemMessage(SUMMARISER_INSTRUCTIONS.format(max_words=max_words)),
        HumanMessage(
            SUMMARISER_INPUT.format(
                previous=previous_summary or NO_PREVIOUS_SUMMARY,
                turns=render_turns(turns, SUMMARY_RESULT_CHARS),
            )
        ),
    ]


def build_prompt(
    system_prompt: str,
    summary: str,
    messages: Sequence[BaseMessage],
    recalled: Sequence[Mapping[str, Any]] = (),
    *,
    limit: int | None = None,
    counter: TokenCounter | None = None,
) -> list[BaseMessage]:
    """Exactly what the chat model is sent: the system message (prompt, summary, recalled
    excerpts), then the recent turns. Human messages in a row (one left unanswered by a failed
    call) are sent as one, so the reply answers both. With a `limit`, the view is fitted to it
    (`fit_prompt`)."""
    return fit_prompt(
        lambda excerpts: system_message(system_prompt, summary, excerpts),
        messages,
        recalled,
        limit,
        counter or TokenCounter(None),
    ).prompt


@dataclass(frozen=True)
class Fitted:
    """A prompt fitted to its limit: the system message, the messages, and the recalled excerpts
    the system message still carries."""

    system: BaseMessage | None
    view: list[BaseMessage]
    recalled: list[Mapping[str, Any]]

    @property
    def prompt(self) -> list[BaseMessage]:
        return [self.system, *self.view] if self.system is not None else list(self.view)


def fit_prompt(
    system_for: Callable[[Sequence[Mapping[str, Any]]], BaseMessage | None],
    messages: Sequence[BaseMessage],
    recalled: Sequence[Mapping[str, Any]],
    limit: int | None,
    counter: TokenCounter,
) -> Fitted:
    """The system message `system_for(recalled)` gives, and `messages` (orphan tool messages
    dropped, human messages in a row joined), fitted together to `limit` tokens when it is given.

    The memory plan keeps a turn's start under the limit; inside a tool loop the turn grows, so
    the view gives way, least needed first: older tool results become a one-line placeholder;
    then the recalled excerpts go, lowest score first; then the results of the last round of
    calls (the ones the model is about to read) are cut to equal shares of what is left, never
    below MIN_RESULT_CHARS. Only the model's view changes: the state and the transcript keep
    everything whole. Each message is counted once (the total is kept as things change)."""
    view = merge_humans(drop_orphans(messages))
    excerpts = list(recalled)
    system = system_for(excerpts)
    fitted = Fitted(system, view, excerpts)
    if limit is None:
        return fitted
    total = counter.prompt(fitted.prompt)
    if total <= limit:
        return fitted
    last_call = max((i for i, m in enumerate(view) if isinstance(m, AIMessage)), default=-1)
    for index, message in enumerate(view[:last_call]):
        if isinstance(message, ToolMessage) and (shorter := _left_out(message)) is not None:
            total -= counter.messages([message]) - counter.messages([shorter])
            view[index] = shorter
            if total <= limit:
                return Fitted(system, view, excerpts)
    for excerpt in sorted(excerpts, key=lambda e: e.get("score", 0)):
        excerpts.remove(excerpt)
        smaller = system_for(excerpts)
        total -= _size(system, counter) - _size(smaller, counter)
        system = smaller
        if total <= limit:
            return Fitted(system, view, excerpts)
    newest = [i for i, m in enumerate(view) if i > last_call and isinstance(m, ToolMessage)]
    if newest:
        share = max(0, counter.messages([view[i] for i in newest]) - (total - limit)) // len(newest)
        for index in newest:
            view[index] = _cut(view[index], share, counter)
    return Fitted(system, view, excerpts)


def _size(message: BaseMessage | None, counter: TokenCounter) -> int:
    return counter.messages([message]) if message is not None else 0


def _left_out(message: BaseMessage) -> BaseMessage | None:
    """A tool result as a one-line placeholder, unless it is shorter than that already."""
    text = message_text(message)
    placeholder = LEFT_OUT.format(name=message.name or "tool", chars=len(text))
    if len(placeholder) >= len(text):
        return None
    return message.model_copy(update={"content": placeholder, "artifact": None})


def _cut(message: BaseMessage, tokens: int, counter: TokenCounter) -> BaseMessage:
    """`message` (a tool result) cut to about `tokens` tokens, saying so."""
    text = message_text(message)
    size = counter.messages([message])
    if size <= tokens:
        return message
    keep = max(MIN_RESULT_CHARS, int(len(text) * tokens / max(size, 1)) - len(CUT_NOTE))
    if keep >= len(text):
        return message
    cut = text[:keep] + CUT_NOTE.format(shown=keep, chars=len(text))
    return message.model_copy(update={"content": cut, "artifact": None})


def merge_humans(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    merged: list[BaseMessage] = []
    for message in messages:
        if (
            merged
            and isinstance(message, HumanMessage)
            and isinstance(merged[-1], HumanMessage)
            and isinstance(message.content, str)
            and isinstance(merged[-1].content, str)
        ):
            merged[-1] = merged[-1].model_copy(
                update={"content": f"{merged[-1].content}\n\n{message.content}"}
            )
        else:
            merged.append(message)
    return merged
