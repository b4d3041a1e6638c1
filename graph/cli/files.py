"""Files the commands write: exports replaced atomically and kept owner-only, streamed into a FIFO
or a device, and never written over the database."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from memoria.cli.reporting import CliError

if TYPE_CHECKING:
    from memoria.agent import ThreadAdmin


def write_export(path: Path, text: str) -> None:
    """Write an export where `-o` says. A symlink's target gets it. A regular file (or a new one)
    is replaced atomically and made owner-only; a FIFO or a character device (a pipe a reader
    waits on, /dev/null) is written into as a stream, never replaced; anything else is refused."""
    target = Path(os.path.realpath(path))
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        with open(target, "w", encoding="utf-8") as stream:
            stream.write(text)
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise CliError(f"{path} is neither a file, a FIFO nor a character device: not written")
    write_private(target, text)


def refuse_database_path(output: Path, agent: ThreadAdmin) -> None:
    """Never write an export over the database or its -wal, -shm and lock files."""
    location = agent.database.location
    if location.kind != "sqlite":
        return
    database = Path(location.target).expanduser()
    # SQLite names its -wal, -shm and -journal files after the database's real path (symlinks
    # resolved), so `--db link.sqlite` writes `real.sqlite-wal`: guard both spellings.
    targets = [
        sibling
        for base in dict.fromkeys((database, Path(os.path.realpath(database))))
        for sibling in (
            base,
            *(base.with_name(base.name + s) for s in ("-wal", "-shm", "-journal", ".turnlock")),
        )
    ]
    for target in targets:
        same = os.path.realpath(output) == os.path.realpath(target)
        with contextlib.suppress(OSError):
            same = same or os.path.samefile(output, target)
        if same:
            raise CliError(f"refusing to write the export over the database file {target}")


def write_private(path: Path, text: str) -> None:
    """Write `text` atomically (a temporary file, then a rename), readable by the owner only."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, stat.S_IRUSR | stat.S_IWUSR)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
