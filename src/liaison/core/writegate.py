"""A fair gate for SQLite writers, shared by every process of one installation.

SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps
1, 2, 5 ... up to 100 ms between tries and serves nobody in order, so under a steady
stream of writes a short write can wait for seconds behind a busy background job. Hot
writers (form submissions and the jobs that process them) pass this gate first: a file
lock (kernel-queued, woken at release) around the write, so SQLite's own lock is free when
they reach it. On PostgreSQL the gate is open (rows lock, not the database).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

_lock = threading.Lock()
_held = threading.local()  # how deep this thread is inside the gate
_file: tuple[int, int] | None = None  # (pid, fd): a forked process opens its own


def _fd() -> int:
    global _file
    if _file is None or _file[0] != os.getpid():
        path = settings.VAR_DIR / "sqlite-writers.lock"
        _file = (os.getpid(), os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    return _file[1]


@contextmanager
def writer(using: str = "default") -> Iterator[None]:
    """Hold the gate for one write (a statement or a short transaction) on SQLite.

    Re-entrant in a thread (on-commit work may write again). Inside a transaction already
    open the gate is not taken: that transaction holds SQLite's own lock, and waiting for
    the gate there could deadlock with a process that holds the gate and waits for SQLite.
    """
    connection = connections[using]
    depth = getattr(_held, "depth", 0)
    if connection.vendor != "sqlite" or depth or connection.in_atomic_block:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth = depth
        return
    with _lock:  # the threads of this process queue here; processes queue on the file
        fd = _fd()
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
            fcntl.flock(fd, fcntl.LOCK_UN)
