"""The database and threads as commands open them: read-only when a command only reads (so that
nothing is created), for writing without a model for thread administration, and new thread ids."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

from memoria.cli.env import loading

if TYPE_CHECKING:
    from memoria.agent import ThreadAdmin

ADJECTIVES = ("amber", "brave", "calm", "clever", "eager", "gentle", "golden", "lucky", "merry")
NOUNS = ("otter", "falcon", "river", "meadow", "harbor", "comet", "cedar", "lantern", "willow")


def readable_thread_id() -> str:
    return f"{secrets.choice(ADJECTIVES)}-{secrets.choice(NOUNS)}-{secrets.token_hex(2)}"


def admin(db: str | None, *, read_only: bool = False, init_db: bool = False) -> ThreadAdmin:
    """The database's threads for administration: no model is loaded (a thread without saved
    settings is previewed as the echo model counts)."""
    with loading():
        from memoria.agent import ThreadAdmin
        from memoria.context import Context

    return ThreadAdmin(db=db, context=Context(model="echo"), read_only=read_only, init_db=init_db)


@contextlib.contextmanager
def reading(db: str | None) -> Iterator[ThreadAdmin | None]:
    """The threads, read-only, or None when there is no database yet (nothing is created)."""
    from memoria.persistence import NoDatabaseError

    try:
        agent = admin(db, read_only=True)
    except NoDatabaseError:
        yield None
        return
    with agent:
        yield agent


def where(db: str | None) -> str:
    """The database `--db` names, as messages show it (no password)."""
    from memoria.persistence import parse_location

    return parse_location(db).display


@contextlib.contextmanager
def reading_thread(db: str | None, thread_id: str) -> Iterator[ThreadAdmin]:
    """The threads, read-only, holding `thread_id`; ThreadNotFoundError when it (or the database)
    does not exist."""
    from memoria.agent import ThreadNotFoundError

    with reading(db) as agent:
        if agent is None or not agent.exists(thread_id):
            raise ThreadNotFoundError(f"no thread {thread_id!r} in {where(db)}")
        yield agent


def require_thread(db: str | None, thread_id: str) -> None:
    """Refuse, before opening the database for writing (which would create it), a thread that
    does not exist."""
    with reading_thread(db, thread_id):
        pass
