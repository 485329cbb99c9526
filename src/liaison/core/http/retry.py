"""The declarative retry table of ``core.http.Client``.

Each row says which outcome it matches, what to do, and how many times. The first
matching row wins; an error answer no row matches fails at once with the provider's
own message. Every row keeps its own count of retries.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
from django.utils import timezone


class Action(enum.Enum):
    RETRY_AFTER = "wait for Retry-After (or back off) and retry"
    BACKOFF = "back off exponentially and retry"
    RENEW_AUTH = "renew the credentials once and retry"


@dataclass(frozen=True)
class Outcome:
    """What one attempt produced."""

    method: str
    status: int | None
    exception: BaseException | None
    auth_expired: bool
    retry_after: float | None
    idempotent: bool


@dataclass(frozen=True)
class RetryRule:
    name: str
    matches: Callable[[Outcome], bool]
    action: Action
    max_retries: int
    base: float = 0.5  # first back-off, seconds; doubles on each retry
    cap: float = 30.0  # longest single wait


def _server_error(o: Outcome) -> bool:
    # A non-idempotent call (POST) that reached the server may have taken effect:
    # retry it only if the caller said repeating it is safe.
    return o.status is not None and o.status >= 500 and o.idempotent


def _transport_error(o: Outcome) -> bool:
    if o.exception is None:
        return False
    # A connection that never opened never reached the server: always safe to retry.
    return o.idempotent or isinstance(o.exception, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


DEFAULT_RETRY_TABLE: tuple[RetryRule, ...] = (
    RetryRule("rate limited (429)", lambda o: o.status == 429, Action.RETRY_AFTER, max_retries=5, base=1.0, cap=60.0),
    RetryRule("expired credentials", lambda o: o.auth_expired, Action.RENEW_AUTH, max_retries=1),
    RetryRule("server error (5xx)", _server_error, Action.BACKOFF, max_retries=3, base=0.5, cap=8.0),
    RetryRule("timeout or connection error", _transport_error, Action.BACKOFF, max_retries=3, base=0.5, cap=8.0),
)


def backoff(rule: RetryRule, retry_number: int) -> float:
    """Exponential back-off with jitter for the n-th retry (1-based)."""
    delay = min(rule.base * (2 ** (retry_number - 1)), rule.cap)
    return delay * random.uniform(0.75, 1.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or timezone.now())).total_seconds())
