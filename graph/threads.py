"""Thread exports: the JSON document `export` writes and `import` reads back, and Markdown.

An import is untrusted input: the whole document is validated against a schema (pydantic) before
anything is written, and a bad one is refused with one line saying what is wrong and where.
Settings that ride along are checked against what a user could type (`vet_settings`): a model path
from outside is never opened, and the import reports which settings it kept.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from memoria.memory import group_turns
from memoria.prompts import labelled
from memoria.transcript import ArchivedTurn, decode_message, encode_message, now_iso

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

EXPORT_FORMAT = "memoria.thread"
EXPORT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MAX_TURNS = 10_000_000


class ExportFormatError(ValueError):
    """A file that is not a valid Memoria thread export."""


@dataclass(frozen=True)
class ThreadExport:
    """Everything a thread holds: its transcript, turn by turn, and its working memory."""

    thread_id: str
    turns: list[ArchivedTurn]
    memory: dict[str, Any]
    """`summary`, counters, calibration and language, plus `messages`: the turns in the model's view."""
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    notes: list[str] = field(default_factory=list)
    """What reading the document changed (times in the future set to now)."""

    def to_json(self) -> dict[str, Any]:
        memory = {key: value for key, value in self.memory.items() if key != "messages"}
        memory["messages"] = [encode_message(m) for m in self.memory.get("messages", [])]
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "thread_id": self.thread_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "settings": self.settings,
            "memory": memory,
            "turns": [
                {
                    "created_at": turn.created_at,
                    "messages": [encode_message(m) for m in turn.messages],
                    **({"summary": turn.summary} if turn.summary is not None else {}),
                    **({"folded": turn.folded} if turn.folded else {}),
                }
                for turn in self.turns
            ],
        }

    @classmethod
    def from_json(cls, document: Any) -> ThreadExport:
        if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
            raise ExportFormatError('not a Memoria thread export (no "format": "memoria.thread")')
        if document.get("version") not in READABLE_VERSIONS:
            raise ExportFormatError(f"unsupported export version {document.get('version')!r}")
        try:
            where = _lone_surrogate(document)
        except RecursionError:
            raise ExportFormatError("not valid JSON: nested too deeply") from None
        if where is not None:
            raise ExportFormatError(
                f"invalid Memoria export: {where or 'the document'}: not valid Unicode (a lone "
                "surrogate, as a JSON \\ud800 escape spells one)"
            )
        try:
            doc = ExportDocument.model_validate(document)
        except ValidationError as exc:
            raise ExportFormatError(f"invalid Memoria export: {_first_error(exc)}") from None
        turns = [_turn(number, turn) for number, turn in enumerate(doc.turns)]
        view = [
            _decode(f"memory.messages.{index}", message)
            for index, message in enumerate(doc.memory.messages)
        ]
        memory = doc.memory.model_dump(exclude={"messages", "settings"})
        if memory["turns"] is None:
            memory["turns"] = len(turns)
        if memory["turns"] != len(turns):
            raise ExportFormatError(
                f"invalid Memoria export: memory.turns says {memory['turns']} but the transcript "
                f"has {len(turns)} turns"
            )
        if memory["summarised_turns"] > len(turns):
            raise ExportFormatError(
                "invalid Memoria export: memory.summarised_turns is larger than the turn count"
            )
        if len(group_turns(view)) > len(turns):
            raise ExportFormatError(
                "invalid Memoria export: memory.messages holds more turns than the transcript"
            )
        memory["messages"] = view
        settings = doc.settings if doc.settings is not None else doc.memory.settings or {}
        now, future = datetime.now(UTC), 0
        for index, turn in enumerate(turns):
            created_at, late = _not_in_the_future(turn.created_at, now)
            if late:
                turns[index], future = replace(turn, created_at=created_at), future + 1
        created_at, late_created = _not_in_the_future(doc.created_at, now)
        updated_at, late_updated = _not_in_the_future(doc.updated_at, now)
        future += late_created + late_updated
        notes = [f"{future} time(s) lay in the future and were set to now"] if future else []
        return cls(
            thread_id=doc.thread_id,
            turns=turns,
            memory=memory,
            settings=settings,
            created_at=created_at or (turns[0].created_at if turns else ""),
            updated_at=updated_at or (turns[-1].created_at if turns else ""),
            notes=notes,
        )

    def to_markdown(self, header: list[tuple[str, str]] | None = None) -> str:
        lines = [f"# Thread {self.thread_id}", ""]
        for name, value in header or []:
            lines.append(f"- **{name}:** {value}")
        if header:
            lines.append("")
        if summary := self.memory.get("summary"):
            lines += ["## Running summary", "", summary, ""]
        for turn in self.turns:
            lines += [f"## Turn {turn.number + 1}", "", f"*{turn.created_at}*", ""]
            for label, text in labelled(turn.messages):
                lines += [f"**{label}:** {text}", ""]
        return "\n".join(lines)


