"""What a run uses, decided in one place: the chat model, the summariser, the token counter and
the tools, from the run's `Context` and whatever `build_graph` (or `Memoria`) fixed.

Anything fixed wins; anything left None is read from the context at run time, so one compiled graph
serves runs with different settings (LangGraph Studio's, a backend's per-request ones).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.store.base import BaseStore

from memoria.context import EXTRACTIVE, Context
from memoria.models import EchoChatModel, LocalChatModel, load_chat_model
from memoria.summaries import ExtractiveSummariser, ModelSummariser, Summariser
from memoria.tokens import TokenCounter
from memoria.tools import ToolsUnsupportedError, calls_tools
from memoria.transcript import StoreTranscript, Transcript


@dataclass(frozen=True)
class Parts:
    """What `build_graph` fixed; anything left None is taken from the run's `Context` (models) or
    the graph's store (transcript)."""

    chat: BaseChatModel | None = None
    summariser: Summariser | None = None
    transcript: Transcript | None = None
    tools: tuple[BaseTool, ...] = ()
    """The caller's tools, offered to the model every turn."""
    memory_tool: BaseTool | None = None
    """`search_conversation`, offered as `Context.memory_tool` says."""

    @classmethod
    def fixed(
        cls,
        model: BaseChatModel | str | None = None,
        summary_model: BaseChatModel | Summariser | str | None = None,
        *,
        tools: list[BaseTool] | tuple[BaseTool, ...] = (),
        transcript: Transcript | None = None,
    ) -> Parts:
        """Parts from what a caller passes: a chat model or a spec string for each model (for
        summaries also any `Summariser`, or "extractive")."""
        chat = load_chat_model(model) if isinstance(model, str) else model
        return cls(chat, fixed_summariser(summary_model), transcript, tuple(tools))

    def chat_model(self, context: Context) -> BaseChatModel:
        return self.chat or load_chat_model(context.model, context.request_timeout)

    def counter(self, context: Context, scale: float = 1.0) -> TokenCounter:
        """Token counts as the run's chat model sees them (exact where it can count)."""
        return TokenCounter(self.chat_model(context), scale)

    def summariser_for(self, context: Context) -> Summariser:
        """The fixed summariser; else the one the context names (`Context.summary_model_spec`);
        a fixed chat model with no summary model set summarises itself (`default_summariser`)."""
        if self.summariser is not None:
            return self.summariser
        if not context.summary_model and self.chat is not None:
            return default_summariser(self.chat)
        spec = context.summary_model_spec
        if spec == EXTRACTIVE:
            return ExtractiveSummariser()
        return ModelSummariser(load_chat_model(spec, context.request_timeout))

    def offered_tools(self, context: Context, model: BaseChatModel) -> list[BaseTool]:
        """The tools the model is bound to this turn: the caller's, and the memory tool when
        `context.memory_tool` is "on", or "auto" and the model can call tools. Raises
        ToolsUnsupportedError when tools are wanted but the model cannot call them."""
        wants_memory = context.memory_tool == "on" or (
            context.memory_tool == "auto" and calls_tools(model)
        )
        offered = [*self.tools]
        if wants_memory and self.memory_tool is not None:
            offered.append(self.memory_tool)
        if offered and not calls_tools(model):
            names = ", ".join(t.name for t in offered)
            shown = context.model if self.chat is None else type(model).__name__
            raise ToolsUnsupportedError(
                f"the model {shown!r} cannot call tools ({names}); pick a model that can "
                "(groq:..., or another provider's chat model)"
            )
        return offered

    def check(self, context: Context) -> list[BaseTool]:
        """Load what runs with `context` will use, so that a bad spec, a missing key or tools
        the model cannot call fail now; the tools the model will be offered."""
        parts = self if self.memory_tool is not None else self.with_memory_tool()
        offered = parts.offered_tools(context, parts.chat_model(context))
        parts.summariser_for(context)
        return offered

    def transcript_for(self, store: BaseStore | None) -> Transcript | None:
        """The fixed transcript, else the graph's store (Studio's, or the caller's)."""
        if self.transcript is not None:
            return self.transcript
        return StoreTranscript(store) if store is not None else None

    def with_transcript(self, transcript: Transcript | None) -> Parts:
        return self if transcript is None else replace(self, transcript=transcript)

    def with_memory_tool(self) -> Parts:
        """These parts, with the memory tool searching the transcript they point at."""
        from memoria.memory_tool import graph_memory_tool

        return replace(self, memory_tool=graph_memory_tool(self))


def default_summariser(model: BaseChatModel) -> Summariser:
    """The chat model summarises, except the offline ones, which get the extractive summariser."""
    if isinstance(model, EchoChatModel | LocalChatModel):
        return ExtractiveSummariser()
    return ModelSummariser(model)


def fixed_summariser(summary_model: BaseChatModel | Summariser | str | None) -> Summariser | None:
    """The summariser a caller names: any `Summariser`, "extractive", a chat model or its spec."""
    if summary_model is None or isinstance(summary_model, Summariser):
        return summary_model
    if summary_model == EXTRACTIVE:
        return ExtractiveSummariser()
    if isinstance(summary_model, str):
        summary_model = load_chat_model(summary_model)
    return ModelSummariser(summary_model)
