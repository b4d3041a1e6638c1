"""The async path: the graph on `AsyncSqliteSaver` and `AsyncSqliteStore`, streamed with `astream_reply`."""

from __future__ import annotations

import asyncio

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.store.sqlite.aio import AsyncSqliteStore

from memoria import Context, build_graph
from memoria.agent import astream_reply
from memoria.models import EchoChatModel
from memoria.transcript import StoreTranscript


def test_async_streaming_with_async_sqlite_and_concurrent_threads(tmp_path):
    db = str(tmp_path / "async.sqlite")
    context = Context(model="echo", memory="hybrid", k=2, max_tokens=200)

    async def scenario():
        async with (
            AsyncSqliteSaver.from_conn_string(db) as saver,
            AsyncSqliteStore.from_conn_string(db + "-transcripts") as store,
        ):
            await store.setup()
            graph = build_graph(EchoChatModel(delay=0.001), checkpointer=saver, store=store)
            pieces = [
                p async for p in astream_reply(graph, "first", "Hola a todos", context=context)
            ]
            assert pieces == ["Hola ", "a ", "todos"]

            async def converse(thread: str) -> None:
                for n in range(12):
                    text = f"{thread} {n}: " + "contenido " * 10
                    reply = "".join(
                        [p async for p in astream_reply(graph, thread, text, context=context)]
                    )
                    assert reply == text

            await asyncio.gather(*(converse(f"t{i}") for i in range(5)))
            for i in range(5):
                state = await graph.aget_state({"configurable": {"thread_id": f"t{i}"}})
                assert state.values["turns"] == 12 and state.values["summary"]
                assert len(state.values["messages"]) < 24
                turns = await asyncio.to_thread(StoreTranscript(store).read, f"t{i}")
                assert [t.messages[0].content.split(":")[0] for t in turns] == [
                    f"t{i} {n}" for n in range(12)
                ]

    asyncio.run(scenario())
