"""Where a base URL is served from, when not from the network.

Tests (and tools) mount an in-process transport, such as a sandbox emulator behind
``httpx.WSGITransport``, for a base URL; every ``Client`` and OAuth token request to
a URL under it then goes there. Product code never imports the sandbox: it only
uses base URLs from settings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

_mounts: dict[str, httpx.BaseTransport] = {}
_lock = threading.Lock()


def mount(base_url: str, transport: httpx.BaseTransport) -> None:
    with _lock:
        _mounts[base_url.rstrip("/")] = transport


def unmount(base_url: str) -> None:
    with _lock:
        _mounts.pop(base_url.rstrip("/"), None)


def resolve(url: str) -> httpx.BaseTransport | None:
    """The mounted transport serving ``url`` (longest matching base URL), if any."""
    with _lock:
        matches = [base for base in _mounts if url == base or url.startswith(base + "/")]
        return _mounts[max(matches, key=len)] if matches else None


@contextmanager
def mounted(base_url: str, transport: httpx.BaseTransport) -> Iterator[None]:
    mount(base_url, transport)
    try:
        yield
    finally:
        unmount(base_url)
