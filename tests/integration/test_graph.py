"""The memory graph with a checkpointer and a store, on the deterministic echo model.

Each guarantee the README lists under "What every preset guarantees" has a test here that fails if
it breaks.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from fakes import BrokenSummariser, RecordingSummariser, store_transcript
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from memoria import Context
from memoria.models import EchoChatModel
from memoria.studio import graph as module_graph
from memoria.tokens import TokenCounter

THREAD = {"configurable": {"thread_id": "t"}}

# The seed's own examples (../shared/seeds): the window conversation and the summary-buffer one.
SEED_WINDOW_QUESTIONS = [
    "Hola, soy Juan, ¿puedes ayudarme en algo?",
    "Quiero hacer una consulta sobre la historia reciente de Colombia",
    "¿Sabes que presidentes tuvo el pais entre 1980 y 1990?",
    "¿A qué partidos políticos pertenecían dichos presidentes?",
]
SEED_PROCESO_VOTACION = (
    "Según el reglamento académico, para sustentar el trabajo de grado en modalidad practica "
    "empresarial, se requiere certificado de la empresa de terminación de la práctica"
)


def ask(graph, text, context, config=THREAD):
    """One turn; the thread's whole state after it (the run itself returns only `OutputState`)."""
    graph.invoke({"messages": [HumanMessage(text)]}, config, context=context)
    return graph.get_state(config).values


def conversation(prompt):
    """The human/AI contents of a prompt, without the system message."""
    return [m.content for m in prompt if not isinstance(m, SystemMessage)]


def test_module_graph_has_the_named_nodes_and_the_memory_tool():
    nodes = set(module_graph.get_graph().nodes)
    assert {"trim", "summarise", "recall", "model", "tools"} <= nodes
    tool_node = module_graph.nodes["tools"].bound
    assert list(tool_node.tools_by_name) == ["search_conversation"]


def test_a_run_returns_the_memory_and_keeps_the_working_channels_in_the_checkpoint(
    make_graph, echo
):
    graph = make_graph(echo)
    context = Context(model="echo", memory="hybrid")
    text = "Hola, me llamo Juan y vivo en Bogotá con mi familia desde hace años."
    out = graph.invoke({"messages": [HumanMessage(text)]}, THREAD, context=context)
    assert set(out) <= {
        "messages",
        "summary",
        "turns",
        "summarised_turns",
        "summary_error",
        "summary_failures",
        "token_scale",
        "language",
    }
    assert out["turns"] == 1 and [m.content for m in out["messages"]] == [text, text]
    assert out["language"] == "es"
    saved = graph.get_state(THREAD).values
    assert {"fold_due", "recalled", "settings", "report"} <= set(saved)
    assert saved["settings"]["memory"] == "hybrid" and saved["report"]["model_calls"] == 1


def test_importing_the_graph_module_compiles_no_graph():
    code = "import sys, memoria.graph; assert 'memoria.studio' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_seed_window_k2_shows_exactly_the_last_two_exchanges(make_graph, echo):
    graph = make_graph(echo)
    context = Context(model="echo", memory="window", k=2)
    for question in SEED_WINDOW_QUESTIONS[:3]:
        ask(graph, question, context)
    # After the third question the memory holds the last two exchanges: what the model sees next.
    ask(graph, SEED_WINDOW_QUESTIONS[3], context)
    assert conversation(echo.prompts[-1]) == [
        SEED_WINDOW_QUESTIONS[1],
        SEED_WINDOW_QUESTIONS[1],
        SEED_WINDOW_QUESTIONS[2],
        SEED_WINDOW_QUESTIONS[2],
        SEED_WINDOW_QUESTIONS[3],
    ]
    assert conversation(echo.prompts[2])[:2] == [SEED_WINDOW_QUESTIONS[0]] * 2
    assert (
        "summary" not in graph.get_state(THREAD).values
        or not graph.get_state(THREAD).values["summary"]
    )


