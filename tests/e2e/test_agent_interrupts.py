"""A `create_agent` agent with `MemoriaMiddleware`, killed (SIGKILL) or interrupted (Ctrl-C)
inside its tool loop: the next turn starts from the thread as it was. The unfinished turn is never
archived, never shown to the model again, and its messages leave the state."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
from processes import interrupt, wait_for_file

WORKER = str(Path(__file__).with_name("agent_worker.py"))
SLOW = 'call slow {"seconds": 4}'


def turn(spawn, directory: Path, text: str) -> dict:
    running = spawn(directory, text, program=[sys.executable, WORKER])
    assert running.finish() == 0, running.err
    return json.loads(running.out)


@pytest.mark.parametrize("how", ["kill", "ctrl-c"])
def test_a_kill_or_ctrl_c_inside_the_tool_loop_leaves_the_thread_as_it_was(spawn, tmp_path, how):
    directory = str(tmp_path)
    turn(spawn, tmp_path, "Mi perro se llama Toby.")
    before = turn(spawn, tmp_path, 'call weather {"city": "Lima"}')
    running = spawn(directory, SLOW, program=[sys.executable, WORKER])
    wait_for_file(tmp_path / "tool-started", running)
    if how == "kill":
        running.proc.send_signal(signal.SIGKILL)
        running.proc.wait(30)
    else:
        # LangGraph lets the running tool finish before KeyboardInterrupt reaches the caller.
        interrupt(running, limit=30)
        assert running.proc.returncode == 130 and running.out == "interrupted\n", running.err
    after = turn(spawn, tmp_path, "seguimos")
    assert after["messages"] == [*before["messages"], ["human", "seguimos"], ["ai", "seguimos"]]
    assert after["transcript"] == [*before["transcript"], ["human", "seguimos"], ["ai", "seguimos"]]
    assert after["memoria"]["turns"] == before["memoria"]["turns"] + 1
    assert not any("slow" in content for _, content in after["prompt"]), after["prompt"]
