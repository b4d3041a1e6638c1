"""The real offline model: SmolLM2-135M-Instruct through llama.cpp, no network."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from memoria import Context
from memoria.models import LocalChatModel, load_chat_model

pytestmark = pytest.mark.local_model

THREAD = {"configurable": {"thread_id": "local"}}


@pytest.fixture(scope="module")
def local_model() -> LocalChatModel:
    model = load_chat_model("local")
    assert isinstance(model, LocalChatModel)
    return model


def test_local_model_answers_a_turn_and_writes_a_summary(make_graph, local_model, store):
    graph = make_graph(local_model)
    context = Context(model="local", memory="summary", summary_max_tokens=80)
    first = graph.invoke(
        {"messages": [HumanMessage("Hello! My name is Juan and I live in Bogotá.")]},
        THREAD,
        context=context,
    )
    assert first["messages"][-1].content.strip(), "the local model must say something"
    graph.invoke({"messages": [HumanMessage("What is my name?")]}, THREAD, context=context)
    second = graph.get_state(THREAD).values  # with the channels a run does not return

    assert second["summary_error"] == ""
    assert second["summary"].strip(), "the local model wrote the summary of turn 1"
    assert second["report"]["folded_turns"] == 1
    assert local_model.count_text_tokens(second["summary"]) <= 80
    assert next(m.content for m in second["messages"]) == "What is my name?"


def test_token_estimate_is_within_15_percent_of_what_llama_cpp_reports(make_graph, local_model):
    graph = make_graph(local_model)
    graph.invoke(
        {
            "messages": [
                HumanMessage("¿Qué equipos llegaron a la final del Mundial de México 1986?")
            ]
        },
        THREAD,
        context=Context(model="local"),
    )
    out = graph.get_state(THREAD).values  # with the report, which a run does not return
    estimate = out["report"]["prompt_tokens_estimate"]
    reported = out["report"]["usage"]["input_tokens"]
    assert reported > 20
    assert abs(estimate - reported) / reported <= 0.15
