"""The chat's input history (readline's up-arrow), one private file per thread, so that deleting
a thread deletes its lines too."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


def history_path(db: str, thread_id: str) -> Path:
    """The history file of `thread_id` in the database `db`, under $XDG_STATE_HOME."""
    state_home = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    where = os.path.realpath(db) if "://" not in db else db
    key = hashlib.sha256(f"{where}\0{thread_id}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return state_home / "memoria" / "chat-history" / key


class InputHistory:
    """readline's history, kept for one thread at a time; only when the input is a terminal."""

    def __init__(self, db: str, interactive: bool) -> None:
        self.db = db
        self.interactive = interactive
        self.file: Path | None = None

    def switch(self, thread_id: str) -> None:
        """Load `thread_id`'s lines in place of the current ones (`save` them first)."""
        if not self.interactive:
            return
        try:
            import readline
        except ImportError:
            return
        readline.clear_history()
        self.file = history_path(self.db, thread_id)
        with contextlib.suppress(OSError):
            readline.read_history_file(self.file)
        readline.set_history_length(1000)

    def save(self) -> None:
        if self.file is None:
            return
        import readline

        with contextlib.suppress(OSError):
            self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            readline.write_history_file(self.file)
            self.file.chmod(0o600)
