"""A slow echo model, for tests that must catch a turn mid-reply; and a way to run the `memoria`
command (or any module) with it.

In process, pass `SlowEcho(delay=...)` as the model. In a subprocess, run this file instead of the
installed command; `--model echo:<seconds>` (or `MEMORIA_MODEL=echo:<seconds>`) then means the echo
model answering one word every <seconds>, and everything else is the real command:

    python tests/slow_echo.py memoria ask hola --model echo:0.05 --db chat.sqlite
    python tests/slow_echo.py -m uvicorn --app-dir examples backend:app

Product code has no such model: `echo` takes no argument there.
"""

from __future__ import annotations

import re
import runpy
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import memoria.models
from memoria.models import EchoChatModel

SCRIPT = Path(__file__).resolve()


class SlowEcho(EchoChatModel):
    """The echo model, `delay` seconds per word: as a whole reply, or word by word streamed."""

    delay: float = 0.0

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any):
        time.sleep(self.delay * len(self._reply(messages).split()))
        return super()._generate(messages, stop, run_manager, **kwargs)

    def _stream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[Any]:
        for chunk in super()._stream(messages, stop, run_manager, **kwargs):
            if chunk.message.content:
                time.sleep(self.delay * len(re.findall(r"\S+", str(chunk.message.content))))
            yield chunk


def install() -> None:
    """Make `echo:<seconds>` name a `SlowEcho` for every module that loads models afterwards."""
    original = memoria.models.load_chat_model

    def load_chat_model(spec: str, timeout: float = memoria.models.DEFAULT_TIMEOUT) -> Any:
        name, _, delay = spec.strip().partition(":")
        if name == "echo" and delay:
            return SlowEcho(delay=float(delay))
        return original(spec, timeout)

    memoria.models.load_chat_model = load_chat_model  # type: ignore[assignment]


def command(*args: str) -> list[str]:
    """The command line that runs `memoria ARGS` with the slow echo model."""
    return [sys.executable, str(SCRIPT), "memoria", *args]


if __name__ == "__main__":
    install()
    if sys.argv[1] == "-m":
        sys.argv = [sys.argv[2], *sys.argv[3:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = ["memoria", *sys.argv[2:]]
        from memoria.cli import run

        run()
