"""Outgoing webhooks: subscribe, publish events, deliver them signed, retry, log, turn off.

Publishing is an outbox: ``publish()`` writes the deliveries (and their jobs) in the
caller's transaction, so an event stored with its facts is delivered even if the process
dies right after the commit, and an event whose facts rolled back is never sent.

Each delivery is one job (``webhooks.deliver``): one POST per attempt through
``core.http.Client`` (timeouts, audit; no provider budget, no inline retries). Connection
errors, timeouts, 408, 429 (honouring ``Retry-After``) and 5xx are retried by the job
runner with exponential back-off up to the job's attempts; other answers fail at once
(410 Gone also turns the subscription off: the receiver says it wants nothing more). A
subscription whose deliveries fail for good ``DISABLE_AFTER`` times in a row is turned
off with the reason; turning it on again resets the count.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from liaison.core import jobs, schedules
from liaison.core.contributions import WebhookTopic
from liaison.core.errors import LiaisonError, RetryableError, ValidationFailed
from liaison.core.http import Client, ProviderError
from liaison.core.http.retry import parse_retry_after
from liaison.core.registry import registry
from liaison.webhooks import signing
from liaison.webhooks.models import Delivery, Subscription

JOB_KIND = "webhooks.deliver"
MAX_ATTEMPTS = 8  # 30 s, 1, 2, 4, 8, 16, 32 min between them: about an hour of trying
TIMEOUT_SECONDS = 10.0
RETENTION = timedelta(days=30)
PRUNE_SCHEDULE = "Prune old webhook deliveries"
RETRY_STATUSES = frozenset({408, 425, 429})


def disable_after() -> int:
    """Deliveries failing for good in a row before a subscription is turned off."""
    return int(getattr(settings, "WEBHOOKS_DISABLE_AFTER", 5))


# -- subscriptions -------------------------------------------------------------------------

def topics() -> list[WebhookTopic]:
    return sorted(registry.all(WebhookTopic), key=lambda t: (t.group, t.label))


def clean_url(url: str) -> str:
    url = (url or "").strip()
    problem = None
    if not url:
        problem = "Give the address that will receive the deliveries."
    elif len(url) > 500:
        problem = "The address is longer than 500 characters."
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "Use a full http:// or https:// address."
        elif parts.username or parts.password:
            problem = "Leave credentials out of the address: deliveries are signed instead."
    if problem:
        raise ValidationFailed({"url": [problem]})
    return url


def clean_topic(topic: str) -> WebhookTopic:
    found = registry.find(WebhookTopic, (topic or "").strip())
    if found is None:
        known = ", ".join(t.key for t in topics()) or "none installed"
        raise ValidationFailed({"topic": [f"“{topic}” is not a webhook topic (known: {known})."]})
    return found


def create_subscription(*, topic: str, url: str, scope: str = "", name: str = "", owner: str = "",
                        user=None) -> tuple[Subscription, bool]:
    """A subscription, or the existing one for the same owner, topic, scope and address
    (``created`` False). The secret is generated here; show it to the subscriber."""
    errors: dict[str, list[str]] = {}
    try:
        topic = clean_topic(topic).key
    except ValidationFailed as exc:
        errors.update(exc.errors)
    try:
        url = clean_url(url)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    now = timezone.now()
    with transaction.atomic():
        subscription, created = Subscription.objects.get_or_create(
            owner=owner, topic=topic, scope=scope, url=url,
            defaults={"name": (name or "").strip()[:200], "secret": signing.new_secret(), "created_at": now,
                      "updated_at": now, "created_by": user if getattr(user, "is_authenticated", False) else None})
        if created:
            schedules.upsert_schedule(PRUNE_SCHEDULE, "webhooks.prune", "17 3 * * *", owner_key="webhooks")
    return subscription, created


def update_subscription(subscription: Subscription, *, name: str | None = None, url: str | None = None,
                        active: bool | None = None) -> Subscription:
    fields = ["updated_at"]
    if name is not None:
        subscription.name = name.strip()[:200]
        fields.append("name")
    if url is not None:
        url = clean_url(url)
        clash = Subscription.objects.filter(owner=subscription.owner, topic=subscription.topic,
                                            scope=subscription.scope, url=url).exclude(pk=subscription.pk)
        if clash.exists():
            raise ValidationFailed({"url": ["Another subscription already sends this topic to that address."]})
        subscription.url = url
        fields.append("url")
    subscription.updated_at = timezone.now()
    subscription.save(update_fields=fields)
    if active is True and not subscription.active:
        enable(subscription)
    elif active is False and subscription.active:
        disable(subscription, "Turned off by a user.")
    return subscription


def rotate_secret(subscription: Subscription) -> str:
    subscription.secret = signing.new_secret()
    subscription.updated_at = timezone.now()
    subscription.save(update_fields=["secret", "updated_at"])
    return subscription.secret


def enable(subscription: Subscription) -> None:
    Subscription.objects.filter(pk=subscription.pk).update(active=True, failure_streak=0, disabled_at=None,
                                                            disabled_reason="", updated_at=timezone.now())
    subscription.refresh_from_db()


def disable(subscription: Subscription, reason: str) -> None:
    now = timezone.now()
    Subscription.objects.filter(pk=subscription.pk).update(active=False, disabled_at=now, disabled_reason=reason,
                                                            updated_at=now)
    subscription.refresh_from_db()


def delete_subscription(subscription: Subscription) -> None:
    subscription.delete()


# -- reading --------------------------------------------------------------------------------

def filter_subscriptions(params: Mapping[str, Any]):
    qs = Subscription.objects.all()
    if params.get("topic"):
        qs = qs.filter(topic=params["topic"])
    if params.get("owner") is not None:
        qs = qs.filter(owner=params["owner"])
    if params.get("active") is not None:
        qs = qs.filter(active=params["active"])
    return qs.order_by("topic", "id")


def filter_deliveries(params: Mapping[str, Any]):
    qs = Delivery.objects.select_related("job")
    for name, column in (("subscription", "subscription_id"), ("status", "status"), ("topic", "topic")):
        if params.get(name):
            qs = qs.filter(**{column: params[name]})
    return qs.order_by("-created_at", "-id")


def next_attempt(delivery: Delivery):
    """When a delivery waiting to retry is tried again (its job's ``run_after``)."""
    if delivery.status != Delivery.Status.RETRYING or delivery.job is None:
        return None
    return delivery.job.run_after


# -- publishing -----------------------------------------------------------------------------

def envelope(topic: str, event_id: str, data: Any, *, test: bool = False, **extra: Any) -> dict[str, Any]:
    body = {"id": event_id, "event": topic, "createdAt": timezone.now().isoformat().replace("+00:00", "Z"),
            **extra, "data": data}
    if test:
        body["test"] = True
    return body


def publish(topic: str, data: Any, *, event_id: str, scopes: Iterable[str] = (),
            subscriptions: Iterable[Subscription] | None = None, extra: Mapping[str, Any] | None = None
            ) -> list[Delivery]:
    """Queue one delivery of ``data`` per matching active subscription; returns the new ones.

    Matching: the active subscriptions of ``topic`` whose scope is "" or one of ``scopes``,
    or exactly ``subscriptions``. Call it inside the transaction that stores what the event
    is about. The same ``event_id`` again queues nothing more (unique per subscription).
    """
    if subscriptions is None:
        targets = list(Subscription.objects.filter(topic=topic, active=True, scope__in={"", *scopes}))
    else:
        targets = [s for s in subscriptions if s.active]
    if not targets:
        return []
    body = envelope(topic, event_id, data, **dict(extra or {}))
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.bulk_create([Delivery(subscription=s, event_id=event_id[:200], topic=topic, payload=body,
                                               created_at=now) for s in targets], ignore_conflicts=True)
        fresh = list(Delivery.objects.filter(subscription__in=targets, event_id=event_id[:200], job__isnull=True,
                                             status=Delivery.Status.PENDING).select_related("subscription"))
        for delivery in fresh:
            _queue(delivery)
    return fresh


def _queue(delivery: Delivery) -> None:
    job = jobs.enqueue(JOB_KIND, {"delivery_id": delivery.pk},
                       label=f"Webhook {delivery.topic} → {urlsplit(delivery.subscription.url).hostname}"[:300])
    Delivery.objects.filter(pk=delivery.pk).update(job=job)
    delivery.job = job


def send_test(subscription: Subscription) -> Delivery:
    """A delivery of the topic's example, marked ``"test": true``, sent now."""
    topic = registry.find(WebhookTopic, subscription.topic)
    event_id = f"test:{uuid.uuid4().hex}"
    body = envelope(subscription.topic, event_id, list(topic.example) if topic else [], test=True)
    with transaction.atomic():
        delivery = Delivery.objects.create(subscription=subscription, event_id=event_id, topic=subscription.topic,
                                           payload=body)
        _queue(delivery)
    return delivery


def redeliver(delivery: Delivery) -> Delivery:
    """Send a failed or cancelled delivery again (same body and id), with a new job."""
    if not Subscription.objects.filter(pk=delivery.subscription_id, active=True).exists():
        raise LiaisonError("The subscription is turned off: turn it on before sending again.")
    if delivery.status not in (Delivery.Status.FAILED, Delivery.Status.CANCELLED):
        raise LiaisonError("Only failed or cancelled deliveries can be sent again.")
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.PENDING, last_error="")
        delivery.refresh_from_db()
        _queue(delivery)
    return delivery


