"""Configuration: defaults, which setting wins, validation, the recall budget."""

import math

import pytest

from memoria.context import DEFAULT_GROQ_MODEL, Context


def test_default_model_is_local_without_a_groq_key(monkeypatch):
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    assert Context().model == "local"


def test_default_model_is_groq_with_a_key(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk_test")
    assert Context().model == DEFAULT_GROQ_MODEL == "groq:llama-3.3-70b-versatile"


# explicit option > the thread's saved settings > MEMORIA_* environment > default: every pair.


def test_environment_beats_the_default(monkeypatch):
    monkeypatch.setenv("MEMORIA_MEMORY", "window")
    monkeypatch.setenv("MEMORIA_K", "3")
    context = Context(model="echo")
    assert (context.memory, context.k) == ("window", 3)


def test_explicit_beats_the_environment_even_when_it_equals_the_default(monkeypatch):
    monkeypatch.setenv("MEMORIA_MEMORY", "window")
    monkeypatch.setenv("MEMORIA_K", "3")
    context = Context(model="echo", memory="hybrid", k=5)
    assert (context.memory, context.k) == ("hybrid", 5)


def test_explicit_beats_the_default():
    assert Context(model="echo", k=7).k == 7


def test_saved_settings_beat_the_environment_even_when_they_equal_the_default(monkeypatch):
    saved = Context(model="echo", memory="hybrid", k=5).settings()
    monkeypatch.setenv("MEMORIA_MEMORY", "window")
    monkeypatch.setenv("MEMORIA_K", "3")
    resumed = Context.resume(saved)
    assert (resumed.memory, resumed.k) == ("hybrid", 5)


def test_saved_settings_beat_the_default():
    saved = Context(model="echo", memory="window", k=2).settings()
    assert Context.resume(saved).memory == "window"


def test_explicit_beats_saved_settings():
    saved = Context(model="echo", memory="window", k=2).settings()
    resumed = Context.resume(saved, memory="hybrid")
    assert (resumed.memory, resumed.k) == ("hybrid", 2)


def test_environment_fills_what_saved_settings_lack(monkeypatch):
    saved = {"model": "echo", "memory": "summary"}  # a thread saved before recall existed
    monkeypatch.setenv("MEMORIA_RECALL_TURNS", "2")
    assert Context.resume(saved).recall_turns == 2


def test_low_mark_defaults_to_half_the_limit_plus_half_the_recall_budget():
    no_recall = Context(model="echo", memory="summary-buffer", max_tokens=1000, recall_tokens=0)
    assert (no_recall.policy().high, no_recall.policy().low) == (1000, 500)
    with_recall = Context(model="echo", memory="hybrid", max_tokens=1000).policy()
    assert (with_recall.recall_tokens, with_recall.low) == (400, 700)
    assert Context(model="echo", max_tokens=1000, target_tokens=800).policy().low == 800


@pytest.mark.parametrize(
    ("memory", "budget"),
    [("hybrid", 800), ("summary-buffer", 800), ("summary", 800), ("buffer", 0), ("window", 0)],
)
def test_recall_is_on_by_default_only_where_turns_leave_the_view(memory, budget):
    assert Context(model="echo", memory=memory).recall_budget == budget


def test_recall_can_be_turned_off_or_on_explicitly():
    assert Context(model="echo", recall_tokens=0).recall_budget == 0
    assert Context(model="echo", recall_turns=0).recall_budget == 0
    assert Context(model="echo", memory="window", recall_tokens=300).recall_budget == 300


def test_the_summary_model_defaults_to_the_chat_model_but_offline_models_extract():
    assert Context(model="groq:llama-3.3-70b-versatile").summary_model_spec.startswith("groq:")
    assert Context(model="echo").summary_model_spec == "extractive"
    assert Context(model="local").summary_model_spec == "extractive"
    assert Context(model="local", summary_model="groq:x").summary_model_spec == "groq:x"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"memory": "everything"}, "unknown memory preset"),
        ({"k": 10**20}, "k must be between"),
        ({"k": -1}, "k must be between"),
        ({"k": True}, "k must be a whole number"),
        ({"max_tokens": 0}, "max_tokens must be between"),
        ({"request_timeout": 0}, "request_timeout must be a number of seconds above 0"),
        ({"request_timeout": -1.0}, "request_timeout"),
        ({"request_timeout": math.nan}, "request_timeout"),
        ({"summary_timeout": math.inf}, "summary_timeout"),
        ({"recall_tokens": 2000}, "recall budget"),
        ({"language": "fr"}, "language must be one of"),
    ],
)
def test_bad_settings_fail_at_construction_with_the_field_named(settings, message):
    with pytest.raises(ValueError, match=message):
        Context(model="echo", **settings)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("K", "two", "MEMORIA_K='two' is not a whole number"),
        ("REQUEST_TIMEOUT", "nan", "request_timeout"),
        ("REQUEST_TIMEOUT", "0", "request_timeout"),
        ("REQUEST_TIMEOUT", "-1", "request_timeout"),
        ("REQUEST_TIMEOUT", "soon", "MEMORIA_REQUEST_TIMEOUT='soon' is not a number"),
    ],
)
def test_bad_environment_values_fail_with_the_variable_named(monkeypatch, name, raw, message):
    monkeypatch.setenv(f"MEMORIA_{name}", raw)
    with pytest.raises(ValueError, match=message):
        Context(model="echo")


def test_given_names_only_the_fields_the_caller_passed(monkeypatch):
    monkeypatch.setenv("MEMORIA_K", "7")
    context = Context(model="echo", memory="window")
    assert context.k == 7
    assert context.given() == {"model": "echo", "memory": "window"}
