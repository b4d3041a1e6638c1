"""The full transcript of a thread, kept apart from the model's bounded view.

The `model` node archives each completed turn in the graph's LangGraph store, one compact JSON item
per turn, in the namespace ("memoria", <thread id>) under the turn's number. Re-running a turn
(after a crash or a failed call) overwrites the same key, so a turn is never archived twice. With no store configured, nothing is archived here and the transcript
can only be rebuilt from the checkpointer's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage, messages_from_dict
from langgraph.store.base import BaseStore, Item, PutOp

TRANSCRIPT_NAMESPACE = "memoria"
PAGE = 500


def encode_message(message: BaseMessage) -> dict[str, Any]:
    """Compact JSON form of a message: its type, the fields that differ from their defaults, and of
    the provider's metadata only the model name and the token usage (as `[input, output]`)."""
    data = {
        "type": message.type,
        **message.model_dump(
            exclude_defaults=True, exclude={"type", "response_metadata", "usage_metadata"}
        ),
    }
    if model_name := message.response_metadata.get("model_name"):
        data["model"] = model_name
    if usage := getattr(message, "usage_metadata", None):
        data["usage"] = [usage["input_tokens"], usage["output_tokens"]]
    return data


def decode_message(data: dict[str, Any]) -> BaseMessage:
    fields = {key: value for key, value in data.items() if key not in ("type", "model", "usage")}
    if "model" in data:
        fields["response_metadata"] = {"model_name": data["model"]}
    if "usage" in data:
        input_tokens, output_tokens = data["usage"]
        fields["usage_metadata"] = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }
    return messages_from_dict([{"type": data["type"], "data": fields}])[0]


def transcript_namespace(thread_id: str) -> tuple[str, str]:
    # Store namespace labels may not contain "."; escape it reversibly.
    return (TRANSCRIPT_NAMESPACE, thread_id.replace("%", "%25").replace(".", "%2E"))


def turn_key(index: int) -> str:
    # Plain decimal keeps rows small (the key is stored three times); order is restored numerically.
    return str(index)


def archive_turn(
    store: BaseStore, thread_id: str, index: int, messages: Sequence[BaseMessage]
) -> None:
    store.put(
        transcript_namespace(thread_id),
        turn_key(index),
        {"messages": [encode_message(m) for m in messages]},
        index=False,
    )


def _items(store: BaseStore, thread_id: str) -> list[Item]:
    namespace = transcript_namespace(thread_id)
    items: list[Item] = []
    while page := store.search(namespace, limit=PAGE, offset=len(items)):
        items.extend(page)
        if len(page) < PAGE:
            break
    return sorted(items, key=lambda item: int(item.key))


def read_turns(
    store: BaseStore, thread_id: str, committed: int | None = None
) -> list[list[BaseMessage]]:
    """The archived turns of a thread, oldest first; with `committed` (the state's turn count),
    only those the thread's checkpoint counts. A process killed between archiving a turn and
    saving its checkpoint leaves one uncommitted turn, which the next turn overwrites."""
    return [
        [decode_message(m) for m in item.value["messages"]]
        for item in _items(store, thread_id)
        if committed is None or int(item.key) < committed
    ]


def delete_transcript(store: BaseStore, thread_id: str) -> None:
    store.batch([PutOp(item.namespace, item.key, None) for item in _items(store, thread_id)])


def read_transcript(store: BaseStore, thread_id: str) -> list[BaseMessage]:
    return [message for turn in read_turns(store, thread_id) for message in turn]
