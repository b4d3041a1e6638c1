"""Run the installed `memoria` command as a user would: a subprocess with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MEMORIA = str(Path(sys.executable).with_name("memoria"))


@pytest.fixture
def memoria(tmp_path):
    """Run `memoria ARGS` as a user would; chat input history goes to a scratch state folder."""

    def run(*args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 120):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GROQ_", "MEMORIA_"))}
        base["XDG_STATE_HOME"] = str(tmp_path / "state")
        return subprocess.run(
            [MEMORIA, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**base, **(env or {})},
        )

    return run
