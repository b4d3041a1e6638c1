"""Read a legacy LangChain memory pickle (`memory.pkl`, as the seed tutorial writes it) safely.

`pickle.load` runs whatever code the file names. This unpickler instead resolves only an allow-list of
LangChain memory, chat-history and message classes, and resolves each to an inert record that merely
keeps the state it is given; anything else (a function, `os.system`, an unknown class) stops the load.
The records are then turned into real messages by explicit constructors.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, ClassVar

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

MESSAGE_CLASSES: dict[str, type[BaseMessage]] = {
    "HumanMessage": HumanMessage,
    "AIMessage": AIMessage,
    "SystemMessage": SystemMessage,
    "ChatMessage": ChatMessage,
    "FunctionMessage": FunctionMessage,
    "ToolMessage": ToolMessage,
}
HISTORY_CLASSES = {"ChatMessageHistory", "InMemoryChatMessageHistory"}
MEMORY_CLASSES = {
    "ConversationBufferMemory",
    "ConversationBufferWindowMemory",
    "ConversationSummaryMemory",
    "ConversationSummaryBufferMemory",
    "ConversationTokenBufferMemory",
}
# Pure data constructors that old pickle protocols name as globals (pydantic's fields-set is a set).
SAFE_BUILTINS: dict[str, type] = {"object": object, "set": set, "frozenset": frozenset}
# Packages these classes have lived in across LangChain versions.
TRUSTED_PACKAGES = ("langchain.", "langchain_classic.", "langchain_community.", "langchain_core.")


MAX_CONTENT_ITEMS = 1_000_000
"""The messages' content may hold at most this many values in all (strings, blocks, keys, nested
values), each reference counted: a pickle shares one object between many places, and a few
hundred bytes that nest one dict twice at each of 26 levels would otherwise expand to 2^26 values
when stored."""
MAX_CONTENT_DEPTH = 20
MAX_CONTENT_CHARS = 10_000_000


class LegacyPickleError(ValueError):
    """The file is not a LangChain memory pickle we can read safely."""


class _Record:
    """Inert stand-in for an allowed class: keeps the pickled state, runs nothing."""

    kind: ClassVar[str] = ""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots) form
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise LegacyPickleError(f"unexpected state for {self.kind}")
        self.fields = state.get("__dict__", state)


def _reconstructor(cls: type, base: type, state: Any) -> _Record:
    """Protocol 0/1 pickles rebuild objects through copyreg._reconstructor; allow it for records only."""
    if not (isinstance(cls, type) and issubclass(cls, _Record)) or base is not object:
        raise LegacyPickleError("refusing to reconstruct a class outside the allow-list")
    return cls.__new__(cls)


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Protocols 0-2 name these by their Python 2 modules.
        if module in ("copyreg", "copy_reg") and name == "_reconstructor":
            return _reconstructor
        if module in ("builtins", "__builtin__") and name in SAFE_BUILTINS:
            return SAFE_BUILTINS[name]
        known = name in MESSAGE_CLASSES or name in HISTORY_CLASSES or name in MEMORY_CLASSES
        if known and module.startswith(TRUSTED_PACKAGES):
            return type(name, (_Record,), {"kind": name})
        raise LegacyPickleError(
            f"refusing to load {module}.{name}: only LangChain memory and message classes are allowed"
        )


def load_legacy_memory(data: bytes) -> tuple[list[BaseMessage], str]:
    """Messages and summary (empty if none) from a pickled LangChain memory or chat history."""
    try:
        root = _AllowListUnpickler(io.BytesIO(data)).load()
    except LegacyPickleError:
        raise
    except Exception as exc:
        raise LegacyPickleError(f"not a readable pickle: {exc}") from None
    summary = ""
    history = root
    if isinstance(root, _Record) and root.kind in MEMORY_CLASSES:
        summary = _text(root.fields.get("moving_summary_buffer")) or (
            _text(root.fields.get("buffer")) if root.kind == "ConversationSummaryMemory" else ""
        )
        history = root.fields.get("chat_memory")
    if isinstance(history, _Record) and history.kind in HISTORY_CLASSES:
        records = history.fields.get("messages", [])
    elif isinstance(history, list):
        records = history
    else:
        raise LegacyPickleError("the pickle holds no LangChain memory or chat history")
    budget = _Budget()
    return [_message(record, budget) for record in records], summary


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _message(record: Any, budget: _Budget) -> BaseMessage:
    if not isinstance(record, _Record) or record.kind not in MESSAGE_CLASSES:
        raise LegacyPickleError("the chat history holds something that is not a message")
    fields = record.fields
    content = fields.get("content")
    if not isinstance(content, str | list):
        raise LegacyPickleError(f"a {record.kind} has no usable content")
    budget.check(content, record.kind)
    cls = MESSAGE_CLASSES[record.kind]
    kwargs: dict[str, Any] = {"content": content}
    for name in ("name", "id", "role", "tool_call_id"):
        if isinstance(fields.get(name), str):
            kwargs[name] = fields[name]
    if cls is ChatMessage:
        kwargs.setdefault("role", "user")
    if cls is ToolMessage:
        kwargs.setdefault("tool_call_id", "legacy")
    if cls is FunctionMessage:
        kwargs.setdefault("name", "function")
    return cls(**{k: v for k, v in kwargs.items() if k in cls.model_fields})


class _Budget:
    """What the whole import may expand to; each message's content is counted against it."""

    def __init__(self) -> None:
        self.items = 0
        self.chars = 0

    def check(self, content: Any, kind: str) -> None:
        """Refuse content that would expand past the bounds once written out (see
        MAX_CONTENT_ITEMS): counted as a tree, every shared reference again, without building
        it."""
        pending: list[tuple[Any, int]] = [(content, 0)]
        while pending:
            value, depth = pending.pop()
            self.items += 1
            if self.items > MAX_CONTENT_ITEMS or depth > MAX_CONTENT_DEPTH:
                raise LegacyPickleError(
                    f"the messages' content expands past {MAX_CONTENT_ITEMS:,} values or "
                    f"{MAX_CONTENT_DEPTH} levels: refused (a pickle built to blow up when read)"
                )
            if isinstance(value, str):
                self.chars += len(value)
            elif isinstance(value, dict):
                pending.extend((item, depth + 1) for pair in value.items() for item in pair)
            elif isinstance(value, list | tuple):
                pending.extend((item, depth + 1) for item in value)
            elif not isinstance(value, int | float | bool | type(None)):
                raise LegacyPickleError(f"a {kind}'s content holds a {type(value).__name__}")
            if self.chars > MAX_CONTENT_CHARS:
                raise LegacyPickleError(
                    f"the messages' content is over {MAX_CONTENT_CHARS:,} characters: refused"
                )
