"""The graph's nodes: `trim`, `summarise` and `model`, plus the route between them.

Every node gets the run's `Context` (model specs and memory settings) through the LangGraph runtime,
and the models `build_graph` fixed, if any, through `models`.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, RemoveMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.constants import TAG_NOSTREAM
from langgraph.errors import GraphBubbleUp
from langgraph.runtime import Runtime

from graph.context import Context
from graph.memory import MemoryPlan, flatten, group_turns, plan_memory, split_current
from graph.models import check_reply_complete, load_chat_model
from graph.prompts import build_prompt, summariser_messages
from graph.state import State
from graph.tokens import TokenCounter, calibrate, estimate_prompt_tokens
from graph.transcript import archive_turn

T = TypeVar("T")

SUMMARY_CAP_TOLERANCE = 1.25
"""A summary may exceed its cap by this factor (token estimates are approximate) before it is refused."""


class SummaryError(RuntimeError):
    """The summary model answered, but not with a usable summary."""


@dataclass(frozen=True)
class Models:
    """Models fixed by `build_graph`; where one is None it is loaded from the run's `Context`."""

    chat: BaseChatModel | None = None
    summary: BaseChatModel | None = None

    def chat_model(self, context: Context) -> BaseChatModel:
        return self.chat or load_chat_model(context.model, context.request_timeout)

    def summary_model(self, context: Context) -> BaseChatModel:
        if context.summary_model:
            return self.summary or load_chat_model(context.summary_model, context.request_timeout)
        return self.summary or self.chat_model(context)


def run_context(runtime: Runtime[Context]) -> Context:
    """The run's context; a run started without one gets the defaults (and the environment)."""
    return runtime.context if isinstance(runtime.context, Context) else Context()


def plan_turn(
    state: State, context: Context, model: BaseChatModel | None
) -> tuple[MemoryPlan, list[list[AnyMessage]]]:
    """Plan what to drop or fold before the current turn is answered; returns the completed turns too."""
    counter = TokenCounter(model, state.token_scale)
    completed, current = split_current(group_turns(state.messages))
    plan = plan_memory(
        [counter.messages(turn) for turn in completed],
        fixed_tokens=counter.prompt([SystemMessage(context.system_prompt), *current]),
        summary_tokens=counter.text(state.summary),
        policy=context.policy(),
    )
    return plan, completed


def trim(state: State, runtime: Runtime[Context], *, models: Models) -> dict[str, Any]:
    """Plan this turn's memory and let go of what the `window` preset discards.

    Reads `messages`, `summary` and `token_scale`. Writes `messages` (removals of whole turns beyond
    the last k, `window` preset only), `fold_due` (oldest turns to fold into the summary next),
    `settings` (this run's context) and a fresh `report`. Summarising presets never remove here:
    what leaves their view is folded first.
    """
    context = run_context(runtime)
    plan, completed = plan_turn(state, context, models.chat_model(context))
    dropped = flatten(completed[: plan.drop])
    return {
        "messages": [RemoveMessage(id=message.id) for message in dropped],
        "fold_due": plan.fold,
        "settings": context.settings(),
        "report": {
            "turn_started": True,
            "memory": context.memory,
            "context_tokens": plan.context_tokens,
            "trimmed_turns": plan.drop,
            "trimmed_messages": len(dropped),
            "fold_due": plan.fold,
        },
    }


def route_after_trim(state: State) -> Literal["summarise", "model"]:
    """Summarise only when `trim` found turns to fold (above the high mark, or the `summary` preset)."""
    return "summarise" if state.fold_due else "model"


