"""Fetching ahead: GoTo calls overlap the database writes of the previous answer.

A sync of a big account spends its time in two places: waiting for GoTo (the budget of 10
calls per second and the network) and writing what came back. ``Prefetcher`` runs the
fetching side (a generator of answers) in one thread while the caller stores, keeping at
most ``depth`` answers in memory. Only HTTP happens in that thread: the token comes from
``CachedTokenStore`` (loaded by the caller), so the fetcher touches the database only
when it has to renew the token.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Prefetcher:
    def __init__(self, producer: Iterator[Any], depth: int = 8, name: str = "goto-prefetch"):
        self._producer = producer
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._producer:
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            self._put(_Failure(exc))
        finally:
            connections.close_all()  # this thread's own connections, if a token renewal opened one

    def __iter__(self) -> Iterator[Any]:
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class CachedTokenStore:
    """A token store that keeps the current token in memory (thread-safe reads, no query per call).

    Saving and the refresh lock go to the real store, and the freshest token read under the
    lock replaces the cached one, so a refresh by another process is picked up.
    """

    def __init__(self, inner):
        self.inner = inner
        self._token = inner.load()
        self._lock = threading.Lock()

    def load(self):
        with self._lock:
            if self._token is None:
                self._token = self.inner.load()
            return self._token

    def save(self, token) -> None:
        self.inner.save(token)
        with self._lock:
            self._token = token

    @contextmanager
    def locked(self):
        with self.inner.locked() as current:
            with self._lock:
                self._token = current
            yield current
