"""Start-up cost of the command line, as ratios to anchors measured in the same run:
`python -m bench.startup` (or `make bench-startup`).

Each command runs as a fresh process, interleaved with the others, and the median wall time of
`--runs` runs is reported. Anchors:
- `python`: the interpreter alone (`python -c pass`);
- `langgraph + langchain-core`: the bare import of what any LangGraph chat agent loads
  (`from langgraph.graph import StateGraph; from langchain_core.language_models import BaseChatModel`).

Commands measured: `memoria --help`, `memoria threads list` on a database holding `--threads`
threads (100,000 by default, made directly in SQL from one real thread, so building it takes
seconds), and `memoria ask hola --model echo` on a small database.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memoria import Context, Memoria

PYTHON = sys.executable
MEMORIA = str(Path(sys.executable).with_name("memoria"))
ANCHOR_IMPORT = (
    "from langgraph.graph import StateGraph; "
    "from langchain_core.language_models import BaseChatModel"
)


def many_threads(path: Path, count: int) -> None:
    """A database of `count` threads: one made through Memoria, copied row by row in SQL."""
    with Memoria(db=path, context=Context(model="echo")) as agent:
        agent.send("seed", "Hola, ¿me ayudas a planear un viaje a Lisboa en mayo?")
    with sqlite3.connect(path) as conn:
        conn.execute("BEGIN")
        numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
        conn.execute(
            f"{numbers} INSERT INTO checkpoints SELECT 'thread-' || i, checkpoint_ns, "
            "checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
            "FROM checkpoints, n WHERE thread_id = 'seed'",
            (count - 1,),
        )
        conn.execute(
            f"{numbers} INSERT INTO memoria_turns (thread_id, turn, language, created_at, "
            "messages, summary, folded) SELECT 'thread-' || i, turn, language, "
            "strftime('%Y-%m-%dT%H:%M:%f', '2026-01-01', '+' || i || ' seconds'), messages, "
            "summary, folded FROM memoria_turns, n WHERE thread_id = 'seed'",
            (count - 1,),
        )
        conn.execute(
            f"{numbers} INSERT INTO memoria_threads SELECT 'thread-' || i, "
            "strftime('%Y-%m-%dT%H:%M:%f', '2026-01-01', '+' || i || ' seconds'), "
            "strftime('%Y-%m-%dT%H:%M:%f', '2026-01-01', '+' || i || ' seconds'), "
            "title, language, turns FROM memoria_threads, n WHERE thread_id = 'seed'",
            (count - 1,),
        )
        conn.execute("COMMIT")


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=100_000)
    args = parser.parse_args()
    # Bytecode caching on, as for a user: the warm-up run writes it (installed libraries have it).
    skipped = ("GROQ_", "MEMORIA_", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skipped)}
    with tempfile.TemporaryDirectory(prefix="memoria-startup-") as tmp:
        big, small = Path(tmp) / "many.sqlite", Path(tmp) / "small.sqlite"
        started = time.perf_counter()
        many_threads(big, args.threads)
        print(f"{args.threads} threads made in {time.perf_counter() - started:.1f} s", flush=True)
        with Memoria(db=small, context=Context(model="echo")) as agent:
            agent.send("t", "hola")
        commands = {
            "python": [PYTHON, "-c", "pass"],
            "langgraph + langchain-core": [PYTHON, "-c", ANCHOR_IMPORT],
            "memoria --help": [MEMORIA, "--help"],
            f"memoria threads list ({args.threads:,} threads)": [
                MEMORIA,
                "threads",
                "list",
                "--db",
                str(big),
            ],
            "memoria ask (echo)": [
                MEMORIA,
                "ask",
                "hola",
                "--model",
                "echo",
                "--thread",
                "t",
                "--db",
                str(small),
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the file cache once
            timed(command, env)
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(timed(command, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    anchor = medians["langgraph + langchain-core"]
    help_time = medians["memoria --help"]
    print()
    print("| command | median (s) | ÷ langgraph + langchain-core | ÷ memoria --help |")
    print("|---|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.3f} | {value / anchor:.2f}× | {value / help_time:.2f}× |")


if __name__ == "__main__":
    main()
