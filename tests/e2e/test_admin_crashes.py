"""`threads rename`, `threads fork` and `import` killed (SIGKILL) at random moments on a thread
of thousands of turns: each takes effect whole or not at all (round three, item 4). A killed
rename left a checkpoint without a transcript, a killed fork a thread reporting 20,001 turns with
a 1-turn transcript, a killed import 20,000 transcript rows no command could see or delete.

While a killed operation is unfinished, reading commands do not show its target; the next
command that opens the database for writing finishes undoing it (or, for a rename that had moved
the transcript, completes it)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from pathlib import Path

from fakes import assert_index_matches_transcript
from processes import MEMORIA, user_env

from memoria import Context
from memoria.agent import Memoria

TURNS = 4000
KILLS = int(os.environ.get("MEMORIA_ADMIN_KILLS", "8"))


def big_export(path: Path, turns: int = TURNS) -> Path:
    messages = [
        [
            {"type": "human", "content": f"mensaje {n}: palabras de relleno número {n}"},
            {"type": "ai", "content": f"respuesta {n}"},
        ]
        for n in range(turns)
    ]
    document = {
        "format": "memoria.thread",
        "version": 2,
        "thread_id": "big",
        "settings": {"model": "echo", "memory": "window", "k": 2},
        "memory": {
            "summary": "",
            "turns": turns,
            "messages": [m for t in messages[-3:] for m in t],
        },
        "turns": [{"created_at": "2026-11-01T10:00:00.000+00:00", "messages": t} for t in messages],
    }
    path.write_text(json.dumps(document))
    return path


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MEMORIA, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def killed(args: list[str], delay: float, env: dict[str, str]) -> None:
    process = subprocess.Popen([MEMORIA, *args], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(delay)
    process.kill()
    process.wait(30)


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    assert run(*args, env=env).returncode == 0
    return time.monotonic() - started


def whole_or_absent(agent: Memoria, thread: str, turns: int) -> bool:
    """True if `thread` is whole (checkpoint, state, record and transcript all at `turns`),
    False if nothing of it is left; anything in between fails the test."""
    if agent.exists(thread):
        assert agent.state(thread).turns == turns
        assert len(agent.turns(thread)) == turns
        assert agent.thread_info(thread).turns == turns
        return True
    assert agent.checkpointer.get_tuple(agent.config(thread)) is None, f"{thread}: a ghost"
    assert agent.archive.thread(thread) is None and agent.archive.read(thread) == [], thread
    return False


def recovered(db: Path, env: dict[str, str]) -> Memoria:
    """Open for writing, as any writing command does (which recovers), then read."""
    assert run("ask", "hola", "--model", "echo", "--thread", "probe", "--db", str(db), env=env)
    agent = Memoria(db=db, context=Context(model="echo"), read_only=True)
    assert agent.archive.pending() == {}
    return agent


def test_killed_renames_forks_and_imports_are_all_or_nothing(tmp_path):
    env = user_env(tmp_path)
    db = tmp_path / "admin.sqlite"
    export = big_export(tmp_path / "big.json")
    assert run("import", str(export), "--db", str(db), env=env).returncode == 0
    rng = random.Random(7)
    spans = {
        "rename": timed(["threads", "rename", "big", "big-2", "--db", str(db)], env),
        "fork": timed(["threads", "fork", "big-2", "--as", "fork-0", "--db", str(db)], env),
        "import": timed(["import", str(export), "--thread", "imp-0", "--db", str(db)], env),
    }
    names = ["big-2", "big"]  # the big thread's name now, and the name a rename gives it
    outcomes: dict[str, set[bool]] = {kind: set() for kind in spans}
    for n in range(1, KILLS + 1):
        for kind, span in spans.items():
            delay = rng.uniform(0.05, span * 1.3)
            if kind == "rename":
                killed(["threads", "rename", *names, "--db", str(db)], delay, env)
            elif kind == "fork":
                killed(["threads", "fork", names[0], "--as", f"fork-{n}", "--db", str(db)],
                       delay, env)  # fmt: skip
            else:
                killed(["import", str(export), "--thread", f"imp-{n}", "--db", str(db)],
                       delay, env)  # fmt: skip
            with recovered(db, env) as agent:
                if kind == "rename":
                    done = whole_or_absent(agent, names[1], TURNS)
                    assert whole_or_absent(agent, names[0], TURNS) is not done, "one, not two"
                    if done:
                        names.reverse()
                else:
                    done = whole_or_absent(agent, f"{kind}-{n}", TURNS)
            outcomes[kind].add(done)
    assert_index_matches_transcript(db)
    print(f"\n{KILLS} kills per command: {outcomes}")
