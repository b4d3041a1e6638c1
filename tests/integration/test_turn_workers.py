"""The threads turns run on: kept between turns, holding nothing of a finished turn, and safe in a
forked child."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
import weakref

import pytest

from memoria import Context, Memoria
from memoria.agent.turn import IDLE_NAME


def test_workers_are_reused_and_keep_nothing_of_a_finished_turn(tmp_path):
    with Memoria(db=tmp_path / "w.sqlite", context=Context(model="echo")) as agent:
        agent.send("t", "uno")
        workers = {t for t in threading.enumerate() if t.name == IDLE_NAME}
        turn = agent.start("t", "dos", streaming=False)
        turn.wait()
        alive = weakref.ref(turn)
        assert {t for t in threading.enumerate() if t.name == IDLE_NAME} == workers
        del turn
        gc.collect()
        assert alive() is None, "an idle worker keeps its last turn alive"
        assert agent.state("t").turns == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_runs_turns_on_workers_of_its_own(tmp_path):
    db = tmp_path / "f.sqlite"
    with Memoria(db=db, context=Context(model="echo")) as agent:
        agent.send("parent", "antes")  # the parent now has an idle worker
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is its exit code
        try:
            with Memoria(db=db, context=Context(model="echo")) as agent:
                ok = agent.send("child", "hola").content == "hola"
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(child, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the child's turn never ran: it waited for a worker it does not have")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(done[1]) == 0, "the child's turn failed"
