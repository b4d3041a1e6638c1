"""Shared fixtures: a hermetic environment, the Groq stub server, echo models and graphs, and
Postgres databases on the machine's server.

The Postgres tests run whenever a server answers: `MEMORIA_TEST_POSTGRES` if set, else the local
server on 127.0.0.1:5432 (trust authentication, database `test`). The header of every run says which,
or why they are skipped.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from fakes import POSTGRES_SERVER, RecordingEcho
from groq_stub import GROQ_TEST_KEY, GroqStub
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from memoria.graph import build_graph
from memoria.models import load_chat_model


@functools.cache
def postgres_unavailable() -> str | None:
    """Why the Postgres tests cannot run here, or None when a server answers."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_SERVER, connect_timeout=3):
            return None
    except ImportError:
        return "psycopg is not installed (the postgres extra)"
    except Exception as exc:
        return f"no Postgres server answers at {urlsplit(POSTGRES_SERVER).netloc}: {exc}"


def pytest_report_header(config: pytest.Config) -> str:
    reason = postgres_unavailable()
    where = urlsplit(POSTGRES_SERVER).netloc
    return f"postgres: {'tests run on ' + where if reason is None else 'SKIPPED, ' + reason}"


def fresh_postgres_database() -> Iterator[str]:
    if reason := postgres_unavailable():
        pytest.skip(reason)
    import psycopg

    name = f"memoria_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(POSTGRES_SERVER)._replace(path=f"/{name}"))
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh database on the test server for the module, dropped afterwards."""
    yield from fresh_postgres_database()


@pytest.fixture
def own_postgres_url() -> Iterator[str]:
    """A fresh database for one test: term statistics of other tests' threads stay out of it."""
    yield from fresh_postgres_database()


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch, tmp_path):
    """No developer settings leak in: no keys, no MEMORIA_* variables, a scratch working directory."""

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
    """The echo model, recording every prompt it is sent (`echo.prompts`)."""
    return RecordingEcho()


@pytest.fixture
def store():
    return InMemoryStore()


@pytest.fixture
def make_graph(store):
    """build_graph with an in-memory checkpointer and store."""

    def make(model=None, **kwargs):
        return build_graph(model, checkpointer=InMemorySaver(), store=store, **kwargs)

    return make
