"""GoTo pages: products' event lists, event detail with registrants, attendees and the
attendance chart, support sessions, webhooks; and the public webhook receiver."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Avg, Exists, OuterRef, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.permissions import public, requires
from liaison.integrations import services as framework
from liaison.integrations.goto import charts, facts, queries, services, webhooks
from liaison.integrations.goto.models import (
    Attendance,
    Event,
    Product,
    Registration,
    WebhookChannel,
    WebhookEvent,
)
from liaison.integrations.goto.spec import PRODUCT_LABELS, PRODUCTS
from liaison.integrations.models import Integration
from liaison.webhooks.models import Subscription

PAGE = 50


def _integration(pk: int) -> Integration:
    integration = get_object_or_404(Integration, pk=pk)
    if integration.spec_key != "goto":
        raise Http404("Not a GoTo account")
    return integration


def detail_context(integration: Integration, request) -> dict:
    """What the account page shows under the framework's connection and sync cards."""
    summary = queries.product_summary(integration)
    channel = WebhookChannel.objects.filter(integration=integration).first()
    capabilities = (integration.account or {}).get("g2a_capabilities")
    scope = f"goto:{integration.pk}"
    return {
        "products": [{"key": p, "label": PRODUCT_LABELS[p], "enabled": integration.feature_enabled(p),
                      "counts": summary.get(p, {})} for p in PRODUCTS],
        "webhook_channel": channel,
        "g2a_capabilities": capabilities,
        "g2a_probed": "g2a_probed_at" in (integration.account or {}),
        "connector_url": f"{settings.LIAISON_BASE_URL}/api/connectors/goto/{integration.pk}/",
        "connector_subscriptions": Subscription.objects.filter(Q(scope=scope) | Q(scope__startswith=f"{scope}:"))
        .count(),
    }


def event_list(request, pk):
    integration = _integration(pk)
    product = request.GET.get("product") or "webinar"
    if product not in Product.values:
        raise Http404("Unknown product")
    facts.refresh_statuses(integration, timezone.now())
    params = {"integration": integration.pk, "product": product, "q": request.GET.get("q", ""),
              "status": request.GET.get("status", "")}
    if params["status"] and params["status"] not in Event.Status.values:
        params["status"] = ""
    order = "starts_at" if params["status"] in (Event.Status.UPCOMING, Event.Status.LIVE) else "-starts_at"
    qs = queries.with_counts(queries.filter_events(params)).order_by(order, "id")
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "goto/event_list.html", {
        "integration": integration, "product": product, "product_label": PRODUCT_LABELS[product], "page": page,
        "params": params, "statuses": Event.Status.choices, "products": Product.choices,
    })


def event_detail(request, pk, event_id):
    integration = _integration(pk)
    event = get_object_or_404(queries.with_counts(Event.objects.filter(integration=integration)), pk=event_id)
    sessions = list(event.sessions.all())
    attended = Attendance.objects.filter(event=event, email_key=OuterRef("email_key"))
    reg_params = {"event": event.pk, "q": request.GET.get("rq", ""), "status": request.GET.get("rstatus", "")}
    if reg_params["status"] not in Registration.Status.values:
        reg_params["status"] = ""
    registrations = queries.filter_registrations(reg_params).annotate(attended=Exists(attended))
    attendances = queries.filter_attendances({"event": event.pk, "q": request.GET.get("aq", "")})
    stats = Attendance.objects.filter(event=event).aggregate(average=Avg("duration_seconds"))
    return render(request, "goto/event_detail.html", {
        "integration": integration, "event": event, "sessions": sessions,
        "registrations": Paginator(registrations, PAGE).get_page(request.GET.get("rpage")),
        "attendances": Paginator(attendances, PAGE).get_page(request.GET.get("apage")),
        "cancelled": event.registrations.filter(status=Registration.Status.CANCELLED).count(),
        "average_seconds": stats["average"], "charts": charts.attendance_charts(event, sessions),
        "reg_params": reg_params, "registration_statuses": Registration.Status.choices,
        "product_label": PRODUCT_LABELS[event.product],
    })


@require_POST
@requires("edit")
def event_sync(request, pk, event_id):
    event = get_object_or_404(Event, integration_id=pk, pk=event_id)
    try:
        job = services.sync_event(event, user=request.user)
    except (ValidationFailed, LiaisonError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{event.title}” will be re-read (job #{job.pk}); progress shows on the account "
                                  f"page.")
    return redirect("integrations:goto:event", pk=pk, event_id=event_id)


@require_POST
@requires("edit")
def product_sync(request, pk, product):
    integration = _integration(pk)
    if product not in PRODUCTS:
        raise Http404("Unknown product")
    options = {"product": product}
    if request.POST.get("full"):
        options["full"] = True
    try:
        job = framework.start_sync(integration, user=request.user, options=options)
    except (ValidationFailed, LiaisonError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{PRODUCT_LABELS[product]} sync queued (job #{job.pk}); progress shows below.")
    return redirect("integrations:detail", pk=pk)


def webhook_status(request, pk):
    integration = _integration(pk)
    channel = WebhookChannel.objects.filter(integration=integration).first()
    page = Paginator(WebhookEvent.objects.filter(integration=integration), PAGE).get_page(request.GET.get("page"))
    return render(request, "goto/webhooks.html", {"integration": integration, "channel": channel, "page": page,
                                                  "receiver_url": webhooks.callback_url(channel) if channel else ""})


@require_POST
@requires("admin")
def webhook_switch(request, pk):
    integration = _integration(pk)
    if not framework.is_connected(integration):
        messages.error(request, "Connect the GoTo account first.")
        return redirect("integrations:goto:webhooks", pk=pk)
    try:
        if request.POST.get("action") == "disable":
            channel = webhooks.disable(integration)
            messages.success(request, channel.message)
        else:
            channel = webhooks.enable(integration)
            (messages.success if channel.state == WebhookChannel.State.ACTIVE else messages.error)(
                request, channel.message)
    except LiaisonError as exc:
        messages.error(request, str(exc))
    return redirect("integrations:goto:webhooks", pk=pk)


@public
@csrf_exempt
def webhook_receiver(request, token):
    """GoTo's deliveries (POST) and its callback-URL check (GET must answer 200)."""
    channel = WebhookChannel.objects.select_related("integration").filter(token=token).first()
    if channel is None:
        return JsonResponse({"detail": "Unknown webhook address."}, status=404)
    if request.method in ("GET", "HEAD"):
        return HttpResponse("Liaison receives GoToWebinar webhooks here.", content_type="text/plain")
    if request.method != "POST":
        return JsonResponse({"detail": "Use POST."}, status=405)
    outcome = webhooks.receive(channel, request.headers, request.body)
    return JsonResponse({"detail": outcome.message}, status=outcome.status)
