"""Tools in Memoria's graph: a scripted tool-calling model drives real tools through the `tools`
node; a turn is the whole loop (archived, rolled back, cancelled, forked and exported as one), the
loop is bounded, and the memory tool searches what left the model's view."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from fakes import ScriptedToolModel, default_script, store_transcript
from groq_stub import GROQ_TEST_KEY
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from memoria import Context
from memoria.agent import Memoria
from memoria.errors import TurnUndoError
from memoria.events import ToolCall, ToolResult
from memoria.memory_tool import MEMORY_TOOL_NAME
from memoria.prompts import RECALL_HEADER
from memoria.threads import ThreadExport
from memoria.tokens import TokenCounter
from memoria.tools import ToolInterruptError, ToolLoopError, ToolsUnsupportedError
from memoria.transcript import StoreTranscript

THREAD = {"configurable": {"thread_id": "t"}}
QUIET = Context(summary_model="extractive")
"""The scripted model as chat model, the extractive summariser: deterministic."""


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"Soleado en {city}, 24 grados, viento del sur"


def call(name: str, **args: object) -> str:
    """A message the scripted model answers by calling `name` with `args`."""
    return f"call {name} {json.dumps(args)}"


def ask(graph, text, context=QUIET):
    """One turn; the thread's whole state after it (the run itself returns only `OutputState`)."""
    graph.invoke({"messages": [HumanMessage(text)]}, THREAD, context=context)
    return graph.get_state(THREAD).values


def snapshot(agent: Memoria, thread: str):
    state = agent.graph.get_state(agent.config(thread))
    return state.config, state.values, [m.model_dump() for m in agent.transcript(thread)]


def test_a_tool_loop_is_one_turn_archived_whole(make_graph, store):
    model = ScriptedToolModel()
    graph = make_graph(model, tools=[weather])
    out = ask(graph, call("weather", city="Lima"))
    assert [m.type for m in out["messages"]] == ["human", "ai", "tool", "ai"]
    assert out["messages"][-1].content == "Done: Soleado en Lima, 24 grados, viento del sur"
    assert out["turns"] == 1
    assert out["report"]["model_calls"] == 2
    assert [m.type for m in store_transcript(store, "t")] == ["human", "ai", "tool", "ai"]
    assert model.offered == [["weather", MEMORY_TOOL_NAME]] * 2
    second_prompt = model.prompts[1]
    assert isinstance(second_prompt[-1], ToolMessage)
    assert second_prompt[-1].tool_call_id == out["messages"][1].tool_calls[0]["id"]


def test_plain_functions_are_tools_and_parallel_calls_all_run(make_graph):
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    model = ScriptedToolModel()
    graph = make_graph(model, tools=[add, weather])
    out = ask(graph, call("add", a=2, b=3) + "\n" + call("weather", city="Quito"))
    results = [m.content for m in out["messages"] if isinstance(m, ToolMessage)]
    assert results == ["5", "Soleado en Quito, 24 grados, viento del sur"]
    assert out["messages"][-1].content.startswith("Done: 5 | Soleado en Quito")


def test_a_tool_that_raises_gives_the_model_the_error_redacted_and_the_turn_goes_on(
    make_graph, monkeypatch
):
    monkeypatch.setenv("GROQ_API_KEY", GROQ_TEST_KEY)

    @tool
    def leaky(x: int) -> str:
        """Fails, echoing a key the way some backends do."""
        raise RuntimeError(f"upstream refused key {GROQ_TEST_KEY}\nsecond line")

    graph = make_graph(ScriptedToolModel(), tools=[leaky])
    out = ask(graph, call("leaky", x=1))
    result = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    assert result.status == "error"
    assert result.content == "Error: the tool failed: upstream refused key ***"
    assert out["turns"] == 1 and out["messages"][-1].content.startswith("Done: Error")


def test_a_call_to_an_unknown_tool_or_with_bad_arguments_is_answered_not_raised(make_graph):
    def script(messages, offered):
        if isinstance(messages[-1], HumanMessage):
            return AIMessage(
                "",
                tool_calls=[
                    {"name": "nosuch", "args": {}, "id": "a"},
                    {"name": "weather", "args": {"town": 3}, "id": "b"},
                ],
            )
        return AIMessage("ok")

    out = ask(make_graph(ScriptedToolModel(script=script), tools=[weather]), "hola")
    results = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in results] == ["error", "error"]
    assert "nosuch" in results[0].content and "city" in results[1].content
    assert out["messages"][-1].content == "ok"


