"""The graph's nodes: `trim`, `summarise`, `recall`, `model` and `archive` (with `tools`,
LangGraph's `ToolNode`, in `graph.py`), plus the routes after `trim` and after `model`.

Every node gets the run's `Context` (model specs and memory settings) through the LangGraph runtime;
the models, summariser, transcript and tools that `build_graph` fixed, if any, come through `Parts`
(`memoria.parts`), which decides what the run uses.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal, TypeVar

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.runtime import Runtime

from memoria.analysis import detect_language
from memoria.context import Context
from memoria.errors import describe_error, redact_value
from memoria.fence import fenced
from memoria.ids import thread_of
from memoria.memory import (
    MemoryPlan,
    MemoryPolicy,
    flatten,
    group_turns,
    plan_memory,
    split_current,
    unfinished_loop,
)
from memoria.models import check_reply_complete
from memoria.parts import Parts
from memoria.presets import SUMMARISING_PRESETS
from memoria.prompts import SUMMARY_HEADER, fit_prompt, system_message
from memoria.recall import budget_after_fold, find_excerpts
from memoria.state import State
from memoria.summaries import (
    ExtractiveSummariser,
    Summariser,
    SummaryError,
    check_summary,
)
from memoria.tokens import TokenCounter, calibrate, estimate_prompt_tokens, message_text
from memoria.tools import check_tool_rounds
from memoria.transcript import ArchivedTurn, turn_text

T = TypeVar("T")

SUMMARY_CAP_TOLERANCE = 1.25
"""A summary may exceed its cap by this factor (token estimates are approximate) before it is refused."""


def run_context(runtime: Runtime[Context]) -> Context:
    """The run's context; a run started without one gets the defaults (and the environment)."""
    return runtime.context if isinstance(runtime.context, Context) else Context()


def plan_view(
    messages: Sequence[BaseMessage],
    system: SystemMessage | None,
    summary: str,
    policy: MemoryPolicy,
    counter: TokenCounter,
) -> tuple[MemoryPlan, list[list[BaseMessage]]]:
    """The plan for a turn's view: what cannot be folded is the system prompt, the current turn
    and the header the summary comes under; the completed turns are returned too."""
    completed, current = split_current(group_turns(messages))
    fixed = counter.prompt([*([system] if system is not None else []), *current])
    if policy.preset in SUMMARISING_PRESETS:  # the recall budget pays for its own header
        fixed += counter.text(f"\n\n{SUMMARY_HEADER}\n")
    plan = plan_memory(
        [counter.messages(turn) for turn in completed],
        fixed_tokens=fixed,
        summary_tokens=counter.text(summary),
        policy=policy,
    )
    return plan, completed


def trim(state: State, runtime: Runtime[Context], *, parts: Parts) -> dict[str, Any]:
    """Plan this turn's memory and let go of what the `window` preset discards.

    Reads `messages`, `summary` and `token_scale` (the recall budget is reserved out of the
    limit). Writes `messages` (removals of whole turns beyond the last k, `window` preset only;
    and of what a tool loop that never got its reply left, in a graph run without Memoria's
    rollback), `fold_due` (oldest turns to fold into the summary next), `settings` (this run's
    context, when it differs from the thread's last) and a fresh `report`. Summarising presets
    never remove here: what leaves their view is folded first.
    """
    context = run_context(runtime)
    stale = unfinished_loop(state.messages)
    plan, completed = plan_view(
        [m for m in state.messages if not any(m is s for s in stale)],
        SystemMessage(context.system_prompt),
        state.summary,
        context.policy(),
        parts.counter(context, state.token_scale),
    )
    dropped = flatten(completed[: plan.drop])
    update: dict[str, Any] = {
        "messages": removals([*stale, *dropped]),
        "fold_due": plan.fold,
        "report": {
            "turn_started": True,
            "memory": context.memory,
            "context_tokens": plan.context_tokens,
            "trimmed_turns": plan.drop,
            "trimmed_messages": len(dropped),
            "fold_due": plan.fold,
        },
    }
    if (settings := context.settings()) != state.settings:
        update["settings"] = settings
    return update


def removals(messages: list[BaseMessage]) -> list[RemoveMessage]:
    """Removals of `messages` from the state (`add_messages` gives every message an id)."""
    return [RemoveMessage(id=message.id) for message in messages if message.id]


