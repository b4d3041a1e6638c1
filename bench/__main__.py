"""Storage and speed benchmark: `python -m bench` (or `make bench`).

Runs Memoria and three anchors on one workload in one process, prints a Markdown table (per-turn
overhead at turns 10, 100 and 1,000, database size and its ratio to the raw text, prompt tokens per
preset at turn 200) and draws the growth curves to a PNG.

Each system first runs `--warm-up` turns on a throwaway instance of its own, so that no system's
turn 10 pays for imports, first calls and caches that whichever ran before it has paid already.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.systems import MemoriaSystem, System, SystemFactory, make_systems
from memoria.memory import PRESETS

MARKS = (10, 100, 1000)
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"  # the machine's server
WINDOW = 5  # median over the turns mark-5 .. mark+5 (only earlier turns for the last mark)
WORDS = (
    "memoria conversación modelo resumen turno mensaje usuario asistente historia datos hilo "
    "contexto ventana tokens límite final mundial fútbol selección técnico presidente partido "
    "político década país ciudad red equipo conexión certificado empresa práctica reglamento "
    "académico trabajo grado sustentar modalidad requiere terminación consulta ayuda pregunta "
    "respuesta gracias claro ejemplo tiempo lugar forma manera parte caso punto problema idea "
    "the memory model summary turn message user assistant history data thread context window "
    "de la que el en y a los se del las un por con no una su para es al lo como más pero sus "
    "le ya o fue este ha sí porque esta son entre cuando muy sin sobre también me hasta hay "
    "donde quien desde todo nos durante todos uno les ni contra otros ese eso ante ellos e esto"
)
VOCABULARY = tuple(WORDS.split())


def message(turn: int, rng: random.Random) -> str:
    """A distinct message of about 800 characters (750-850) of mixed Spanish and English words."""
    target = rng.randint(750, 850)
    words = [f"Mensaje {turn}:"]
    length = len(words[0])
    while length < target:
        word = rng.choice(VOCABULARY)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:target]


def size_points(turns: int) -> list[int]:
    points = [p for p in (1, 3, 6, 15, 30, 60, 150, 300, 600) if p < turns]
    return [*points, turns]


WARM_UP = 20


def warm_up(make: SystemFactory, turns: int) -> None:
    """Run `turns` turns of another workload on a throwaway instance of the system."""
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="memoria-warm-up-") as directory:
        system = make(Path(directory))
        for turn in range(1, turns + 1):
            system.turn(message(turn, rng))
        system.close()


def run(system: System, turns: int, budget_seconds: float) -> dict:
    rng = random.Random(42)
    timings: list[float] = []
    sizes: dict[int, int] = {}
    started = time.perf_counter()
    checkpoints = set(size_points(turns))
    for turn in range(1, turns + 1):
        text = message(turn, rng)
        t0 = time.perf_counter()
        system.turn(text)
        timings.append(time.perf_counter() - t0)
        over_budget = time.perf_counter() - started > budget_seconds
        if turn in checkpoints or over_budget:
            sizes[turn] = system.size()
        if over_budget:
            break
    return {"timings": timings, "sizes": sizes, "turns": len(timings)}


def median_ms(timings: list[float], mark: int) -> float | None:
    if len(timings) < mark:
        return None
    window = timings[max(0, mark - 1 - WINDOW) : min(len(timings), mark + WINDOW)]
    return statistics.median(window) * 1000


def prompt_tokens_at(turn: int, directory: Path) -> dict[str, int]:
    rng = random.Random(7)
    tokens = {}
    for preset in PRESETS:
        system = MemoriaSystem(directory / preset, memory=preset)
        for n in range(1, turn + 1):
            system.turn(message(n, rng))
        tokens[preset] = system.prompt_tokens()
        system.close()
    return tokens


def table(results: dict[str, dict], turns: int) -> str:
    lines = [
        "| system | turn 10 (ms) | turn 100 (ms) | turn 1000 (ms) | turn 1000 / turn 10 | "
        "database at the last turn | ÷ raw text |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        cells = []
        for mark in MARKS:
            value = median_ms(result["timings"], mark)
            cells.append(f"{value:.2f}" if value is not None else "—")
        t10, t1000 = median_ms(result["timings"], 10), median_ms(result["timings"], 1000)
        ratio = f"{t1000 / t10:.2f}×" if t10 and t1000 else "—"
        last = max(result["sizes"])
        size = result["sizes"][last]
        stopped = "" if result["turns"] == turns else f" (stopped at turn {result['turns']})"
        lines.append(
            f"| {name}{stopped} | {' | '.join(cells)} | {ratio} | {size / 1e6:.2f} MB at turn {last} "
            f"| {size / result['raw_at'][last]:.2f}× |"
        )
    return "\n".join(lines)


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (speed, size) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, result in results.items():
        timings = [t * 1000 for t in result["timings"]]
        smoothed = [statistics.median(timings[max(0, i - 5) : i + 6]) for i in range(len(timings))]
        speed.plot(range(1, len(timings) + 1), smoothed, label=name)
        points = sorted(result["sizes"])
        size.plot(points, [result["sizes"][p] / 1e6 for p in points], marker="o", label=name)
    longest = max(results.values(), key=lambda r: r["turns"])
    turns = sorted(longest["sizes"])
    size.plot(turns, [longest["raw_at"][t] / 1e6 for t in turns], "k--", label="raw text")
    speed.set(xscale="log", yscale="log", xlabel="turn", ylabel="time per turn (ms, median of 11)")
    size.set(xscale="log", yscale="log", xlabel="turn", ylabel="storage (MB)")
    speed.set_title("Per-turn overhead (echo model)")
    size.set_title("Storage on disk")
    for axis in (speed, size):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds each system may run before it is stopped (plain MessagesState is quadratic)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MEMORIA_BENCH_POSTGRES", DEFAULT_POSTGRES),
        help="server URL for the Postgres column ('' to leave it out); a database is created on it",
    )
    parser.add_argument(
        "--warm-up",
        type=int,
        default=WARM_UP,
        help="turns each system runs on a throwaway instance before it is measured (0: none)",
    )
    parser.add_argument("--plot", type=Path, default=Path("bench/growth.png"))
    parser.add_argument("--json", type=Path, default=Path("bench/out/results.json"))
    args = parser.parse_args()

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="memoria-bench-") as tmp:
        for index, make in enumerate(make_systems(args.postgres or None)):
            warm_up(make, args.warm_up)
            directory = Path(tmp) / str(index)
            directory.mkdir()
            system = make(directory)
            result = run(system, args.turns, args.budget)
            system.close()
            # Raw text: UTF-8 bytes of every message (the human one and its echoed reply).
            rng = random.Random(42)
            cumulative, raw_at = 0, {}
            for turn in range(1, result["turns"] + 1):
                cumulative += 2 * len(message(turn, rng).encode())
                raw_at[turn] = cumulative
            result["raw_at"] = raw_at
            results[system.name] = result
            print(f"{system.name}: {result['turns']} turns", flush=True)
        tokens = prompt_tokens_at(200, Path(tmp))

    print()
    print(table(results, args.turns))
    print()
    print("| preset | prompt tokens sent at turn 200 |")
    print("|---|---|")
    for preset, count in tokens.items():
        print(f"| {preset} | {count} |")
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    plot(results, args.plot)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        name: {
            "turns": r["turns"],
            "ms": {m: median_ms(r["timings"], m) for m in MARKS},
            "sizes": r["sizes"],
            "raw_at_last": r["raw_at"][max(r["sizes"])],
        }
        for name, r in results.items()
    }
    args.json.write_text(json.dumps({"systems": summary, "prompt_tokens_at_200": tokens}, indent=2))
    print(f"\nplot: {args.plot}  data: {args.json}")


if __name__ == "__main__":
    main()
