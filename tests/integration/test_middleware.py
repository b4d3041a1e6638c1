"""`MemoriaMiddleware` in agents built with `langchain.agents.create_agent`: a scripted tool-calling
model drives two real tools for hundreds of turns, on SqliteSaver + SqliteStore and on Postgres;
the prompt stays bounded, the checkpoint stays flat, tool pairs stay whole, an early fact comes
back, a failed summary loses nothing, and a turn that never finished leaves no trace."""

from __future__ import annotations

import asyncio
import sqlite3
import statistics

import pytest
from fakes import BrokenSummariser, ScriptedToolModel
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore

from memoria import Context
from memoria.memory_tool import MEMORY_TOOL_NAME
from memoria.middleware import MemoriaMiddleware
from memoria.prompts import RECALL_HEADER, SUMMARY_HEADER
from memoria.tokens import TokenCounter
from memoria.transcript import StoreTranscript

CONFIG = {"configurable": {"thread_id": "t"}}
FACT = "Mi número de taquilla es el 4821 y mi perro se llama Toby."
QUESTION = "¿Cuál era el número de mi taquilla?"


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"Soleado en {city}, 24 grados, humedad del 60 por ciento"


@tool
def convert(amount: float, currency: str) -> str:
    """Convert an amount of euros to another currency."""
    return f"{amount} euros son {amount * 1.1:.2f} {currency}"


def message(n: int) -> str:
    """Turn n of the long conversation: tool calls every third and fifth turn, chat otherwise;
    the fact at turn 3."""
    if n == 2:
        return FACT
    if n % 3 == 0:
        return f'call weather {{"city": "Ciudad{n}"}}'
    if n % 5 == 0:
        return f'call convert {{"amount": {n}, "currency": "USD"}}\ncall weather {{"city": "Pueblo{n}"}}'
    return f"Mensaje {n}: hablemos de la región {n}, de su clima y de su comida típica {n}."


def chat_prompts(model: ScriptedToolModel) -> list[list]:
    """The prompts the agent sent (not the summariser's)."""
    return [p for p in model.prompts if "running summary" not in str(p[0].content)]


