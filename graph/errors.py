"""One clear line for every failure a user can meet, with every configured secret redacted.

Provider SDKs (groq, openai, anthropic, httpx) are recognised by their status codes and class names
rather than imported, so that no optional provider is needed to explain its errors.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from typing import Any
from urllib.parse import quote

REDACTED = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values (a password "x") would redact ordinary text; they are too weak to matter anyway."""


class ThreadBusyError(RuntimeError):
    """Another turn (in this process or another) holds the thread for longer than the lock wait."""


class TurnSavedError(RuntimeError):
    """The turn was saved, but what follows it (tidying the thread's checkpoints) failed."""


class TurnUndoError(RuntimeError):
    """A turn failed, and rolling it back failed too."""


def busy_thread(thread_id: str) -> str:
    """What a thread lock says when the thread stays busy past the wait, on every backend."""
    return f"thread {thread_id!r} is busy with another turn; try again in a moment"


class _Secrets:
    """The secret values this process knows of: API keys from the environment, database passwords."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._guard = threading.Lock()

    def add(self, value: str | None) -> None:
        if value and len(value) >= MIN_SECRET_LENGTH:
            with self._guard:
                self._values.add(value)

    def current(self) -> list[str]:
        from_environment = [
            value
            for name, value in os.environ.items()
            if name.endswith(("_API_KEY", "_API_TOKEN", "_SECRET_KEY")) and value
        ]
        with self._guard:
            values = self._values | {v for v in from_environment if len(v) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret containing another is replaced whole.
        return sorted(values, key=len, reverse=True)


SECRETS = _Secrets()


def add_secret(value: str | None) -> None:
    """Redact `value` (a password, a token) from every message Memoria prints or stores."""
    SECRETS.add(value)


def redact(text: str) -> str:
    """`text` with every known secret replaced by ***, including URL-encoded forms of it."""
    for secret in SECRETS.current():
        if secret in text:
            text = text.replace(secret, REDACTED)
        encoded = quote(secret, safe="")
        if encoded != secret and encoded in text:
            text = text.replace(encoded, REDACTED)
    return BEARER.sub(r"\1" + REDACTED, text)


def longest_secret() -> int:
    """The length of the longest secret as it could appear in text (URL-encoded included)."""
    return max((len(quote(s, safe="")) for s in SECRETS.current()), default=0)


def redact_value(value: Any) -> Any:
    """`value` (text, or lists and dicts of it, as tool arguments and content blocks are) with
    every known secret redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    return value


class StreamRedactor:
    """Redacts secrets from text that arrives in pieces (a streamed reply): a secret cut between
    two pieces is still caught, because the end of what came, as long as the longest secret less
    one character, is held back until the next piece or `flush`."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        """What of the text so far can be shown now."""
        text = redact(self._held + piece)
        cut = max(0, len(text) - max(0, longest_secret() - 1))
        self._held = text[cut:]
        return text[:cut]

    def flush(self) -> str:
        """The rest, at the end of the stream."""
        text, self._held = redact(self._held), ""
        return text


BEARER = re.compile(r"((?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
"""An Authorization header echoed back by a proxy, whatever the key: never worth showing."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (redacted), or its class name when it has none."""
    text = redact(str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """A one-line, redacted explanation of `exc` for the terminal, logs and stored state."""
    return redact(_describe(exc))


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    status = getattr(exc, "status_code", None) or getattr(
        getattr(exc, "response", None), "status_code", None
    )
    if isinstance(exc, ThreadBusyError):
        return first_line(exc)
    if status == 401 or name == "AuthenticationError":
        return "the model provider rejected the API key (401): check GROQ_API_KEY or your provider's key"
    if status == 403 or name == "PermissionDeniedError":
        return "the model provider refused the request (403): the key may lack access to this model"
    if status == 404 or name == "NotFoundError":
        return f"the model provider does not know this model (404): {_provider_message(exc)}"
    if status == 429 or name == "RateLimitError":
        return "the model provider is rate limiting (429) and retries did not help: try again later"
    too_long = "context" in str(exc).lower() and "exceed" in str(exc).lower()
    if status == 413 or too_long:
        return f"the message is too large for the model's context: {_provider_message(exc)}"
    if isinstance(status, int) and status >= 500:
        return f"the model provider failed ({status}): try again later"
    if isinstance(exc, json.JSONDecodeError) or name == "APIResponseValidationError":
        return "the model provider sent a malformed response: try again"
    if "No generations found in stream" in str(exc):  # a stream that carried no valid chunk
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
        return f"the model provider answered {status}: {_provider_message(exc)}"
    return first_line(exc)


def _provider_message(exc: BaseException) -> str:
    """The provider's own `error.message` when its SDK parsed one, else the first line, shortened:
    raw bodies can be long, and some proxies echo the request in them."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return shorten(redact(error["message"]))
    return shorten(first_line(exc))


def shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