# The schema of an export document


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


Count = Annotated[int, Field(ge=0, le=MAX_TURNS)]
Stamp = Annotated[str, Field(max_length=64)]


class MessageModel(BaseModel):
    """One message as `encode_message` writes it; decoded by LangChain afterwards."""

    model_config = ConfigDict(extra="allow", strict=True)
    type: Literal["human", "ai", "system", "tool", "chat", "function"]
    content: str | list[Any] = ""
    id: str | None = None
    model: Annotated[str, Field(max_length=200)] | None = None
    usage: Annotated[list[Count], Field(min_length=2, max_length=2)] | None = None
    """`[input_tokens, output_tokens]`."""
    tool_calls: list[dict[str, Any]] | None = None

    @field_validator("id")
    @classmethod
    def short_id(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 256:
            raise ValueError("message id longer than 256 characters")
        return value


class TurnModel(Strict):
    created_at: Stamp = ""
    messages: list[MessageModel] = Field(min_length=1)
    summary: str | None = None
    folded: Count = 0

    @field_validator("created_at")
    @classmethod
    def iso_time(cls, value: str) -> str:
        return _iso_time(value)


class MemoryModel(Strict):
    summary: str = ""
    turns: Count | None = None
    summarised_turns: Count = 0
    token_scale: float = Field(default=1.0, ge=0.25, le=4.0, allow_inf_nan=False)
    summary_error: Annotated[str, Field(max_length=2000)] = ""
    summary_failures: Count = 0
    language: Literal["", "en", "es"] = ""
    messages: list[MessageModel] = []
    settings: dict[str, Any] | None = None
    """Version 1 kept the settings here."""


class ExportDocument(Strict):
    format: Literal["memoria.thread"]
    version: int
    thread_id: Annotated[str, Field(min_length=1, max_length=512)]
    created_at: Stamp = ""
    updated_at: Stamp = ""
    settings: dict[str, Any] | None = None
    memory: MemoryModel
    turns: list[TurnModel | list[MessageModel]]

    @field_validator("created_at", "updated_at")
    @classmethod
    def iso_time(cls, value: str) -> str:
        return _iso_time(value)


ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")
FUTURE_SLACK = timedelta(minutes=5)
"""A time later than now by more than this (clocks differ a little) is set to now on import."""


def _iso_time(value: str) -> str:
    """A real date and time (an offset, or UTC when it has none), as Memoria writes times: UTC,
    to the millisecond. Refuses what only looks like one ("2024-13-45T25:61:99", year 0)."""
    if not value:
        return value
    try:
        if not ISO_TIME.fullmatch(value):
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _not_in_the_future(value: str, now: datetime) -> tuple[str, bool]:
    """`value`, or now when it lies in the future; and whether it did."""
    if value and datetime.fromisoformat(value) > now + FUTURE_SLACK:
        return now.isoformat(timespec="milliseconds"), True
    return value, False


def _lone_surrogate(value: Any, where: str = "") -> str | None:
    """Where in a parsed document a string holds a lone surrogate (text that cannot be stored),
    as a dotted path; None if nowhere."""
    if isinstance(value, str):
        return where if any("\ud800" <= char <= "\udfff" for char in value) else None
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        if isinstance(key, str) and _lone_surrogate(key) is not None:
            return f"{where}.{_cut(repr(key), 20)}".lstrip(".")
        found = _lone_surrogate(item, f"{where}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


def _turn(number: int, turn: TurnModel | list[MessageModel]) -> ArchivedTurn:
    if isinstance(turn, list):  # version 1: a turn was its list of messages
        turn = TurnModel(messages=turn)
    messages = [
        _decode(f"turns.{number}.messages.{index}", message)
        for index, message in enumerate(turn.messages)
    ]
    return ArchivedTurn(number, messages, turn.created_at or now_iso(), turn.summary, turn.folded)


def _decode(where: str, message: MessageModel) -> BaseMessage:
    """One message, built by LangChain; what it refuses is reported with where it is."""
    try:
        return decode_message(message.model_dump(exclude_none=True))
    except ValidationError as exc:
        problem = _first_error(exc, where)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        text = f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc).strip()
        problem = f"{where}: {text.splitlines()[0] if text else type(exc).__name__}"
    raise ExportFormatError(f"invalid Memoria export: {problem}")


# Parts of a pydantic error location that name a branch of a union, not a field.
UNION_TAGS = frozenset({"str", "int", "float", "bool", "none", "list", "dict"})


def _first_error(exc: ValidationError, prefix: str = "") -> str:
    error = exc.errors()[0]
    parts = [
        str(part)
        for part in error["loc"]
        if not (isinstance(part, str) and (part[:1].isupper() or "[" in part or part in UNION_TAGS))
    ]
    where = ".".join(([prefix] if prefix else []) + parts) or "the document"
    message = error["msg"]
    value = error.get("input")
    shown = "" if isinstance(value, dict | list) else f" (got {_cut(json.dumps(value), 40)})"
    return f"{where}: {message}{shown}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def decode_document(data: bytes) -> Any:
    """Parse an export file: UTF-8 (with or without a BOM), UTF-16 or UTF-32 (by their BOM)."""
    boms = (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    encoding = next((name for bom, name in boms if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ExportFormatError(f"not valid {encoding.upper()} text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportFormatError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ExportFormatError("not valid JSON: nested too deeply") from None


def looks_like_json(data: bytes) -> bool:
    for bom in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF8):
        data = data.removeprefix(bom)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    return data.lstrip().startswith(b"{")


# Settings that come from outside


def vet_settings(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Keep the settings a user could have typed; return them with notes on what was dropped."""
    from memoria.context import Context

    known = {f.name for f in fields(Context)}
    kept: dict[str, Any] = {}
    notes: list[str] = []
    for name, value in raw.items():
        if name not in known:
            notes.append(f"ignored unknown setting {name!r}")
            continue
        if name in ("model", "summary_model") and isinstance(value, str):
            problem = _model_spec_problem(value)
            if problem:
                notes.append(f"dropped {name} {value[:40]!r}: {problem}")
                continue
        try:
            Context(**{name: value})
        except (TypeError, ValueError) as exc:
            notes.append(f"dropped {name}: {exc}")
            continue
        kept[name] = value
    try:
        Context(**kept)
    except (TypeError, ValueError) as exc:  # settings valid alone but not together
        notes.append(f"dropped all settings: {exc}")
        kept = {}
    return kept, notes


def _model_spec_problem(spec: str) -> str:
    from memoria.models import ECHO_TAKES_NOTHING

    if spec in ("", "local", "extractive"):
        return ""
    if spec.startswith("local:"):
        return "an imported thread may not name a model file"
    if spec == "echo":
        return ""
    if spec.startswith("echo:"):
        return ECHO_TAKES_NOTHING
    provider, _, name = spec.partition(":")
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,40}", provider) or not name or len(spec) > 200:
        return "not a model spec (provider:model)"
    if any(not ch.isprintable() for ch in name):
        return "not a model name"
    if _looks_like_path(name):
        # Some providers (huggingface, llama.cpp-based ones) load a local path they are given.
        return "an imported thread may not name a model file"
    return ""


def _looks_like_path(name: str) -> bool:
    """A model name that points into the file system (`/etc/x`, `~/m`, `./m`, `a/../b`, `C:\\m`),
    as opposed to a provider's own `org/model` name."""
    if name.startswith(("/", "~", ".", "\\", "file:")) or "\\" in name:
        return True
    if re.match(r"[A-Za-z]:[\\/]", name):
        return True
    return any(part in (".", "..") for part in name.split("/"))


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
