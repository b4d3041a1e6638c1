"""Shared fixtures: a hermetic environment, the Groq stub server, echo models and graphs."""

from __future__ import annotations

import pytest
from groq_stub import GroqStub
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from graph.graph import build_graph
from graph.models import EchoChatModel, load_chat_model

GROQ_TEST_KEY = "gsk_test_0123456789abcdef"


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch, tmp_path):
    """No developer settings leak in: no keys, no MEMORIA_* variables, a scratch working directory."""
    import os

    for name in list(os.environ):
        if name.startswith("MEMORIA_") or name.startswith("GROQ_") or name == "LANGSMITH_TRACING":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    load_chat_model.cache_clear()
    yield
    load_chat_model.cache_clear()


@pytest.fixture
def groq(monkeypatch):
    with GroqStub() as stub:
        monkeypatch.setenv("GROQ_API_KEY", GROQ_TEST_KEY)
        monkeypatch.setenv("GROQ_API_BASE", stub.base_url)
        load_chat_model.cache_clear()
        yield stub


@pytest.fixture
def echo():
    return EchoChatModel()


@pytest.fixture
def store():
    return InMemoryStore()


@pytest.fixture
def make_graph(store):
    """build_graph with an in-memory checkpointer and store."""

    def make(model=None, **kwargs):
        return build_graph(model, checkpointer=InMemorySaver(), store=store, **kwargs)

    return make
