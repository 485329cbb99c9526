from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from liaison.core import jobs, schedules
from liaison.core.errors import ValidationFailed
from liaison.core.models import Job, Schedule
from liaison.core.permissions import requires


def job_list(request):
    qs = Job.objects.select_related("created_by")
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    kinds = Job.objects.order_by("kind").values_list("kind", flat=True).distinct()
    return render(request, "core/job_list.html", {"page": page, "statuses": Job.Status.choices, "status": status,
                                                  "kinds": kinds, "kind": kind})


def job_detail(request, pk):
    job = get_object_or_404(Job.objects.select_related("created_by", "schedule"), pk=pk)
    template = "core/_job_status.html" if request.htmx and request.GET.get("fragment") else "core/job_detail.html"
    return render(request, template, {"job": job})


@require_POST
def job_cancel(request, pk):
    job = get_object_or_404(Job, pk=pk)
    if jobs.cancel(job):
        messages.success(request, "Cancellation requested." if job.status == Job.Status.RUNNING else "Job cancelled.")
    else:
        messages.warning(request, "This job has already finished.")
    return redirect("core:job", pk=pk)


@require_POST
def job_retry(request, pk):
    job = get_object_or_404(Job, pk=pk)
    if job.is_active:
        messages.warning(request, "This job is still active.")
        return redirect("core:job", pk=pk)
    new = jobs.retry(job, user=request.user)
    messages.success(request, f"Job started again as #{new.pk}.")
    return redirect("core:job", pk=new.pk)


def schedule_list(request):
    return render(request, "core/schedule_list.html", {"schedules": Schedule.objects.all()})


@requires("admin")
def schedule_edit(request, pk):
    schedule = get_object_or_404(Schedule, pk=pk)
    errors = {}
    if request.method == "POST":
        try:
            cron = schedules.validate_cron(request.POST.get("cron", ""))
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            schedules.upsert_schedule(schedule.name, schedule.kind, cron, schedule.params, schedule.owner_key,
                                      enabled=bool(request.POST.get("enabled")))
            messages.success(request, "Schedule saved.")
            return redirect("core:schedules")
    return render(request, "core/schedule_form.html", {"schedule": schedule, "errors": errors},
                  status=422 if errors else 200)
