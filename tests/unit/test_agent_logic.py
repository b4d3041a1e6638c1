"""Pure logic of tools: the prompt fitted to its limit inside a tool loop, how tool turns read in
excerpts and summaries, tool errors for the model, `--tools` references, the memory tool's
answer, and what the middleware takes out after a turn that never finished."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from memoria.context import Context
from memoria.memory import drop_orphans, unfinished_loop
from memoria.memory_tool import render_results
from memoria.middleware import unfinished_turn, with_memory
from memoria.prompts import (
    RECALL_HEADER,
    build_prompt,
    labelled,
    render_turn_inline,
    render_turns,
    summariser_messages,
)
from memoria.recall import Found, Recalled
from memoria.tokens import TokenCounter
from memoria.tools import ToolLoopError, as_tools, check_tool_rounds, load_tools, tool_error_text

COUNTER = TokenCounter(None)


def loop(results: list[str], question: str = "lee") -> list:
    """A turn in the middle of a tool loop: the question, then a call and its result per entry."""
    messages: list = [HumanMessage(question, id="h")]
    for n, text in enumerate(results):
        call = {"name": "page", "args": {"n": n}, "id": f"c{n}"}
        messages += [
            AIMessage("", tool_calls=[call]),
            ToolMessage(text, tool_call_id=f"c{n}", name="page"),
        ]
    return messages


def recalled(n: int, score: float) -> dict:
    return {"turn": n, "score": score, "created_at": "2026-12-01", "text": f"excerpt {n} " * 30}


def test_a_prompt_within_its_limit_is_left_as_it_is():
    messages = loop(["corto", "breve"])
    prompt = build_prompt("sys", "", messages, [recalled(1, 2.0)], limit=10_000, counter=COUNTER)
    assert prompt == build_prompt("sys", "", messages, [recalled(1, 2.0)])
    assert RECALL_HEADER in prompt[0].content


def test_older_results_give_way_first_then_excerpts_then_the_newest_is_cut():
    messages = loop(["a" * 2000, "b" * 2000, "c" * 2000])
    excerpts = [recalled(1, 1.0), recalled(2, 5.0)]
    full = COUNTER.prompt(build_prompt("sys", "", messages, excerpts))
    # Room for everything but one old result: only the oldest gives way.
    prompt = build_prompt("sys", "", messages, excerpts, limit=full - 300, counter=COUNTER)
    results = [str(m.content) for m in prompt if isinstance(m, ToolMessage)]
    assert results[0].startswith("[page result left out") and "2000 characters" in results[0]
    assert results[1:] == ["b" * 2000, "c" * 2000]
    assert "excerpt 1" in prompt[0].content and "excerpt 2" in prompt[0].content
    # Less room: both older results go, then the lowest-scored excerpt.
    limit = COUNTER.prompt(prompt) - 520  # one more result, then one excerpt (about 80 tokens)
    prompt = build_prompt("sys", "", messages, excerpts, limit=limit, counter=COUNTER)
    assert COUNTER.prompt(prompt) <= limit
    results = [str(m.content) for m in prompt if isinstance(m, ToolMessage)]
    assert (
        all(r.startswith("[page result left out") for r in results[:2]) and results[2] == "c" * 2000
    )
    assert "excerpt 1" not in prompt[0].content and "excerpt 2" in prompt[0].content
    # Very little room: no excerpt, and the newest result is cut, saying so.
    prompt = build_prompt("sys", "", messages, excerpts, limit=200, counter=COUNTER)
    newest = str(prompt[-1].content)
    assert RECALL_HEADER not in prompt[0].content
    assert newest.startswith("c" * 200) and newest.endswith("of 2000 characters shown]")
    # The messages given are never changed: only the model's view is.
    assert next(str(m.content) for m in messages if isinstance(m, ToolMessage)) == "a" * 2000


def test_results_of_the_last_round_share_what_is_left():
    messages = loop(["a" * 50])
    call = {"name": "page", "args": {}, "id": "p"}
    messages[-2] = AIMessage("", tool_calls=[{**call, "id": "x"}, {**call, "id": "y"}])
    messages[-1:] = [
        ToolMessage("x" * 3000, tool_call_id="x", name="page"),
        ToolMessage("y" * 3000, tool_call_id="y", name="page"),
    ]
    prompt = build_prompt("sys", "", messages, limit=600, counter=COUNTER)
    sizes = [len(str(m.content)) for m in prompt if isinstance(m, ToolMessage)]
    assert sizes[0] == sizes[1] and 200 <= sizes[0] < 3000
    assert COUNTER.prompt(prompt) <= 640  # estimates: within a message's overhead


def test_tool_turns_read_as_calls_and_results():
    turn = [
        HumanMessage("¿tiempo en Lima?"),
        AIMessage("Miro.", tool_calls=[{"name": "weather", "args": {"city": "Lima"}, "id": "c"}]),
        ToolMessage("Soleado\n24 grados", tool_call_id="c", name="weather"),
        AIMessage("Hace sol."),
    ]
    assert labelled(turn) == [
        ("User", "¿tiempo en Lima?"),
        ("Assistant", "Miro."),
        ("Assistant called", 'weather({"city": "Lima"})'),
        ("Tool weather", "Soleado\n24 grados"),
        ("Assistant", "Hace sol."),
    ]
    assert render_turn_inline(turn).splitlines()[3] == "Tool weather: Soleado 24 grados"
    long = [*turn[:2], ToolMessage("z" * 5000, tool_call_id="c", name="weather")]
    summary_input = summariser_messages("", long, 100)[1].content
    assert "z" * 2000 + " [... 3000 more characters]" in summary_input
    assert "z" * 2001 not in render_turns(long, 2000)


def test_a_failing_tool_tells_the_model_one_redacted_line(monkeypatch):
    monkeypatch.setenv("SERVICE_API_KEY", "sk-live-abcdef123456")
    error = RuntimeError("denied for sk-live-abcdef123456\nTraceback (most recent call last)")
    assert tool_error_text(error) == "Error: the tool failed: denied for ***"
    from memoria.fence import TurnCancelled

    with pytest.raises(TurnCancelled):
        tool_error_text(TurnCancelled("stop"))


def test_tool_rounds_are_bounded():
    check_tool_rounds(9, 10)
    with pytest.raises(ToolLoopError, match="after 10 model calls in one turn"):
        check_tool_rounds(10, 10)


def test_functions_become_tools_and_names_must_be_unique():
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    @tool
    def other(x: int) -> int:
        """Other."""
        return x

    assert [t.name for t in as_tools([add, other])] == ["add", "other"]
    with pytest.raises(ValueError, match="two tools are named 'add'"):
        as_tools([add, add])
    with pytest.raises(TypeError, match="not a tool or a function: str"):
        as_tools(["add"])


def test_tool_references_load_from_a_module_or_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "unit_tools_mod.py").write_text(
        "def ping(host: str) -> str:\n    '''Ping a host.'''\n    return 'pong ' + host\n"
        "TOOLS = [ping]\n"
    )
    assert [t.name for t in load_tools("unit_tools_mod:TOOLS")] == ["ping"]
    assert load_tools(f"{tmp_path / 'unit_tools_mod.py'}:ping")[0].invoke({"host": "h"}) == (
        "pong h"
    )
    with pytest.raises(ValueError, match="give MODULE:NAME"):
        load_tools("unit_tools_mod")
    with pytest.raises(ValueError, match="no module named 'json_nope'"):
        load_tools("json_nope:X")
    with pytest.raises(ValueError, match="has no 'NOPE'"):
        load_tools("unit_tools_mod:NOPE")


def test_the_memory_tool_answers_with_numbered_dated_excerpts():
    found = Found(
        ["viaj"],
        [
            Recalled(11, 3.0, "2026-11-25T10:00:00", "User: viaje a Japón", 9),
            Recalled(47, 2.0, "2026-11-27T10:00:00", "User: viaje a Perú", 9),
        ],
        [2],
    )
    assert render_results("viaje  Japón\nPerú", found, 231).splitlines() == [
        'Found 2 earlier turns for "viaje Japón Perú" (searched turns 1-231; oldest first; '
        "where two disagree, the later one is current):",
        "[1] turn 12 · 2026-11-25",
        "User: viaje a Japón",
        "[2] turn 48 · 2026-11-27 · the latest",
        "User: viaje a Perú",
        "Also matching, already recalled into your context above: turn(s) 3.",
    ]
    nothing = render_results("gato", Found(["gat"], [], []), 1)
    assert nothing == 'No earlier turn matches "gato" (searched turn 1). Try other words.'
    assert render_results("¿y?", Found([], [], []), 5).startswith("No searchable words")


def test_an_unfinished_turn_is_the_messages_from_its_start_to_the_next_new_message():
    old = [HumanMessage("hola", id="1"), AIMessage("hola", id="2")]
    stale = [
        HumanMessage("lento", id="3"),
        AIMessage("", id="4", tool_calls=[{"name": "s", "args": {}, "id": "c"}]),
        ToolMessage("x", tool_call_id="c", id="5"),
    ]
    new = [HumanMessage("seguimos", id="6")]
    assert unfinished_turn([*old, *stale, *new], ["3"]) == stale
    assert unfinished_turn([*old, *new], []) == []
    assert unfinished_turn([*old, *new], ["gone"]) == []
    # Killed before the model answered: the unanswered message alone.
    assert unfinished_turn([*old, stale[0], *new], ["3"]) == [stale[0]]


def test_the_memory_joins_the_agents_system_message_without_moving_its_blocks():
    assert with_memory(None, "", []) is None
    plain = with_memory(SystemMessage("Sé breve."), "resumen", [])
    assert plain.content.startswith("Sé breve.\n\nSummary of the earlier conversation:\nresumen")
    blocks = [{"type": "text", "text": "Sé breve.", "cache_control": {"type": "ephemeral"}}]
    joined = with_memory(SystemMessage(blocks), "resumen", [])
    assert joined.content[0] == blocks[0] and "resumen" in joined.content[1]["text"]


def test_what_a_failed_tool_loop_left_is_found():
    done = [HumanMessage("hola"), AIMessage("hola")]
    call = AIMessage("", tool_calls=[{"name": "w", "args": {}, "id": "c"}])
    result = ToolMessage("sol", tool_call_id="c")
    assert unfinished_loop([*done, HumanMessage("q"), call, result, HumanMessage("y")]) == [
        call,
        result,
    ]
    assert unfinished_loop([*done, HumanMessage("q"), call, result, AIMessage("ok")]) == []
    assert unfinished_loop([*done, HumanMessage("y")]) == []
    assert unfinished_loop([HumanMessage("solo")]) == []


def test_a_malformed_call_without_its_result_never_reaches_a_provider():
    bad = {"name": "w", "args": '{"x', "id": "b", "error": "cut", "type": "invalid_tool_call"}
    messages = [HumanMessage("q"), AIMessage("", invalid_tool_calls=[bad]), HumanMessage("y")]
    assert [m.type for m in drop_orphans(messages)] == ["human", "human"]
    answered = [messages[0], messages[1], ToolMessage("error", tool_call_id="b"), AIMessage("ok")]
    assert drop_orphans(answered) == answered


def test_a_turn_needs_room_for_two_model_calls():
    with pytest.raises(ValueError, match="max_tool_rounds must be between 2 and 100"):
        Context(max_tool_rounds=1)


def test_a_tool_module_that_fails_on_its_own_import_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "unit_tools_broken.py").write_text("import unit_tools_missing_dependency\n")
    with pytest.raises(ValueError, match="importing unit_tools_broken failed: No module named"):
        load_tools("unit_tools_broken:TOOLS")
    other = tmp_path / "other"
    other.mkdir()
    (other / "unit_helpers_beside.py").write_text("VALUE = 'beside'\n")
    (other / "unit_tools_by_path.py").write_text(
        "import unit_helpers_beside\n\n"
        "def ping() -> str:\n    '''Ping.'''\n    return unit_helpers_beside.VALUE\n"
    )
    # A file given by its path imports what lies beside it, wherever the command runs.
    assert load_tools(f"{other / 'unit_tools_by_path.py'}:ping")[0].invoke({}) == "beside"


def test_a_secret_cut_between_two_pieces_of_a_stream_is_still_redacted(monkeypatch):
    from memoria.errors import StreamRedactor

    monkeypatch.setenv("SERVICE_API_KEY", "sk-live-abcdef123456")
    for cut in range(1, 20):
        text = "Tu clave es sk-live-abcdef123456, no la compartas."
        redactor = StreamRedactor()
        shown = "".join(redactor.feed(text[i : i + cut]) for i in range(0, len(text), cut))
        assert shown + redactor.flush() == "Tu clave es ***, no la compartas.", cut


def test_a_secret_in_a_reply_or_its_calls_is_redacted_even_when_they_do_not_parse(monkeypatch):
    from memoria.nodes import unreadable_calls, without_secrets

    monkeypatch.setenv("SERVICE_API_KEY", "sk-live-abcdef123456")
    reply = AIMessage(
        "Tu clave es sk-live-abcdef123456",
        tool_calls=[{"name": "login", "args": {"key": "sk-live-abcdef123456"}, "id": "a"}],
        invalid_tool_calls=[
            {
                "name": "login",
                "args": '{"key": "sk-live-abcdef123456"',
                "id": "b",
                "error": 'Expecting \',\' delimiter in {"key": "sk-live-abcdef123456"',
                "type": "invalid_tool_call",
            }
        ],
    )
    clean = without_secrets(reply)
    assert "sk-live" not in clean.model_dump_json()
    assert "sk-live" not in unreadable_calls(clean)[0].content
    assert clean.tool_calls[0]["args"] == {"key": "***"}
    assert clean.invalid_tool_calls[0]["args"] == '{"key": "***"'
    plain = AIMessage("nada", invalid_tool_calls=reply.invalid_tool_calls[:0])
    assert without_secrets(plain) is plain
