"""The systems the benchmark compares, each driven one turn at a time on the same workload.

- `memoria`: this project (`Memoria` over SQLite, the `echo` model, the default `hybrid` preset).
- `memoria (postgres)`: the same over Postgres, when a server is given.
- `messages-state`: LangGraph's plain `MessagesState` + `SqliteSaver`, one echo node.
- `delta-channel`: the same, with the messages in LangGraph's beta `DeltaChannel`.
- `seed-pickle`: the seed's `ConversationBufferMemory`, pickled to a file after every turn.
- `langgraph floor`: not a memory: Memoria's graph shape (its state, trim → recall → model →
  archive, one checkpoint per run, pruned to the newest) with nodes that do nothing but echo, on
  `SqliteSaver`. What LangGraph alone costs a turn of that shape, below which Memoria cannot go.

Each exposes `turn(text) -> None` and `size() -> bytes on disk` (after a WAL checkpoint).
`make_systems` returns a factory per system, so that the benchmark can warm each up on a throwaway
instance of its own before the measured one.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Protocol, TypedDict
from urllib.parse import urlsplit, urlunsplit

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.message import _messages_delta_reducer

from memoria.agent import Memoria
from memoria.context import Context

THREAD = "3f9a1c0b77de"


class System(Protocol):
    name: str

    def turn(self, text: str) -> None: ...

    def size(self) -> int: ...

    def close(self) -> None: ...


def sqlite_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def echo_node(state: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [AIMessage(state["messages"][-1].content)]}


class MemoriaSystem:
    name = "memoria"

    def __init__(self, directory: Path, memory: str = "hybrid") -> None:
        self.path = directory / "memoria.sqlite"
        self.agent = Memoria(db=self.path, context=Context(model="echo", memory=memory))
        self.last_report: dict[str, Any] = {}

    def turn(self, text: str) -> None:
        turn = self.agent.start(THREAD, text, streaming=False)
        turn.wait()
        self.last_report = turn.report

    def prompt_tokens(self) -> int:
        return self.last_report["usage"]["input_tokens"]

    def size(self) -> int:
        return sqlite_size(self.path)

    def close(self) -> None:
        self.agent.close()


POSTGRES_TABLES = (
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "checkpoint_migrations",
    "memoria_meta",
    "memoria_threads",
    "memoria_turns",
)


class MemoriaPostgresSystem:
    """Memoria on Postgres, in a database of its own created on the server at `server_url`."""

    name = "memoria (postgres)"

    def __init__(self, server_url: str) -> None:
        import psycopg

        self.server_url = server_url
        self.database = f"memoria_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.url = urlunsplit(urlsplit(server_url)._replace(path=f"/{self.database}"))
        self.agent = Memoria(db=self.url, context=Context(model="echo"))

    def turn(self, text: str) -> None:
        self.agent.send(THREAD, text)

    def size(self) -> int:
        """The tables as they stand on disk (with their indexes and TOAST), without vacuuming."""
        import psycopg

        sizes = " + ".join(f"pg_total_relation_size('{table}')" for table in POSTGRES_TABLES)
        with psycopg.connect(self.url) as conn:
            return conn.execute(f"SELECT {sizes}").fetchone()[0]

    def close(self) -> None:
        import psycopg

        self.agent.close()
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{self.database}" WITH (FORCE)')


class DeltaState(TypedDict):
    messages: Annotated[list[AnyMessage], DeltaChannel(_messages_delta_reducer)]


class LangGraphSystem:
    """A one-node echo graph over `SqliteSaver`, as the LangGraph docs set it up."""

    def __init__(self, directory: Path, name: str, state: type) -> None:
        self.name = name
        self.path = directory / f"{name}.sqlite"
        self.conn = sqlite3.connect(self.path, check_same_thread=False)
        self.saver = SqliteSaver(self.conn)
        builder = StateGraph(state)
        builder.add_node("model", echo_node)
        builder.add_edge(START, "model")
        self.graph = builder.compile(checkpointer=self.saver)
        self.config = {"configurable": {"thread_id": THREAD}}

    def turn(self, text: str) -> None:
        self.graph.invoke({"messages": [HumanMessage(text)]}, self.config)

    def size(self) -> int:
        return sqlite_size(self.path)

    def close(self) -> None:
        self.conn.close()


class FloorSystem:
    """Memoria's graph shape with no memory work: LangGraph's own cost of such a turn."""

    name = "langgraph floor"

    def __init__(self, directory: Path) -> None:
        from memoria.state import InputState, OutputState, State

        self.path = directory / "floor.sqlite"
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.saver = SqliteSaver(self.conn)
        builder = StateGraph(State, input_schema=InputState, output_schema=OutputState)
        builder.add_node("trim", keep_last_ten)
        for node in ("recall", "archive"):
            builder.add_node(node, lambda state: {})
        builder.add_node("model", echo_node_of_state)
        builder.add_edge(START, "trim")
        builder.add_edge("trim", "recall")
        builder.add_edge("recall", "model")
        builder.add_edge("model", "archive")
        self.graph = builder.compile(checkpointer=self.saver)
        self.config = {"configurable": {"thread_id": THREAD}}

    def turn(self, text: str) -> None:
        for _ in self.graph.stream(
            {"messages": [HumanMessage(text)]},
            self.config,
            stream_mode=["updates"],
            durability="exit",
        ):
            pass
        # Memoria keeps one checkpoint per thread: the floor prunes too.
        with self.saver.cursor() as cur:
            (newest,) = cur.execute(
                "SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ?", (THREAD,)
            ).fetchone()
            for table in ("checkpoints", "writes"):
                cur.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id < ?",
                    (THREAD, newest),
                )

    def size(self) -> int:
        return sqlite_size(self.path)

    def close(self) -> None:
        self.conn.close()


def keep_last_ten(state: Any) -> dict[str, Any]:
    """A bounded view, as Memoria keeps: the oldest messages beyond ten leave the state."""
    return {"messages": [RemoveMessage(id=m.id) for m in state.messages[:-10]]}


def echo_node_of_state(state: Any) -> dict[str, Any]:
    return {"messages": [AIMessage(state.messages[-1].content)]}


class SeedPickleSystem:
    """The seed: `ConversationBufferMemory` feeding the model its buffer, pickled to memory.pkl."""

    name = "seed-pickle"

    def __init__(self, directory: Path) -> None:
        from langchain_classic.memory import ConversationBufferMemory

        # Importing langchain_classic turns its deprecation warnings back on: the anchor is
        # deprecated on purpose, so silence them afterwards.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        self.path = directory / "memory.pkl"
        self.memory = ConversationBufferMemory()

    def turn(self, text: str) -> None:
        history = self.memory.load_memory_variables({})["history"]
        reply = text if history is not None else ""
        self.memory.save_context({"input": text}, {"output": reply})
        with open(self.path, "wb") as f:
            f.write(pickle.dumps(self.memory))

    def size(self) -> int:
        return os.path.getsize(self.path)

    def close(self) -> None:
        pass


SystemFactory = Callable[[Path], System]
"""Makes a system whose files go in the given (existing, empty) folder."""


def make_systems(postgres: str | None) -> list[SystemFactory]:
    factories: list[SystemFactory] = [MemoriaSystem]
    if postgres:
        factories.append(lambda _: MemoriaPostgresSystem(postgres))
    return [
        *factories,
        lambda directory: LangGraphSystem(directory, "messages-state", MessagesState),
        lambda directory: LangGraphSystem(directory, "delta-channel", DeltaState),
        SeedPickleSystem,
        FloorSystem,
    ]