def assert_pairs_intact(messages) -> None:
    calls = {c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    results = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    assert calls == results
    assert not messages or isinstance(messages[0], HumanMessage)


def checkpoint_bytes(saver, config=CONFIG) -> int:
    saved = saver.get_tuple(config)
    return len(saver.serde.dumps_typed(saved.checkpoint)[1])


def run_long_conversation(agent, saver, model, turns: int, max_tokens: int) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for n in range(turns - 1):
        agent.invoke({"messages": [HumanMessage(message(n))]}, CONFIG)
        state = agent.get_state(CONFIG).values
        assert_pairs_intact(state["messages"])
        sizes[n + 1] = checkpoint_bytes(saver)
    agent.invoke({"messages": [HumanMessage(QUESTION)]}, CONFIG)
    counter = TokenCounter(None)
    prompts = chat_prompts(model)
    assert max(counter.prompt(p) for p in prompts) <= max_tokens
    for prompt in prompts:
        assert isinstance(prompt[0], SystemMessage)
        assert_pairs_intact(prompt[1:])
    system = str(prompts[-1][0].content)
    assert system.startswith("Eres un agente útil.")
    assert SUMMARY_HEADER in system and RECALL_HEADER in system
    assert "4821" in system.split(RECALL_HEADER)[1], "the fact of turn 3 is recalled at the end"
    return sizes


def assert_flat(sizes: dict[int, int], turns: int) -> None:
    early = statistics.median(sizes[n] for n in range(50, 100))
    late = statistics.median(sizes[n] for n in range(turns - 50, turns))
    assert late < 1.3 * early, (early, late)


def two_tool_agent(model, memory, saver, store=None):
    return create_agent(
        model,
        tools=[weather, convert],
        system_prompt="Eres un agente útil.",
        middleware=[memory],
        checkpointer=saver,
        store=store,
    )


def test_300_turns_on_sqlite_saver_and_store(tmp_path):
    model = ScriptedToolModel()
    memory = MemoriaMiddleware(memory="hybrid", k=3, max_tokens=1500)
    with (
        SqliteSaver.from_conn_string(str(tmp_path / "agent.sqlite")) as saver,
        SqliteStore.from_conn_string(str(tmp_path / "store.sqlite")) as store,
    ):
        store.setup()
        agent = two_tool_agent(model, memory, saver, store)
        sizes = run_long_conversation(agent, saver, model, 300, 1500)
        assert_flat(sizes, 300)
        state = agent.get_state(CONFIG).values
        assert "memoria" not in agent.invoke({"messages": [HumanMessage("hola")]}, CONFIG)
        transcript = memory.transcript("t", store=store, state=agent.get_state(CONFIG).values)
        humans = [m.content for m in transcript if isinstance(m, HumanMessage)]
        assert humans == [message(n) for n in range(299)] + [QUESTION, "hola"]
        assert_pairs_intact(transcript)
        assert state["memoria"]["summary_error"] == ""
        assert len(state["messages"]) < 40


def test_300_turns_on_postgres(own_postgres_url):
    from langgraph.checkpoint.postgres import PostgresSaver

    model = ScriptedToolModel()
    with (
        MemoriaMiddleware(memory="hybrid", k=3, max_tokens=1500, db=own_postgres_url) as memory,
        PostgresSaver.from_conn_string(own_postgres_url) as saver,
    ):
        saver.setup()
        agent = two_tool_agent(model, memory, saver)
        sizes = run_long_conversation(agent, saver, model, 300, 1500)
        assert_flat(sizes, 300)
        transcript = memory.transcript("t", state=agent.get_state(CONFIG).values)
        assert len([m for m in transcript if isinstance(m, HumanMessage)]) == 300
        assert_pairs_intact(transcript)


def make_agent(model=None, memory=None, **kwargs):
    model = model or ScriptedToolModel()
    memory = memory or MemoriaMiddleware(memory="hybrid", k=2, max_tokens=700)
    agent = create_agent(
        model,
        tools=kwargs.pop("tools", [weather]),
        middleware=[memory],
        checkpointer=InMemorySaver(),
        store=InMemoryStore(),
        **kwargs,
    )
    return agent, model, memory


def test_a_failing_summariser_loses_nothing_keeps_the_state_bounded_and_says_why():
    agent, _, memory = make_agent(
        memory=MemoriaMiddleware(
            memory="hybrid", k=2, max_tokens=700, summary_model=BrokenSummariser()
        )
    )
    for n in range(30):
        agent.invoke({"messages": [HumanMessage(message(n))]}, CONFIG)
    state = agent.get_state(CONFIG).values
    assert "summary provider unreachable" in state["memoria"]["summary_error"]
    assert state["memoria"]["summary_failures"] >= 3
    assert state["memoria"]["summary"], "the extractive summary stands in"
    assert len(state["messages"]) < 25, "the view stays bounded"
    transcript = memory.transcript("t", store=agent.store, state=state)
    assert [m.content for m in transcript if isinstance(m, HumanMessage)] == [
        message(n) for n in range(30)
    ]


def test_a_turn_that_never_finished_leaves_no_trace():
    @tool
    def fragile(x: int) -> str:
        """Crashes the agent (an exception create_agent's tool node does not handle)."""
        raise KeyboardInterrupt

    agent, model, memory = make_agent(tools=[weather, fragile])
    agent.invoke({"messages": [HumanMessage("hola")]}, CONFIG)
    before = agent.get_state(CONFIG).values["messages"]
    with pytest.raises(KeyboardInterrupt):
        agent.invoke({"messages": [HumanMessage('call fragile {"x": 1}')]}, CONFIG)
    assert len(agent.get_state(CONFIG).values["messages"]) > len(before)  # as LangGraph left it
    agent.invoke({"messages": [HumanMessage("seguimos")]}, CONFIG)
    after = agent.get_state(CONFIG).values
    assert [m.content for m in after["messages"]] == [
        *(m.content for m in before),
        "seguimos",
        "seguimos",
    ]
    assert not any("fragile" in str(m.content) for m in model.prompts[-1])
    transcript = memory.transcript("t", store=agent.store, state=after)
    assert [m.content for m in transcript if isinstance(m, HumanMessage)] == ["hola", "seguimos"]


def test_the_memory_tool_comes_with_the_middleware_and_searches_what_left_the_view():
    def searching(messages, offered):
        last = messages[-1]
        if isinstance(last, HumanMessage) and last.content.startswith("search:"):
            query = {"query": last.content[7:].strip()}
            return AIMessage("", tool_calls=[{"name": MEMORY_TOOL_NAME, "args": query, "id": "s1"}])
        if isinstance(last, ToolMessage):
            return AIMessage(str(last.content))
        return AIMessage(str(last.content))

    model = ScriptedToolModel(script=searching)
    memory = MemoriaMiddleware(memory="window", k=2)
    assert [t.name for t in memory.tools] == [MEMORY_TOOL_NAME]
    assert MemoriaMiddleware(memory_tool="off").tools == []
    agent, model, memory = make_agent(model=model, memory=memory)
    agent.invoke({"messages": [HumanMessage(FACT)]}, CONFIG)
    for n in range(6):
        agent.invoke({"messages": [HumanMessage(f"Otra cosa {n}: el tiempo y la comida.")]}, CONFIG)
    out = agent.invoke({"messages": [HumanMessage("search: taquilla perro")]}, CONFIG)
    answer = out["messages"][-1].content
    assert answer.startswith('Found 1 earlier turn for "taquilla perro"')
    assert "4821" in answer and "[1] turn 1 · " in answer
    assert sorted(model.offered[-1]) == [MEMORY_TOOL_NAME, "weather"]


def test_async_agents_stream_and_invoke(tmp_path):
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async def main() -> tuple[list, dict]:
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "a.sqlite")) as saver:
            model = ScriptedToolModel()
            agent = create_agent(
                model,
                tools=[weather],
                middleware=[MemoriaMiddleware(memory="hybrid", k=2, max_tokens=700)],
                checkpointer=saver,
                store=InMemoryStore(),
            )
            for n in range(20):
                await agent.ainvoke({"messages": [HumanMessage(message(n))]}, CONFIG)
            streamed = [
                chunk
                async for chunk, _ in agent.astream(
                    {"messages": [HumanMessage(QUESTION)]}, CONFIG, stream_mode="messages"
                )
            ]
            state = (await agent.aget_state(CONFIG)).values
            return streamed, state

    streamed, state = asyncio.run(main())
    assert any(getattr(c, "content", "") == QUESTION for c in streamed)
    assert state["memoria"]["turns"] == 21 and state["memoria"]["folded"] > 0
    assert_pairs_intact(state["messages"])


