"""Schedules: cron expressions whose due slots become jobs, exactly once per slot.

Exactly-once holds across several schedulers too: a slot's job is created under the
unique constraint (schedule, slot), so the second scheduler's insert fails and is
ignored. A scheduler that was stopped enqueues only the latest missed slot, not a
burst of catch-up jobs.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError
from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from liaison.core import jobs
from liaison.core.errors import ValidationFailed
from liaison.core.models import Job, Schedule

logger = logging.getLogger(__name__)

LOOKBACK = timedelta(days=2)


def validate_cron(expression: str) -> str:
    expression = " ".join((expression or "").split())
    try:
        CronSim(expression, timezone.now())
    except (CronSimError, ValueError, KeyError) as exc:
        raise ValidationFailed({"cron": [f"Not a valid cron expression: {exc}"]}) from None
    return expression


def _naive_utc(moment: datetime) -> datetime:
    return timezone.make_naive(moment, UTC) if timezone.is_aware(moment) else moment


def latest_slot(expression: str, after: datetime | None, now: datetime) -> datetime | None:
    """The latest cron slot in (after, now], or None."""
    start = max(after, now - LOOKBACK) if after else now - LOOKBACK
    latest = None
    for slot in CronSim(expression, _naive_utc(start)):
        slot = timezone.make_aware(slot, UTC)
        if slot > now:
            break
        latest = slot
    return latest


def next_slot(expression: str, now: datetime) -> datetime:
    return timezone.make_aware(next(iter(CronSim(expression, _naive_utc(now)))), UTC)


def upsert_schedule(name: str, kind: str, cron: str, params: dict | None = None, owner_key: str = "",
                    enabled: bool = True) -> Schedule:
    cron = validate_cron(cron)
    schedule, _ = Schedule.objects.update_or_create(
        name=name,
        defaults={"kind": kind, "cron": cron, "params": params or {}, "owner_key": owner_key, "enabled": enabled},
    )
    Schedule.objects.filter(pk=schedule.pk).update(next_slot=next_slot(cron, timezone.now()))
    return schedule


BUILTIN_PREFIX = "builtin:"


def ensure_default_schedules() -> int:
    """The built-in schedules of job kinds that declare a ``default_cron`` (after migrations).

    Created once (found again by owner key), never overwritten: users may edit or disable them.
    """
    from liaison.core.contributions import JobKind
    from liaison.core.registry import registry

    kinds = [k for k in registry.all(JobKind) if k.default_cron]
    existing = set(Schedule.objects.filter(owner_key__startswith=BUILTIN_PREFIX).values_list("owner_key", flat=True))
    created = 0
    for kind in kinds:
        if f"{BUILTIN_PREFIX}{kind.key}" not in existing and not Schedule.objects.filter(name=kind.label).exists():
            upsert_schedule(kind.label, kind.key, kind.default_cron, owner_key=f"{BUILTIN_PREFIX}{kind.key}")
            created += 1
    return created


def tick(now: datetime | None = None) -> list[Job]:
    """Enqueue the jobs of every schedule whose slot has come. Returns the new jobs."""
    now = now or timezone.now()
    created = []
    for schedule in Schedule.objects.filter(enabled=True):
        try:
            slot = latest_slot(schedule.cron, schedule.last_slot or schedule.created_at, now)
        except (CronSimError, ValueError) as exc:
            logger.error("schedule %s has an invalid cron expression: %s", schedule.name, exc)
            continue
        if slot is None or (schedule.last_slot and slot <= schedule.last_slot):
            continue
        try:
            with transaction.atomic():
                job = jobs.enqueue(schedule.kind, schedule.params, label=schedule.name, schedule=schedule, slot=slot)
        except IntegrityError:
            job = None  # another scheduler enqueued this slot first
        if job is not None and job.schedule_id == schedule.pk and job.slot == slot:
            created.append(job)
        Schedule.objects.filter(pk=schedule.pk).update(last_slot=slot, next_slot=next_slot(schedule.cron, now))
    return created


def run_forever(interval: float | None = None, stop_after: float | None = None) -> None:
    """The scheduler loop (``liaison scheduler``): tick schedules and sweep jobs."""
    interval = interval or settings.SCHEDULER_INTERVAL_SECONDS
    running = True

    def stop(signum, frame):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = time.monotonic()
    logger.info("scheduler started (every %s s)", interval)
    while running:
        close_old_connections()
        try:
            tick()
            jobs.sweep()
        except Exception:  # keep the loop alive; the next tick tries again
            logger.exception("scheduler tick failed")
        if stop_after is not None and time.monotonic() - started >= stop_after:
            break
        deadline = time.monotonic() + interval
        while running and time.monotonic() < deadline:
            time.sleep(min(0.5, interval))
    logger.info("scheduler stopped")