def test_seed_summary_buffer_100_tokens_keeps_newest_and_folds_the_rest(make_graph, echo, store):
    graph = make_graph(echo)
    context = Context(
        model="echo",
        memory="summary-buffer",
        max_tokens=100,
        system_prompt="Responde siempre en español.",
    )
    ask(graph, SEED_PROCESO_VOTACION, context)
    out = ask(graph, "¿para qué necesito ese certificado?", context)
    # The newest turn is verbatim; the first one now lives in the summary.
    assert [m.content for m in out["messages"]] == ["¿para qué necesito ese certificado?"] * 2
    assert "reglamento académico" in out["summary"]
    assert out["summarised_turns"] == 1
    assert "reglamento académico" in echo.prompts[-1][0].content  # the model saw the summary
    # Nothing is lost from the transcript.
    assert next(m.content for m in store_transcript(store, "t")) == SEED_PROCESO_VOTACION


def test_invariant_1_what_leaves_the_view_is_folded_first(make_graph, echo):
    summariser = RecordingSummariser()
    graph = make_graph(echo, summary_model=summariser)
    context = Context(model="echo", memory="hybrid", k=2, max_tokens=300, target_tokens=150)
    seen_ids: list[str] = []
    for n in range(25):
        before = {m.id for m in graph.get_state(THREAD).values.get("messages", [])}
        out = ask(graph, f"Pregunta {n}: " + "dato " * 20, context)
        after = {m.id for m in out["messages"]}
        left = before - after
        folded = {i for batch in summariser.folded for i in batch}
        assert left <= folded, "a message left the view without being folded into the summary"
        seen_ids.extend(m.id for m in out["messages"] if m.id not in seen_ids)
    assert summariser.folded, "the threshold was crossed, so something must have been folded"


def test_invariant_1_window_discards_without_summarising(make_graph, echo):
    summariser = RecordingSummariser()
    graph = make_graph(echo, summary_model=summariser)
    for n in range(6):
        out = ask(graph, f"q{n}", Context(model="echo", memory="window", k=1))
    assert summariser.folded == []
    assert [m.content for m in out["messages"]] == ["q4", "q4", "q5", "q5"]


def tool_exchange(n: int) -> list:
    call_id = f"call_{n}"
    return [
        HumanMessage(f"¿Qué tiempo hace en la ciudad {n}?"),
        AIMessage("", tool_calls=[{"name": "weather", "args": {"city": n}, "id": call_id}]),
        ToolMessage(f"Soleado en la ciudad {n} " + "detalle " * 15, tool_call_id=call_id),
    ]


@pytest.mark.parametrize(
    "context",
    [
        Context(model="echo", memory="window", k=1),
        Context(model="echo", memory="summary-buffer", max_tokens=250),
        Context(model="echo", memory="hybrid", k=1, max_tokens=300),
        Context(model="echo", memory="summary"),
    ],
    ids=lambda c: c.memory,
)
def test_invariant_2_no_orphan_tool_result_and_no_split_call(make_graph, echo, context):
    graph = make_graph(echo)
    for n in range(8):
        graph.invoke({"messages": tool_exchange(n)}, THREAD, context=context)
        ask(graph, f"Gracias por lo de la ciudad {n}", context)
    assert len(echo.prompts) == 16
    for prompt in echo.prompts:
        assert isinstance(prompt[0], SystemMessage)
        assert isinstance(prompt[1], HumanMessage), "the view must start at a human message"
        calls = {c["id"] for m in prompt if isinstance(m, AIMessage) for c in m.tool_calls}
        results = {m.tool_call_id for m in prompt if isinstance(m, ToolMessage)}
        assert calls == results