def test_a_sync_agent_streams_and_keeps_its_memory_out_of_its_output():
    agent, _, _ = make_agent()
    for n in range(12):
        agent.invoke({"messages": [HumanMessage(message(n))]}, CONFIG)
    updates = list(agent.stream({"messages": [HumanMessage(QUESTION)]}, CONFIG))
    assert [next(iter(u)) for u in updates][-1].endswith("after_agent")
    values = list(
        agent.stream({"messages": [HumanMessage("y ahora")]}, CONFIG, stream_mode="values")
    )
    assert values[-1]["messages"][-1].content == "y ahora"
    assert agent.get_state(CONFIG).values["memoria"]["turns"] == 14
    # The output schema leaves the private channel out of what `invoke` returns (a "values"
    # stream carries every channel, as it does create_agent's own private ones).
    assert "memoria" not in agent.invoke({"messages": [HumanMessage("fin")]}, CONFIG)


def test_the_transcript_goes_to_a_memoria_database_when_given(tmp_path):
    with MemoriaMiddleware(memory="window", k=1, db=tmp_path / "memoria.sqlite") as memory:
        agent, _, _ = make_agent(memory=memory)
        for n in range(5):
            agent.invoke({"messages": [HumanMessage(message(n))]}, CONFIG)
        state = agent.get_state(CONFIG).values
        transcript = memory.transcript("t", state=state)
        assert len([m for m in transcript if isinstance(m, HumanMessage)]) == 5
    with sqlite3.connect(tmp_path / "memoria.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM memoria_turns").fetchone() == (5,)


