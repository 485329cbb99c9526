"""The JobRunner: background jobs with status, attempts, progress, log and retries.

The ``Job`` row is the source of truth. A job is handed to the task backend
(``django.tasks``: the database queue embedded, Celery at scale) as one call of
``execute_job(job_id)``; that call claims the row atomically, so a message delivered
twice runs the job once. The scheduler's sweep re-dispatches what a lost message or a
dead worker left behind, so a crash loses nothing.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from liaison.core.contributions import JobKind
from liaison.core.models import Job
from liaison.core.registry import UnknownContribution, registry
from liaison.core.tasks import task

logger = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
HEARTBEAT_SECONDS = 30
# A queued job whose message was dispatched this long ago and never claimed is
# dispatched again (the broker lost it, or the worker died before claiming it).
REDISPATCH_AFTER = timedelta(minutes=10)
MAX_LOG_CHARS = 200_000


class JobCancelled(Exception):
    """Raised inside a job when the user cancelled (or paused) it."""


@dataclass
class JobOutcome:
    status: str
    result: Any = None
    error: str = ""


class JobContext:
    """What a running job sees: its row, logging, progress and cancellation."""

    PROGRESS_MIN_INTERVAL = 0.5

    def __init__(self, job: Job):
        self.job = job
        self._last_progress_write = 0.0
        self._last_cancel_check = 0.0
        self._cancelled = False

    @property
    def attempt(self) -> int:
        return self.job.attempts

    def log(self, message: str) -> None:
        stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp} {message}\n"
        Job.objects.filter(pk=self.job.pk).update(log=Concat(F("log"), Value(line)), heartbeat_at=timezone.now())
        self.job.log += line

    def progress(self, current: int, total: int | None = None, message: str | None = None, force: bool = False) -> None:
        """Report progress; writes are throttled to a few per second."""
        self.job.progress_current = current
        if total is not None:
            self.job.progress_total = total
        if message is not None:
            self.job.progress_message = message[:300]
        now = time.monotonic()
        if not force and now - self._last_progress_write < self.PROGRESS_MIN_INTERVAL:
            return
        self._last_progress_write = now
        Job.objects.filter(pk=self.job.pk).update(
            progress_current=self.job.progress_current,
            progress_total=self.job.progress_total,
            progress_message=self.job.progress_message,
            heartbeat_at=timezone.now(),
        )

    def is_cancelled(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_cancel_check > 1.0:
            self._last_cancel_check = now
            self._cancelled = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self._cancelled

    def check_cancelled(self) -> None:
        if self.is_cancelled():
            raise JobCancelled("Cancelled by a user.")


def _kind(key: str) -> JobKind:
    return registry.get(JobKind, key)


def enqueue(
    kind: str,
    params: dict | None = None,
    *,
    label: str | None = None,
    user=None,
    run_after: datetime | None = None,
    schedule=None,
    slot: datetime | None = None,
    dispatch_now: bool = True,
) -> Job:
    """Create a job and hand it to the task backend once the transaction commits.

    When the job kind names a concurrency key and a job with that key is already
    active, that job is returned instead of a second one. ``dispatch_now=False`` keeps
    it for the caller to run in-process (``run_job``), as the CLI does.
    """
    job_kind = _kind(kind)
    params = dict(params or {})
    concurrency_key = (job_kind.concurrency_key(params) if job_kind.concurrency_key else None) or ""
    if concurrency_key:
        existing = Job.objects.filter(concurrency_key=concurrency_key, status__in=Job.ACTIVE).first()
        if existing:
            return existing
    job = Job(
        kind=kind,
        label=(label or job_kind.label)[:300],
        params=params,
        max_attempts=job_kind.max_attempts,
        run_after=run_after,
        schedule=schedule,
        slot=slot,
        concurrency_key=concurrency_key,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        if concurrency_key:
            existing = Job.objects.filter(concurrency_key=concurrency_key, status__in=Job.ACTIVE).first()
            if existing:
                return existing
        raise
    if dispatch_now:
        transaction.on_commit(lambda: dispatch(job.pk))
    else:
        # Marked as handed over, so the sweep leaves it to the caller for a while.
        Job.objects.filter(pk=job.pk).update(dispatched_at=timezone.now())
    return job


def dispatch(job_id: int) -> None:
    """Hand a job to the task backend (honouring its run_after when the backend can)."""
    job = Job.objects.filter(pk=job_id).only("pk", "kind", "run_after", "status").first()
    if job is None or job.status not in (Job.Status.QUEUED, Job.Status.RETRYING):
        return
    try:
        queue = _kind(job.kind).queue
    except UnknownContribution:
        queue = "default"
    backend = execute_job.get_backend()
    now = timezone.now()
    run_after = job.run_after if job.run_after and job.run_after > now else None
    if run_after is not None and not backend.supports_defer:
        # The scheduler's sweep dispatches it when it is due.
        Job.objects.filter(pk=job.pk).update(dispatched_at=None)
        return
    Job.objects.filter(pk=job.pk).update(dispatched_at=now)
    execute_job.using(queue_name=queue, run_after=run_after).enqueue(job.pk)


@task(queue_name="default")
def execute_job(job_id: int) -> str:
    """The django.tasks entry point: run one job by id (idempotent)."""
    return run_job(job_id).status


def _claim(job_id: int) -> bool:
    now = timezone.now()
    claimed = (
        Job.objects.filter(pk=job_id, status__in=[Job.Status.QUEUED, Job.Status.RETRYING], cancel_requested=False)
        .filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
        .update(
            status=Job.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            attempts=F("attempts") + 1,
            worker=WORKER_ID[:100],
        )
    )
    return claimed == 1


class _Heartbeat(threading.Thread):
    """Marks the job alive while it runs, so the sweep can tell a dead worker."""

    def __init__(self, job_id: int):
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # a heartbeat must never take the job down
            logger.exception("heartbeat of job %s failed", self.job_id)
        finally:
            connection.close()


def backoff_delay(job_kind: JobKind, attempt: int, hint: float | None = None) -> float:
    delay = min(job_kind.backoff * (2 ** max(0, attempt - 1)), job_kind.backoff_cap)
    delay *= random.uniform(0.8, 1.2)  # spread retries of many jobs that failed together
    if hint:
        delay = max(delay, hint)
    return delay


def _finish(job_id: int, **fields) -> None:
    fields.setdefault("finished_at", timezone.now())
    Job.objects.filter(pk=job_id).update(**fields)


def _append_log(job_id: int, text: str) -> None:
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    Job.objects.filter(pk=job_id).update(log=Concat(F("log"), Value(f"{stamp} {text}\n")))


def is_retryable(job_kind: JobKind, exc: BaseException) -> bool:
    if job_kind.retry_on and isinstance(exc, job_kind.retry_on):
        return True
    return bool(getattr(exc, "retryable", False))


def run_job(job_id: int) -> JobOutcome:
    """Claim and run a job now, in this process. Returns what happened."""
    if not _claim(job_id):
        job = Job.objects.filter(pk=job_id).first()
        return JobOutcome(status=job.status if job else "missing")
    job = Job.objects.get(pk=job_id)
    try:
        job_kind = _kind(job.kind)
    except UnknownContribution as exc:
        message = f"{exc} The app or integration that ran it may have been removed."
        _finish(job.pk, status=Job.Status.FAILED, error=message)
        return JobOutcome(status=Job.Status.FAILED, error=message)

    ctx = JobContext(job)
    heartbeat = _Heartbeat(job.pk)
    heartbeat.start()
    try:
        result = job_kind.run(ctx, **job.params)
    except JobCancelled as exc:
        _append_log(job.pk, str(exc))
        _finish(job.pk, status=Job.Status.CANCELLED, error=str(exc))
        return JobOutcome(status=Job.Status.CANCELLED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
        message = str(exc) or type(exc).__name__
        _append_log(job.pk, f"Attempt {job.attempts} failed: {message}")
        if not getattr(exc, "retryable", False) and not isinstance(exc, job_kind.retry_on or ()):
            # Unexpected errors keep their traceback in the job log (never in the UI message).
            _append_log(job.pk, "".join(traceback.format_exception(exc))[-MAX_LOG_CHARS // 10 :])
        if is_retryable(job_kind, exc) and job.attempts < job.max_attempts:
            delay = backoff_delay(job_kind, job.attempts, getattr(exc, "retry_after", None))
            run_after = timezone.now() + timedelta(seconds=delay)
            _append_log(job.pk, f"Retrying in {delay:.0f} s (attempt {job.attempts + 1} of {job.max_attempts}).")
            _finish(job.pk, status=Job.Status.RETRYING, error=message, run_after=run_after, finished_at=None)
            transaction.on_commit(lambda: dispatch(job.pk))
            return JobOutcome(status=Job.Status.RETRYING, error=message)
        _finish(job.pk, status=Job.Status.FAILED, error=message)
        return JobOutcome(status=Job.Status.FAILED, error=message)
    else:
        _finish(job.pk, status=Job.Status.SUCCEEDED, result=_jsonable(result), error="")
        return JobOutcome(status=Job.Status.SUCCEEDED, result=result)
    finally:
        heartbeat.stopped.set()


def _jsonable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return str(value)


def cancel(job: Job) -> bool:
    """Cancel a queued or waiting job at once; ask a running job to stop."""
    if job.status in (Job.Status.QUEUED, Job.Status.RETRYING):
        done = Job.objects.filter(pk=job.pk, status__in=[Job.Status.QUEUED, Job.Status.RETRYING]).update(
            status=Job.Status.CANCELLED, cancel_requested=True, finished_at=timezone.now(), error="Cancelled by a user."
        )
        if done:
            return True
    return bool(Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(cancel_requested=True))


def retry(job: Job, user=None) -> Job:
    """Run a failed or cancelled job again, as a new job with the same parameters."""
    return enqueue(job.kind, job.params, label=job.label, user=user)


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Recover jobs that a lost message or a dead worker left behind."""
    now = now or timezone.now()
    counts = {"dispatched": 0, "recovered": 0, "failed": 0, "cancelled": 0}
    # Dead workers: a running job whose heartbeat stopped.
    stale_before = now - timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    for job in Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=stale_before):
        note = "The worker running this job stopped (crash or restart)."
        if job.cancel_requested:
            # A stop was asked for before the worker died: honour it (retrying would wait forever,
            # since nothing claims a job whose stop was asked for).
            note += " It had been asked to stop, so it stays stopped."
            updated = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, heartbeat_at__lt=stale_before).update(
                status=Job.Status.CANCELLED, error=note, finished_at=now
            )
            counts["cancelled"] += updated
        elif job.attempts < job.max_attempts:
            updated = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, heartbeat_at__lt=stale_before).update(
                status=Job.Status.RETRYING, run_after=now, error=note
            )
            counts["recovered"] += updated
        else:
            updated = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, heartbeat_at__lt=stale_before).update(
                status=Job.Status.FAILED, error=note, finished_at=now
            )
            counts["failed"] += updated
        if updated:
            _append_log(job.pk, note)
    # Due jobs never handed over (backend without defer) or handed over long ago.
    due = (
        Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RETRYING], cancel_requested=False)
        .filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - REDISPATCH_AFTER))
        .values_list("pk", flat=True)
    )
    for job_id in list(due[:500]):
        dispatch(job_id)
        counts["dispatched"] += 1
    return counts


def run_queued(limit: int | None = None) -> int:
    """Run due queued jobs in this process (``liaison jobs run``; tests)."""
    ran = 0
    while limit is None or ran < limit:
        now = timezone.now()
        job_id = (
            Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RETRYING], cancel_requested=False)
            .filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
            .order_by("created_at", "id")
            .values_list("pk", flat=True)
            .first()
        )
        if job_id is None:
            break
        run_job(job_id)
        ran += 1
    return ran