def test_invariant_3_summaries_are_cumulative_capped_and_in_the_conversation_language(
    make_graph, echo
):
    graph = make_graph(echo)
    context = Context(model="echo", memory="summary", summary_max_tokens=60)
    ask(graph, "Me llamo Juan y vivo en Bogotá.", context)
    ask(graph, "Trabajo como ingeniero de sistemas.", context)
    first = graph.get_state(THREAD).values["summary"]
    ask(graph, "Mi color favorito es el verde.", context)
    second = graph.get_state(THREAD).values["summary"]
    assert "Me llamo Juan" in first
    assert "Me llamo Juan" in second and "ingeniero" in second  # the old summary was merged
    counter = TokenCounter(echo)
    for n in range(30):
        out = ask(graph, f"Dato número {n}: " + "historia " * 12, context)
        assert counter.text(out["summary"]) <= 60
    assert "Dato número 29" not in out["summary"]  # the current turn is not folded yet
    assert "Dato número 28" in out["summary"]
    spanish = {"de", "la", "que", "el", "en", "y", "es", "mi", "me", "como"}
    assert len(spanish & set(second.lower().split())) >= 4


def test_invariant_4_summaries_are_batched_by_hysteresis_with_a_cheaper_model(make_graph, echo):
    summariser = RecordingSummariser()
    graph = make_graph(echo, summary_model=summariser)
    context = Context(model="echo", memory="hybrid", k=10, max_tokens=800, target_tokens=400)
    summaries = 0
    for n in range(40):
        out = ask(graph, f"Mensaje {n}. " + "texto " * 25, context)
        if out["report"].get("folded_turns"):
            summaries += 1
            after = TokenCounter(echo, out["token_scale"]).prompt(echo.prompts[-1][:-1])
            assert after <= context.policy().low
        assert out["report"]["context_tokens"] <= context.max_tokens + 100
    assert 3 <= summaries <= 40 // 4, f"{summaries} summaries in 40 turns is not batched"
    assert len(summariser.folded) == summaries  # the summary model did them, not the chat model
    assert all("running summary" not in p[0].content for p in echo.prompts)


@pytest.mark.parametrize("mode", ["raise", "slow", "empty", "huge"])
def test_invariant_5_a_failed_summary_loses_nothing_and_the_view_stays_bounded(
    make_graph, echo, store, mode
):
    """The summariser fails: the turns are folded with the extractive summary instead (the
    transcript keeps them whole), the failure is recorded, and the next fold asks the
    summariser again, merging what the extractive summary kept."""
    broken = BrokenSummariser(mode=mode)
    graph = make_graph(echo, summary_model=broken)
    context = Context(model="echo", memory="summary", summary_timeout=0.5)
    ask(graph, "primero", context)
    out = ask(graph, "segundo", context)
    assert out["messages"][-1].content == "segundo"  # the reply still comes
    assert [m.content for m in out["messages"]] == ["segundo", "segundo"], "the view is bounded"
    assert out["summary"] == "primero\nprimero", "the extractive summary stands in"
    assert out["summary_error"] and out["summary_failures"] == 1
    assert out["report"]["summary_error"] == out["summary_error"]
    assert out["report"]["folded_turns"] == 1
    broken.mode = "ok"
    out = ask(graph, "tercero", context)
    assert out["summary_error"] == "" and out["summary_failures"] == 0
    assert "primero" in out["summary"] and "segundo" in out["summary"]
    assert [m.content for m in out["messages"]] == ["tercero", "tercero"]
    assert [m.content for m in store_transcript(store, "t")][::2] == [
        "primero",
        "segundo",
        "tercero",
    ]


def test_a_summariser_that_keeps_failing_never_unbounds_the_prompt(make_graph, echo):
    """41 turns at a 300-token limit and k = 2 with a summariser that always fails: every prompt
    stays within the limit (it grew past 2,300 tokens when failed folds kept the turns)."""
    graph = make_graph(echo, summary_model=BrokenSummariser(mode="raise"))
    context = Context(model="echo", memory="hybrid", k=2, max_tokens=300, summary_timeout=0.5)
    for n in range(41):
        out = ask(graph, f"Mensaje {n}: " + "palabras que ocupan sitio " * 6, context)
    counter = TokenCounter(None)
    assert max(counter.prompt(prompt) for prompt in echo.prompts) <= 300
    assert out["summary_failures"] >= 5 and "summary provider unreachable" in out["summary_error"]
    assert out["summarised_turns"] >= 30


