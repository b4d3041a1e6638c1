"""The FastAPI example, running for real under uvicorn, driven over HTTP with httpx."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from processes import MEMORIA, clean_env
from slow_echo import SCRIPT as SLOW_ECHO
from slow_echo import SlowEcho

ROOT = Path(__file__).resolve().parents[2]


class Backend(str):
    """The server's URL, knowing its database."""

    def __new__(cls, url: str, db: Path) -> Backend:
        backend = super().__new__(cls, url)
        backend.db = db
        return backend


def start_backend(workdir: Path, **settings: str) -> tuple[subprocess.Popen, str]:
    """uvicorn serving examples/backend.py on a free loopback port, configured by `settings`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = clean_env(
        MEMORIA_LOCK_TIMEOUT="1", MEMORIA_DB=str(workdir / "backend.sqlite"), **settings
    )
    process = subprocess.Popen(
        [
            sys.executable,
            str(SLOW_ECHO),  # `echo:<seconds>` is a slow echo model there (see slow_echo.py)
            "-m",
            "uvicorn",
            "--app-dir",
            str(ROOT / "examples"),
            "backend:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/threads", timeout=1)
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the backend did not start:\n" + process.stdout.read())
            time.sleep(0.3)


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("backend")
    process, url = start_backend(
        workdir, MEMORIA_MODEL="echo:0.02", MEMORIA_MEMORY="window", MEMORIA_K="2"
    )
    yield Backend(url, workdir / "backend.sqlite")
    process.terminate()
    process.wait(timeout=30)


def send(client: httpx.Client, thread: str, text: str) -> list[tuple[str, dict]]:
    events = []
    with client.stream("POST", f"/threads/{thread}/messages", json={"text": text}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def test_streams_a_reply_and_continues_the_thread(backend):
    with httpx.Client(base_url=backend, timeout=30) as client:
        events = send(client, "web-1", "Hola, soy Juan y vivo en Bogotá")
        tokens = [data["text"] for name, data in events if name == "token"]
        assert len(tokens) > 3 and "".join(tokens) == "Hola, soy Juan y vivo en Bogotá"
        assert events[-1] == ("done", {"thread_id": "web-1", "turns": 1})
        for text in ["segunda", "tercera", "cuarta"]:
            assert send(client, "web-1", text)[-1][0] == "done"
        send(client, "web-2", "otro hilo")

        thread = client.get("/threads/web-1").json()
        assert thread["turns"] == 4
        assert [m["content"] for m in thread["messages"] if m["type"] == "human"] == [
            "Hola, soy Juan y vivo en Bogotá",
            "segunda",
            "tercera",
            "cuarta",
        ]
        listing = client.get("/threads").json()
        assert [t["thread_id"] for t in listing] == ["web-2", "web-1"]
        assert listing[1]["turns"] == 4
        assert [t["thread_id"] for t in client.get("/threads?limit=1").json()] == ["web-2"]
        assert client.get("/threads?limit=0").status_code == 422


def test_bad_requests(backend):
    with httpx.Client(base_url=backend, timeout=30) as client:
        assert client.get("/threads/nope").status_code == 404
        assert client.get("/threads/a%20b").status_code == 422
        assert client.post("/threads/x/messages", json={"text": "   "}).status_code == 422
        assert client.post("/threads/x/messages", json={}).status_code == 422
        # A JSON escape for a lone surrogate: not text. A clean 422, not a reset connection.
        for body in (b'{"text": "\\ud800"}', b'{"text": "ok \\udfff", "x": "\\ud800"}'):
            response = client.post(
                "/threads/x/messages", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 422
            assert response.json()["detail"][0]["loc"] == ["body", "text"]


def test_a_client_that_hangs_up_cancels_the_turn_and_frees_the_thread(backend):
    long_text = " ".join(f"palabra{n}" for n in range(150))  # about 3 s of streaming
    with httpx.Client(base_url=backend, timeout=30) as client:
        with client.stream("POST", "/threads/web-3/messages", json={"text": long_text}) as response:
            for line in response.iter_lines():
                if line.startswith("event: token"):
                    break  # the first token arrived: hang up mid-reply
        started = time.monotonic()
        events = send(client, "web-3", "después")
        assert time.monotonic() - started < 1.5, "the thread was freed at once"
        assert events[-1] == ("done", {"thread_id": "web-3", "turns": 1})
        thread = client.get("/threads/web-3").json()
        assert [m["content"] for m in thread["messages"]] == ["después", "después"]
    # Another process on the same database is not kept waiting either.
    env = clean_env()
    ask = subprocess.run(
        [
            MEMORIA,
            "ask",
            "y ahora",
            "--model",
            "echo",
            "--thread",
            "web-3",
            "--db",
            str(backend.db),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ask.returncode == 0 and ask.stdout == "y ahora\n", ask.stderr


def test_a_thread_busy_in_another_process_is_refused_after_the_lock_wait(backend, tmp_path):
    from memoria import Context, Memoria

    holder = Memoria(
        db=backend.db, context=Context(model="echo"), model=SlowEcho(delay=0.5), lock_timeout=0.2
    )
    turn = holder.start("web-4", " ".join(["palabra"] * 120))  # holds web-4 for ~60 s
    try:
        env = clean_env()
        ask = [MEMORIA, "ask", "hola", "--model", "echo", "--db", str(backend.db)]
        env = {**env, "MEMORIA_LOCK_TIMEOUT": "0.5"}
        # The same command on a free thread: the anchor for how long a process takes here.
        started = time.monotonic()
        free = subprocess.run([*ask, "--thread", "web-5"], capture_output=True, env=env, timeout=60)
        anchor = time.monotonic() - started
        assert free.returncode == 0
        started = time.monotonic()
        busy = subprocess.run(
            [*ask, "--thread", "web-4"], capture_output=True, text=True, env=env, timeout=60
        )
        waited = time.monotonic() - started
        assert busy.returncode == 1 and waited < anchor + 0.5 + 3, (waited, anchor)
        assert busy.stderr.strip().endswith(
            "thread 'web-4' is busy with another turn; try again in a moment"
        )
        with httpx.Client(base_url=backend, timeout=30) as client:
            response = client.post("/threads/web-4/messages", json={"text": "hola"})
            assert response.status_code == 409 and "busy" in response.json()["detail"]
    finally:
        turn.cancel()
        holder.close()


def test_tool_calls_and_results_stream_beside_the_tokens(tmp_path):
    """With a model that calls tools (Groq, through the loopback stub), the example offers its
    `utc_now` tool and streams each call and result as events of their own."""
    from groq_stub import GROQ_TEST_KEY, GroqStub, ToolCalls, answers_tools_with

    def plan(body):
        asked = body["messages"][-1]
        if asked["role"] == "user" and "hora" in asked["content"]:
            return ToolCalls([("utc_now", {})])
        return None

    with GroqStub(answers_tools_with(plan)) as stub:
        process, url = start_backend(
            tmp_path,
            MEMORIA_MODEL="groq:llama-3.3-70b-versatile",
            GROQ_API_KEY=GROQ_TEST_KEY,
            GROQ_API_BASE=stub.base_url,
        )
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                events = send(client, "tools-1", "¿Qué hora es?")
        finally:
            process.terminate()
            process.wait(timeout=30)
        names = [name for name, _ in events]
        assert names[:2] == ["tool_call", "tool_result"] and names[-1] == "done"
        call, result = events[0][1], events[1][1]
        assert call == {"id": call["id"], "name": "utc_now", "args": {}}
        assert result["id"] == call["id"] and result["name"] == "utc_now"
        assert result["error"] is False and result["content"][:2] == "20"
        tokens = "".join(data["text"] for name, data in events if name == "token")
        assert tokens == f"Según las herramientas: {result['content']}"
        offered = [t["function"]["name"] for t in stub.chat_requests()[0]["tools"]]
        assert offered == ["utc_now", "search_conversation"]