def endless(messages, offered):
    """A model that never stops calling tools."""
    return AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Lima"}, "id": None}])


def test_a_loop_that_never_ends_stops_at_max_tool_rounds_with_the_thread_intact(tmp_path):
    model = ScriptedToolModel()
    context = Context(max_tool_rounds=3, summary_model="extractive")
    with Memoria(db=tmp_path / "m.sqlite", model=model, tools=[weather], context=context) as agent:
        agent.send("t", "hola")
        before = snapshot(agent, "t")
        calls_before = len(model.prompts)
        model.script = endless
        with pytest.raises(ToolLoopError, match=r"after 3 model calls.*max_tool_rounds is 3"):
            agent.send("t", "¿qué tiempo hace?")
        assert len(model.prompts) - calls_before == 3
        assert snapshot(agent, "t") == before
        model.script = None
        assert agent.send("t", "gracias").content == "gracias"
        assert agent.state("t").turns == 2


def test_cancelling_in_the_tool_loop_restores_the_thread_and_stops_the_loop(tmp_path):
    started, release = threading.Event(), threading.Event()

    @tool
    def slow(seconds: int) -> str:
        """Takes its time."""
        started.set()
        release.wait(10)
        return "late result"

    model = ScriptedToolModel()
    with Memoria(db=tmp_path / "m.sqlite", model=model, tools=[slow], context=QUIET) as agent:
        agent.send("t", "hola")
        before = snapshot(agent, "t")
        turn = agent.start("t", call("slow", seconds=5))
        assert started.wait(10)
        calls = len(model.prompts)
        t0 = time.monotonic()
        assert turn.cancel() is True
        assert time.monotonic() - t0 < 0.5
        assert snapshot(agent, "t") == before  # at once, while the tool still runs
        release.set()
        time.sleep(0.5)  # the abandoned loop would call the model again now
        assert len(model.prompts) == calls, "a cancelled tool loop must not go on"
        assert snapshot(agent, "t") == before
        assert agent.send("t", "otra vez").content == "otra vez"


def test_a_provider_error_in_the_middle_of_the_loop_rolls_the_turn_back(tmp_path):
    model = ScriptedToolModel()
    with Memoria(db=tmp_path / "m.sqlite", model=model, tools=[weather], context=QUIET) as agent:
        agent.send("t", "hola")
        before = snapshot(agent, "t")

        def fails_after_the_tool(messages, offered):
            if isinstance(messages[-1], ToolMessage):
                raise ConnectionError("provider down")
            return endless(messages, offered)

        model.script = fails_after_the_tool
        with pytest.raises(ConnectionError):
            agent.send("t", "¿qué tiempo hace?")
        assert snapshot(agent, "t") == before


def test_tools_the_model_cannot_call_are_refused_before_the_first_turn(tmp_path):
    with pytest.raises(ToolsUnsupportedError, match="cannot call tools"):
        Memoria(db=tmp_path / "a.sqlite", context=Context(model="echo"), tools=[weather])
    with pytest.raises(ToolsUnsupportedError, match=MEMORY_TOOL_NAME):
        Memoria(db=tmp_path / "b.sqlite", context=Context(model="echo", memory_tool="on"))
    with Memoria(db=tmp_path / "c.sqlite", context=Context(model="echo")) as agent:
        assert agent.offered_tools == []  # auto: echo cannot call tools
    with Memoria(
        db=tmp_path / "d.sqlite",
        model=ScriptedToolModel(),
        context=Context(memory_tool="off", summary_model="extractive"),
    ) as agent:
        assert agent.offered_tools == []


def searching(messages, offered):
    """Searches the transcript for what follows `search:` (once per `search:` line), then
    answers with what it found."""
    last_human = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    asked = str(messages[last_human].content)
    queries = [line[7:].strip() for line in asked.splitlines() if line.startswith("search:")]
    done = sum(isinstance(m, AIMessage) for m in messages[last_human:])
    if done < len(queries):
        query = {"query": queries[done]}
        return AIMessage("", tool_calls=[{"name": MEMORY_TOOL_NAME, "args": query, "id": None}])
    if queries:
        results = [m.content for m in messages[last_human:] if isinstance(m, ToolMessage)]
        return AIMessage(" || ".join(str(r) for r in results))
    return AIMessage(asked)


FILLER = [f"Hablemos de otra cosa, tema {n}: " + "asunto variado " * 6 for n in range(14)]


