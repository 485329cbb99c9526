"""Per-key hit limits: parsing, the sliding window, and the stores shared between processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from liaison.core import ratelimit
from liaison.core.ratelimit import Limit, parse_limits


def test_parse_limits():
    assert parse_limits("10/minute, 100/hour") == (Limit(10, 60), Limit(100, 3600))
    assert parse_limits("5/30") == (Limit(5, 30),)
    assert parse_limits("3/minutes") == (Limit(3, 60),)
    assert parse_limits("off") == () and parse_limits("") == ()
    with pytest.raises(ValueError, match="not a limit"):
        parse_limits("ten per minute")


def test_sliding_window_memory_store(settings):
    settings.RATE_LIMIT_BACKEND = "memory"
    ratelimit.reset()
    limits = (Limit(3, 60),)
    start = 6000.0  # the start of a window
    assert [ratelimit.hit("ip:a", limits, start + i) for i in range(3)] == [None, None, None]
    assert ratelimit.hit("ip:a", limits, start + 3) == 57
    assert ratelimit.hit("ip:b", limits, start + 3) is None
    # half way through the next window, the last one still counts for half: 4 * 0.5 + 1 > 3? no
    assert ratelimit.hit("ip:a", limits, start + 90) is None
    assert ratelimit.hit("ip:a", limits, start + 180) is None
    assert ratelimit.hit("ip:x", (), start) is None


def test_the_sqlite_store_is_shared_by_processes(settings, tmp_path):
    settings.RATE_LIMIT_BACKEND = "sqlite"
    settings.VAR_DIR = tmp_path
    ratelimit.reset()
    limits = (Limit(3, 3600),)
    now = 7200.0
    assert ratelimit.hit("ip:z", limits, now) is None
    code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
            "c.execute(\"UPDATE hits SET count = count + 2 WHERE bucket = 'ip:z:3600'\"); c.commit()")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "ratelimits.sqlite3")], check=True)
    assert ratelimit.hit("ip:z", limits, now) is not None  # 1 + 2 from the other process + 1 > 3
    ratelimit.reset()


def test_the_redis_store(settings):
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable at {settings.REDIS_URL}: {exc}")
    settings.RATE_LIMIT_BACKEND = "redis"
    settings.RATE_LIMIT_PREFIX = f"liaison-test-{__import__('uuid').uuid4().hex}"
    ratelimit.reset()
    limits = (Limit(2, 60),)
    now = 600.0
    assert ratelimit.hit("ip:r", limits, now) is None
    assert ratelimit.hit("ip:r", limits, now + 1) is None
    assert ratelimit.hit("ip:r", limits, now + 2) == 58
    ratelimit.reset()
