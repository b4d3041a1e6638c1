"""The full transcript of a thread, kept apart from the model's bounded view.

The `model` node archives each completed turn in the graph's LangGraph store, one JSON item per turn
keyed by its number. Re-running a turn (after a crash or a failed call) overwrites the same key, so a
turn is never archived twice. With no store configured, nothing is archived here and the transcript
can only be rebuilt from the checkpointer's history.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, messages_from_dict, messages_to_dict
from langgraph.store.base import BaseStore

TRANSCRIPT_NAMESPACE = "memoria-transcript"
PAGE = 500


def transcript_namespace(thread_id: str) -> tuple[str, str]:
    # Store namespace labels may not contain "."; escape it reversibly.
    return (TRANSCRIPT_NAMESPACE, thread_id.replace("%", "%25").replace(".", "%2E"))


def turn_key(index: int) -> str:
    return f"{index:010d}"


def archive_turn(
    store: BaseStore, thread_id: str, index: int, messages: Sequence[BaseMessage]
) -> None:
    store.put(
        transcript_namespace(thread_id),
        turn_key(index),
        {"messages": messages_to_dict(messages)},
        index=False,
    )


def read_turns(store: BaseStore, thread_id: str) -> list[list[BaseMessage]]:
    """Every archived turn of a thread, oldest first."""
    namespace = transcript_namespace(thread_id)
    items = []
    while page := store.search(namespace, limit=PAGE, offset=len(items)):
        items.extend(page)
        if len(page) < PAGE:
            break
    items.sort(key=lambda item: item.key)
    return [messages_from_dict(item.value["messages"]) for item in items]


def read_transcript(store: BaseStore, thread_id: str) -> list[BaseMessage]:
    return [message for turn in read_turns(store, thread_id) for message in turn]
