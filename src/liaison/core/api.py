
from datetime import datetime
from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.pagination import paginate

from liaison.core import jobs, schedules
from liaison.core.errors import ValidationFailed
from liaison.core.models import Job, Schedule
from liaison.core.permissions import requires
from liaison.core.restapi import ERRORS, Id, Pagination

router = Router(tags=["jobs"])


class JobOut(Schema):
    id: int
    kind: str
    label: str
    params: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    run_after: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress_current: int
    progress_total: int | None
    progress_message: str
    result: Any = None
    error: str
    cancel_requested: bool
    schedule_id: int | None


class JobDetailOut(JobOut):
    log: str


class ScheduleOut(Schema):
    id: int
    name: str
    kind: str
    params: dict[str, Any]
    cron: str
    enabled: bool
    last_slot: datetime | None
    next_slot: datetime | None


class ScheduleIn(Schema):
    cron: str | None = None
    enabled: bool | None = None


@router.get("/jobs", response=list[JobOut])
@paginate(Pagination)
def list_jobs(request, status: str | None = None, kind: str | None = None):
    qs = Job.objects.all()
    if status:
        if status not in Job.Status.values:
            raise ValidationFailed({"status": [f"Use one of: {', '.join(Job.Status.values)}."]})
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


@router.get("/jobs/{job_id}", response={200: JobDetailOut, **ERRORS})
def get_job(request, job_id: Id):
    return get_object_or_404(Job, pk=job_id)


@router.post("/jobs/{job_id}/cancel", response={200: JobOut, **ERRORS})
def cancel_job(request, job_id: Id):
    job = get_object_or_404(Job, pk=job_id)
    if not jobs.cancel(job):
        raise ValidationFailed({"__all__": ["This job has already finished."]})
    job.refresh_from_db()
    return job


@router.post("/jobs/{job_id}/retry", response={201: JobOut, **ERRORS})
def retry_job(request, job_id: Id):
    job = get_object_or_404(Job, pk=job_id)
    if job.is_active:
        raise ValidationFailed({"__all__": ["This job is still active."]})
    return Status(201, jobs.retry(job, user=request.user))


@router.get("/schedules", response=list[ScheduleOut], tags=["schedules"])
def list_schedules(request):
    return list(Schedule.objects.all())


@router.patch("/schedules/{schedule_id}", response={200: ScheduleOut, **ERRORS}, tags=["schedules"])
@requires("admin")
def update_schedule(request, schedule_id: Id, payload: ScheduleIn):
    schedule = get_object_or_404(Schedule, pk=schedule_id)
    cron = schedule.cron if payload.cron is None else payload.cron
    enabled = schedule.enabled if payload.enabled is None else payload.enabled
    return schedules.upsert_schedule(schedule.name, schedule.kind, cron, schedule.params, schedule.owner_key, enabled)
