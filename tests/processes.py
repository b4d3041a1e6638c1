"""Processes run as a user runs them, for the end-to-end tests: a clean environment, output read
as it comes (with the time each piece arrived), Ctrl-C sent as a terminal would, `memoria chat`
in a real terminal."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pexpect
import slow_echo

MEMORIA = str(Path(sys.executable).with_name("memoria"))
SLOW_MEMORIA = slow_echo.command()
"""`memoria`, with `--model echo:<seconds>` a slow echo model (see `slow_echo`)."""
TESTS = Path(__file__).resolve().parent
TIMEOUT = 120.0
"""Seconds any one process may take before the test calls it a hang (startup alone is several
seconds on a loaded two-core machine)."""
PROMPT = "you> "
"""The chat's prompt, at a terminal."""


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the developer's keys and Memoria settings, with `extra` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GROQ_", "MEMORIA_"))}
    env.update(extra)
    return env


def user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment a user's shell would give `memoria`: no developer keys or settings, and
    a state folder (input history) of its own."""
    return clean_env(XDG_STATE_HOME=str(tmp_path / "state"), **extra)


def spawn_chat(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    program: list[str] | None = None,
) -> tuple[pexpect.spawn, io.StringIO]:
    """`memoria chat ARGS` (or `program chat ARGS`, e.g. SLOW_MEMORIA) in a terminal of its own
    (TERM=dumb, so no colours), with `env` (by default `user_env(tmp_path)`); returns the child
    and what it has printed so far."""
    log = io.StringIO()
    command = program or [MEMORIA]
    child = pexpect.spawn(
        command[0],
        [*command[1:], "chat", *args],
        env={**(env or user_env(tmp_path)), "TERM": "dumb"},
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(50, 200),
        preexec_fn=no_flush_on_ctrl_c,
    )
    child.logfile_read = log
    return child, log


def no_flush_on_ctrl_c() -> None:
    """In the chat's terminal, Ctrl-C does not discard output not yet read. By default the
    terminal drops what the program wrote and the test has not read yet when a Ctrl-C comes (as
    the user's terminal would, were it that slow): a later Ctrl-C of a burst would take the
    "[interrupted" line that answered the first with it."""
    attributes = termios.tcgetattr(0)
    attributes[3] |= termios.NOFLSH
    termios.tcsetattr(0, termios.TCSANOW, attributes)


class Running:
    """A process run as a user runs it, its output read as it comes with the time each piece
    arrived, so a test can tell when a reply started and when a process ended."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path | None = None) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        self.chunks: dict[str, list[tuple[float, bytes]]] = {"out": [], "err": []}
        self.ended_at: float | None = None
        self._threads = [
            threading.Thread(target=self._read, args=("out", self.proc.stdout), daemon=True),
            threading.Thread(target=self._read, args=("err", self.proc.stderr), daemon=True),
            threading.Thread(target=self._wait, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, name: str, pipe: Any) -> None:
        for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b""):
            self.chunks[name].append((time.monotonic(), chunk))

    def _wait(self) -> None:
        self.proc.wait()
        self.ended_at = time.monotonic()

    def text(self, name: str) -> str:
        return b"".join(chunk for _, chunk in list(self.chunks[name])).decode("utf-8", "replace")

    @property
    def out(self) -> str:
        return self.text("out")

    @property
    def err(self) -> str:
        return self.text("err")

    def seen_at(self, needle: str, name: str = "err") -> float | None:
        """When `needle` first appeared on stdout ("out") or stderr ("err"), or None."""
        data, target = b"", needle.encode()
        for at, chunk in list(self.chunks[name]):
            data += chunk
            if target in data:
                return at
        return None

    def wait_for(self, needle: str, name: str = "err", timeout: float = TIMEOUT) -> float:
        deadline = time.monotonic() + timeout
        while (at := self.seen_at(needle, name)) is None:
            if self.ended_at is not None:
                time.sleep(0.2)  # the readers may still hold the last bytes
                if (at := self.seen_at(needle, name)) is not None:
                    return at
                raise AssertionError(
                    f"{self.argv[1:3]} ended ({self.proc.returncode}) before printing "
                    f"{needle!r}:\nstdout: {self.out}\nstderr: {self.err}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"no {needle!r} after {timeout} s: {self.err}")
            time.sleep(0.01)
        return at

    def finish(self, timeout: float = TIMEOUT) -> int:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"{self.argv[1:3]} still running after {timeout} s: {self.err}"
            ) from None
        for thread in self._threads:
            thread.join(10)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def interrupt(process: Running, limit: float = 15.0, times: int = 1, gap: float = 0.0) -> float:
    """Send Ctrl-C's signal (`times` times, `gap` seconds apart); the seconds from the first
    until the process ended (or `limit` if it did not)."""
    sent = time.monotonic()
    for n in range(times):
        if n:
            time.sleep(gap)
        process.proc.send_signal(signal.SIGINT)  # nothing once the process has been reaped
    try:
        process.proc.wait(limit)
    except subprocess.TimeoutExpired:
        process.kill()
        return limit
    while process.ended_at is None:
        time.sleep(0.001)
    return process.ended_at - sent


def wait_for_file(path: Path, process: Running, timeout: float = TIMEOUT) -> None:
    """Wait until `process` has made `path` (a tool saying it started, say); fail if it ends or
    takes too long first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.proc.poll() is None, process.err
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
