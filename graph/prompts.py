"""Prompts: the chat system prompt, how the summary joins it, and the summariser's instructions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from memoria.memory import drop_orphans
from memoria.tokens import message_text

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
    """A turn on few lines, for an excerpt: `User: ...` then `Assistant: ...`."""
    return "\n".join(
        f"{ROLE_LABELS.get(m.type, m.type)}: {' '.join(message_text(m).split())}" for m in messages
    )


def render_turns(messages: Sequence[BaseMessage]) -> str:
    lines = []
    for message in messages:
        label = ROLE_LABELS.get(message.type, message.type)
        lines.append(f"{label}: {message_text(message)}")
    return "\n".join(lines)


def summariser_messages(
    previous_summary: str, turns: Sequence[BaseMessage], max_words: int
) -> list[BaseMessage]:
    return [
        SystemMessage(SUMMARISER_INSTRUCTIONS.format(max_words=max_words)),
        HumanMessage(
            SUMMARISER_INPUT.format(
                previous=previous_summary or NO_PREVIOUS_SUMMARY, turns=render_turns(turns)
            )
        ),
    ]


def build_prompt(
    system_prompt: str,
    summary: str,
    messages: Sequence[BaseMessage],
    recalled: Sequence[Mapping[str, Any]] = (),
) -> list[BaseMessage]:
    """Exactly what the chat model is sent: the system message (prompt, summary, recalled
    excerpts), then the recent turns. Human messages in a row (one left unanswered by a failed
    call) are sent as one, so the reply answers both."""
    return [system_message(system_prompt, summary, recalled), *merge_humans(drop_orphans(messages))]


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