def route_after_trim(state: State) -> Literal["summarise", "recall"]:
    """Summarise only when `trim` found turns to fold (above the high mark, or the `summary` preset)."""
    return "summarise" if state.fold_due else "recall"


def summarise(state: State, runtime: Runtime[Context], *, parts: Parts) -> dict[str, Any]:
    """Fold the oldest `fold_due` completed turns into the running summary.

    Reads `messages`, `summary`, `fold_due`, `summarised_turns` and `summary_failures`. Writes the
    merged `summary`, removes the folded turns from `messages` (they stay in the transcript, and
    recallable). If the summariser raises, times out, answers nothing, overshoots the cap,
    repeats its instructions or writes something unrelated to the turns, the turns are folded
    with the extractive summary instead, so the view stays within its limit; `summary_error` and
    `summary_failures` record why, and the next fold asks the summariser again (merging what the
    extractive summary kept). A successful fold clears them.
    """
    context = run_context(runtime)
    counter = parts.counter(context, state.token_scale)
    completed, _ = split_current(group_turns(state.messages))
    folding = flatten(completed[: state.fold_due])
    summary, error = fold_into_summary(
        parts.summariser_for(context),
        state.summary,
        folding,
        context.policy().effective_summary_cap,
        counter,
        context.summary_timeout,
    )
    report: dict[str, Any] = {
        "folded_turns": state.fold_due,
        "folded_messages": len(folding),
        "summary_tokens": counter.text(summary),
    }
    return {
        "summary": summary,
        "messages": removals(folding),
        "summarised_turns": state.summarised_turns + state.fold_due,
        "fold_due": 0,
        "summary_error": error,
        "summary_failures": state.summary_failures + 1 if error else 0,
        "report": {**report, "summary_error": error} if error else report,
    }


def fold_into_summary(
    summariser: Summariser,
    previous: str,
    folding: list[BaseMessage],
    cap: int,
    counter: TokenCounter,
    timeout: float,
) -> tuple[str, str]:
    """`folding` merged into the `previous` summary, and "" — or, when the summariser fails or
    writes what is not a summary of them, the extractive summary and why it failed."""
    try:
        return checked_summary(summariser, previous, folding, cap, counter, timeout), ""
    except GraphBubbleUp:
        raise
    except Exception as exc:
        fallback = ExtractiveSummariser().summarise(previous, folding, cap, counter.text)
        return fallback, describe_error(exc)


def checked_summary(
    summariser: Summariser,
    previous: str,
    folding: list[BaseMessage],
    cap: int,
    counter: TokenCounter,
    timeout: float,
) -> str:
    """The summariser's summary of `previous` and `folding`, within `timeout` seconds; SummaryError
    if it is empty, over the cap, or not a summary of them (`check_summary`). The built-in
    extractive summariser runs in place: it cannot hang, and a thread per fold costs a turn."""
    if type(summariser) is ExtractiveSummariser:  # Memoria's own: it cannot hang
        summary = summariser.summarise(previous, folding, cap, counter.text)
    else:
        summary = call_with_timeout(
            lambda: summariser.summarise(previous, folding, cap, counter.text), timeout
        )
    # Postgres cannot store NUL in the checkpoint's text; a summary loses nothing by it.
    summary = summary.replace("\x00", "").strip()
    if not summary:
        raise SummaryError("the summary model returned an empty summary")
    if not getattr(summariser, "extractive", False):  # its words are the turns' own
        check_summary(summary, previous, folding)
    if (size := counter.text(summary)) > cap * SUMMARY_CAP_TOLERANCE:
        raise SummaryError(f"the summary has {size} tokens, over its cap of {cap}")
    return summary


