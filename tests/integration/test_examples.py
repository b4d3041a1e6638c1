"""The agent examples run as a user runs them (`python examples/...`), against Groq's loopback
stub: the model calls the example's tool, the tool runs, the reply uses its result, and the next
run continues the thread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from groq_stub import GROQ_TEST_KEY, GroqStub, ToolCalls, answers_tools_with
from processes import clean_env

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def plan(body):
    asked = body["messages"][-1]
    if asked["role"] != "user":
        return None
    if "dólares" in asked["content"]:
        return ToolCalls([("convert", {"amount": 120, "currency": "USD"})])
    if "tiempo" in asked["content"]:
        return ToolCalls([("weather", {"city": "Quito"})])
    return None


@pytest.fixture
def stub():
    with GroqStub(answers_tools_with(plan)) as stub:
        yield stub


def run(script: str, text: str, stub: GroqStub, cwd: Path) -> str:
    env = clean_env(GROQ_API_KEY=GROQ_TEST_KEY, GROQ_API_BASE=stub.base_url)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), text],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_tools_example(stub, tmp_path):
    out = run("tools.py", "¿Cuántos dólares son 120 euros?", stub, tmp_path)
    assert out.splitlines()[:2] == [
        "[calling convert with {'amount': 120, 'currency': 'USD'}]",
        "[convert: 120 EUR = 129.60 USD]",
    ]
    assert out.splitlines()[2] == "Según las herramientas: 120 EUR = 129.60 USD"
    run("tools.py", "Gracias", stub, tmp_path)
    second = stub.chat_requests()[-1]["messages"]
    assert [m["role"] for m in second[1:]] == ["user", "assistant", "tool", "assistant", "user"]


def test_the_middleware_example(stub, tmp_path):
    out = run("agent_middleware.py", "Me llamo Ana y vivo en Quito.", stub, tmp_path)
    assert out == "Respuesta a: Me llamo Ana y vivo en Quito.\n"
    out = run("agent_middleware.py", "¿Qué tiempo hace donde vivo?", stub, tmp_path)
    assert out == "Según las herramientas: Quito: 18 °C, nublado por la mañana, sol por la tarde\n"
    last = stub.chat_requests()[-1]
    assert last["messages"][0]["content"].startswith("Eres un asistente breve y útil.")
    assert [m["role"] for m in last["messages"][1:]] == [
        "user", "assistant", "user", "assistant", "tool",
    ]  # fmt: skip
    assert sorted(t["function"]["name"] for t in last["tools"]) == [
        "search_conversation",
        "weather",
    ]
    assert (tmp_path / "checkpoints" / "agent-memory.sqlite").exists()
