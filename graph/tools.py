"""Tools in Memoria's graph: which tools a turn offers the model, how their failures reach it, and
the bound on a tool loop.

A turn is the human message and everything that answers it, the whole tool loop included: `model`
calls the model with the tools bound, `tools` (LangGraph's `ToolNode`) runs the calls it asked for
and hands back to `model`, until a reply asks for none. A tool that raises gives the model the error
as its result (one redacted line) and the turn goes on; a model that keeps calling tools past
`Context.max_tool_rounds` model calls ends the turn with `ToolLoopError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.prebuilt.tool_node import ToolInvocationError

from memoria.errors import describe_error, redact, redact_value
from memoria.fence import TurnCancelled

MAX_ERROR_CHARS = 4000

ToolLike = BaseTool | Callable[..., Any]
"""A LangChain tool, or a plain function with type hints and a docstring (made a tool for you)."""


class ToolLoopError(RuntimeError):
    """The model kept calling tools past `max_tool_rounds` model calls in one turn."""


class ToolsUnsupportedError(ValueError):
    """Tools were asked for, but the chat model cannot call tools."""


class ToolInterruptError(RuntimeError):
    """A tool paused the graph for human input (LangGraph's `interrupt`), which a Memoria turn
    cannot wait for."""


def as_tools(tools: Iterable[ToolLike]) -> list[BaseTool]:
    """`tools` as LangChain tools; plain functions are wrapped with `@tool`. Names must be unique."""
    converted: list[BaseTool] = []
    for item in tools:
        if isinstance(item, BaseTool):
            converted.append(item)
        elif callable(item):
            converted.append(tool(item))
        else:
            raise TypeError(f"not a tool or a function: {type(item).__name__}")
    names = [t.name for t in converted]
    if duplicate := next((name for name in names if names.count(name) > 1), None):
        raise ValueError(f"two tools are named {duplicate!r}: tool names must be unique")
    return converted


def calls_tools(model: BaseChatModel) -> bool:
    """Whether the model can be bound to tools (its class implements `bind_tools`)."""
    return type(model).bind_tools is not BaseChatModel.bind_tools


def tool_error_text(error: Exception) -> str:
    """What the model receives when a tool raises: one line, secrets redacted; for arguments that
    do not fit the tool's schema, the whole validation message, which says how to fix them. A
    cancelled turn is not a tool failure: it goes on up and ends the turn."""
    if isinstance(error, TurnCancelled):
        raise error
    if isinstance(error, ToolInvocationError):
        return redact(error.message)[:MAX_ERROR_CHARS]
    return f"Error: the tool failed: {describe_error(error)}"


def redacting(request: Any, execute: Callable[[Any], Any]) -> Any:
    """`ToolNode`'s `wrap_tool_call`: a tool's result with every known secret redacted, since it
    is shown and stored (a tool that echoes a key would otherwise put it in the transcript)."""
    result = execute(request)
    if isinstance(result, ToolMessage):
        content = redact_value(result.content)
        if content != result.content:
            result = result.model_copy(update={"content": content})
    return result


def check_tool_rounds(calls: int, limit: int) -> None:
    """Raise ToolLoopError when a reply that asks for tools is model call number `calls` and the
    turn may make only `limit`."""
    if calls >= limit:
        raise ToolLoopError(
            f"the model was still calling tools after {calls} model calls in one turn "
            f"(max_tool_rounds is {limit}); the turn was stopped"
        )


def load_tools(reference: str) -> list[BaseTool]:
    """The tools `MODULE:NAME` names: a tool, a function, or a list of them. MODULE is a module
    importable from the installed packages or the current directory, or the path of a `.py`
    file. This is how the command line takes tools; a thread, an import or a settings file never
    names them."""
    module_name, _, attribute = reference.rpartition(":")
    if not module_name or not attribute:
        raise ValueError(f"--tools {reference!r}: give MODULE:NAME (e.g. mytools:TOOLS)")
    try:
        value: Any = _import(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise ValueError(f"--tools {reference!r}: no module named {module_name!r}") from None
        raise ValueError(f"--tools {reference!r}: importing {module_name} failed: {exc}") from None
    except Exception as exc:
        raise ValueError(
            f"--tools {reference!r}: importing {module_name} failed: {describe_error(exc)}"
        ) from None
    for name in attribute.split("."):
        if not hasattr(value, name):
            raise ValueError(f"--tools {reference!r}: {module_name} has no {attribute!r}")
        value = getattr(value, name)
    items = list(value) if isinstance(value, list | tuple) else [value]
    try:
        return as_tools(items)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"--tools {reference!r}: {exc}") from None


def _import(module: str) -> Any:
    """A module by name (the current directory is searched after the installed packages, so a
    file there never shadows one of them), or by the path of its `.py` file."""
    import importlib
    import importlib.util
    import os
    import sys

    if module.endswith(".py") or os.sep in module:
        path = os.path.abspath(module)
        if not os.path.isfile(path):
            raise ModuleNotFoundError(f"no file {module}", name=module)
        if os.path.dirname(path) not in sys.path:  # for the modules beside it
            sys.path.append(os.path.dirname(path))
        name = f"memoria_tools_{abs(hash(path)):x}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"cannot load {module}", name=module)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        spec.loader.exec_module(loaded)
        return loaded
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    return importlib.import_module(module)
