"""Per-key hit limits for public endpoints (form submissions), shared by every process.

Non-blocking: ``hit()`` counts one hit and says at once whether it is allowed, never
waits. The store follows ``RATE_LIMIT_BACKEND`` like the outbound budgets
(``core.http.budget``): a SQLite file under var/ embedded (shared by the web workers),
Redis at scale (shared by every machine), memory in tests.

Why not pyrate-limiter here: its buckets count every name together, so one limit per IP
address would need one table (SQLite) per address. A sliding-window counter keyed by
(key, window) is one row per address and minute, and one statement per hit.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from liaison.core.localdb import LocalSQLite


@dataclass(frozen=True)
class Limit:
    hits: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.hits} per {self.seconds} s"


_UNITS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_limits(spec: str) -> tuple[Limit, ...]:
    """``"10/minute,100/hour"`` (or ``"10/60"`` in seconds) -> limits; "" or "off" -> none."""
    spec = (spec or "").strip().lower()
    if spec in ("", "off", "0", "none"):
        return ()
    limits = []
    for part in spec.split(","):
        hits, _, per = part.strip().partition("/")
        per = per.strip() or "minute"
        seconds = int(per) if per.isdigit() else _UNITS.get(per.rstrip("s") if per not in _UNITS else per)
        if not hits.strip().isdigit() or not seconds or int(hits) < 1:
            raise ValueError(f"{part.strip()!r} is not a limit like '10/minute' or '100/3600'")
        limits.append(Limit(int(hits), int(seconds)))
    return tuple(limits)


def _estimate(current: int, previous: int, now: float, seconds: int) -> float:
    """Sliding window: the previous window counts for the part still inside the last ``seconds``."""
    elapsed = (now % seconds) / seconds
    return previous * (1.0 - elapsed) + current


class _Memory:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.lock = threading.Lock()

    def incr(self, bucket: str, window: int) -> tuple[int, int]:
        with self.lock:
            key = (bucket, window)
            self.counts[key] = self.counts.get(key, 0) + 1
            if len(self.counts) > 100_000:
                self.counts = {k: v for k, v in self.counts.items() if k[1] >= window - 1}
            return self.counts[key], self.counts.get((bucket, window - 1), 0)


class _SQLite:
    """One row per (bucket, window) in var/ratelimits.sqlite3."""

    def __init__(self, path: str) -> None:
        self.db = LocalSQLite(path, "CREATE TABLE IF NOT EXISTS hits (bucket TEXT NOT NULL, window INTEGER NOT NULL, "
                                    "count INTEGER NOT NULL, PRIMARY KEY (bucket, window)) WITHOUT ROWID")

    def incr(self, bucket: str, window: int) -> tuple[int, int]:
        conn = self.db.conn()
        rows = conn.execute(
            "INSERT INTO hits (bucket, window, count) VALUES (?, ?, 1) "
            "ON CONFLICT (bucket, window) DO UPDATE SET count = count + 1 RETURNING count",
            (bucket, window)).fetchall()
        previous = conn.execute("SELECT count FROM hits WHERE bucket = ? AND window = ?",
                                (bucket, window - 1)).fetchone()
        if random.random() < 0.001:  # now and then, forget windows nobody reads any more
            conn.execute("DELETE FROM hits WHERE window < ?", (window - 2,))
        return rows[0][0], previous[0] if previous else 0


class _Redis:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.prefix = prefix

    def incr(self, bucket: str, window: int, seconds: int = 60) -> tuple[int, int]:
        key = f"{self.prefix}:hits:{bucket}:{window}"
        pipe = self.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, seconds * 2 + 1)
        pipe.get(f"{self.prefix}:hits:{bucket}:{window - 1}")
        current, _, previous = pipe.execute()
        return int(current), int(previous or 0)


_stores: dict[tuple, object] = {}
_lock = threading.Lock()


def _store():
    backend = settings.RATE_LIMIT_BACKEND
    # Keyed by where the data lives, so tests that switch backends or var dirs get a fresh one.
    cache_key = (backend, str(settings.VAR_DIR), settings.REDIS_URL)
    with _lock:
        store = _stores.get(cache_key)
        if store is None:
            if backend == "memory":
                store = _Memory()
            elif backend == "sqlite":
                store = _SQLite(str(settings.VAR_DIR / "ratelimits.sqlite3"))
            elif backend == "redis":
                store = _Redis(settings.REDIS_URL, settings.RATE_LIMIT_PREFIX)
            else:
                raise ValueError(f"Unknown LIAISON_RATE_LIMIT_BACKEND {backend!r} (use sqlite, redis or memory)")
            _stores[cache_key] = store
        return store


def hit(key: str, limits: tuple[Limit, ...], now: float | None = None) -> float | None:
    """Count one hit for ``key``; None when allowed, else the seconds to wait.

    A refused hit counts too, so hammering keeps the door shut.
    """
    if not limits:
        return None
    store = _store()
    now = time.time() if now is None else now
    wait = None
    for limit in limits:
        window = int(now // limit.seconds)
        bucket = f"{key}:{limit.seconds}"
        if isinstance(store, _Redis):
            current, previous = store.incr(bucket, window, limit.seconds)
        else:
            current, previous = store.incr(bucket, window)
        if _estimate(current, previous, now, limit.seconds) > limit.hits:
            retry = limit.seconds - (now % limit.seconds)
            wait = max(wait or 0.0, math.ceil(retry))
    return wait


def reset() -> None:
    """Forget the stores (tests)."""
    with _lock:
        _stores.clear()
