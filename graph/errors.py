"""One clear line for every failure a user can meet: provider errors, database errors, bad input."""

from __future__ import annotations

import json
import sqlite3


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its class name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """A one-line explanation of `exc` for the terminal.

    Provider SDKs (groq, openai, anthropic, httpx) are recognised by their status codes and class
    names rather than imported, so that no optional provider is needed to explain its errors.
    """
    name = type(exc).__name__
    status = getattr(exc, "status_code", None) or getattr(
        getattr(exc, "response", None), "status_code", None
    )
    if status == 401 or name == "AuthenticationError":
        return "the model provider rejected the API key (401): check GROQ_API_KEY or your provider's key"
    if status == 403 or name == "PermissionDeniedError":
        return "the model provider refused the request (403): the key may lack access to this model"
    if status == 404 or name == "NotFoundError":
        return f"the model provider does not know this model (404): {first_line(exc)}"
    if status == 429 or name == "RateLimitError":
        return "the model provider is rate limiting (429) and retries did not help: try again later"
    too_long = "context" in str(exc).lower() and "exceed" in str(exc).lower()
    if status == 413 or too_long:
        return f"the message is too large for the model's context: {first_line(exc)}"
    if isinstance(status, int) and status >= 500:
        return f"the model provider failed ({status}): try again later"
    if isinstance(exc, json.JSONDecodeError) or name == "APIResponseValidationError":
        return "the model provider sent a malformed response: try again"
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return "the model did not answer in time: try again"
    if "Connection" in name or isinstance(exc, ConnectionError):
        return f"cannot reach the model provider: {first_line(exc)}"
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return "the database is busy (locked by another process): try again"
    if isinstance(exc, sqlite3.DatabaseError):
        return f"database error: {first_line(exc)}"
    if isinstance(status, int):
        return f"the model provider answered {status}: {first_line(exc)}"
    return first_line(exc)