def summarise(state: State, runtime: Runtime[Context], *, models: Models) -> dict[str, Any]:
    """Fold the oldest `fold_due` completed turns into the running summary.

    Reads `messages`, `summary`, `fold_due`, `summarised_turns` and `summary_failures`. On success
    writes the merged `summary`, removes the folded turns from `messages` and clears `summary_error`.
    If the summary model raises, times out, answers nothing or overshoots the cap, it removes nothing:
    the turns stay verbatim, `summary_error` and `summary_failures` record why, and the next turn retries.
    """
    context = run_context(runtime)
    policy = context.policy()
    counter = TokenCounter(models.chat_model(context), state.token_scale)
    completed, _ = split_current(group_turns(state.messages))
    folding = flatten(completed[: state.fold_due])
    cap = policy.effective_summary_cap
    try:
        summary = call_with_timeout(
            lambda: write_summary(
                models.summary_model(context), state.summary, folding, cap, counter.text
            ),
            context.summary_timeout,
        ).strip()
        if not summary:
            raise SummaryError("the summary model returned an empty summary")
        if (size := counter.text(summary)) > cap * SUMMARY_CAP_TOLERANCE:
            raise SummaryError(f"the summary has {size} tokens, over its cap of {cap}")
    except GraphBubbleUp:
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        return {
            "fold_due": 0,
            "summary_error": error,
            "summary_failures": state.summary_failures + 1,
            "report": {"summary_error": error},
        }
    return {
        "summary": summary,
        "messages": [RemoveMessage(id=message.id) for message in folding],
        "summarised_turns": state.summarised_turns + state.fold_due,
        "fold_due": 0,
        "summary_error": "",
        "summary_failures": 0,
        "report": {
            "folded_turns": state.fold_due,
            "folded_messages": len(folding),
            "summary_tokens": size,
        },
    }


def write_summary(
    model: BaseChatModel,
    previous: str,
    messages: list[AnyMessage],
    cap_tokens: int,
    count: Callable[[str], int],
) -> str:
    """Merge `messages` into `previous`; a model with a native `summarise` (echo) does it itself."""
    native = getattr(model, "summarise", None)
    if callable(native):
        return native(previous, messages, cap_tokens, count)
    # Words per token is about 0.75 in English and a little lower in Spanish.
    prompt = summariser_messages(previous, messages, max_words=max(10, int(cap_tokens * 0.7)))
    runnable = (
        model.bind(max_tokens=cap_tokens) if "max_tokens" in type(model).model_fields else model
    )
    reply = runnable.invoke(prompt, config={"tags": [TAG_NOSTREAM], "run_name": "summarise"})
    return reply.text if hasattr(reply, "text") else str(reply.content)


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


def call_model(
    state: State, runtime: Runtime[Context], config: RunnableConfig, *, models: Models
) -> dict[str, Any]:
    """Answer the current turn.

    Reads `messages`, `summary`, `token_scale` and `turns`; sends the system prompt with the summary,
    then the turns in view. Writes the reply to `messages`, increments `turns`, recalibrates
    `token_scale` from the usage the provider reported, and adds prompt size and usage to `report`.
    With a store, archives the completed turn in the thread's transcript.
    """
    context = run_context(runtime)
    model = models.chat_model(context)
    counter = TokenCounter(model, state.token_scale)
    prompt = build_prompt(context.system_prompt, state.summary, state.messages)
    estimate = counter.prompt(prompt)
    reply = model.invoke(prompt)
    check_reply_complete(model, reply)
    reply.id = reply.id or str(uuid.uuid4())
    usage = dict(reply.usage_metadata or {})
    scale = state.token_scale
    if counter.exact is None:
        scale = calibrate(scale, estimate_prompt_tokens(prompt), usage.get("input_tokens"))
    thread_id = config.get("configurable", {}).get("thread_id")
    if runtime.store is not None and thread_id is not None:
        _, current = split_current(group_turns(state.messages))
        archive_turn(runtime.store, str(thread_id), state.turns, [*current, reply])
    return {
        "messages": [reply],
        "turns": state.turns + 1,
        "token_scale": scale,
        "report": {"prompt_tokens_estimate": estimate, "usage": usage},
    }
