"""A small FastAPI backend that embeds Memoria.

    MEMORIA_MODEL=echo uvicorn --app-dir examples backend:app --port 8000

    POST /threads/{thread_id}/messages  {"text": "..."}  -> server-sent events: `token` events with
                                                          {"text": piece}, `tool_call` ({"id",
                                                          "name", "args"}) and `tool_result`
                                                          ({"id", "name", "content", "error"})
                                                          as the model uses tools, then `done`
                                                          (or `error`)
    GET  /threads?limit=20                                -> the most recent threads (1 to 1000)
    GET  /threads/{thread_id}                             -> summary, counters and full transcript

Configuration comes from the environment (`MEMORIA_MODEL`, `MEMORIA_MEMORY`, `MEMORIA_DB`,
`MEMORIA_LOCK_TIMEOUT`, ...); the service's tools (here `utc_now`) come from its code, never from
configuration, and are offered when the model can call tools (not `echo` or `local`), beside
Memoria's own `search_conversation`. A turn runs on a worker thread of its own (`agent.start`); the
response streams it with `async for`, so a client that hangs up cancels the turn at once: the
thread is rolled back and free for the next request. A thread busy with another turn (here or in
another process) answers 409 after the lock wait.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from memoria import Context, Memoria
from memoria.agent import Turn
from memoria.errors import ThreadBusyError, describe_error
from memoria.events import ToolCall, ToolResult
from memoria.models import load_chat_model
from memoria.tools import calls_tools
from memoria.transcript import encode_message

agent: Memoria | None = None


@tool
def utc_now() -> str:
    """The current date and time (UTC), for questions about today, dates and times."""
    return datetime.now(UTC).isoformat(timespec="seconds")


TOOLS = [utc_now]


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global agent
    context = Context()
    tools = TOOLS if calls_tools(load_chat_model(context.model)) else []
    agent = Memoria(context=context, tools=tools)
    yield
    agent.close()


app = FastAPI(title="Memoria backend example", lifespan=lifespan)


class Message(BaseModel):
    text: str = Field(min_length=1, pattern=r"\S")


@app.exception_handler(RequestValidationError)
async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, with any input that is not valid Unicode shown escaped (rendering it as
    UTF-8 would fail and reset the connection)."""
    return JSONResponse(
        status_code=422, content={"detail": _escaped(jsonable_encoder(error.errors()))}
    )


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    if isinstance(value, dict):
        return {key: _escaped(item) for key, item in value.items()}
    return value


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@app.post("/threads/{thread_id}/messages")
async def continue_thread(thread_id: str, message: Message) -> StreamingResponse:
    assert agent is not None
    try:
        # Taking the thread's lock may wait (up to the lock timeout): not on the event loop.
        turn = await run_in_threadpool(agent.start, thread_id, message.text)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    except ThreadBusyError as exc:
        raise HTTPException(409, str(exc)) from None
    return StreamingResponse(events(turn), media_type="text/event-stream")


async def events(turn: Turn) -> AsyncIterator[str]:
    assert agent is not None
    try:
        async for item in turn.aevents():
            if isinstance(item, ToolCall):
                yield event("tool_call", item.as_dict())
            elif isinstance(item, ToolResult):
                yield event("tool_result", item.as_dict())
            else:
                yield event("token", {"text": item})
    except Exception as exc:  # the turn was rolled back; tell the client why
        yield event("error", {"message": describe_error(exc)})
        return
    finally:
        turn.cancel()  # a no-op for a finished turn; a client that hung up lands here
    state = await run_in_threadpool(agent.state, turn.thread_id)
    yield event("done", {"thread_id": turn.thread_id, "turns": state.turns})


@app.get("/threads")
def list_threads(limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[dict[str, Any]]:
    assert agent is not None
    return [info.as_dict() for info in agent.threads(limit)]


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
