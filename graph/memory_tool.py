"""The memory tool: `search_conversation`, with which the model searches the thread's whole
transcript itself, as many times as a question needs.

One automatic search per message (the `recall` node) finds a single fact well; a question whose
answer is spread over several turns ("which of my trips did I enjoy most, and why?") needs several
searches with different words, which only the model can choose. The tool uses the same engine and
text analysis as the automatic recall, leaves out the turns still in the model's view (and names
the matching turns recalled into the prompt already rather than repeating them), and answers with
dated, numbered excerpts, oldest first, within a token budget.

Memoria's graph (`build_graph`) and `MemoriaMiddleware` each make the tool with their own way of
finding the transcript and the view from the tool's runtime (`SearchScope`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.tools import BaseTool, StructuredTool
from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel, Field

from memoria.context import Context
from memoria.ids import thread_of
from memoria.memory import group_turns, split_current
from memoria.presets import RECALL_TURNS
from memoria.recall import Found, find_excerpts
from memoria.state import State
from memoria.transcript import Transcript

if TYPE_CHECKING:
    from memoria.parts import Parts

MEMORY_TOOL_NAME = "search_conversation"
MEMORY_TOOL_DESCRIPTION = (
    "Search everything said earlier in this conversation, including what is no longer in your "
    "context, for the given words. Use it when the user refers to something from before that "
    "you cannot see, or when an answer needs facts from several earlier moments; if a search "
    "misses, search again with other words (names, places, things, as the user would have said "
    "them). Returns dated excerpts, oldest first; where two disagree, the later one is current."
)
MAX_QUERY_CHARS = 1000


class SearchConversation(BaseModel):
    query: str = Field(
        description="Words to look for: names, places, things, dates, in the conversation's "
        "language.",
        max_length=MAX_QUERY_CHARS,
    )


@dataclass(frozen=True)
class SearchScope:
    """Where one search looks: a thread's transcript below its first turn in view."""

    transcript: Transcript
    thread_id: str
    language: str
    before: int
    """Turns numbered below this are searched; the rest are in the model's view."""
    budget_tokens: int
    max_turns: int
    count: Callable[[str], int]
    shown: Collection[int] = ()
    """Turns already in the prompt (recalled this turn): named, not repeated."""


def memory_tool(scope_of: Callable[[ToolRuntime], SearchScope | str]) -> BaseTool:
    """The `search_conversation` tool; `scope_of` finds where to search from the tool's runtime
    (or says, as text for the model, why there is nothing to search)."""

    def search_conversation(query: str, runtime: ToolRuntime) -> str:
        scope = scope_of(runtime)
        return scope if isinstance(scope, str) else search(scope, query)

    return StructuredTool.from_function(
        search_conversation,
        name=MEMORY_TOOL_NAME,
        description=MEMORY_TOOL_DESCRIPTION,
        args_schema=SearchConversation,
    )


def search(scope: SearchScope, query: str) -> str:
    """The tool's answer to `query`, as the model reads it."""
    if scope.before <= 0:
        return "Nothing to search: every earlier turn of this conversation is in your context."
    found = find_excerpts(
        scope.transcript,
        scope.thread_id,
        query,
        language=scope.language,
        previous="",
        before=scope.before,
        budget_tokens=scope.budget_tokens,
        max_turns=scope.max_turns,
        count=scope.count,
        exclude=scope.shown,
        keep_common=True,
    )
    return render_results(query, found, scope.before)


def render_results(query: str, found: Found, searched: int) -> str:
    """`Found 2 earlier turns for "..."` then `[1] turn 12 · 2026-11-25` and the excerpt, ..."""
    shown = " ".join(query.split())[:80]
    where = f"searched turns 1-{searched}" if searched > 1 else "searched turn 1"
    lines: list[str] = []
    if not found.terms:
        lines.append(f'No searchable words in "{shown}": give names, places or other words.')
    elif not found.excerpts:
        lines.append(f'No earlier turn matches "{shown}" ({where}). Try other words.')
    else:
        count = len(found.excerpts)
        lines.append(
            f'Found {count} earlier turn{"s" if count > 1 else ""} for "{shown}" ({where}; '
            "oldest first; where two disagree, the later one is current):"
        )
        for number, excerpt in enumerate(found.excerpts, 1):
            day = excerpt.created_at[:10]
            stamp = f"turn {excerpt.turn + 1}" + (f" · {day}" if day else "")
            latest = " · the latest" if number == count and count > 1 else ""
            lines.append(f"[{number}] {stamp}{latest}\n{excerpt.text}")
    if found.skipped:
        turns = ", ".join(str(turn + 1) for turn in sorted(found.skipped))
        lines.append(f"Also matching, already recalled into your context above: turn(s) {turns}.")
    return "\n".join(lines)


def graph_memory_tool(parts: Parts) -> BaseTool:
    """`search_conversation` for Memoria's graph: the thread's transcript (`parts`, or the graph's
    store), searched below the first turn in view, within `Context.memory_tool_budget`."""

    def scope_of(runtime: ToolRuntime) -> SearchScope | str:
        state = runtime.state if isinstance(runtime.state, State) else State(**runtime.state)
        context = runtime.context if isinstance(runtime.context, Context) else Context()
        transcript = parts.transcript_for(runtime.store)
        thread_id = thread_of(runtime.config)
        if transcript is None or thread_id is None:
            return "The conversation's transcript is not available here: nothing to search."
        completed, _ = split_current(group_turns(state.messages))
        return SearchScope(
            transcript=transcript,
            thread_id=thread_id,
            language=state.language or transcript.thread_language(thread_id) or "en",
            before=state.turns - len(completed),
            budget_tokens=context.memory_tool_budget,
            max_turns=context.recall_turns or RECALL_TURNS,
            count=parts.counter(context, state.token_scale).text,
            shown={item["turn"] for item in state.recalled},
        )

    return memory_tool(scope_of)
