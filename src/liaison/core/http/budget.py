"""Per-connection call budgets (pyrate-limiter).

Embedded, the buckets live in one SQLite file under var/ (with a file lock, so the web
server, the worker and the CLI share a budget); at scale they live in Redis so every
machine shares it; in tests, in memory.
"""

from __future__ import annotations

import hashlib
import threading
from contextlib import ExitStack
from dataclasses import dataclass

from django.conf import settings
from pyrate_limiter import Duration, Limiter, Rate

from liaison.core.http.errors import BudgetExhausted

_limiters: dict[tuple, Limiter] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Budget:
    """At most ``calls`` per ``seconds`` (several limits may be combined) for one key.

    The key names one connection's budget, e.g. ``goto:3:webinar`` (10 calls/s) or
    ``goto-connector:3`` (100 calls per 60 s).
    """

    key: str
    limits: tuple[tuple[int, float], ...]
    max_wait: float = 300.0

    @classmethod
    def per_second(cls, key: str, calls: int, **kw) -> Budget:
        return cls(key=key, limits=((calls, 1.0),), **kw)

    def rates(self) -> list[Rate]:
        return [Rate(calls, int(seconds * Duration.SECOND)) for calls, seconds in sorted(self.limits, key=lambda limit: limit[1])]

    def acquire(self) -> None:
        limiter = _limiter_for(self)
        if not limiter.try_acquire(self.key, blocking=True, timeout=self.max_wait):
            raise BudgetExhausted(
                f"The call budget for {self.key} stayed full for {self.max_wait:.0f} s; the job will retry later.",
                retry_after=max(seconds for _, seconds in self.limits),
            )

    def try_spend(self) -> float | None:
        """Spend one call now if the budget allows it, never waiting: None when spent, else
        the seconds until one fits (a ``Retry-After``). For limits on callers (the
        connector's 100 calls per connection per 60 s), where a refusal answers 429.

        The bucket is used directly under the limiter's locks (the file lock embedded):
        pyrate-limiter's own non-blocking path cannot take a file lock without waiting.
        A refused call is not counted, so a caller that honours ``Retry-After`` gets in.
        """
        limiter = _limiter_for(self)
        locks = limiter.lock if isinstance(limiter.lock, tuple) else (limiter.lock,)
        with ExitStack() as stack:
            for lock in locks:
                stack.enter_context(lock)
            item = limiter.bucket_factory.wrap_item(self.key, 1)
            bucket = limiter.bucket_factory.get(item)
            if bucket.put(item):
                return None
            wait_ms = bucket.waiting(item)
        return max(wait_ms, 1) / 1000


def _bucket_name(key: str) -> str:
    return "rb_" + hashlib.sha1(key.encode()).hexdigest()[:20]


def _make_bucket(budget: Budget):
    backend = settings.RATE_LIMIT_BACKEND
    rates = budget.rates()
    if backend == "memory":
        from pyrate_limiter import InMemoryBucket

        return InMemoryBucket(rates)
    if backend == "sqlite":
        from pyrate_limiter import SQLiteBucket

        path = settings.VAR_DIR / "budgets.sqlite3"
        return SQLiteBucket.init_from_file(rates, table=_bucket_name(budget.key), db_path=str(path), use_file_lock=True)
    if backend == "redis":
        import redis
        from pyrate_limiter import RedisBucket

        client = redis.Redis.from_url(settings.REDIS_URL)
        return RedisBucket.init(rates, client, f"{settings.RATE_LIMIT_PREFIX}:budget:{budget.key}")
    raise ValueError(f"Unknown LIAISON_RATE_LIMIT_BACKEND {backend!r} (use sqlite, redis or memory)")


def _limiter_for(budget: Budget) -> Limiter:
    cache_key = (settings.RATE_LIMIT_BACKEND, budget.key, budget.limits)
    with _lock:
        limiter = _limiters.get(cache_key)
        if limiter is None:
            limiter = Limiter(_make_bucket(budget))
            _limiters[cache_key] = limiter
        return limiter


def reset_budgets() -> None:
    """Forget cached limiters (tests switch backends)."""
    with _lock:
        for limiter in _limiters.values():
            for bucket in limiter.buckets():
                try:
                    bucket.flush()
                except Exception:  # noqa: BLE001 - best effort cleanup
                    pass
        _limiters.clear()
