"""Connector triggers: "a training (webinar) is created", "a registrant is added".

Detected where facts are stored (``facts.upsert_events`` and ``facts.store_registrants``,
the one upsert path of the sync, GoTo's webhooks and Liaison's own registrations), inside
the same transaction. Each new fact becomes a ``TriggerEvent`` row whose unique
``(integration, topic, subject)`` is the "emitted" marker: rows are inserted with
``ON CONFLICT DO NOTHING`` under a claim token, and only the rows this write inserted are
announced. So a re-run sync, or a webhook racing the sync, announces nothing twice.

Announcing a batch means, in the same transaction: signed webhook deliveries to the
subscribed connector connections (``liaison.webhooks``, outbox); and after the commit the
``signals`` other apps listen to. Polling triggers read the same rows by id.

Only what is current fires: an event that is upcoming or live, a registration (approved or
waiting) to such an event. History discovered later (a first sync reading last year's
webinars) is stored and shown, but is not "created" or "added" now.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from liaison.integrations.goto import shapes, signals
from liaison.integrations.goto.models import Event, Registration, TriggerEvent

Topic = TriggerEvent.Topic
CREATED = {"training": Topic.TRAINING_CREATED, "webinar": Topic.WEBINAR_CREATED}
REGISTRANT_ADDED = {"training": Topic.TRAINING_REGISTRANT, "webinar": Topic.WEBINAR_REGISTRANT}
REPORT_PREFIX = "report:"  # trainings known only from a session report (sync.REPORT_PREFIX): no trainingKey
BATCH = 100  # items per webhook delivery


def settle_seconds() -> float:
    """Polls leave out rows younger than this: a transaction still open with a smaller id can
    then commit before the cursor passes it."""
    return float(getattr(settings, "GOTO_TRIGGER_SETTLE_SECONDS", 5))


def is_current(event: Event, now: datetime) -> bool:
    return (event.status != Event.Status.CANCELLED and not event.provider_key.startswith(REPORT_PREFIX)
            and (event.ends_at is None or event.ends_at > now))


def scopes(integration_id: int, event: Event | None = None) -> list[str]:
    """Webhook scopes an event matches: its account, and (for registrants) its training or webinar."""
    found = [f"goto:{integration_id}"]
    if event is not None:
        found.append(f"goto:{integration_id}:{event.product}:{event.provider_key}")
    return found


def _insert(integration, topic: str, rows: list[dict[str, Any]]) -> list[TriggerEvent]:
    """Insert markers; the ones this call inserted (in id order)."""
    claim = uuid.uuid4().hex
    now = timezone.now()
    TriggerEvent.objects.bulk_create(
        [TriggerEvent(integration=integration, topic=topic, claim=claim, created_at=now, **row) for row in rows],
        ignore_conflicts=True, batch_size=500)
    return list(TriggerEvent.objects.filter(claim=claim).order_by("id"))


def events_created(integration, product: str, events: Iterable[Event], now: datetime) -> list[TriggerEvent]:
    """Announce new trainings or webinars (call inside the transaction that stored them)."""
    if product not in CREATED:
        return []
    rows = [{"subject": e.provider_key, "event": e, "payload": shapes.event_item(e)}
            for e in events if is_current(e, now)]
    if not rows:
        return []
    fresh = _insert(integration, CREATED[product], rows)
    if fresh:
        _announce(integration, product, CREATED[product], fresh, None)
    return fresh


def registrants_added(integration, event: Event, subjects: dict[str, str], now: datetime) -> list[TriggerEvent]:
    """Announce new registrations of one event; ``subjects`` maps e-mail keys to the marker
    subject (``<email>``, or ``<email>:again:<time>`` for someone registered again)."""
    if event.product not in REGISTRANT_ADDED or not subjects or not is_current(event, now):
        return []
    registrations = Registration.objects.filter(event=event, email_key__in=list(subjects),
                                                status__in=Registration.ACTIVE)
    rows = [{"subject": f"{event.provider_key}:{subjects[r.email_key]}"[:300], "event": event, "registration": r,
             "contact_id": r.contact_id, "payload": shapes.registrant_item(event, r)} for r in registrations]
    if not rows:
        return []
    fresh = _insert(integration, REGISTRANT_ADDED[event.product], rows)
    if fresh:
        _announce(integration, event.product, REGISTRANT_ADDED[event.product], fresh, event)
    return fresh


def _announce(integration, product: str, topic: str, fresh: list[TriggerEvent], event: Event | None) -> None:
    from liaison.webhooks.services import publish

    for start in range(0, len(fresh), BATCH):
        chunk = fresh[start:start + BATCH]
        extra = {"account": integration.pk}
        if event is not None:
            extra[f"{product}Key"] = event.provider_key
        publish(topic, [t.payload for t in chunk], event_id=f"goto:{integration.pk}:{topic}:{chunk[0].pk}",
                scopes=scopes(integration.pk, event), extra=extra)
    if event is None:
        events = {e.pk: e for e in Event.objects.filter(pk__in=[t.event_id for t in fresh])}
        items = [{"trigger_id": t.pk, "event_id": t.event_id, "event_key": t.subject,
                  "title": events[t.event_id].title, "starts_at": events[t.event_id].starts_at,
                  "payload": t.payload} for t in fresh]
        transaction.on_commit(lambda: signals.event_created.send(
            sender=TriggerEvent, integration_id=integration.pk, product=product, items=items))
        return
    sources = dict(Registration.objects.filter(pk__in=[t.registration_id for t in fresh]).values_list("pk", "source"))
    items = [{"trigger_id": t.pk, "registration_id": t.registration_id, "contact_id": t.contact_id,
              "email": t.payload.get("email", ""), "status": t.payload.get("status", "").lower(),
              "source": sources.get(t.registration_id, ""), "payload": t.payload} for t in fresh]
    transaction.on_commit(lambda: signals.registrant_added.send(
        sender=TriggerEvent, integration_id=integration.pk, product=product, event_id=event.pk,
        event_key=event.provider_key, items=items))


# -- polling -------------------------------------------------------------------------------------------

def latest_id(integration, topic: str, event: Event | None = None) -> int:
    """Where a first poll starts: triggers fire for what comes next, not for the past."""
    qs = TriggerEvent.objects.filter(integration=integration, topic=topic,
                                     created_at__lte=timezone.now() - timedelta(seconds=settle_seconds()))
    if event is not None:
        qs = qs.filter(event=event)
    return qs.order_by("-id").values_list("id", flat=True).first() or 0


def since(integration, topic: str, cursor: int, *, event: Event | None = None, limit: int = BATCH
          ) -> list[TriggerEvent]:
    """Trigger events after ``cursor`` (oldest first), leaving out the last few seconds' rows."""
    qs = TriggerEvent.objects.filter(integration=integration, topic=topic, id__gt=cursor,
                                     created_at__lte=timezone.now() - timedelta(seconds=settle_seconds()))
    if event is not None:
        qs = qs.filter(event=event)
    return list(qs.order_by("id")[:limit])
