"""Turn locks for SQLite databases, keyed to the database file itself.

Two processes continuing one thread at once would both build on the same checkpoint, and one turn
would be lost. So a turn holds an exclusive lock for its thread from before it reads the thread
until its checkpoint is saved; deleting, importing, renaming or forking a thread takes the same lock.

The lock is a byte-range lock on the database file itself, at offsets far beyond SQLite's own lock
bytes (which sit at 1 GiB), so every path to the file (a symlink, `./x`, an absolute path, a hard
link) meets the same lock. Linux "open file description" locks (`F_OFD_SETLK`) are used rather than
classic POSIX locks: closing any descriptor of a file drops all of the process's POSIX locks on it,
including SQLite's own, so Memoria keeps one shared descriptor per file and per process, closed only
when the last database using it is closed. The kernel drops the locks of a dead process, even one
killed by SIGKILL. Threads of one process exclude each other through in-process locks.
Elsewhere than Linux, the lock falls back to POSIX locks on a `<real path>.turnlock` file.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from memoria.errors import busy_thread
from memoria.persistence.waiting import wait_for

LOCK_BASE = 2**40
"""Far past SQLite's lock bytes at 0x40000000: the two never meet."""
SETUP_OFFSET = LOCK_BASE
THREAD_OFFSET = LOCK_BASE + 1
HAS_OFD = sys.platform.startswith("linux") and hasattr(fcntl, "F_OFD_SETLK")


def thread_offset(thread_id: str) -> int:
    digest = hashlib.blake2b(thread_id.encode("utf-8", "surrogatepass"), digest_size=4).digest()
    return THREAD_OFFSET + int.from_bytes(digest, "big")


@dataclass
class _SharedFile:
    fd: int
    users: int
    locks: dict[str, threading.Lock]


_FILES: dict[tuple[int, int], _SharedFile] = {}
_FILES_GUARD = threading.Lock()


class FileThreadLocks:
    """Per-thread turn locks and the schema-setup lock of one SQLite database file."""

    def __init__(self, path: Path) -> None:
        # Without OFD locks (macOS, the BSDs) a lock file beside the real path stands in.
        lock_path = path if HAS_OFD else Path(os.path.realpath(path) + ".turnlock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        info = os.fstat(fd)
        self._key = (info.st_dev, info.st_ino)
        with _FILES_GUARD:
            shared = _FILES.get(self._key)
            if shared is None:
                shared = _FILES[self._key] = _SharedFile(fd, 0, {})
            else:
                os.close(
                    fd
                )  # already open in this process: closing this one is safe (no locks yet)
            shared.users += 1
        self._shared = shared
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _FILES_GUARD:
            self._shared.users -= 1
            if self._shared.users == 0:
                del _FILES[self._key]
                os.close(self._shared.fd)

    def _local(self, name: str) -> threading.Lock:
        with _FILES_GUARD:
            return self._shared.locks.setdefault(name, threading.Lock())

    @contextmanager
    def setup(self, timeout: float = 120.0) -> Iterator[None]:
        """Exclusive across processes while Memoria's tables are created or upgraded."""
        with self._held("\x00setup", SETUP_OFFSET, timeout, "the database is being set up"):
            yield

    @contextmanager
    def hold(self, thread_id: str, timeout: float) -> Iterator[None]:
        """Exclusive use of `thread_id` across threads and processes; ThreadBusyError after `timeout`."""
        with self._held(thread_id, thread_offset(thread_id), timeout, busy_thread(thread_id)):
            yield

    @contextmanager
    def _held(self, name: str, offset: int, timeout: float, busy: str) -> Iterator[None]:
        local = self._local(name)
        deadline = time.monotonic() + timeout
        # Polled, not a blocking acquire, so that Ctrl-C can end the wait between two tries.
        wait_for(lambda: local.acquire(blocking=False), deadline, busy)
        try:
            wait_for(lambda: _try_lock(self._shared.fd, offset), deadline, busy)
            try:
                yield
            finally:
                _unlock(self._shared.fd, offset)
        finally:
            local.release()


def _flock(kind: int, offset: int) -> bytes:
    # struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, offset, 1, 0)


def _try_lock(fd: int, offset: int) -> bool:
    try:
        if HAS_OFD:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_WRLCK, offset))
        else:  # pragma: no cover
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


def _unlock(fd: int, offset: int) -> None:
    if HAS_OFD:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock(fcntl.F_UNLCK, offset))
    else:  # pragma: no cover
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)