def test_settings_are_checked_and_misuse_is_one_clear_error():
    with pytest.raises(TypeError, match="unknown settings model"):
        MemoriaMiddleware(model="groq:x")
    with pytest.raises(ValueError, match="k must be between"):
        MemoriaMiddleware(k=-1)
    with pytest.raises(TypeError, match="either context= or settings"):
        MemoriaMiddleware(context=Context(), k=2)
    agent = create_agent(
        ScriptedToolModel(),
        tools=[],
        middleware=[MemoriaMiddleware()],
        checkpointer=InMemorySaver(),
    )
    with pytest.raises(ValueError, match=r"store=\.\.\.\), or give MemoriaMiddleware\(db=\.\.\.\)"):
        agent.invoke({"messages": [HumanMessage("hola")]}, CONFIG)
    agent, *_ = make_agent()
    with pytest.raises(ValueError, match="thread_id"):
        agent.invoke({"messages": [HumanMessage("hola")]})


def test_a_thread_from_before_the_middleware_is_archived_before_anything_leaves_the_view():
    saver, store = InMemorySaver(), InMemoryStore()
    model = ScriptedToolModel()
    plain = create_agent(model, tools=[weather], checkpointer=saver, store=store)
    for n in range(8):
        plain.invoke({"messages": [HumanMessage(f"Turno {n}: mi color es azul{n}")]}, CONFIG)
    memory = MemoriaMiddleware(memory="window", k=2)
    agent = create_agent(
        model, tools=[weather], middleware=[memory], checkpointer=saver, store=store
    )
    agent.invoke({"messages": [HumanMessage("hola de nuevo")]}, CONFIG)
    state = agent.get_state(CONFIG).values
    assert [m.content for m in state["messages"] if isinstance(m, HumanMessage)] == [
        "Turno 6: mi color es azul6",
        "Turno 7: mi color es azul7",
        "hola de nuevo",
    ]
    transcript = memory.transcript("t", store=store, state=state)
    assert [m.content for m in transcript if isinstance(m, HumanMessage)] == [
        *(f"Turno {n}: mi color es azul{n}" for n in range(8)),
        "hola de nuevo",
    ]


def test_a_retried_message_with_the_same_id_is_answered_not_dropped():
    crash = {"now": True}

    @tool
    def flaky(x: int) -> str:
        """Fails the first time, with an exception create_agent's tool node does not handle."""
        if crash["now"]:
            raise KeyboardInterrupt
        return "bien"

    agent, _, _ = make_agent(tools=[flaky])
    agent.invoke({"messages": [HumanMessage("hola", id="m0")]}, CONFIG)
    retried = HumanMessage('call flaky {"x": 1}', id="m1")
    with pytest.raises(KeyboardInterrupt):
        agent.invoke({"messages": [retried]}, CONFIG)
    crash["now"] = False
    agent.invoke({"messages": [retried]}, CONFIG)  # a client sending the same message again
    state = agent.get_state(CONFIG).values
    assert [(m.type, m.content) for m in state["messages"]][2:] == [
        ("human", 'call flaky {"x": 1}'),
        ("ai", ""),
        ("tool", "bien"),
        ("ai", "Done: bien"),
    ]


def test_a_sub_agent_keeps_its_transcript_apart_from_its_callers():
    store = InMemoryStore()
    inner = create_agent(
        ScriptedToolModel(), tools=[weather], middleware=[MemoriaMiddleware()], store=store
    )

    @tool
    def research(topic: str) -> str:
        """Ask the research sub-agent."""
        out = inner.invoke({"messages": [HumanMessage(f"investiga {topic}")]})
        return str(out["messages"][-1].content)

    outer_memory = MemoriaMiddleware()
    outer = create_agent(
        ScriptedToolModel(),
        tools=[research],
        middleware=[outer_memory],
        checkpointer=InMemorySaver(),
        store=store,
    )
    for text in ["hola", 'call research {"topic": "ballenas"}', "adiós"]:
        outer.invoke({"messages": [HumanMessage(text)]}, CONFIG)
    state = outer.get_state(CONFIG).values
    transcript = outer_memory.transcript("t", store=store, state=state)
    assert [m.content for m in transcript if isinstance(m, HumanMessage)] == [
        "hola",
        'call research {"topic": "ballenas"}',
        "adiós",
    ]
    inner_turns = StoreTranscript(store).read("t#tools")
    assert inner_turns[0].messages[0].content == "investiga ballenas"
