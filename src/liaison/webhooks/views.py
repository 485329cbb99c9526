"""Webhook pages: subscriptions, their delivery log, one delivery."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.permissions import has_capability, requires
from liaison.webhooks import services, signing
from liaison.webhooks.models import Delivery, Subscription

PAGE = 50


def subscription_list(request):
    params = {"topic": request.GET.get("topic", ""), "active": {"on": True, "off": False}.get(request.GET.get("state"))}
    page = Paginator(services.filter_subscriptions(params), PAGE).get_page(request.GET.get("page"))
    return render(request, "webhooks/subscription_list.html", {
        "page": page, "topics": services.topics(), "params": {**params, "state": request.GET.get("state", "")},
        "can_edit": has_capability(request.user, "edit")})


@requires("edit")
def subscription_new(request):
    values = {"topic": request.GET.get("topic", ""), "scope": request.GET.get("scope", ""), "name": "", "url": ""}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in ("topic", "scope", "name", "url")}
        try:
            subscription, created = services.create_subscription(user=request.user, **values)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            if not created:
                messages.info(request, "This address already receives that topic: here is its subscription.")
                return redirect("webhooks:detail", pk=subscription.pk)
            return _detail(request, subscription, new_secret=subscription.secret)
    return render(request, "webhooks/subscription_form.html", {
        "values": values, "errors": errors, "topics": [(t.key, f"{t.group} · {t.label}") for t in services.topics()]},
        status=422 if errors else 200)


def subscription_detail(request, pk):
    return _detail(request, get_object_or_404(Subscription, pk=pk))


def _detail(request, subscription: Subscription, new_secret: str = ""):
    status = request.GET.get("status", "")
    if status not in Delivery.Status.values:
        status = ""
    deliveries = services.filter_deliveries({"subscription": subscription.pk, "status": status})
    return render(request, "webhooks/subscription_detail.html", {
        "subscription": subscription, "new_secret": new_secret, "status": status,
        "statuses": Delivery.Status.choices, "page": Paginator(deliveries, PAGE).get_page(request.GET.get("page")),
        "can_edit": has_capability(request.user, "edit"), "headers": signing,
        "topic": next((t for t in services.topics() if t.key == subscription.topic), None),
    })


@require_POST
@requires("edit")
def subscription_action(request, pk):
    subscription = get_object_or_404(Subscription, pk=pk)
    action = request.POST.get("action")
    if action == "rotate":
        return _detail(request, subscription, new_secret=services.rotate_secret(subscription))
    if action == "delete":
        services.delete_subscription(subscription)
        messages.success(request, "Subscription deleted.")
        return redirect("webhooks:list")
    if action == "test":
        delivery = services.send_test(subscription)
        messages.success(request, f"Test delivery #{delivery.pk} queued.")
    elif action == "enable":
        services.enable(subscription)
        messages.success(request, "Turned on: deliveries resume with the next event.")
    elif action == "disable":
        services.disable(subscription, "Turned off by a user.")
        messages.success(request, "Turned off: new events are not delivered.")
    else:
        messages.error(request, "Unknown action.")
    return redirect("webhooks:detail", pk=pk)


def delivery_detail(request, pk):
    delivery = get_object_or_404(Delivery.objects.select_related("subscription", "job"), pk=pk)
    return render(request, "webhooks/delivery_detail.html", {
        "delivery": delivery, "next_attempt": services.next_attempt(delivery),
        "can_edit": has_capability(request.user, "edit")})


@require_POST
@requires("edit")
def delivery_redeliver(request, pk):
    delivery = get_object_or_404(Delivery.objects.select_related("subscription"), pk=pk)
    try:
        services.redeliver(delivery)
    except LiaisonError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Delivery #{delivery.pk} queued again.")
    return redirect("webhooks:delivery", pk=pk)
