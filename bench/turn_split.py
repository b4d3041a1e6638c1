"""Where a turn's time goes: `python -m bench.turn_split` (or `make bench-turn`).

Runs Memoria on the `make bench` workload (the echo model, the default preset, one growing thread)
with a timer around each part of a turn, and prints the median of each part per turn:

- on the caller's thread: taking the thread's lock, `_finish_undoing` (the checkpoint the turn
  starts from), starting the worker, and waiting for the worker's last event;
- on the worker: each node, the transcript write inside `archive`, LangGraph's checkpoint write
  at the end of the run (on LangGraph's own background thread), and the prune after it;
- what is left: LangGraph's own work between nodes, and the hand-overs between threads.

The timers cost a few microseconds each; the total is measured without them in `make bench`.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import memoria.graph
from bench.__main__ import message
from memoria.agent import Memoria, Turn
from memoria.agent.admin import ThreadAdmin
from memoria.context import Context

NODES = ("trim", "summarise", "recall", "call_model", "archive")
THREAD = "split"


class Timers:
    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = defaultdict(list)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label].append(time.perf_counter() - start)

        setattr(owner, name, timed)

    def per_turn(self, label: str, turns: int) -> float:
        """Milliseconds per turn (a part that runs on some turns only counts as its share)."""
        values = self.spent.get(label, [])
        if not values:
            return 0.0
        return statistics.median(values) * 1000 * len(values) / turns


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.turn_split", description=__doc__)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--skip", type=int, default=20, help="warm-up turns left out")
    parser.add_argument(
        "--db", help="a database to use instead of a new SQLite file (e.g. a postgresql:// URL)"
    )
    args = parser.parse_args()

    timers = Timers()
    for node in NODES:
        timers.wrap(memoria.graph, node, f"node {node}")
    timers.wrap(ThreadAdmin, "_holding", "caller: take the thread's lock")
    timers.wrap(ThreadAdmin, "_finish_undoing", "caller: read the starting checkpoint")
    timers.wrap(Turn, "__init__", "caller: start the worker")
    timers.wrap(Turn, "_commit", "worker: prune to the newest checkpoint")
    timers.wrap(Turn, "_run", "worker: the whole run")

    rng = random.Random(42)
    totals: list[float] = []
    with tempfile.TemporaryDirectory(prefix="memoria-split-") as directory:
        db = args.db or Path(directory) / "split.sqlite"
        agent = Memoria(db=db, context=Context(model="echo"))
        if agent.exists(THREAD):  # a shared server keeps what an earlier run left
            agent.delete_thread(THREAD)
        timers.wrap(agent.archive, "archive", "  in archive: the transcript write")
        timers.wrap(agent.checkpointer, "put", "LangGraph: the checkpoint write")
        for turn in range(1, args.turns + 1):
            if turn == args.skip + 1:
                timers.spent.clear()
            start = time.perf_counter()
            agent.send(THREAD, message(turn, rng))
            if turn > args.skip:
                totals.append(time.perf_counter() - start)
        agent.delete_thread(THREAD)
        agent.close()

    measured = len(totals)
    total = statistics.median(totals) * 1000
    rows = {label: timers.per_turn(label, measured) for label in sorted(timers.spent)}
    run = rows.pop("worker: the whole run")
    inside = sum(v for k, v in rows.items() if k.startswith(("node ", "LangGraph", "worker")))
    rows["worker: LangGraph between nodes (the run less the parts above)"] = run - inside
    caller = sum(v for k, v in rows.items() if k.startswith("caller"))
    rows["hand-overs (the turn less the caller's parts and the run)"] = total - caller - run
    where = "Postgres" if str(args.db or "").startswith("postgres") else "SQLite"
    print(f"turns {args.skip + 1}-{args.turns} of one thread on {where}, echo model, hybrid\n")
    print("| part of a turn | ms per turn | share |")
    print("|---|---|---|")
    for label, value in rows.items():
        print(f"| {label} | {value:.3f} | {value / total:.0%} |")
    print(f"| **the turn** (median) | **{total:.3f}** | |")


if __name__ == "__main__":
    main()
