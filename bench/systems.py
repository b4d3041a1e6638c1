"""The systems the benchmark compares, each driven one turn at a time on the same workload.

- `memoria`: this project (`Memoria` over SQLite, the `echo` model, the default `hybrid` preset).
- `memoria (postgres)`: the same over Postgres, when a server is given.
- `messages-state`: LangGraph's plain `MessagesState` + `SqliteSaver`, one echo node.
- `delta-channel`: the same, with the messages in LangGraph's beta `DeltaChannel`.
- `seed-pickle`: the seed's `ConversationBufferMemory`, pickled to a file after every turn.

Each exposes `turn(text) -> None` and `size() -> bytes on disk` (after a WAL checkpoint).
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import uuid
import warnings
from pathlib import Path
from typing import Annotated, Any, Protocol, TypedDict
from urllib.parse import urlsplit, urlunsplit

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
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

    def turn(self, text: str) -> None:
        self.agent.send(THREAD, text)

    def prompt_tokens(self) -> int:
        return self.agent.state(THREAD).report["usage"]["input_tokens"]

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


def make_systems(directory: Path, postgres: str | None) -> list[System]:
    systems: list[System] = [MemoriaSystem(directory)]
    if postgres:
        systems.append(MemoriaPostgresSystem(postgres))
    return [
        *systems,
        LangGraphSystem(directory, "messages-state", MessagesState),
        LangGraphSystem(directory, "delta-channel", DeltaState),
        SeedPickleSystem(directory),
    ]
