from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from liaison.core.contributions.base import Contribution


@dataclass(eq=False, repr=False)
class JobKind(Contribution):
    """A kind of background job run by the JobRunner.

    ``run(ctx, **params)`` does the work; ``ctx`` (``liaison.core.jobs.JobContext``) logs,
    reports progress and tells whether the job was cancelled. Exceptions that are
    instances of ``retry_on`` are retried with exponential back-off (``backoff`` seconds,
    doubling, capped at ``backoff_cap``) until ``max_attempts``; anything else fails
    the job at once with its message.

    ``default_cron`` (optional) gives the job a built-in schedule.

    ``concurrency_key(params)`` (optional) names what the job works on: while one job with
    that key is queued or running, enqueueing another returns the existing one.
    """

    kind: ClassVar[str] = "job_kind"
    key: str
    label: str
    run: Callable[..., Any]
    queue: str = "default"
    max_attempts: int = 3
    backoff: float = 30.0
    backoff_cap: float = 3600.0
    retry_on: tuple[type[BaseException], ...] = field(default_factory=tuple)
    concurrency_key: Callable[[dict], str | None] | None = None
    # A cron expression (UTC): the job also runs on this built-in schedule, created after
    # migrations under the job's label (users may change or disable it).
    default_cron: str = ""
