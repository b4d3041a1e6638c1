"""`memoria chat|ask --tools MODULE:NAME`, as a user runs them: Groq through the real client and
the loopback stub (which answers with tool calls), tools imported from a module in the current
directory, each call shown on one line, `--json` listing them; bad references refused in one line;
a kill -9 or a Ctrl-C inside the tool loop leaves the thread as it was."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from fakes import assert_index_matches_transcript
from groq_stub import GROQ_TEST_KEY, GroqStub, ToolCalls, answers_tools_with
from processes import interrupt, user_env, wait_for_file

GROQ = "groq:llama-3.3-70b-versatile"

TOOLS_MODULE = '''
"""Tools for the tests, as a user would write them."""
import os
import time
from pathlib import Path

from langchain_core.tools import tool


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"Soleado en {city}, 24 grados\\nviento del sur, humedad 60%"


def convert(amount: float, currency: str) -> str:
    """Convert euros to another currency."""
    return f"{amount} euros son {amount * 1.1:.2f} {currency}"


@tool
def slow(seconds: int) -> str:
    """Takes a long time."""
    Path(os.environ["TOOL_STARTED"]).write_text("started")
    time.sleep(seconds)
    return "too late"


TOOLS = [weather, convert, slow]
NOT_A_TOOL = 42
'''


def plan(body):
    """The stub calls `weather` when asked about the weather, `slow` when asked to wait."""
    asked = body["messages"][-1]
    if asked["role"] != "user":
        return None
    if "tiempo" in asked["content"]:
        return ToolCalls(
            [("weather", {"city": "Lima"}), ("convert", {"amount": 10, "currency": "USD"})]
        )
    if "espera" in asked["content"]:
        return ToolCalls([("slow", {"seconds": 60})])
    return None


@pytest.fixture
def groq_tools(tmp_path):
    """The Groq stub answering with tool calls, the tools module in the working directory, and
    the environment that points `memoria` at both."""
    (tmp_path / "mytools.py").write_text(TOOLS_MODULE)
    with GroqStub(answers_tools_with(plan)) as stub:
        stub.env = {
            "GROQ_API_KEY": GROQ_TEST_KEY,
            "GROQ_API_BASE": stub.base_url,
            "TOOL_STARTED": str(tmp_path / "tool-started"),
        }
        yield stub


def test_ask_json_lists_the_tool_calls_with_their_results(memoria, groq_tools, tmp_path):
    db = str(tmp_path / "m.sqlite")
    done = memoria(
        "ask", "¿Qué tiempo hace?", "--tools", "mytools:TOOLS", "--model", GROQ, "--db", db,
        "--thread", "t", "--json", env=groq_tools.env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    calls = document["tool_calls"]
    assert [(c["name"], c["args"], c["error"]) for c in calls] == [
        ("weather", {"city": "Lima"}, False),
        ("convert", {"amount": 10, "currency": "USD"}, False),
    ]
    assert calls[0]["result"] == "Soleado en Lima, 24 grados\nviento del sur, humedad 60%"
    assert calls[1]["result"] == "10.0 euros son 11.00 USD"
    assert document["reply"].startswith("Según las herramientas: Soleado en Lima")
    offered = [t["function"]["name"] for t in groq_tools.chat_requests()[0]["tools"]]
    assert offered == ["weather", "convert", "slow", "search_conversation"]
    shown = json.loads(memoria("threads", "show", "t", "--json", "--db", db).stdout)
    assert [m["type"] for m in shown["messages"]] == ["human", "ai", "tool", "tool", "ai"]
    assert shown["turns"] == 1


def test_ask_prints_the_reply_alone_and_each_call_on_one_line(memoria, groq_tools, tmp_path):
    db = str(tmp_path / "m.sqlite")
    args = ["ask", "¿Qué tiempo hace?", "--tools", "mytools:TOOLS", "--model", GROQ, "--db", db]
    done = memoria(*args, env=groq_tools.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Según las herramientas: Soleado en Lima")
    lines = done.stderr.splitlines()
    assert (
        '[tool] weather(city="Lima") → Soleado en Lima, 24 grados viento del sur, humedad 60%'
        in lines
    )
    assert '[tool] convert(amount=10, currency="USD") → 10.0 euros son 11.00 USD' in lines
    verbose = memoria(*args, "-v", env=groq_tools.env)
    assert '[tool] weather(city="Lima") → Soleado en Lima, 24 grados\nviento del sur' in (
        verbose.stderr
    )
    assert "2 model calls (a tool loop)" in verbose.stderr


def test_chat_shows_the_tools_in_its_banner_and_each_call(memoria, groq_tools, tmp_path):
    db = str(tmp_path / "m.sqlite")
    done = memoria(
        "chat", "--tools", "mytools:TOOLS", "--model", GROQ, "--db", db,
        stdin="¿Qué tiempo hace?\n/exit\n", env=groq_tools.env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "tools weather, convert, slow, search_conversation" in done.stderr
    assert '[tool] weather(city="Lima") → Soleado en Lima' in done.stderr
    assert "Según las herramientas" in done.stdout


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("nosuchmodule:TOOLS", "--tools 'nosuchmodule:TOOLS': no module named 'nosuchmodule'"),
        ("mytools:MISSING", "--tools 'mytools:MISSING': mytools has no 'MISSING'"),
        ("mytools", "--tools 'mytools': give MODULE:NAME (e.g. mytools:TOOLS)"),
        ("mytools:NOT_A_TOOL", "--tools 'mytools:NOT_A_TOOL': not a tool or a function: int"),
        ("broken:TOOLS", "--tools 'broken:TOOLS': importing broken failed: nothing works here"),
    ],
)
def test_a_bad_tool_reference_is_one_line(memoria, groq_tools, tmp_path, reference, problem):
    (tmp_path / "broken.py").write_text("raise RuntimeError('nothing works here')\n")
    db = tmp_path / "m.sqlite"
    done = memoria(
        "ask", "hola", "--tools", reference, "--model", GROQ, "--db", str(db), env=groq_tools.env
    )
    assert done.returncode == 1
    assert done.stderr == f"memoria: {problem}\n"
    assert not db.exists(), "nothing is created for a command that cannot run"


def test_tools_for_a_model_that_cannot_call_them_are_refused(memoria, groq_tools, tmp_path):
    done = memoria("ask", "hola", "--tools", "mytools:TOOLS", "--model", "echo", env=groq_tools.env)
    assert done.returncode == 1
    assert done.stderr.startswith("memoria: the model 'echo' cannot call tools (weather, ")
    assert len(done.stderr.splitlines()) == 1


def test_an_imported_thread_brings_no_tools(memoria, tmp_path):
    export = {
        "format": "memoria.thread",
        "version": 2,
        "thread_id": "imported",
        "settings": {"model": "echo", "tools": "os:system", "memory_tool": "on"},
        "memory": {"summary": ""},
        "turns": [[{"type": "human", "content": "hola"}, {"type": "ai", "content": "hola"}]],
    }
    (tmp_path / "export.json").write_text(json.dumps(export))
    db = str(tmp_path / "m.sqlite")
    done = memoria("import", str(tmp_path / "export.json"), "--db", db)
    assert done.returncode == 0, done.stderr
    assert "ignored unknown setting 'tools'" in done.stderr
    # memory_tool=on was kept (a setting a user could type), and echo cannot call tools: so
    # the thread says so, in one line, rather than running anything it named.
    resumed = memoria("ask", "y ahora", "--thread", "imported", "--db", db)
    assert resumed.returncode == 1
    assert resumed.stderr == (
        "memoria: the model 'echo' cannot call tools (search_conversation); pick a model that "
        "can (groq:..., or another provider's chat model)\n"
    )


def thread_state(memoria, db: str, thread: str) -> dict:
    shown = memoria("threads", "show", thread, "--json", "--db", db)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    document.pop("size_bytes", None)
    return document


@pytest.mark.parametrize("how", ["kill", "ctrl-c"])
def test_a_kill_or_ctrl_c_inside_the_tool_loop_leaves_the_thread_as_it_was(
    memoria, spawn, groq_tools, tmp_path, how
):
    db = str(tmp_path / "m.sqlite")
    env = user_env(tmp_path, **groq_tools.env)
    common = ["--tools", "mytools:TOOLS", "--model", GROQ, "--db", db, "--thread", "t"]
    assert memoria("ask", "¿Qué tiempo hace?", *common, env=groq_tools.env).returncode == 0
    before = thread_state(memoria, db, "t")
    running = spawn("ask", "espera un momento", *common, env=env)
    wait_for_file(Path(groq_tools.env["TOOL_STARTED"]), running)
    if how == "kill":
        running.proc.send_signal(signal.SIGKILL)
        running.proc.wait(30)
    else:
        took = interrupt(running)
        assert running.proc.returncode == 130, running.err
        assert running.err.splitlines()[-1] == "memoria: interrupted"
        assert "Traceback" not in running.err and took < 0.5, took
    after = thread_state(memoria, db, "t")
    assert after == before
    assert_index_matches_transcript(Path(db))
    again = memoria("ask", "¿Qué tiempo hace?", *common, "--json", env=groq_tools.env)
    assert again.returncode == 0, again.stderr
    assert thread_state(memoria, db, "t")["turns"] == 2
