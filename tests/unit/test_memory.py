"""Pure memory logic: turns, plans, orphans. No I/O, no model."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from memoria.memory import (
    MemoryPolicy,
    drop_orphans,
    flatten,
    group_turns,
    plan_memory,
    split_current,
)
from memoria.prompts import build_prompt


def tool_turn(n: int) -> list:
    call_id = f"call-{n}"
    return [
        HumanMessage(f"q{n}", id=f"h{n}"),
        AIMessage("", tool_calls=[{"name": "search", "args": {"q": n}, "id": call_id}], id=f"a{n}"),
        ToolMessage(f"result {n}", tool_call_id=call_id, id=f"t{n}"),
        AIMessage(f"answer {n}", id=f"r{n}"),
    ]


def chat_turn(n: int) -> list:
    return [HumanMessage(f"q{n}", id=f"h{n}"), AIMessage(f"a{n}", id=f"a{n}")]


def test_group_turns_keeps_tool_calls_with_their_human_message():
    messages = chat_turn(1) + tool_turn(2) + chat_turn(3)
    turns = group_turns(messages)
    assert [len(t) for t in turns] == [2, 4, 2]
    assert [m.id for m in turns[1]] == ["h2", "a2", "t2", "r2"]
    assert flatten(turns) == messages


def test_leading_messages_without_a_human_form_their_own_turn():
    messages = [AIMessage("hello", id="x"), *chat_turn(1)]
    turns = group_turns(messages)
    assert [[m.id for m in t] for t in turns] == [["x"], ["h1", "a1"]]


def test_split_current_separates_the_turn_being_answered():
    completed, current = split_current(group_turns([*chat_turn(1), HumanMessage("q2", id="h2")]))
    assert [[m.id for m in t] for t in completed] == [["h1", "a1"]]
    assert [m.id for m in current] == ["h2"]
    assert split_current([]) == ([], [])


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_window_drops_whole_turns_and_never_orphans_a_tool_result(k):
    turns = group_turns(
        tool_turn(1) + chat_turn(2) + tool_turn(3) + tool_turn(4) + [HumanMessage("q5")]
    )
    completed, current = split_current(turns)
    plan = plan_memory(
        [10] * len(completed),
        fixed_tokens=5,
        summary_tokens=0,
        policy=MemoryPolicy(preset="window", k=k),
    )
    assert plan.drop == max(0, len(completed) - k)
    view = flatten(completed[plan.drop :]) + current
    assert isinstance(view[0], HumanMessage)
    calls = {c["id"] for m in view if isinstance(m, AIMessage) for c in m.tool_calls}
    results = {m.tool_call_id for m in view if isinstance(m, ToolMessage)}
    assert results <= calls and calls <= results


def test_buffer_keeps_everything():
    plan = plan_memory([500] * 50, fixed_tokens=10, summary_tokens=0, policy=MemoryPolicy("buffer"))
    assert (plan.drop, plan.fold) == (0, 0)
    assert plan.context_tokens == 25010


def test_summary_preset_folds_every_completed_turn():
    plan = plan_memory([5, 6, 7], fixed_tokens=10, summary_tokens=3, policy=MemoryPolicy("summary"))
    assert plan.fold == 3 and plan.drop == 0


def test_summary_buffer_waits_for_the_high_mark_then_folds_under_the_low_mark():
    policy = MemoryPolicy("summary-buffer", high=1000, low=500, summary_cap=100)
    below = plan_memory([100] * 8, fixed_tokens=100, summary_tokens=0, policy=policy)
    assert below.fold == 0 and below.context_tokens == 900
    above = plan_memory([100] * 10, fixed_tokens=100, summary_tokens=0, policy=policy)
    kept = 10 - above.fold
    assert 100 + 100 + kept * 100 <= 500  # fixed + summary at its cap + kept turns
    assert kept == 3  # and no more than needed is folded


def test_hysteresis_summarises_once_per_several_turns():
    """Simulate 60 turns of 100 tokens: summaries must be batched, not one per turn."""
    policy = MemoryPolicy("hybrid", k=20, high=1200, low=600, summary_cap=100)
    turns: list[int] = []
    summaries = 0
    for _ in range(60):
        plan = plan_memory(
            turns, fixed_tokens=100, summary_tokens=100 if summaries else 0, policy=policy
        )
        if plan.fold:
            summaries += 1
            turns = turns[plan.fold :]
        assert plan.fold == 0 or 100 + 100 + sum(turns) <= policy.low
        turns.append(100)
    assert 5 <= summaries <= 60 // 4


def test_hybrid_keeps_at_most_k_turns_after_a_fold():
    policy = MemoryPolicy("hybrid", k=2, high=500, low=400, summary_cap=50)
    plan = plan_memory([30] * 20, fixed_tokens=20, summary_tokens=0, policy=policy)
    assert 20 - plan.fold == 2


def test_current_turn_is_never_folded_even_when_it_alone_passes_the_low_mark():
    policy = MemoryPolicy("summary-buffer", high=100, low=50, summary_cap=20)
    plan = plan_memory([10, 10], fixed_tokens=400, summary_tokens=0, policy=policy)
    assert plan.fold == 2  # everything completed goes; the current turn stays


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset": "forever"}, "unknown memory preset"),
        ({"k": -1}, "k must be"),
        ({"high": 0, "low": 1}, "token limit must be positive"),
        ({"high": 100, "low": 200}, "target must be between"),
    ],
)
def test_policy_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MemoryPolicy(**kwargs)


def test_summary_cap_leaves_room_under_the_low_mark():
    assert MemoryPolicy("hybrid", high=200, low=100, summary_cap=300).effective_summary_cap == 50
    assert MemoryPolicy("summary", summary_cap=300).effective_summary_cap == 300


def test_drop_orphans_removes_a_leading_tool_result_and_an_unanswered_call():
    orphan = ToolMessage("late result", tool_call_id="gone")
    dangling = AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "never"}])
    messages = [orphan, *chat_turn(1), HumanMessage("q2"), dangling, AIMessage("a2"), *tool_turn(3)]
    cleaned = drop_orphans(messages)
    assert orphan not in cleaned and dangling not in cleaned
    assert [m.content for m in cleaned[:4]] == ["q1", "a1", "q2", "a2"]
    assert cleaned[-4:] == tool_turn(3)


def test_build_prompt_puts_summary_in_the_single_system_message():
    prompt = build_prompt("Be brief.", "User is Juan.", chat_turn(1))
    assert isinstance(prompt[0], SystemMessage)
    assert "Be brief." in prompt[0].content and "User is Juan." in prompt[0].content
    assert sum(isinstance(m, SystemMessage) for m in prompt) == 1
    assert build_prompt("Be brief.", "", [])[0].content == "Be brief."
