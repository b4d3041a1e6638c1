"""`langgraph dev` serves langgraph.json as is: Studio sees the nodes (`tools` with the memory tool
included) and the context schema,
and threads run through the LangGraph API with the server's own checkpointer and store."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_sync_client
from processes import clean_env

ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH = str(Path(sys.executable).with_name("langgraph"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    workdir = tmp_path_factory.mktemp(
        "langgraph-dev"
    )  # for the server log; it runs in the repo, as a user runs it
    env = {
        **clean_env(),
        "MEMORIA_MODEL": "echo",
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [
            LANGGRAPH,
            "dev",
            "--config",
            str(ROOT / "langgraph.json"),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--no-browser",
            "--no-reload",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(
                "langgraph dev did not start:\n" + (workdir / "server.log").read_text()[-3000:]
            )
        time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_studio_sees_the_nodes_and_the_memory_settings(server):
    client = get_sync_client(url=server)
    assistant = client.assistants.search(graph_id="memoria")[0]
    graph = client.assistants.get_graph(assistant["assistant_id"])
    assert {"trim", "summarise", "recall", "model", "tools"} <= {n["id"] for n in graph["nodes"]}
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    properties = schemas["context_schema"]["properties"]
    assert {
        "model",
        "memory",
        "k",
        "max_tokens",
        "recall_tokens",
        "recall_turns",
        "language",
    } <= set(properties)
    assert set(properties["memory"]["enum"]) == {
        "buffer",
        "window",
        "summary",
        "summary-buffer",
        "hybrid",
    }


def test_a_thread_crosses_the_summary_threshold_through_the_api(server):
    client = get_sync_client(url=server)
    assistant = client.assistants.create(
        graph_id="memoria",
        context={"model": "echo", "memory": "hybrid", "k": 2, "max_tokens": 300},
        name="memoria-hybrid-test",
    )
    thread = client.threads.create()
    opening = "Mensaje 0: mi perro se llama Toby. " + "dato " * 20
    for n in range(15):
        client.runs.wait(
            thread["thread_id"],
            assistant["assistant_id"],
            input={
                "messages": [
                    {
                        "role": "user",
                        "content": opening if n == 0 else f"Mensaje {n}: " + "dato " * 25,
                    }
                ]
            },
        )
    values = client.threads.get_state(thread["thread_id"])["values"]
    assert values["turns"] == 15
    assert values["summary"] and values["summarised_turns"] > 0, "the summary threshold was crossed"
    assert len(values["messages"]) <= 2 * 10, "recent turns stay bounded"
    assert values["messages"][-1]["content"] == "Mensaje 14: " + "dato " * 25
    items = client.store.search_items(("memoria", thread["thread_id"]), limit=100)["items"]
    assert len(items) == 15, "every turn is archived in the server's store"
    # Recall works on the server's own store: the folded first turn comes back when asked about.
    client.runs.wait(
        thread["thread_id"],
        assistant["assistant_id"],
        input={"messages": [{"role": "user", "content": "¿Cómo se llama mi perro?"}]},
    )
    recalled = client.threads.get_state(thread["thread_id"])["values"]["recalled"]
    assert [item["turn"] for item in recalled] == [0] and "Toby" in recalled[0]["text"]
