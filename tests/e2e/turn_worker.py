"""A child process for the crash and concurrency tests: runs turns on one thread until killed.

usage: turn_worker.py DB THREAD LABEL [TURNS]

Each message is "LABEL <n>: ..." where n is the thread's turn count when it is sent (the only
writer) or, with TURNS, this worker's own count (one of several writers), so the parent can check
that the transcript has every turn once, in order. Prints "ready" once the database is open.
Without TURNS it runs until it is killed.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from memoria import Context
from memoria.agent import Memoria

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from slow_echo import SlowEcho


def main() -> None:
    db, thread, label = sys.argv[1:4]
    turns = int(sys.argv[4]) if len(sys.argv) > 4 else None
    # A slow echo and a small summary-buffer: a kill can land in the model call, in the summary
    # (every other turn) or in the checkpoint write.
    context = Context(model="echo", memory="summary-buffer", max_tokens=160, target_tokens=80)
    with Memoria(db=db, context=context, model=SlowEcho(delay=0.001)) as agent:
        print("ready", flush=True)
        if turns is None:
            for _ in itertools.count():
                agent.send(thread, f"{label} {agent.state(thread).turns}: " + "palabra " * 12)
        for n in range(turns or 0):
            agent.send(thread, f"{label} {n}: " + "palabra " * 12)


if __name__ == "__main__":
    main()
