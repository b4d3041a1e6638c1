"""Prompts: the chat system prompt, how the summary joins it, and the summariser's instructions."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage, SystemMessage

from graph.memory import drop_orphans
from graph.tokens import message_text

SYSTEM_PROMPT = (
    "You are Memoria, a helpful assistant. Answer in the language the user writes in. "
    "Be accurate and concise."
)

SUMMARY_HEADER = "Summary of the earlier conversation:"

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


def system_message(system_prompt: str, summary: str) -> SystemMessage:
    """One system message: the prompt, then the running summary when there is one."""
    if summary:
        return SystemMessage(f"{system_prompt}\n\n{SUMMARY_HEADER}\n{summary}")
    return SystemMessage(system_prompt)


def render_turns(messages: Sequence[BaseMessage]) -> str:
    lines = []
    for message in messages:
        label = ROLE_LABELS.get(message.type, message.type)
        lines.append(f"{label}: {message_text(message)}")
    return "\n".join(lines)


def summariser_messages(
    previous_summary: str, turns: Sequence[AnyMessage], max_words: int
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
    system_prompt: str, summary: str, messages: Sequence[BaseMessage]
) -> list[BaseMessage]:
    """Exactly what the chat model is sent: system prompt with the summary, then the recent turns."""
    return [system_message(system_prompt, summary), *drop_orphans(messages)]