def call_with_timeout(fn: Callable[[], T], timeout: float) -> T:
    """Run `fn` in a worker thread (keeping callbacks and config) and give up after `timeout` s."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memoria-summary")
    future = pool.submit(contextvars.copy_context().run, fn)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        raise TimeoutError(f"the summary model did not answer within {timeout:g}s") from None
    finally:
        pool.shutdown(wait=False)


def recall(
    state: State, runtime: Runtime[Context], config: RunnableConfig, *, parts: Parts
) -> dict[str, Any]:
    """Bring back the earlier turns that bear on the new message, including any just folded.

    Reads `messages` (the new message, and the turns still in view), `turns` and `language`, and
    on a turn that folded (`report`) the new `summary`, which the recall budget gives way to.
    Searches the thread's transcript, below the first turn still in view, with the new message and
    the previous turn as the query (the database's own full-text ranking), and writes `recalled`:
    the sentences of the best matches that fit the recall budget, one excerpt per turn, in
    conversation order, with their turn number, time and score; and `report["recall"]`.
    Never recalls a turn that is still in view.
    """
    context = run_context(runtime)
    budget, thread_id = context.recall_budget, thread_of(config)
    transcript = parts.transcript_for(runtime.store)
    completed, current = split_current(group_turns(state.messages))
    first_in_view = state.turns - len(completed)
    if not budget or transcript is None or thread_id is None or first_in_view <= 0:
        return {
            "recalled": [],
            "report": {"recall": {"budget": budget, "turns": []}},
        }
    language = state.language or transcript.thread_language(thread_id) or "en"
    previous = [m for m in (completed[-1] if completed else []) if m.type == "human"]
    counter = parts.counter(context, state.token_scale)
    if state.report.get("folded_turns"):
        rest = [system_message(context.system_prompt, state.summary), *state.messages]
        budget = budget_after_fold(budget, context.policy().low, counter.prompt(rest))
    found = find_excerpts(
        transcript,
        thread_id,
        turn_text([m for m in current if m.type == "human"]),
        language=language,
        previous=turn_text(previous),
        before=first_in_view,
        budget_tokens=budget,
        max_turns=context.recall_turns,
        count=counter.text,
    )
    chosen = found.excerpts
    return {
        "recalled": [excerpt.as_dict() for excerpt in chosen],
        "language": language,
        "report": {
            "recall": {
                "budget": budget,
                "query_terms": len(found.terms),
                "searched_below_turn": first_in_view + 1,
                "turns": [{"turn": r.turn + 1, "score": r.score} for r in chosen],
                "tokens": sum(r.tokens for r in chosen),
            },
        },
    }


def call_model(
    state: State, runtime: Runtime[Context], config: RunnableConfig, *, parts: Parts
) -> dict[str, Any]:
    """Call the model for the current turn.

    Reads `messages`, `summary`, `recalled`, `token_scale` and `report`; sends the system prompt
    with the summary and the recalled excerpts, then the turns in view, with older tool results
    shortened if the prompt would pass `max_tokens` (`prompts.fit_prompt`), and the offered tools
    bound. Writes the reply to `messages`, recalibrates `token_scale` from the usage the provider
    reported, and adds the prompt size, the usage and the model calls so far to `report`. A reply
    that calls tools goes to `tools`; one made after `max_tool_rounds` model calls raises
    ToolLoopError; the reply that ends the turn goes to `archive`.
    """
    context = run_context(runtime)
    model = parts.chat_model(context)
    tools = parts.offered_tools(context, model)
    counter = parts.counter(context, state.token_scale)
    _, current = split_current(group_turns(state.messages))
    calls = 1 + sum(isinstance(m, AIMessage) for m in current)
    fitted = fit_prompt(
        lambda excerpts: system_message(context.system_prompt, state.summary, excerpts),
        state.messages,
        state.recalled,
        context.max_tokens,
        counter,
    )
    prompt = fitted.prompt
    estimate = counter.prompt(prompt)
    reply = (model.bind_tools(tools) if tools else model).invoke(prompt)
    check_reply_complete(model, reply)
    reply = without_secrets(reply)
    reply.id = reply.id or str(uuid.uuid4())
    for call in [*reply.tool_calls, *reply.invalid_tool_calls]:
        call["id"] = call["id"] or f"call_{uuid.uuid4().hex[:24]}"
    if reply.tool_calls or reply.invalid_tool_calls:
        check_tool_rounds(calls, context.max_tool_rounds)
    scale = state.token_scale
    if counter.exact is None:
        reported = reply.usage_metadata["input_tokens"] if reply.usage_metadata else None
        scale = calibrate(scale, estimate_prompt_tokens(prompt), reported)
    # The report covers the whole turn: the largest prompt of its tool loop, the usage summed.
    so_far = state.report if calls > 1 else {}
    update: dict[str, Any] = {
        "messages": [reply, *unreadable_calls(reply)],
        "token_scale": scale,
        "report": {
            "prompt_tokens_estimate": max(estimate, so_far.get("prompt_tokens_estimate", 0)),
            "usage": _added_usage(so_far.get("usage"), reply.usage_metadata),
            "model_calls": calls,
        },
    }
    if len(fitted.recalled) < len(state.recalled):  # the memory tool names only what was sent
        update["recalled"] = fitted.recalled
    return update


def archive(
    state: State, runtime: Runtime[Context], config: RunnableConfig, *, parts: Parts
) -> dict[str, Any]:
    """Archive the turn the model has just ended in the thread's transcript.

    Reads `messages` (the current turn, from its human message to the reply), `turns`,
    `summary`, `summarised_turns`, `language` and `report` (whether this turn folded). Writes
    `turns` (one more) and `language` (fixed on the thread's first turn). The archived turn
    carries the summary when this turn folded, so that the thread can later be forked as it
    stood. A Memoria turn that fails or is cancelled after this node discards the archived turn
    again (`Turn._rollback`); the fence keeps a cancelled turn's worker from writing at all.
    """
    context = run_context(runtime)
    _, turn = split_current(group_turns(state.messages))
    language = state.language or thread_language(context, turn)
    transcript, thread_id = parts.transcript_for(runtime.store), thread_of(config)
    if transcript is not None and thread_id is not None:
        folded_now = bool(state.report.get("folded_turns"))
        with fenced(config):
            transcript.archive(
                thread_id,
                ArchivedTurn(
                    number=state.turns,
                    messages=turn,
                    summary=state.summary if folded_now else None,
                    folded=state.summarised_turns,
                ),
                language,
            )
    return {"turns": state.turns + 1, "language": language}


def without_secrets(reply: AIMessage) -> AIMessage:
    """The reply with every known secret redacted from its text and its tool calls' arguments:
    what a provider echoes back ("your key is ...") is stored and shown like anything else. A
    call whose arguments did not parse keeps them as raw text, redacted the same way."""
    content = redact_value(reply.content)
    calls = [{**call, "args": redact_value(call["args"])} for call in reply.tool_calls]
    unread = [
        {**call, **{key: redact_value(call[key]) for key in ("args", "error") if key in call}}
        for call in reply.invalid_tool_calls
    ]
    if (
        content == reply.content
        and calls == reply.tool_calls
        and unread == reply.invalid_tool_calls
    ):
        return reply
    return reply.model_copy(
        update={"content": content, "tool_calls": calls, "invalid_tool_calls": unread}
    )


def _added_usage(before: dict[str, Any] | None, usage: Any) -> dict[str, Any]:
    """The provider's usage for the turn so far: every model call of its tool loop added up."""
    total = dict(before or {})
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        if usage and key in usage:
            total[key] = total.get(key, 0) + usage[key]
    return total


def unreadable_calls(reply: AIMessage) -> list[ToolMessage]:
    """An error result for each call whose arguments did not parse (a provider's malformed or
    cut JSON): the model reads why and can call again; providers refuse a call without one."""
    return [
        ToolMessage(
            f"Error: the arguments of this call to {call.get('name') or 'a tool'} could not be "
            f"read ({call.get('error') or 'malformed JSON'}); call it again with valid JSON.",
            tool_call_id=call["id"],
            name=call.get("name") or "",
            status="error",
        )
        for call in reply.invalid_tool_calls
    ]


def route_after_model(state: State) -> Literal["tools", "model", "archive"]:
    """To `tools` while the model's last reply asks for tool calls; back to `model` when all it
    asked for were calls that could not be read (their errors are its results); else the turn
    is over, and goes to `archive`."""
    reply = next((m for m in reversed(state.messages) if isinstance(m, AIMessage)), None)
    if reply is not None and reply.tool_calls:
        return "tools"
    if reply is not None and reply.invalid_tool_calls:
        return "model"
    return "archive"


def thread_language(context: Context, turn: list[BaseMessage]) -> str:
    """The language a thread is indexed in: the setting, else detected from its first turn."""
    if context.language != "auto":
        return context.language
    return detect_language("\n".join(message_text(m) for m in turn)) or "en"
