"""JobRunner, schedules and the registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from liaison.core import jobs, schedules
from liaison.core.contributions import JobKind, NavItem
from liaison.core.errors import RetryableError, ValidationFailed
from liaison.core.models import Job, Schedule
from liaison.core.registry import RegistryError, UnknownContribution, registry

CALLS: list[dict] = []


def record(ctx, **params):
    CALLS.append(params)
    ctx.log(f"called with {params}")
    ctx.progress(1, 2, "half way")
    return {"echo": params}


def flaky(ctx, fail_times=1):
    if ctx.attempt <= fail_times:
        raise RetryableError("The provider is busy", retry_after=5)
    return "ok"


def broken(ctx):
    raise ValueError("bad configuration: no region")


def cancellable(ctx):
    from liaison.core.models import Job as JobModel

    JobModel.objects.filter(pk=ctx.job.pk).update(cancel_requested=True)
    ctx._last_cancel_check = 0  # look now
    ctx.check_cancelled()
    return "not reached"


KINDS = (
    JobKind(key="test.record", label="Record", run=record),
    JobKind(key="test.flaky", label="Flaky", run=flaky, max_attempts=3, backoff=10),
    JobKind(key="test.broken", label="Broken", run=broken, max_attempts=3),
    JobKind(key="test.cancel", label="Cancel", run=cancellable),
    JobKind(key="test.single", label="Single", run=record, concurrency_key=lambda p: f"single:{p.get('id')}"),
)


@pytest.fixture(autouse=True)
def kinds():
    CALLS.clear()
    with registry.override(*KINDS):
        yield


@pytest.mark.django_db
@pytest.mark.postgres
def test_job_runs_and_records_log_progress_result():
    job = jobs.enqueue("test.record", {"a": 1}, dispatch_now=False)
    outcome = jobs.run_job(job.pk)
    job.refresh_from_db()
    assert outcome.status == "succeeded" and job.status == "succeeded"
    assert job.result == {"echo": {"a": 1}} and job.attempts == 1
    assert "called with {'a': 1}" in job.log
    assert job.progress_current == 1 and job.progress_total == 2 and job.progress_message == "half way"
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at


@pytest.mark.django_db
def test_a_message_delivered_twice_runs_the_job_once():
    job = jobs.enqueue("test.record", {"n": 1}, dispatch_now=False)
    jobs.run_job(job.pk)
    jobs.run_job(job.pk)
    assert CALLS == [{"n": 1}]


@pytest.mark.django_db
def test_retryable_error_is_retried_with_backoff_then_succeeds():
    job = jobs.enqueue("test.flaky", {"fail_times": 1}, dispatch_now=False)
    outcome = jobs.run_job(job.pk)
    job.refresh_from_db()
    assert outcome.status == "retrying" and job.status == "retrying"
    assert job.error == "The provider is busy"
    delay = (job.run_after - timezone.now()).total_seconds()
    assert 5 <= delay <= 13  # back-off 10 s ± jitter, at least the Retry-After hint
    assert jobs.run_job(job.pk).status == "retrying"  # not due yet: not claimed
    job.refresh_from_db()
    assert job.attempts == 1
    with time_machine.travel(job.run_after + timedelta(seconds=1)):
        assert jobs.run_job(job.pk).status == "succeeded"
    job.refresh_from_db()
    assert job.attempts == 2 and job.result == "ok" and job.error == ""


@pytest.mark.django_db
def test_retries_stop_at_max_attempts_and_fail_with_the_reason():
    job = jobs.enqueue("test.flaky", {"fail_times": 10}, dispatch_now=False)
    for _ in range(3):
        job.refresh_from_db()
        with time_machine.travel((job.run_after or timezone.now()) + timedelta(seconds=1)):
            jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 3 and job.error == "The provider is busy"


@pytest.mark.django_db
def test_non_retryable_error_fails_at_once_and_keeps_the_traceback_in_the_log():
    job = jobs.enqueue("test.broken", dispatch_now=False)
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 1
    assert job.error == "bad configuration: no region"
    assert "Traceback" in job.log and "Traceback" not in job.error


@pytest.mark.django_db
def test_cancellation():
    job = jobs.enqueue("test.record", dispatch_now=False)
    assert jobs.cancel(job)
    assert jobs.run_job(job.pk).status == "cancelled"
    assert CALLS == []
    running = jobs.enqueue("test.cancel", dispatch_now=False)
    assert jobs.run_job(running.pk).status == "cancelled"


@pytest.mark.django_db
def test_concurrency_key_returns_the_active_job():
    first = jobs.enqueue("test.single", {"id": 7}, dispatch_now=False)
    second = jobs.enqueue("test.single", {"id": 7}, dispatch_now=False)
    other = jobs.enqueue("test.single", {"id": 8}, dispatch_now=False)
    assert first.pk == second.pk != other.pk
    jobs.run_job(first.pk)
    assert jobs.enqueue("test.single", {"id": 7}, dispatch_now=False).pk != first.pk


@pytest.mark.django_db
def test_unknown_job_kind_fails_with_an_explanation():
    job = Job.objects.create(kind="gone.integration", label="Old job")
    jobs.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "may have been removed" in job.error


@pytest.mark.django_db
def test_sweep_recovers_a_job_whose_worker_died(settings):
    job = jobs.enqueue("test.record", dispatch_now=False)
    long_ago = timezone.now() - timedelta(hours=2)
    Job.objects.filter(pk=job.pk).update(status="running", attempts=1, heartbeat_at=long_ago, started_at=long_ago)
    counts = jobs.sweep()
    job.refresh_from_db()
    assert counts["recovered"] == 1 and job.status in ("retrying", "succeeded")
    assert "worker running this job stopped" in job.log


@pytest.mark.django_db
def test_sweep_stops_a_job_asked_to_stop_whose_worker_died(settings):
    job = jobs.enqueue("test.record", dispatch_now=False)
    long_ago = timezone.now() - timedelta(hours=2)
    Job.objects.filter(pk=job.pk).update(status="running", attempts=1, heartbeat_at=long_ago, started_at=long_ago,
                                         cancel_requested=True)
    counts = jobs.sweep()
    job.refresh_from_db()
    assert counts["cancelled"] == 1 and counts["recovered"] == 0
    assert job.status == "cancelled" and job.finished_at is not None and "asked to stop" in job.error
    assert CALLS == []


@pytest.mark.django_db
def test_sweep_dispatches_due_jobs_the_backend_could_not_defer(settings):
    job = jobs.enqueue("test.record", {"x": 1}, run_after=timezone.now() - timedelta(seconds=1), dispatch_now=False)
    Job.objects.filter(pk=job.pk).update(dispatched_at=None)
    jobs.sweep()  # the immediate test backend runs it on dispatch
    job.refresh_from_db()
    assert job.status == "succeeded" and CALLS == [{"x": 1}]


@pytest.mark.django_db
def test_run_queued_runs_due_jobs_in_order():
    a = jobs.enqueue("test.record", {"n": 1}, dispatch_now=False)
    jobs.enqueue("test.record", {"n": 2}, dispatch_now=False)
    jobs.enqueue("test.record", {"n": 3}, run_after=timezone.now() + timedelta(hours=1), dispatch_now=False)
    assert jobs.run_queued() == 2
    assert CALLS == [{"n": 1}, {"n": 2}]
    assert Job.objects.get(pk=a.pk).status == "succeeded"


@pytest.mark.django_db
def test_enqueue_dispatches_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.enqueue("test.record", {"via": "backend"})
    job.refresh_from_db()
    assert job.status == "succeeded" and job.dispatched_at is not None


# -- schedules ---------------------------------------------------------------------------

def test_latest_slot():
    now = datetime(2026, 11, 22, 10, 7, tzinfo=UTC)
    assert schedules.latest_slot("*/15 * * * *", None, now) == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert schedules.latest_slot("*/15 * * * *", datetime(2026, 11, 22, 10, 0, tzinfo=UTC), now) is None
    assert schedules.latest_slot("0 3 * * *", datetime(2026, 11, 1, tzinfo=UTC), now) == datetime(
        2026, 11, 22, 3, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_invalid_cron_is_refused_with_a_message():
    with pytest.raises(ValidationFailed) as info:
        schedules.upsert_schedule("bad", "test.record", "every five minutes")
    assert "cron" in info.value.errors


@pytest.mark.django_db
@pytest.mark.postgres
def test_each_slot_is_enqueued_exactly_once_even_with_two_schedulers():
    with time_machine.travel(datetime(2026, 11, 22, 9, 58, tzinfo=UTC), tick=False):
        schedule = schedules.upsert_schedule("every quarter", "test.record", "*/15 * * * *", {"s": 1})
    with time_machine.travel(datetime(2026, 11, 22, 10, 1, tzinfo=UTC), tick=False):
        first = schedules.tick()
        second = schedules.tick()
        # A second scheduler that read the schedule before the first one updated it.
        Schedule.objects.filter(pk=schedule.pk).update(last_slot=None)
        third = schedules.tick()
    assert len(first) == 1 and second == [] and third == []
    assert Job.objects.filter(schedule=schedule).count() == 1
    job = Job.objects.get(schedule=schedule)
    assert job.slot == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 11, 22, 10, 16, tzinfo=UTC), tick=False):
        assert len(schedules.tick()) == 1
    assert Job.objects.filter(schedule=schedule).count() == 2


@pytest.mark.django_db
def test_a_stopped_scheduler_enqueues_only_the_latest_missed_slot():
    with time_machine.travel(datetime(2026, 11, 22, 0, 0, 30, tzinfo=UTC), tick=False):
        schedule = schedules.upsert_schedule("often", "test.record", "*/5 * * * *")
    with time_machine.travel(datetime(2026, 11, 22, 6, 2, tzinfo=UTC), tick=False):
        created = schedules.tick()
    assert len(created) == 1 and created[0].slot == datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    schedule.refresh_from_db()
    assert schedule.next_slot == datetime(2026, 11, 22, 6, 5, tzinfo=UTC)


@pytest.mark.django_db
def test_disabled_schedule_does_nothing():
    with time_machine.travel(datetime(2026, 11, 22, 9, 0, tzinfo=UTC), tick=False):
        schedules.upsert_schedule("off", "test.record", "* * * * *", enabled=False)
    with time_machine.travel(datetime(2026, 11, 22, 10, 0, tzinfo=UTC), tick=False):
        assert schedules.tick() == []


@pytest.mark.django_db
def test_scheduler_command_once(capsys):
    call_command("scheduler", "--once")
    assert "job(s) enqueued" in capsys.readouterr().out


# -- the registry ---------------------------------------------------------------------------

def test_registry_is_read_only_after_start_up():
    with pytest.raises(RegistryError):
        registry.register(NavItem(key="late.item", label="Late", url_name="dashboard"))


def test_registry_rejects_duplicate_and_malformed_keys():
    with pytest.raises(RegistryError):
        with registry.override(JobKind(key="test.record", label="Again", run=record)):
            pass
    with pytest.raises(ValueError):
        with registry.override(JobKind(key="Bad Key", label="x", run=record)):
            pass


def test_registry_lookup():
    assert registry.get(JobKind, "test.record").label == "Record"
    with pytest.raises(UnknownContribution) as info:
        registry.get(JobKind, "nope.nothing")
    assert "nope.nothing" in str(info.value)
    assert registry.find(JobKind, "nope.nothing") is None


def test_override_restores_the_registry():
    with registry.override(NavItem(key="temp.item", label="Temp", url_name="dashboard")):
        assert registry.find(NavItem, "temp.item")
    assert registry.find(NavItem, "temp.item") is None