def test_the_memory_tool_finds_what_left_the_view_and_never_what_is_in_it(tmp_path):
    """`window` lets old turns go by design (and recalls nothing by itself): the tool still
    reaches them in the transcript, and leaves out the k turns in view."""
    model = ScriptedToolModel(script=searching)
    context = Context(memory="window", k=2, max_tokens=600, summary_model="extractive")
    with Memoria(db=tmp_path / "m.sqlite", model=model, context=context) as agent:
        agent.send("t", "Mi perro se llama Toby y le encanta el parque del Retiro.")
        for text in FILLER:
            agent.send("t", text)
        agent.send("t", "El gato de mi hermana se llama Misifú.")
        reply = agent.send("t", "search: perro Toby").content
        assert reply.startswith('Found 1 earlier turn for "perro Toby" (searched turns 1-')
        assert "[1] turn 1 · " in reply and "Toby y le encanta el parque" in reply
        # The last turns are in the model's view: searching them finds nothing new.
        reply = agent.send("t", "search: Misifú").content
        assert reply.startswith('No earlier turn matches "Misifú"')
        # The tool's budget bounds its answer.
        result = next(m for m in model.prompts[-1] if isinstance(m, ToolMessage))
        assert TokenCounter(None).text(str(result.content)) <= context.memory_tool_budget + 40


def test_several_searches_reach_facts_spread_over_several_turns(tmp_path):
    """A question whose answer is in two turns, found by two searches with different words (the
    automatic recall is off here, so that only the tool can bring them back)."""
    model = ScriptedToolModel(script=searching)
    context = Context(
        memory="hybrid", k=2, max_tokens=800, recall_tokens=0, summary_model="extractive"
    )
    with Memoria(db=tmp_path / "m.sqlite", model=model, context=context) as agent:
        agent.send("t", "En el viaje a Japón lo que más me gustó fue el ramen de Sapporo.")
        for text in FILLER[:6]:
            agent.send("t", text)
        agent.send("t", "Del viaje a Perú me quedo con el amanecer en Machu Picchu.")
        for text in FILLER[6:]:
            agent.send("t", text)
        reply = agent.send("t", "search: Japón ramen\nsearch: Perú Machu Picchu").content
        assert "ramen de Sapporo" in reply and "amanecer en Machu Picchu" in reply
        final_prompt = "\n".join(str(m.content) for m in model.prompts[-1])
        assert "ramen de Sapporo" in final_prompt and "Machu Picchu" in final_prompt


def test_the_memory_tool_names_turns_already_recalled_instead_of_repeating_them(tmp_path):
    model = ScriptedToolModel(script=searching)
    context = Context(memory="hybrid", k=2, max_tokens=600, summary_model="extractive")
    with Memoria(db=tmp_path / "m.sqlite", model=model, context=context) as agent:
        agent.send("t", "Mi perro se llama Toby y le encanta el parque.")
        for text in FILLER:
            agent.send("t", text)
        reply = agent.send("t", "search: perro Toby").content
        system = str(model.prompts[-1][0].content)
        assert RECALL_HEADER in system and "Toby" in system.split(RECALL_HEADER)[1]
        assert "Also matching, already recalled into your context above: turn(s) 1." in reply
        assert "[1] turn 1" not in reply