# -- delivering -----------------------------------------------------------------------------

def body_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _finish(delivery: Delivery, **fields: Any) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)


def run_delivery(ctx, delivery_id: int) -> str:
    """The ``webhooks.deliver`` job: one attempt; a retryable failure raises for the back-off."""
    delivery = Delivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    if delivery.is_final:
        return delivery.status
    subscription = delivery.subscription
    if not subscription.active:
        _finish(delivery, status=Delivery.Status.CANCELLED,
                last_error=f"Not sent: the subscription is turned off ({subscription.disabled_reason})"[:2000])
        return delivery.status
    attempt = delivery.attempts + 1
    outcome = post(subscription, delivery)
    now = timezone.now()
    common = {"attempts": attempt, "last_attempt_at": now, "response_code": outcome.status,
              "duration_ms": round(outcome.duration_ms, 1)}
    Subscription.objects.filter(pk=subscription.pk).update(last_delivery_at=now)
    if outcome.ok:
        _finish(delivery, status=Delivery.Status.SUCCEEDED, delivered_at=now, last_error="", **common)
        Subscription.objects.filter(pk=subscription.pk).update(failure_streak=0, last_success_at=now)
        ctx.log(f"Delivered to {subscription.url} (HTTP {outcome.status}).")
        return delivery.status
    ctx.log(f"Attempt {attempt}: {outcome.error}")
    last_try = ctx.job.attempts >= ctx.job.max_attempts
    if outcome.retryable and not last_try:
        _finish(delivery, status=Delivery.Status.RETRYING, last_error=outcome.error, **common)
        raise RetryableError(outcome.error, retry_after=outcome.retry_after)
    if outcome.retryable:
        error = f"{outcome.error} Gave up after {attempt} attempts."
    else:
        error = outcome.error
    _finish(delivery, status=Delivery.Status.FAILED, last_error=error, **common)
    _count_failure(subscription, error, gone=outcome.status == 410)
    return delivery.status


