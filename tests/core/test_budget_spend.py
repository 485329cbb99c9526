"""``Budget.try_spend``: the non-blocking spend behind limits on callers (429 + Retry-After),
on each rate-limit backend."""

from __future__ import annotations

import uuid

import pytest

from liaison.core.http.budget import Budget, reset_budgets


def spend_four(backend: str) -> list[float | None]:
    budget = Budget(key=f"test:{backend}:{uuid.uuid4().hex}", limits=((3, 60.0),))
    return [budget.try_spend() for _ in range(4)]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_three_calls_fit_the_fourth_is_told_when(settings, tmp_path, backend):
    settings.RATE_LIMIT_BACKEND = backend
    settings.VAR_DIR = tmp_path
    reset_budgets()
    spent = spend_four(backend)
    assert spent[:3] == [None, None, None]
    assert 59 <= spent[3] <= 61  # seconds until the oldest call leaves the window
    reset_budgets()


def test_the_redis_backend(settings):
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable at {settings.REDIS_URL}: {exc}")
    settings.RATE_LIMIT_BACKEND = "redis"
    settings.RATE_LIMIT_PREFIX = f"liaison-test-{uuid.uuid4().hex}"
    reset_budgets()
    spent = spend_four("redis")
    assert spent[:3] == [None, None, None] and 59 <= spent[3] <= 61
    reset_budgets()