def test_the_prompt_stays_bounded_inside_a_long_tool_loop(tmp_path):
    @tool
    def page(n: int) -> str:
        """A long page of results."""
        return f"page {n}: " + f"resultado {n} " * 180

    def eight_pages(messages, offered):
        last_human = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        read = sum(isinstance(m, ToolMessage) for m in messages[last_human:])
        if read < 8:
            return AIMessage("", tool_calls=[{"name": "page", "args": {"n": read}, "id": None}])
        return AIMessage("leído")

    model = ScriptedToolModel(script=eight_pages)
    context = Context(max_tokens=1200, summary_model="extractive", memory_tool="off")
    with Memoria(db=tmp_path / "m.sqlite", model=model, tools=[page], context=context) as agent:
        agent.send("t", "lee las ocho páginas")
        # As the model's provider counts them (ScriptedToolModel reports 4 characters a token).
        sizes = [sum(len(str(m.content)) for m in prompt) // 4 + 1 for prompt in model.prompts]
        assert len(sizes) == 9 and max(sizes) <= 1200, sizes
        assert sizes[-1] > 600, "the limit is used, not wasted"
        last = model.prompts[-1]
        results = [str(m.content) for m in last if isinstance(m, ToolMessage)]
        assert sum("left out to keep the prompt within its limit" in r for r in results) >= 6
        assert results[-1].startswith("page 7: resultado 7")
        kept = [m for m in agent.transcript("t") if isinstance(m, ToolMessage)]
        assert [len(str(m.content)) for m in kept] == [len(page.invoke({"n": n})) for n in range(8)]


def test_tool_turns_are_searchable_and_recalled_with_their_results(tmp_path):
    model = ScriptedToolModel()
    context = Context(memory="hybrid", k=2, max_tokens=600, summary_model="extractive")
    with Memoria(db=tmp_path / "m.sqlite", model=model, tools=[weather], context=context) as agent:
        agent.send("t", call("weather", city="Cartagena"))
        for text in FILLER:
            agent.send("t", text)
        hits = agent.search("viento del sur Cartagena")
        assert [hit.turn for hit in hits[:1]] == [0]
        recalled = agent.recall("t", "¿Qué viento hacía en Cartagena?")
        assert [item.turn for item in recalled] == [0]
        assert "Tool weather: Soleado en Cartagena" in recalled[0].text
        assert 'Assistant called: weather({"city": "Cartagena"})' in recalled[0].text


def test_fork_export_and_import_keep_a_tool_turn_whole(tmp_path):
    model = ScriptedToolModel()
    with Memoria(db=tmp_path / "m.sqlite", model=model, tools=[weather], context=QUIET) as agent:
        agent.send("t", call("weather", city="Lima"))
        agent.send("t", "gracias")
        exported = agent.export_thread("t")
        markdown = exported.to_markdown()
        assert '**Assistant called:** weather({"city": "Lima"})' in markdown
        assert "**Tool weather:** Soleado en Lima" in markdown
        again = ThreadExport.from_json(json.loads(json.dumps(exported.to_json())))
        agent.import_thread(again, "copy")
        assert [m.model_dump() for m in agent.transcript("copy")] == [
            m.model_dump() for m in agent.transcript("t")
        ]
        agent.fork_thread("t", at=1, new="first")
        assert [m.type for m in agent.transcript("first")] == ["human", "ai", "tool", "ai"]
        assert [m.type for m in agent.state("first").messages] == ["human", "ai", "tool", "ai"]
        assert agent.send("first", "y ahora").content == "y ahora"


def test_events_report_each_call_and_its_result_sync_and_async(tmp_path):
    model = ScriptedToolModel()
    with Memoria(db=tmp_path / "m.sqlite", model=model, tools=[weather], context=QUIET) as agent:
        turn = agent.start("t", call("weather", city="Lima"))
        events = list(turn.events())
        assert isinstance(events[0], ToolCall) and events[0].args == {"city": "Lima"}
        assert isinstance(events[1], ToolResult) and events[1].id == events[0].id
        assert "".join(e for e in events if isinstance(e, str)).startswith("Done: Soleado")
        assert [(c.name, r.content if r else None) for c, r in turn.tool_calls] == [
            ("weather", "Soleado en Lima, 24 grados, viento del sur")
        ]

        async def collect():
            turn = agent.start("t", call("weather", city="Quito"))
            return [event async for event in turn.aevents()]

        events = asyncio.run(collect())
        assert [type(e).__name__ for e in events[:2]] == ["ToolCall", "ToolResult"]


def test_a_call_whose_arguments_do_not_parse_is_answered_and_the_loop_goes_on(make_graph, store):
    """Providers send malformed or cut JSON as an invalid tool call: the model gets an error
    result for it and calls again; the thread never holds a call without a result."""

    def script(messages, offered):
        last = messages[-1]
        if isinstance(last, HumanMessage):
            bad = {"name": "weather", "args": '{"city": "Li', "id": None, "error": "cut JSON"}
            return AIMessage("", invalid_tool_calls=[{**bad, "type": "invalid_tool_call"}])
        if isinstance(last, ToolMessage) and last.status == "error":
            return AIMessage(
                "", tool_calls=[{"name": "weather", "args": {"city": "Lima"}, "id": "ok"}]
            )
        return AIMessage("Hace sol en Lima.")

    model = ScriptedToolModel(script=script)
    graph = make_graph(model, tools=[weather])
    out = ask(graph, "¿tiempo en Lima?")
    assert [m.type for m in out["messages"]] == ["human", "ai", "tool", "ai", "tool", "ai"]
    error = out["messages"][2]
    assert error.status == "error" and "could not be read (cut JSON)" in error.content
    assert error.tool_call_id == out["messages"][1].invalid_tool_calls[0]["id"]
    assert out["turns"] == 1 and out["report"]["model_calls"] == 3
    ask(graph, "gracias")
    for prompt in model.prompts:
        called = {c["id"] for m in prompt if isinstance(m, AIMessage) for c in m.tool_calls}
        called |= {
            c["id"] for m in prompt if isinstance(m, AIMessage) for c in m.invalid_tool_calls
        }
        assert called <= {m.tool_call_id for m in prompt if isinstance(m, ToolMessage)}


def test_a_graph_without_rollback_drops_what_a_failed_tool_loop_left(make_graph, store):
    """In a graph run without Memoria's rollback (Studio, `build_graph`), a provider error in
    the middle of a tool loop leaves the call and its result in the state: the next turn takes
    them out and answers both messages, as after any failed call."""
    model = ScriptedToolModel()
    graph = make_graph(model, tools=[weather])
    ask(graph, "hola")

    def down_after_the_tool(messages, offered):
        if isinstance(messages[-1], ToolMessage):
            raise ConnectionError("provider down")
        return AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Lima"}, "id": "w"}])

    model.script = down_after_the_tool
    with pytest.raises(ConnectionError):
        ask(graph, "¿tiempo en Lima?")
    assert [m.type for m in graph.get_state(THREAD).values["messages"]][-2:] == ["ai", "tool"]
    model.script = None
    out = ask(graph, "seguimos")
    assert [(m.type, m.content) for m in out["messages"]] == [
        ("human", "hola"),
        ("ai", "hola"),
        ("human", "¿tiempo en Lima?"),
        ("human", "seguimos"),
        ("ai", "¿tiempo en Lima?\n\nseguimos"),
    ]
    assert out["turns"] == 2
    assert [[m.type for m in t.messages] for t in StoreTranscript(store).read("t")] == [
        ["human", "ai"],
        ["human", "human", "ai"],
    ]


def test_a_tool_that_waits_for_human_input_is_refused_and_the_thread_kept(tmp_path):
    from langgraph.types import interrupt

    @tool
    def ask_human(question: str) -> str:
        """Ask the human a question and wait for the answer."""
        return str(interrupt(question))

    model = ScriptedToolModel()
    with Memoria(db=tmp_path / "m.sqlite", model=model, tools=[ask_human], context=QUIET) as agent:
        agent.send("t", "hola")
        before = snapshot(agent, "t")
        with pytest.raises(ToolInterruptError, match="asked for human input"):
            agent.send("t", call("ask_human", question="¿seguro?"))
        assert snapshot(agent, "t") == before
        assert agent.send("t", "seguimos").content == "seguimos"


def test_a_failed_undo_beside_a_stateful_sub_agent_is_finished_by_the_next_turn(tmp_path):
    """A tool that runs a sub-agent compiled with `checkpointer=True` leaves checkpoints under
    its own namespace, newer than the turn's start: finishing a failed undo must not take one
    of them for the checkpoint the turn started from (its state has no `turns`: the whole
    transcript would go with it)."""
    from langgraph.graph import END, START, MessagesState, StateGraph

    def answer(state: MessagesState) -> dict:
        return {"messages": [AIMessage("el subagente responde")]}

    builder = StateGraph(MessagesState)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    sub_agent = builder.compile(checkpointer=True)

    @tool
    def consult(question: str) -> str:
        """Ask the sub-agent."""
        return sub_agent.invoke({"messages": [HumanMessage(question)]})["messages"][-1].content

    model = ScriptedToolModel()
    with Memoria(db=tmp_path / "m.sqlite", model=model, tools=[consult], context=QUIET) as agent:
        agent.send("t", "hola")
        agent.send("t", call("consult", question="¿algo?"))
        before = snapshot(agent, "t")

        def fails_after_the_tool(messages, offered):
            if isinstance(messages[-1], ToolMessage):
                raise ConnectionError("provider down")
            return default_script(messages, offered)

        model.script = fails_after_the_tool
        discard_after = agent.checkpointer.discard_after

        def disk_full(*args: object) -> None:
            raise OSError("database or disk is full")

        agent.checkpointer.discard_after = disk_full  # type: ignore[method-assign]
        with pytest.raises(TurnUndoError, match="next turn finishes undoing it"):
            agent.send("t", call("consult", question="¿otra?"))
        agent.checkpointer.discard_after = discard_after  # type: ignore[method-assign]
        model.script = None
        assert agent.send("t", "seguimos").content == "seguimos"
        assert agent.state("t").turns == 3
        transcript = [m.model_dump() for m in agent.transcript("t")]
        kept = len(before[2])
        assert transcript[:kept] == before[2]
        assert [m["content"] for m in transcript[kept:]] == ["seguimos", "seguimos"]
