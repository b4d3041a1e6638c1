"""The FastAPI example, running for real under uvicorn, driven over HTTP with httpx."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("backend")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GROQ_", "MEMORIA_"))},
        "MEMORIA_MODEL": "echo:0.01",
        "MEMORIA_MEMORY": "window",
        "MEMORIA_K": "2",
        "MEMORIA_DB": str(workdir / "backend.sqlite"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
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
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the backend did not start:\n" + process.stdout.read())
            time.sleep(0.3)
    yield url
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


def test_bad_requests(backend):
    with httpx.Client(base_url=backend, timeout=30) as client:
        assert client.get("/threads/nope").status_code == 404
        assert client.get("/threads/a%20b").status_code == 422
        assert client.post("/threads/x/messages", json={"text": "   "}).status_code == 422
        assert client.post("/threads/x/messages", json={}).status_code == 422