def test_invariant_6_the_full_transcript_stays_retrievable(make_graph, echo, store):
    graph = make_graph(echo)
    context = Context(model="echo", memory="hybrid", k=2, max_tokens=200)
    sent = [f"Mensaje {n}: " + "contenido " * 10 for n in range(20)]
    for text in sent:
        out = ask(graph, text, context)
    assert len(out["messages"]) < 40  # the model's view is bounded...
    transcript = store_transcript(store, "t")
    assert [m.content for m in transcript] == [t for text in sent for t in (text, text)]
    assert [m.type for m in transcript[:2]] == ["human", "ai"]
    assert out["turns"] == 20


def test_tool_turns_are_archived_whole(make_graph, echo, store):
    graph = make_graph(echo)
    graph.invoke({"messages": tool_exchange(1)}, THREAD, context=Context(model="echo"))
    assert [m.type for m in store_transcript(store, "t")] == ["human", "ai", "tool", "ai"]


def test_token_scale_calibrates_from_reported_usage(make_graph):
    class Reporting(EchoChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            result = super()._generate(messages, stop, run_manager, **kwargs)
            usage = result.generations[0].message.usage_metadata
            usage["input_tokens"] = usage["input_tokens"] * 2
            return result

    graph = make_graph(Reporting())
    for n in range(6):
        out = ask(graph, f"q{n} " + "x" * 200, Context(model="echo"))
    assert 1.9 < out["token_scale"] <= 2.0


def test_the_graph_alone_answers_a_message_left_unanswered_by_a_failed_call(make_graph, store):
    """Without Memoria's rollback (build_graph, Studio), a failed model call leaves the human
    message in the state; the next turn sends both messages as one and archives both."""
    from fakes import FailingEcho

    model = FailingEcho()
    graph = make_graph(model)
    context = Context(model="echo", memory="buffer")
    ask(graph, "primero", context)
    model.fail = True
    with pytest.raises(ConnectionError):
        ask(graph, "¿me oyes?", context)
    model.fail = False
    out = ask(graph, "¿sigues ahí?", context)
    sent = conversation(model.prompts[-1])
    assert sent == ["primero", "primero", "¿me oyes?\n\n¿sigues ahí?"]
    assert [type(m).__name__ for m in model.prompts[-1][1:]] == [
        "HumanMessage",
        "AIMessage",
        "HumanMessage",
    ], "never two human messages in a row"
    assert out["turns"] == 2
    assert [m.content for m in store_transcript(store, "t")][2:4] == ["¿me oyes?", "¿sigues ahí?"]


@pytest.mark.parametrize("memory", ["buffer", "window", "summary", "summary-buffer", "hybrid"])
def test_the_preview_of_the_next_prompt_is_exactly_what_the_model_receives(tmp_path, memory):
    """`/context` and `threads show --context` (Memoria.next_prompt) include the fold and the
    recall that the next message will cause, for every preset."""
    from fakes import RecordingEcho

    from memoria import Memoria

    model = RecordingEcho()
    context = Context(model="echo", memory=memory, k=2, max_tokens=400, summary_max_tokens=60)
    with Memoria(db=tmp_path / "p.sqlite", context=context, model=model) as agent:
        differed = 0
        for n in range(14):
            text = f"Mensaje {n}: el perro de Ana se llama Toby {n} " + "texto " * (6 + n % 5)
            preview = agent.next_prompt("t", text)
            agent.send("t", text)
            sent = model.prompts[-1]
            assert [(m.type, m.content) for m in preview] == [(m.type, m.content) for m in sent]
            differed += agent.state("t").report.get("folded_turns", 0) > 0
        if memory in ("summary", "summary-buffer", "hybrid"):
            assert differed, "some previews had to include a fold"
