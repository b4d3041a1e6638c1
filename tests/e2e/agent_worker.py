"""A child process for the middleware's interrupt tests: one turn of a `create_agent` agent with
`MemoriaMiddleware`, its checkpoints in a SqliteSaver file and its transcript in a SqliteStore
file, both in DIR.

usage: agent_worker.py DIR TEXT

Prints, as JSON, the thread's messages, Memoria's counters, the prompt of the turn's last model
call and the whole transcript. A message `call slow {"seconds": N}` makes the `slow` tool write
DIR/tool-started and then sleep; a Ctrl-C there ends the process with status 130.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for fakes

from fakes import ScriptedToolModel
from langchain.agents import create_agent
from langchain_core.tools import tool
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.store.sqlite import SqliteStore

from memoria.middleware import MemoriaMiddleware

CONFIG = {"configurable": {"thread_id": "t"}}


def main() -> None:
    directory, text = Path(sys.argv[1]), sys.argv[2]

    @tool
    def slow(seconds: int) -> str:
        """Takes its time."""
        (directory / "tool-started").write_text("started")
        time.sleep(seconds)
        return "too late"

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"Soleado en {city}"

    model = ScriptedToolModel()
    memory = MemoriaMiddleware(memory="hybrid", k=2, max_tokens=600)
    with (
        SqliteSaver.from_conn_string(str(directory / "agent.sqlite")) as saver,
        SqliteStore.from_conn_string(str(directory / "store.sqlite")) as store,
    ):
        store.setup()
        agent = create_agent(
            model, tools=[weather, slow], middleware=[memory], checkpointer=saver, store=store
        )
        try:
            agent.invoke({"messages": [("user", text)]}, CONFIG)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            os._exit(130)
        state = agent.get_state(CONFIG).values
        pairs = lambda messages: [[m.type, str(m.content)] for m in messages]  # noqa: E731
        print(
            json.dumps(
                {
                    "messages": pairs(state["messages"]),
                    "memoria": {k: state["memoria"][k] for k in ("turns", "folded")},
                    "prompt": pairs(model.prompts[-1]),
                    "transcript": pairs(memory.transcript("t", store=store, state=state)),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
