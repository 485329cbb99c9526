"""Running an integration's sync: the SyncRun, its counts, cursors and API audit.

An integration's ``IntegrationSpec.sync(ctx)`` receives a ``SyncContext``. The pattern
(ARCHITECTURE.md, "Sync pattern") is, per stream and partition: read the cursor, fetch
a page, write the page's facts and the new cursor in one transaction, repeat. Cursors
should be capped at ``ctx.started_at`` so nothing changing during a run is skipped.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from liaison.core.errors import LiaisonError
from liaison.core.http import CallAudit, CallRecord
from liaison.core.jobs import JobCancelled, JobContext
from liaison.integrations.models import ApiCall, Integration, SyncRun, SyncState

COUNTERS = ("fetched", "created", "updated", "unchanged", "failed")
MAX_ERRORS_KEPT = 200


class SyncContext:
    def __init__(self, integration: Integration, run: SyncRun, job: JobContext | None = None,
                 options: dict[str, Any] | None = None):
        self.integration = integration
        self.run = run
        self.job = job
        self.options = dict(options or {})
        self.started_at: datetime = run.started_at
        # Calls are counted from the drained audit records (not a separate counter), so calls
        # made by another thread of the sync (a prefetching fetcher) are counted exactly once.
        self.audit = CallAudit()
        self._pending_counts = {name: 0 for name in COUNTERS}
        self._last_flush = time.monotonic()
        self._stored_records: list[CallRecord] = []  # every call of the run, for its summary

    @property
    def spec(self):
        return self.integration.spec

    @property
    def full(self) -> bool:
        return bool(self.options.get("full"))

    # -- cursors ------------------------------------------------------------------
    def cursor(self, stream: str, partition: str = "", default: Any = None) -> Any:
        state = SyncState.objects.filter(integration=self.integration, stream=stream, partition=partition).first()
        if state is None or not state.cursor:
            return default
        return state.cursor.get("value", default)

    def save_cursor(self, stream: str, value: Any, partition: str = "") -> None:
        """Store a cursor; call it inside the transaction that stores the page it covers."""
        SyncState.objects.update_or_create(
            integration=self.integration, stream=stream, partition=partition,
            defaults={"cursor": {"value": value}, "updated_at": timezone.now()},
        )

    def cursors(self, stream: str) -> dict[str, Any]:
        """Every partition's cursor of a stream, in one query."""
        return {s.partition: s.cursor.get("value") for s in
                SyncState.objects.filter(integration=self.integration, stream=stream)}

    # -- counts, errors, progress --------------------------------------------------
    def count(self, **deltas: int) -> None:
        for name, value in deltas.items():
            if name not in self._pending_counts:
                raise ValueError(f"Unknown sync counter {name!r}")
            self._pending_counts[name] += int(value)
        self._maybe_flush()

    def error(self, message: str, **context: Any) -> None:
        """Record a failure that did not stop the run (e.g. one event out of many)."""
        self.flush()
        entry = {"at": timezone.now().isoformat(), "message": str(message), **{k: str(v) for k, v in context.items()}}
        run = SyncRun.objects.get(pk=self.run.pk)
        errors = (run.errors or [])[: MAX_ERRORS_KEPT - 1] + [entry]
        SyncRun.objects.filter(pk=self.run.pk).update(errors=errors, failed=F("failed") + 1)
        self.run.errors = errors
        self.log(f"Error: {message}")

    def log(self, message: str) -> None:
        if self.job is not None:
            self.job.log(message)

    def progress(self, current: int, total: int | None = None, message: str = "") -> None:
        self.run.progress_current = current
        if total is not None:
            self.run.progress_total = total
        if message:
            self.run.progress_message = message[:300]
        if self.job is not None:
            self.job.progress(current, total, message or None)
        self._maybe_flush()

    def check_cancelled(self) -> None:
        if self.job is not None:
            self.job.check_cancelled()

    # -- flushing ------------------------------------------------------------------
    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= 1.0:
            self.flush()

    def flush(self) -> None:
        """Write pending counters, progress and call records (a few queries, not one per call)."""
        self._last_flush = time.monotonic()
        records = self.audit.drain()
        updates: dict[str, Any] = {name: F(name) + value for name, value in self._pending_counts.items() if value}
        if records:
            updates["api_calls"] = F("api_calls") + len(records)
        updates.update(progress_current=self.run.progress_current, progress_total=self.run.progress_total,
                       progress_message=self.run.progress_message)
        with transaction.atomic():
            SyncRun.objects.filter(pk=self.run.pk).update(**updates)
            if records:
                ApiCall.objects.bulk_create(
                    [ApiCall(integration=self.integration, sync_run=self.run, method=r.method, path=r.path[:300],
                             status=r.status, latency_ms=r.latency_ms, error=r.error[:100], at=r.at)
                     for r in records],
                    batch_size=500,
                )
        self._stored_records.extend(records)
        self._pending_counts = {name: 0 for name in COUNTERS}

    def api_summary(self) -> list[dict]:
        return CallAudit.summarize(self._stored_records)


def run_sync(job: JobContext | None, integration_id: int, trigger: str = "manual",
             options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The "integrations.sync" job: one SyncRun of one integration."""
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        raise LiaisonError("This integration no longer exists.")
    spec = integration.spec
    if spec is None:
        raise LiaisonError(f"The code of integration “{integration.name}” ({integration.spec_key}) is not installed.")
    if not integration.published:
        raise LiaisonError(f"“{integration.name}” is unpublished: publish it to synchronise.")
    run = SyncRun.objects.create(integration=integration, job_id=job.job.pk if job else None, trigger=trigger,
                                 options=options or {})
    ctx = SyncContext(integration, run, job, options)
    status = SyncRun.Status.SUCCEEDED
    message = ""
    failure: BaseException | None = None
    try:
        spec.sync(ctx)
    except JobCancelled as exc:
        status, message, failure = SyncRun.Status.CANCELLED, str(exc), exc
    except Exception as exc:  # noqa: BLE001 - recorded on the run, then re-raised for the job's retry
        status, message, failure = SyncRun.Status.FAILED, str(exc) or type(exc).__name__, exc
    ctx.flush()
    run.refresh_from_db()
    if status == SyncRun.Status.SUCCEEDED and run.errors:
        status = SyncRun.Status.PARTIAL
    if failure is not None and status == SyncRun.Status.FAILED:
        run.errors = (run.errors or []) + [{"at": timezone.now().isoformat(), "message": message}]
    summary = ctx.api_summary()
    if not message:
        message = (f"{run.fetched} fetched, {run.created} created, {run.updated} updated, "
                   f"{run.unchanged} unchanged, {run.failed} failed; {run.api_calls} API calls.")
    SyncRun.objects.filter(pk=run.pk).update(status=status, finished_at=timezone.now(), message=message,
                                             errors=run.errors, api_summary=summary)
    if failure is not None:
        raise failure
    run.refresh_from_db()
    return {"run": run.pk, "status": run.status, **{name: getattr(run, name) for name in COUNTERS},
            "api_calls": run.api_calls}