class Outcome:
    def __init__(self, *, status: int | None = None, ok: bool = False, retryable: bool = False, error: str = "",
                 retry_after: float | None = None, duration_ms: float = 0.0):
        self.status, self.ok, self.retryable, self.error = status, ok, retryable, error
        self.retry_after, self.duration_ms = retry_after, duration_ms


def post(subscription: Subscription, delivery: Delivery) -> Outcome:
    """One signed POST; what the receiver answered, judged."""
    body = body_bytes(delivery.payload)
    headers = signing.signed_headers(subscription.secret, body, topic=delivery.topic, delivery_id=delivery.pk)
    parts = urlsplit(subscription.url)
    host = parts.hostname or "the receiver"
    # The address exactly as given (a trailing slash and the query matter to receivers);
    # the client's paths are templates, so braces are escaped.
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    try:
        with Client(f"{parts.scheme}://{parts.netloc}", provider=host, retry_table=(), timeout=TIMEOUT_SECONDS,
                    headers={"User-Agent": "Liaison-Webhooks/1"}) as client:
            response = client.post(target.replace("{", "{{").replace("}", "}}"), content=body, headers=headers,
                                   allow=range(300, 600))
    except ProviderError as exc:  # no answer: refused, unreachable, timed out
        return Outcome(retryable=True, error=f"{exc} {exc.detail}".strip()[:2000],
                       duration_ms=(time.perf_counter() - started) * 1000)
    duration = (time.perf_counter() - started) * 1000
    status = response.status
    if 200 <= status < 300:
        return Outcome(status=status, ok=True, duration_ms=duration)
    said = " ".join(response.text.split())[:300]
    words = f"{host} answered HTTP {status}" + (f": {said}" if said else "") + "."
    if status == 410:
        words += " It no longer wants these deliveries."
    elif 300 <= status < 400:
        words += f" Deliveries do not follow redirects: use the final address ({response.headers.get('Location')})."
    retryable = status in RETRY_STATUSES or status >= 500
    return Outcome(status=status, retryable=retryable, error=words[:2000], duration_ms=duration,
                   retry_after=parse_retry_after(response.headers.get("Retry-After")) if retryable else None)


def _count_failure(subscription: Subscription, error: str, *, gone: bool = False) -> None:
    Subscription.objects.filter(pk=subscription.pk).update(failure_streak=F("failure_streak") + 1)
    subscription.refresh_from_db(fields=["failure_streak", "active"])
    if not subscription.active:
        return
    day = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    if gone:
        disable(subscription, f"Turned off on {day}: the receiver answered 410 Gone.")
    elif subscription.failure_streak >= disable_after():
        disable(subscription, f"Turned off on {day} after {subscription.failure_streak} deliveries in a row "
                              f"failed. Last error: {error}"[:2000])


def prune(ctx=None) -> int:
    deleted, _ = Delivery.objects.filter(created_at__lt=timezone.now() - RETENTION,
                                         status__in=Delivery.FINAL).delete()
    if ctx is not None:
        ctx.log(f"{deleted} old deliveries removed.")
    return deleted
