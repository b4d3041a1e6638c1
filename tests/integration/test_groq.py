"""Groq through the real `langchain-groq` client, pointed at the local stub server."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from memoria import Context
from memoria.agent import Memoria
from memoria.context import DEFAULT_GROQ_MODEL
from memoria.models import ModelSpecError, load_chat_model
from memoria.prompts import SUMMARY_HEADER

THREAD = {"configurable": {"thread_id": "g"}}


def ask(graph, text, context):
    """One turn; the thread's whole state after it (the run itself returns only `OutputState`)."""
    graph.invoke({"messages": [HumanMessage(text)]}, THREAD, context=context)
    return graph.get_state(THREAD).values


def test_request_carries_model_system_prompt_summary_and_only_the_last_k_turns(groq, make_graph):
    graph = make_graph()
    context = Context(
        memory="hybrid", k=2, max_tokens=400, recall_tokens=0, system_prompt="Responde en español."
    )
    questions = [f"Pregunta {n}: " + "contexto " * 20 for n in range(8)]
    for question in questions:
        out = ask(graph, question, context)

    assert context.model == DEFAULT_GROQ_MODEL
    last = groq.chat_requests()[-1]
    assert last["model"] == "llama-3.3-70b-versatile"
    assert groq.headers[-1]["Authorization"] == "Bearer gsk_test_0123456789abcdef"
    system, *rest = last["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("Responde en español.")
    assert SUMMARY_HEADER in system["content"] and out["summary"] in system["content"]
    users = [m["content"] for m in rest if m["role"] == "user"]
    assert users[-1] == questions[-1]
    assert 1 <= len(users) - 1 <= 2, "at most k completed turns after a fold"
    assert users == questions[-len(users) :]
    assert out["messages"][-1].content == f"Respuesta a: {questions[-1]}"


def test_summary_request_merges_the_previous_summary_in_the_conversation_language(groq, make_graph):
    graph = make_graph()
    context = Context(memory="summary")
    ask(graph, "Me llamo Juan y vivo en Bogotá.", context)
    ask(graph, "Trabajo como ingeniero.", context)
    first_summary = graph.get_state(THREAD).values["summary"]
    ask(graph, "Me gusta el fútbol.", context)

    first, second = groq.summary_requests()
    instructions = second["messages"][0]["content"]
    assert "same language as the conversation" in instructions
    assert "never drop what the previous summary says" in instructions
    assert "(none yet)" in first["messages"][1]["content"]
    assert first_summary in second["messages"][1]["content"], "the previous summary is merged"
    assert "Trabajo como ingeniero." in second["messages"][1]["content"]
    assert second["max_tokens"] == context.policy().effective_summary_cap


def test_a_separate_summary_model_is_used_for_summaries(groq, make_graph):
    graph = make_graph()
    context = Context(memory="summary", summary_model="groq:llama-3.1-8b-instant")
    for text in ["uno", "dos", "tres"]:
        ask(graph, text, context)
    assert {r["model"] for r in groq.summary_requests()} == {"llama-3.1-8b-instant"}
    assert {r["model"] for r in groq.chat_requests()} == {"llama-3.3-70b-versatile"}


def test_token_estimate_calibrates_to_groq_usage(groq, make_graph):
    graph = make_graph()
    for n in range(6):
        out = ask(graph, f"Mensaje {n} " + "palabras " * 40, Context(memory="buffer"))
    # The stub counts 3 characters a token; the raw estimate assumes 4 plus overheads.
    assert 1.15 < out["token_scale"] < 1.4
    reported = out["report"]["usage"]["input_tokens"]
    assert abs(out["report"]["prompt_tokens_estimate"] - reported) / reported < 0.15


def test_streaming_reply_through_the_library(groq, tmp_path):
    with Memoria(db=tmp_path / "m.sqlite", context=Context(memory="window", k=3)) as agent:
        pieces = list(agent.stream("s", "Hola, ¿quién eres?"))
        assert len(pieces) > 1
        assert "".join(pieces) == "Respuesta a: Hola, ¿quién eres?"
        assert groq.requests[-1]["stream"] is True
        assert agent.state("s").turns == 1
        assert [m.content for m in agent.transcript("s")][1] == "Respuesta a: Hola, ¿quién eres?"


def test_groq_without_a_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    load_chat_model.cache_clear()
    with pytest.raises(ModelSpecError, match="needs GROQ_API_KEY"):
        load_chat_model("groq:llama-3.3-70b-versatile")


@pytest.mark.parametrize("spec", ["nonsense", "groq:", ":model", "nosuchprovider:model"])
def test_unknown_model_specs_are_clear_errors(spec):
    with pytest.raises(ModelSpecError):
        load_chat_model(spec)


def test_the_recalled_excerpt_travels_inside_the_request_to_groq(groq, tmp_path):
    from memoria.prompts import RECALL_HEADER

    context = Context(memory="hybrid", k=2, max_tokens=600)
    with Memoria(db=tmp_path / "g.sqlite", context=context) as agent:
        agent.send("g", "Mi perro se llama Toby y le encanta el parque.")
        for n in range(14):
            agent.send("g", f"Hablemos de otra cosa, tema {n}: " + "asunto variado " * 6)
        agent.send("g", "¿Te acuerdas de cómo se llama mi perro?")
    system = groq.chat_requests()[-1]["messages"][0]["content"]
    recalled = system.split(RECALL_HEADER, 1)[1]
    assert "[turn 1 · " in recalled and "Mi perro se llama Toby" in recalled
    users = [m["content"] for m in groq.chat_requests()[-1]["messages"] if m["role"] == "user"]
    assert not any("Toby" in text for text in users[:-1]), "turn 1 is not in view: it was recalled"


def test_a_tool_call_goes_to_groq_and_its_result_comes_back_in_the_next_request(groq, tmp_path):
    """The tool schema in the request, the stub answering with a tool call (streamed in pieces,
    as Groq does), the result in the next request, and the final reply streamed."""
    from groq_stub import ToolCalls, answers_tools_with
    from langchain_core.tools import tool

    from memoria.memory_tool import MEMORY_TOOL_NAME

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"Soleado en {city}, 24 grados"

    def plan(body):
        asked = body["messages"][-1]
        if asked["role"] == "user" and "tiempo" in asked["content"]:
            return ToolCalls([("weather", {"city": "Lima"})])
        return None

    groq.reply = answers_tools_with(plan)
    with Memoria(db=tmp_path / "g.sqlite", tools=[weather]) as agent:
        turn = agent.start("g", "¿Qué tiempo hace en Lima?")
        pieces = list(turn)
        assert "".join(pieces) == "Según las herramientas: Soleado en Lima, 24 grados"
        first, second = groq.chat_requests()
        assert [t["function"]["name"] for t in first["tools"]] == ["weather", MEMORY_TOOL_NAME]
        assert first["tools"][0]["function"]["parameters"]["required"] == ["city"]
        call, result = second["messages"][-2:]
        assert call["role"] == "assistant" and call["tool_calls"][0]["function"] == {
            "name": "weather",
            "arguments": '{"city": "Lima"}',
        }
        assert result == {
            "role": "tool",
            "content": "Soleado en Lima, 24 grados",
            "tool_call_id": call["tool_calls"][0]["id"],
        }
        assert [m.type for m in agent.transcript("g")] == ["human", "ai", "tool", "ai"]
        assert agent.state("g").report["usage"]["input_tokens"] > 0


def test_the_memory_tool_is_offered_to_groq_by_default_and_can_be_switched_off(groq, tmp_path):
    from memoria.memory_tool import MEMORY_TOOL_NAME

    with Memoria(db=tmp_path / "g.sqlite") as agent:
        agent.send("a", "Hola")
    with Memoria(db=tmp_path / "g.sqlite", context=Context(memory_tool="off")) as agent:
        agent.send("b", "Hola")
    on, off = groq.chat_requests()
    assert [t["function"]["name"] for t in on["tools"]] == [MEMORY_TOOL_NAME]
    assert "tools" not in off
