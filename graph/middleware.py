"""`MemoriaMiddleware`: Memoria's memory for any agent built with `langchain.agents.create_agent`.

    from langchain.agents import create_agent
    from memoria import MemoriaMiddleware

    agent = create_agent(
        "groq:llama-3.3-70b-versatile",
        tools=[get_weather],
        middleware=[MemoriaMiddleware(memory="hybrid", k=5, max_tokens=4000)],
        checkpointer=checkpointer,
        store=store,  # the transcript lives here, unless MemoriaMiddleware(db=...) is given
    )

What each hook does, for a turn (one `invoke`/`stream` of the agent: a human message and
everything that answers it, the tool loop included):

- `before_agent`: if the previous turn never finished (an error, Ctrl-C, a kill in its tool loop),
  takes its messages out of the state, so the thread is as it was before it.
- `wrap_model_call`: at the turn's first model call, plans the view as Memoria's graph does (the
  new message included): folds the oldest turns into the running summary (or, for `window`, lets
  them go), then recalls the archived turns that bear on the new message (the database's own
  full-text search); the folded turns are removed from the state by id, never half a turn (a
  tool call never loses its result), and only once archived. At every model call, the model sees
  the agent's system prompt with the summary and the recalled excerpts, then the turns in view;
  older tool results are shortened when the prompt would pass `max_tokens`. A summary that fails
  is replaced by the extractive one (the failure is recorded): the view stays bounded and nothing
  is lost, since every word is in the transcript and `search_conversation` (the middleware's
  tool) finds it.
- `after_agent`: archives the completed turn in the transcript (the agent's store, or a Memoria
  database).

Unlike `SummarizationMiddleware`, nothing is summarised twice (the summary lives beside the
messages, not as one of them), a failed summary neither loses history nor fails the turn, and what
leaves the view can still be recalled.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, fields
from typing import Annotated, Any, NotRequired, cast

from langchain.agents.middleware.types import (
    AgentMiddleware,
    AgentState,
    ExtendedModelResponse,
    ModelRequest,
    ModelResponse,
    PrivateStateAttr,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.config import get_config
from langgraph.prebuilt import ToolRuntime
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from langgraph.types import Command

from memoria.context import Context
from memoria.memory import flatten, group_turns, split_current
from memoria.memory_tool import SearchScope, memory_tool
from memoria.nodes import (
    fold_into_summary,
    plan_view,
    removals,
    thread_language,
)
from memoria.parts import default_summariser, fixed_summariser
from memoria.presets import RECALL_TURNS
from memoria.prompts import Fitted, fit_prompt, system_message
from memoria.recall import budget_after_fold, find_excerpts
from memoria.summaries import Summariser
from memoria.tokens import TokenCounter
from memoria.transcript import ArchivedTurn, StoreTranscript, Transcript, turn_text

AGENT_SETTINGS = ("model", "system_prompt", "request_timeout", "max_tool_rounds")
"""`Context` fields that belong to the agent (`create_agent`'s model, prompt, limits), not to its
memory."""


class MemoriaMemory(AgentState):
    """The agent's state with Memoria's working memory in one private channel (`memoria`), kept
    out of the agent's input and output schemas."""

    memoria: NotRequired[Annotated[dict[str, Any], PrivateStateAttr]]
    """`summary`; `turns` (completed turns archived); `folded` (turns out of view: summarised or
    let go); `open` (ids of the messages that started a turn not yet finished); `ready` (the
    turn's view is planned); `recalled` (this turn's excerpts); `language`; `summary_error` and
    `summary_failures`."""


class MemoriaMiddleware(AgentMiddleware[MemoriaMemory, Any, Any]):
    """Memoria's memory (bounded view, running summary, recall, a transcript that keeps every word)
    for a `create_agent` agent. Needs a checkpointer and a `thread_id`, as any agent memory does.

    Settings are `Context`'s memory fields, given as keywords (`memory`, `k`, `max_tokens`,
    `target_tokens`, `summary_max_tokens`, `recall_tokens`, `recall_turns`, `language`,
    `summary_timeout`, `memory_tool`, `memory_tool_tokens`) or as `context=`; fields not given
    come from `MEMORIA_*` variables, then the defaults. `summary_model` (a chat model, a spec
    string, `"extractive"` or any `Summariser`) writes the summaries; by default the agent's own
    model does. The transcript goes to `db` (a Memoria database: a SQLite path or a Postgres URL,
    indexed as each turn is archived) when given, else to the agent's store.
    """

    state_schema = MemoriaMemory

    def __init__(
        self,
        *,
        context: Context | None = None,
        summary_model: BaseChatModel | Summariser | str | None = None,
        db: str | os.PathLike[str] | None = None,
        init_db: bool = False,
        **settings: Any,
    ) -> None:
        super().__init__()
        known = {f.name for f in fields(Context)} - set(AGENT_SETTINGS)
        if unknown := sorted(set(settings) - known):
            raise TypeError(
                f"MemoriaMiddleware got unknown settings {', '.join(unknown)}; its settings are "
                f"{', '.join(sorted(known))} (the agent's model and prompt are create_agent's)"
            )
        if context is not None and settings:
            raise TypeError("give MemoriaMiddleware either context= or settings, not both")
        # The memory's settings only: the model field is never used here (the agent has its own),
        # so it is fixed rather than resolved from the environment.
        self.context = context or Context(model="echo", **settings)
        self.policy = self.context.policy()
        self._summariser = fixed_summariser(summary_model or self.context.summary_model or None)
        self._resources = ExitStack()
        self._archive: Transcript | None = None
        if db is not None:
            from memoria.persistence import open_database

            database = self._resources.enter_context(open_database(db, init=init_db))
            self._archive = database.archive
        self.tools = [] if self.context.memory_tool == "off" else [memory_tool(self._scope_of)]

    def close(self) -> None:
        """Close the Memoria database given as `db`, if any."""
        self._resources.close()

    def __enter__(self) -> MemoriaMiddleware:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Hooks

    def before_agent(self, state: MemoriaMemory, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Start a turn: take out what an unfinished turn left.

        Reads `messages` and `memoria`. Writes removals of an unfinished turn's messages, and
        `memoria` with `open` (the ids of this turn's new messages) and `ready` cleared (the
        first model call plans the turn's view)."""
        memory = dict(state.get("memoria") or {})
        messages = list(state["messages"])
        update: list[Any] = []
        if stale := unfinished_turn(messages, memory.get("open") or []):
            update = removals(list(stale))
            gone = {id(m) for m in stale}
            messages = [m for m in messages if id(m) not in gone]
        _, current = split_current(group_turns(messages))
        memory.update(open=[m.id for m in current if m.id], ready=False, recalled=[])
        return {"messages": update, "memoria": memory} if update else {"memoria": memory}

    async def abefore_agent(
        self, state: MemoriaMemory, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        return self.before_agent(state, runtime)  # no I/O: it only reads the state

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> Any:
        """The model sees the system prompt with the summary and recalled excerpts, then the turns
        in view, tool results shortened to fit `max_tokens`. The turn's first call plans the view
        first (fold, recall) and returns that as a state update beside the model's reply."""
        started = self._start_turn(request)
        fitted = self._request(request, started)
        response = handler(self._sent(request, fitted))
        return self._respond(request, response, started, fitted)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> Any:
        started = await asyncio.to_thread(self._start_turn, request)  # summariser, search
        fitted = self._request(request, started)
        response = await handler(self._sent(request, fitted))
        return self._respond(request, response, started, fitted)

    def after_agent(self, state: MemoriaMemory, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """End a turn: archive it.

        Reads `messages` and `memoria`. Archives every turn in view not yet archived, in turn
        order (the one just answered), then writes `memoria` with the count and `open`
        cleared."""
        memory = dict(state.get("memoria") or {})
        turns = group_turns(list(state["messages"]))
        self._archive_new(memory, turns, runtime.store, memory_thread())
        memory.update(open=[], ready=False)
        return {"memoria": memory}

    def _archive_new(
        self,
        memory: dict[str, Any],
        turns: list[list[BaseMessage]],
        store: BaseStore | None,
        thread: str,
    ) -> None:
        """Archive the turns in view (`turns`, from the first one in view) not archived yet, and
        count them in `memory`."""
        folded, archived = memory.get("folded", 0), memory.get("turns", 0)
        if folded + len(turns) <= archived:
            return
        transcript = self._transcript(store)
        language = memory.get("language") or thread_language(
            self.context, turns[0] if turns else []
        )
        for index, turn in enumerate(turns):
            if (number := folded + index) >= archived:
                transcript.archive(thread, ArchivedTurn(number, turn, folded=folded), language)
        memory.update(turns=folded + len(turns), language=language)

    async def aafter_agent(
        self, state: MemoriaMemory, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.after_agent, state, runtime)

    # The memory's parts

    def _start_turn(self, request: ModelRequest[Any]) -> TurnStart | None:
        """At the turn's first model call: archive what a thread had before the middleware, fold
        (or let go of) the oldest turns as the plan says, then recall for the new message. The
        plan is made on the state's messages (what other middleware shows the model may differ).
        None at the turn's later calls."""
        memory = dict(cast(dict[str, Any], request.state.get("memoria") or {}))
        if memory.get("ready"):
            return None
        messages = planned_messages(request)
        store, thread = request.runtime.store, memory_thread()
        completed, _ = split_current(group_turns(messages))
        self._archive_new(memory, completed, store, thread)
        counter = TokenCounter(request.model)
        plan, _ = plan_view(
            messages, request.system_message, memory.get("summary", ""), self.policy, counter
        )
        leaving = plan.drop or plan.fold
        if plan.fold:
            self._fold(memory, flatten(completed[: plan.fold]), request.model, counter)
        memory["folded"] = memory.get("folded", 0) + leaving
        gone = flatten(completed[:leaving])
        gone_ids = {m.id for m in gone}
        view: list[BaseMessage] = [m for m in messages if m.id not in gone_ids]
        budget = self.context.recall_budget
        if plan.fold:
            system = with_memory(request.system_message, memory.get("summary", ""), [])
            rest = [*([system] if system is not None else []), *view]
            budget = budget_after_fold(budget, self.policy.low, counter.prompt(rest))
        memory["recalled"] = self._recall(memory, view, store, thread, counter, budget)
        memory["ready"] = True
        return TurnStart(memory, gone, gone_ids)

    def _request(self, request: ModelRequest[Any], started: TurnStart | None) -> Fitted:
        """The request as the model should see it: the memory in the system message, the turns
        in view (those leaving it taken out), fitted to `max_tokens`."""
        if started is not None:
            memory = started.memory
            messages = [m for m in request.messages if m.id is None or m.id not in started.gone_ids]
        else:
            memory = cast(dict[str, Any], request.state.get("memoria") or {})
            messages = list(request.messages)
        summary, recalled = memory.get("summary", ""), memory.get("recalled") or []
        agent_system = request.system_message
        return fit_prompt(
            lambda excerpts: with_memory(agent_system, summary, excerpts),
            messages,
            recalled,
            self.context.max_tokens,
            TokenCounter(request.model),
        )

    @staticmethod
    def _sent(request: ModelRequest[Any], fitted: Fitted) -> ModelRequest[Any]:
        return request.override(
            system_message=cast(SystemMessage | None, fitted.system),
            messages=cast(list[AnyMessage], fitted.view),
        )

    @staticmethod
    def _respond(
        request: ModelRequest[Any], response: Any, started: TurnStart | None, fitted: Fitted
    ) -> Any:
        """The model's response, with the turn's planned memory as a state update (first call),
        and the excerpts actually sent when fitting left some out (the memory tool names only
        what the model was shown)."""
        memory = (
            started.memory
            if started is not None
            else cast(dict[str, Any], request.state.get("memoria") or {})
        )
        update: dict[str, Any] = {}
        if started is not None:
            update["messages"] = removals(started.gone)
        if started is not None or len(fitted.recalled) != len(memory.get("recalled") or []):
            update["memoria"] = {**memory, "recalled": fitted.recalled}
        if not update:
            return response
        return ExtendedModelResponse(model_response=response, command=Command(update=update))

    def _recall(
        self,
        memory: dict[str, Any],
        view: list[BaseMessage],
        store: BaseStore | None,
        thread: str,
        counter: TokenCounter,
        budget: int,
    ) -> list[dict[str, Any]]:
        first_in_view = memory.get("folded", 0)
        if not budget or first_in_view <= 0:
            return []
        completed, current = split_current(group_turns(view))
        previous = [m for m in (completed[-1] if completed else []) if m.type == "human"]
        found = find_excerpts(
            self._transcript(store),
            thread,
            turn_text([m for m in current if m.type == "human"]),
            language=memory.get("language") or "en",
            previous=turn_text(previous),
            before=first_in_view,
            budget_tokens=budget,
            max_turns=self.context.recall_turns,
            count=counter.text,
        )
        return [excerpt.as_dict() for excerpt in found.excerpts]

    def _fold(
        self,
        memory: dict[str, Any],
        folding: list[BaseMessage],
        model: BaseChatModel,
        counter: TokenCounter,
    ) -> None:
        """Merge `folding` into the running summary. A summary that fails falls back to the
        extractive one, so that the view stays bounded; `summary_error` says why."""
        memory["summary"], error = fold_into_summary(
            self._summariser or default_summariser(model),
            memory.get("summary", ""),
            folding,
            self.policy.effective_summary_cap,
            counter,
            self.context.summary_timeout,
        )
        memory["summary_error"] = error
        memory["summary_failures"] = memory.get("summary_failures", 0) + 1 if error else 0

    def _transcript(self, store: BaseStore | None) -> Transcript:
        if self._archive is not None:
            return self._archive
        if store is None:
            raise ValueError(
                "MemoriaMiddleware keeps the transcript in the agent's store: pass "
                "create_agent(..., store=...), or give MemoriaMiddleware(db=...)"
            )
        return StoreTranscript(store)

    def _scope_of(self, runtime: ToolRuntime) -> SearchScope | str:
        state: dict[str, Any] = runtime.state if isinstance(runtime.state, dict) else {}
        memory = state.get("memoria") or {}
        try:
            thread = memory_thread()
        except ValueError:
            return "This conversation has no thread, so no transcript to search."
        transcript = self._transcript(runtime.store)
        return SearchScope(
            transcript=transcript,
            thread_id=thread,
            language=memory.get("language") or transcript.thread_language(thread) or "en",
            before=memory.get("folded", 0),
            budget_tokens=self.context.memory_tool_budget,
            max_turns=self.context.recall_turns or RECALL_TURNS,
            count=TokenCounter(None).text,
            shown={item["turn"] for item in memory.get("recalled") or []},
        )

    # Reading

    def transcript(
        self,
        thread_id: str,
        *,
        store: BaseStore | None = None,
        state: dict[str, Any] | None = None,
    ) -> list[BaseMessage]:
        """Every archived message of a thread, in order; with the agent's `state`
        (`agent.get_state(config).values`), only its completed turns."""
        committed = ((state or {}).get("memoria") or {}).get("turns") if state else None
        transcript = self._transcript(store)
        if isinstance(transcript, StoreTranscript):
            turns = transcript.read(thread_id, committed)
        else:
            turns = transcript.read(thread_id, stop=committed)  # type: ignore[attr-defined]
        return [message for turn in turns for message in turn.messages]


@dataclass(frozen=True)
class TurnStart:
    """What a turn's first model call planned: the memory to save, and the messages that left
    the view (with their ids)."""

    memory: dict[str, Any]
    gone: list[BaseMessage]
    gone_ids: set[str | None]


def planned_messages(request: ModelRequest[Any]) -> list[AnyMessage]:
    """The messages a turn's plan works on: the state's, with the results `create_agent` made up
    for malformed tool calls (it writes them into the state along with the reply). What other
    middleware shows the model besides is left out."""
    in_state = {m.id for m in request.state["messages"]}
    messages: list[AnyMessage] = []
    for message in request.messages:
        if message.id is None and isinstance(message, ToolMessage):
            # A repair made for this call: named now, so that the history the agent writes
            # back and the removals of a fold agree on it.
            message.id = str(uuid.uuid4())
            messages.append(message)
        elif message.id in in_state:
            messages.append(message)
    return messages


def unfinished_turn(messages: Sequence[AnyMessage], opened: Sequence[str]) -> list[AnyMessage]:
    """The messages a turn that never finished left in the state: from the first message that
    opened it up to the next human message that did not. When no such message follows, the new
    input re-used the opening messages' ids (a client retrying the same message, which
    `add_messages` puts back in place): then only what answered them goes."""
    start = next((i for i, m in enumerate(messages) if m.id in opened), None)
    if start is None:
        return []
    stale: list[AnyMessage] = []
    for message in messages[start:]:
        if isinstance(message, HumanMessage) and message.id not in opened:
            return stale
        stale.append(message)
    return [m for m in stale if not isinstance(m, HumanMessage)]


def with_memory(
    system: SystemMessage | None, summary: str, recalled: Sequence[Mapping[str, Any]]
) -> SystemMessage | None:
    """The agent's system message with the summary and the recalled excerpts after it (as a text
    block of its own when the message has blocks, so cache markers stay where they are)."""
    if not summary and not recalled:
        return system
    memory = system_message("", summary, recalled).text.strip()
    if system is None:
        return SystemMessage(memory)
    if isinstance(system.content, str):
        text = f"{system.content}\n\n{memory}" if system.content else memory
        return system.model_copy(update={"content": text})
    return system.model_copy(
        update={"content": [*system.content, {"type": "text", "text": memory}]}
    )


def memory_thread() -> str:
    """Whose transcript this run writes: the run's `thread_id`, and for an agent run inside
    another graph (a sub-agent called from a tool) the path of nodes it runs under, so that it
    never writes into the transcript of the agent that called it."""
    configurable = get_config().get("configurable") or {}
    thread_id = configurable.get("thread_id")
    if thread_id is None:
        raise ValueError(
            "MemoriaMiddleware needs a thread: invoke the agent with "
            "config={'configurable': {'thread_id': ...}} and a checkpointer"
        )
    # Inside a node the namespace is the graph's own path, then "node:task" for the node itself.
    path = str(configurable.get("checkpoint_ns") or "").split("|")[:-1]
    if not path:
        return str(thread_id)
    return f"{thread_id}#{'/'.join(part.split(':')[0] for part in path)}"
