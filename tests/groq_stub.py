"""A small Groq-compatible HTTP server on 127.0.0.1 for tests.

The real `langchain-groq` client is pointed at it (`GROQ_API_BASE`); it posts to
`/openai/v1/chat/completions`, plain or streamed (server-sent events). The server records every request
body so tests can check exactly what the model was sent, and answers through `reply`, a function of the
request body, with usage computed from the prompt size (3 characters a token, so that the client's
estimate of 4 has something to calibrate against). `reply` returns the answer's text, or a
`ToolCalls` to answer with tool calls the way Groq does (OpenAI's format, streamed in pieces).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATH = "/openai/v1/chat/completions"
GROQ_TEST_KEY = "gsk_test_0123456789abcdef"
"""The key the tests give the real Groq client (the stub takes any)."""
CHARS_PER_TOKEN = 3


@dataclass
class ToolCalls:
    """An answer that calls tools: (name, arguments) pairs, with optional text before them."""

    calls: list[tuple[str, dict[str, Any]]]
    text: str = ""

    def as_openai(self) -> list[dict[str, Any]]:
        return [
            {
                "id": f"call_stub_{index}_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for index, (name, arguments) in enumerate(self.calls)
        ]


def answers_tools_with(plan: Callable[[dict[str, Any]], ToolCalls | None]) -> Callable:
    """A `reply` that calls tools as `plan` says (None: answer as `default_reply` does)."""

    def reply(body: dict[str, Any]) -> str | ToolCalls:
        planned = None if is_summary_request(body) else plan(body)
        return planned if planned is not None else default_reply(body)

    return reply


@dataclass
class Fault:
    """A canned failure for the next matching request: an HTTP status with body and headers, a
    delay before answering, or (status 200) a stream that breaks after `break_after` chunks."""

    status: int = 500
    body: str = '{"error": {"message": "internal error", "type": "server_error"}}'
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    break_after: int | None = None
    only: Callable[[dict[str, Any]], bool] | None = None
    """Apply only to requests this accepts (e.g. `is_summary_request`); others pass untouched."""


def is_summary_request(body: dict[str, Any]) -> bool:
    first = body["messages"][0]
    return first["role"] == "system" and "running summary" in first["content"]


def default_reply(body: dict[str, Any]) -> str:
    last_user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    if is_summary_request(body):
        return "Resumen: " + last_user.split("New turns:")[-1].strip().replace("\n", " ")[:120]
    results = [m["content"] for m in body["messages"][-8:] if m["role"] == "tool"]
    if body["messages"][-1]["role"] == "tool":
        return f"Según las herramientas: {' | '.join(results)}"
    return f"Respuesta a: {last_user}"


class GroqStub:
    def __init__(self, reply: Callable[[dict[str, Any]], str] = default_reply) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.faults: list[Fault] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                stub.requests.append(body)
                stub.headers.append(dict(self.headers))
                if self.path != CHAT_PATH:
                    return self._send(404, '{"error": {"message": "not found"}}')
                fault = stub.next_fault(body)
                if fault is not None:
                    time.sleep(fault.delay)
                    if fault.status != 200:
                        return self._send(fault.status, fault.body, fault.headers)
                    if fault.break_after is None and fault.body:
                        return self._send(200, fault.body)
                answer = stub.reply(body)
                text = answer.text if isinstance(answer, ToolCalls) else answer
                calls = answer.as_openai() if isinstance(answer, ToolCalls) else None
                prompt_chars = sum(len(m.get("content") or "") for m in body["messages"])
                usage = {
                    "prompt_tokens": max(1, prompt_chars // CHARS_PER_TOKEN),
                    "completion_tokens": max(1, len(text) // CHARS_PER_TOKEN),
                }
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                if body.get("stream"):
                    cut = fault.break_after if fault is not None else None
                    return self._stream(body["model"], text, usage, cut, calls)
                return self._send(200, json.dumps(_completion(body["model"], text, usage, calls)))

            def _send(self, status: int, payload: str, headers: tuple = ()) -> None:
                data = payload.encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(
                self,
                model: str,
                text: str,
                usage: dict[str, int],
                cut: int | None,
                calls: list[dict[str, Any]] | None = None,
            ) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                words = text.split(" ") if text or not calls else []
                for index, word in enumerate(words):
                    if cut is not None and index == cut:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    piece = word if index == len(words) - 1 else word + " "
                    self._event(_chunk(model, {"content": piece}, None))
                for index, call in enumerate(calls or []):
                    # As OpenAI-style APIs stream a call: its id and name, then its arguments.
                    arguments = call["function"]["arguments"]
                    head = {
                        **call,
                        "index": index,
                        "function": {**call["function"], "arguments": ""},
                    }
                    self._event(_chunk(model, {"tool_calls": [head]}, None))
                    for start in range(0, len(arguments), 8):
                        piece = {
                            "index": index,
                            "function": {"arguments": arguments[start : start + 8]},
                        }
                        self._event(_chunk(model, {"tool_calls": [piece]}, None))
                last = _chunk(model, {}, "tool_calls" if calls else "stop")
                last["x_groq"] = {"id": "req_stub", "usage": usage}
                self._event(last)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A client that gave up (timeouts, broken streams) leaves the handler a closed socket.
        self.server.handle_error = lambda request, client_address: None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next_fault(self, body: dict[str, Any]) -> Fault | None:
        for index, fault in enumerate(self.faults):
            if fault.only is None or fault.only(body):
                return self.faults.pop(index)
        return None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if not is_summary_request(r)]

    def summary_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if is_summary_request(r)]

    def __enter__(self) -> GroqStub:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _completion(
    model: str, text: str, usage: dict[str, int], calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": usage,
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
