"""Run the installed `memoria` command as a user would: a subprocess with a clean environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from processes import MEMORIA, Running, user_env


@pytest.fixture
def memoria(tmp_path):
    """Run `memoria ARGS` as a user would; chat input history goes to a scratch state folder."""

    def run(*args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 120):
        return subprocess.run(
            [MEMORIA, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=user_env(tmp_path, **(env or {})),
        )

    return run


@pytest.fixture
def spawn(tmp_path):
    """Start processes (`memoria ARGS` by default); whatever is still running at the end is
    killed."""
    started: list[Running] = []

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        program: list[str] | None = None,
    ) -> Running:
        running = Running(
            [*(program or [MEMORIA]), *args], env=env or user_env(tmp_path), cwd=cwd or tmp_path
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.kill()
