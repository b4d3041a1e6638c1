"""A small FastAPI backend that embeds Memoria.

    MEMORIA_MODEL=echo uvicorn --app-dir examples backend:app --port 8000

    POST /threads/{thread_id}/messages  {"text": "..."}  -> server-sent events: `token` events with
                                                          {"text": piece}, then `done` (or `error`)
    GET  /threads                                         -> every thread, most recent first
    GET  /threads/{thread_id}                             -> summary, counters and full transcript

Configuration comes from the environment (`MEMORIA_MODEL`, `MEMORIA_MEMORY`, `MEMORIA_DB`, ...). The
agent is synchronous; FastAPI runs its calls, and the streamed reply, in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from graph import Context
from graph.agent import Memoria
from graph.errors import describe_error
from graph.transcript import encode_message

agent: Memoria | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global agent
    agent = Memoria(context=Context())
    yield
    agent.close()


app = FastAPI(title="Memoria backend example", lifespan=lifespan)


class Message(BaseModel):
    text: str = Field(min_length=1, pattern=r"\S")


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@app.post("/threads/{thread_id}/messages")
def continue_thread(thread_id: str, message: Message) -> StreamingResponse:
    assert agent is not None
    try:
        agent.config(thread_id)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None

    def events() -> Iterator[str]:
        try:
            for piece in agent.stream(thread_id, message.text):
                yield event("token", {"text": piece})
        except Exception as exc:  # the turn was rolled back; tell the client why
            yield event("error", {"message": describe_error(exc)})
            return
        yield event("done", {"thread_id": thread_id, "turns": agent.state(thread_id).turns})

    return StreamingResponse(events(), media_type="text/event-stream")


@app.get("/threads")
def list_threads() -> list[dict[str, Any]]:
    assert agent is not None
    return [info.as_dict() for info in agent.threads()]


@app.get("/threads/{thread_id}")
def read_thread(thread_id: str) -> dict[str, Any]:
    assert agent is not None
    try:
        exists = agent.exists(thread_id)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if not exists:
        raise HTTPException(404, f"no thread {thread_id!r}")
    state = agent.state(thread_id)
    return {
        "thread_id": thread_id,
        "turns": state.turns,
        "summary": state.summary,
        "messages": [encode_message(m) for m in agent.transcript(thread_id)],
    }
