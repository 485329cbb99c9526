from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.shortcuts import render
from django.utils import timezone

from liaison.contacts.models import Activity, Company, Contact
from liaison.core.contributions import TimelineKind
from liaison.core.models import Job
from liaison.core.registry import registry
from liaison.integrations.models import Integration, SyncRun


def dashboard(request):
    week_ago = timezone.now() - timedelta(days=7)
    kinds = {k.key: k for k in registry.all(TimelineKind)}
    recent = list(Activity.objects.select_related("contact").order_by("-occurred_at", "-id")[:15])
    return render(request, "web/dashboard.html", {
        "counts": {
            "contacts": Contact.objects.count(),
            "companies": Company.objects.count(),
            "new_contacts": Contact.objects.filter(created_at__gte=week_ago).count(),
            "dnc": Contact.objects.filter(do_not_contact=True).count(),
        },
        "activity_by_kind": Activity.objects.filter(occurred_at__gte=week_ago).values("kind").annotate(
            n=Count("id")).order_by("-n")[:8],
        "kinds": kinds,
        "recent": [{"activity": a, "kind": kinds.get(a.kind)} for a in recent],
        "runs": SyncRun.objects.select_related("integration").order_by("-started_at")[:8],
        "integrations": Integration.objects.count(),
        "failed_jobs": Job.objects.filter(status=Job.Status.FAILED, created_at__gte=week_ago).count(),
        "active_jobs": Job.objects.filter(status__in=Job.ACTIVE).count(),
    })


def permission_denied(request, exception=None):
    return render(request, "web/403.html", {"reason": str(exception or "")}, status=403)
