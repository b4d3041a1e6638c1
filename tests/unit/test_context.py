"""Configuration: defaults, the environment, validation."""

import pytest

from graph.context import DEFAULT_GROQ_MODEL, Context


def test_default_model_is_local_without_a_groq_key(monkeypatch):
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    monkeypatch.delenv("MEMORIA_MODEL", raising=False)
    assert Context().model == "local"


def test_default_model_is_groq_with_a_key(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk_test")
    monkeypatch.delenv("MEMORIA_MODEL", raising=False)
    assert Context().model == DEFAULT_GROQ_MODEL == "groq:llama-3.3-70b-versatile"


def test_environment_fills_fields_left_at_their_default(monkeypatch):
    monkeypatch.setenv("MEMORIA_MEMORY", "window")
    monkeypatch.setenv("MEMORIA_K", "3")
    monkeypatch.setenv("MEMORIA_MODEL", "echo")
    context = Context(max_tokens=900)
    assert (context.memory, context.k, context.model, context.max_tokens) == (
        "window",
        3,
        "echo",
        900,
    )
    assert Context(k=7).k == 7  # an explicit value wins over the environment


def test_low_mark_defaults_to_half_the_high_mark():
    policy = Context(model="echo", max_tokens=1000).policy()
    assert (policy.high, policy.low) == (1000, 500)
    assert Context(model="echo", max_tokens=1000, target_tokens=800).policy().low == 800


def test_summary_model_defaults_to_the_chat_model():
    assert Context(model="echo").summary_model_spec == "echo"
    assert Context(model="echo", summary_model="local").summary_model_spec == "local"


def test_bad_settings_fail_at_construction(monkeypatch):
    with pytest.raises(ValueError, match="unknown memory preset"):
        Context(model="echo", memory="everything")
    monkeypatch.setenv("MEMORIA_K", "two")
    with pytest.raises(ValueError, match="MEMORIA_K='two' is not a valid int"):
        Context(model="echo")
