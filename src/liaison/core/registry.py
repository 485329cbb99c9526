"""The registry of typed contributions: Liaison's extension points.

Apps and integrations register contributions in ``AppConfig.ready()``; everything else
only reads. Once Django's app registry is ready the registry is frozen: a late
``register`` is a programming error, raised loudly. Tests that need an extra
contribution use ``registry.override(...)``, which restores the previous state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.apps import apps

from liaison.core.contributions.base import Contribution

C = TypeVar("C", bound=Contribution)


class RegistryError(RuntimeError):
    pass


class UnknownContribution(LookupError):
    """No contribution of that type has that key (e.g. its integration is not installed)."""

    def __init__(self, kind: str, key: str):
        super().__init__(f"No {kind.replace('_', ' ')} is registered under the key {key!r}.")
        self.kind = kind
        self.key = key


class Registry:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Contribution]] = {}
        self._lock = threading.Lock()

    def register(self, *items: Contribution) -> None:
        if apps.ready:
            raise RegistryError("The registry is read-only after start-up; register in AppConfig.ready().")
        self._add(items)

    def _add(self, items) -> None:
        with self._lock:
            for item in items:
                if not isinstance(item, Contribution):
                    raise RegistryError(f"{item!r} is not a Contribution")
                kind = item.kind
                bucket = self._items.setdefault(kind, {})
                if item.key in bucket:
                    raise RegistryError(f"Duplicate {kind} key {item.key!r}")
                item.validate()
                bucket[item.key] = item

    def all(self, cls: type[C]) -> list[C]:
        return list(self._items.get(cls.kind, {}).values())  # type: ignore[arg-type]

    def get(self, cls: type[C], key: str) -> C:
        try:
            return self._items[cls.kind][key]  # type: ignore[return-value]
        except KeyError:
            raise UnknownContribution(cls.kind, key) from None

    def find(self, cls: type[C], key: str) -> C | None:
        return self._items.get(cls.kind, {}).get(key)  # type: ignore[return-value]

    def keys(self, cls: type[C]) -> list[str]:
        return list(self._items.get(cls.kind, {}))

    @contextmanager
    def override(self, *items: Contribution) -> Iterator[None]:
        """Add contributions for the duration of a block (tests only)."""
        saved = {kind: dict(bucket) for kind, bucket in self._items.items()}
        try:
            self._add(items)
            yield
        finally:
            with self._lock:
                self._items = saved


registry = Registry()
