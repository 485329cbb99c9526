"""The contact-event bus: announce facts about contacts; points and campaigns react.

``announce(key, contact_ids, ref=..., data=...)`` writes the event to an outbox
(``EventRecord``) in the caller's transaction, so the event exists exactly when the fact
does. After the commit a job (``core.events.dispatch``, single-instance) hands pending
events, in order and in batches, to every ``EventConsumer`` in the registry; each
consumer's work commits together with the mark that the batch was handed over. A consumer
that fails does not hold back the others: its events go to a backlog and are offered to it
again, one at a time, with back-off. A schedule runs the dispatch every minute as the
safety net (after a crash, or an enqueue that met a job just finishing).

See ``liaison.core.contributions.events`` for the contract.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from liaison.core.contributions import ContactEvent, EventConsumer, PointEvent
from liaison.core.models import EventBacklog, EventRecord
from liaison.core.registry import registry
from liaison.core.writegate import writer

logger = logging.getLogger(__name__)

JOB_KIND = "core.events.dispatch"
LABEL = "Hand contact events to points and campaigns"
CONTACTS_PER_RECORD = 1000
BATCH = 500
KEEP = timedelta(days=30)
BACKLOG_BACKOFF = timedelta(seconds=30)
BACKLOG_BACKOFF_CAP = timedelta(hours=6)


class UnknownEvent(ValueError):
    pass


def announce(key: str, contact_ids: Iterable[int], *, ref: str, occurred_at: datetime | None = None,
             data: Mapping[str, Any] | None = None) -> int:
    """Record that ``key`` happened to these contacts; consumers get it after the commit.

    Call it inside the transaction that stores the fact. ``key`` must be a registered
    ``PointEvent``; ``data`` holds JSON values only. Returns the number of contacts.
    """
    ids = sorted({int(i) for i in contact_ids})
    if not ids:
        return 0
    announce_many([ContactEvent(key=key, contact_ids=tuple(ids), occurred_at=occurred_at or timezone.now(), ref=ref,
                                data=dict(data or {}))])
    return len(ids)


def announce_many(items: Iterable[ContactEvent]) -> int:
    """Several events at once (one INSERT): e.g. one per submission of a batch. Returns how many."""
    records = []
    for event in items:
        if registry.find(PointEvent, event.key) is None:
            raise UnknownEvent(f"{event.key!r} is not a registered point event; register a PointEvent first.")
        ids = sorted({int(i) for i in event.contact_ids})
        records += [EventRecord(key=event.key, ref=event.ref[:255], contact_ids=ids[start:start + CONTACTS_PER_RECORD],
                                data=dict(event.data or {}), occurred_at=event.occurred_at)
                    for start in range(0, len(ids), CONTACTS_PER_RECORD)]
    if records:
        EventRecord.objects.bulk_create(records)
        _dispatch_after_commit()
    return len(records)


def _dispatch_after_commit() -> None:
    if not registry.all(EventConsumer):
        return
    if not connection.in_atomic_block:
        request_dispatch()
        return
    # One dispatch per transaction, however many announcements it holds.
    if any(item[1] is request_dispatch for item in connection.run_on_commit):
        return
    transaction.on_commit(request_dispatch)


def request_dispatch():
    from liaison.core import jobs

    return jobs.enqueue(JOB_KIND, {}, label=LABEL)


def as_event(record: EventRecord) -> ContactEvent:
    return ContactEvent(key=record.key, contact_ids=tuple(record.contact_ids), occurred_at=record.occurred_at,
                        ref=record.ref, data=record.data or {}, id=record.pk)


def _offer(consumer: EventConsumer, events: list[ContactEvent]) -> Exception | None:
    """Hand events to one consumer in a savepoint; the exception if it failed."""
    try:
        with transaction.atomic():
            consumer.handle(events)
    except Exception as exc:  # noqa: BLE001 - a consumer's failure must not stop the others
        logger.warning("Event consumer %s failed: %s", consumer.key, exc, exc_info=True)
        return exc
    return None


def _pending_batch(limit: int) -> list[EventRecord]:
    qs = EventRecord.objects.filter(dispatched_at__isnull=True).order_by("id")
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True)
    return list(qs[:limit])


def dispatch(*, limit: int | None = None, on_batch=None) -> dict[str, int]:
    """Hand pending events (then due backlog entries) to the consumers. Returns counts."""
    consumers = registry.all(EventConsumer)
    counts = {"events": 0, "failed": 0, "backlog_done": 0, "backlog_failed": 0}
    while limit is None or counts["events"] < limit:
        with writer(), transaction.atomic():
            records = _pending_batch(BATCH if limit is None else min(BATCH, limit - counts["events"]))
            if not records:
                break
            events = [as_event(r) for r in records]
            now = timezone.now()
            for consumer in consumers:
                mine = [e for e in events if consumer.accepts(e.key)]
                if not mine:
                    continue
                error = _offer(consumer, mine)
                if error is not None:
                    counts["failed"] += len(mine)
                    EventBacklog.objects.bulk_create(
                        [EventBacklog(event_id=e.id, consumer=consumer.key, error=str(error)[:2000],
                                      retry_at=now + BACKLOG_BACKOFF) for e in mine], ignore_conflicts=True)
            EventRecord.objects.filter(pk__in=[r.pk for r in records]).update(dispatched_at=now)
            counts["events"] += len(records)
        if on_batch:
            on_batch(counts)
    _retry_backlog(consumers, counts)
    _prune()
    return counts


def _retry_backlog(consumers: list[EventConsumer], counts: dict[str, int]) -> None:
    by_key = {c.key: c for c in consumers}
    due = list(EventBacklog.objects.filter(retry_at__lte=timezone.now()).select_related("event")
               .order_by("event_id")[:BATCH])
    for entry in due:
        consumer = by_key.get(entry.consumer)
        with writer(), transaction.atomic():
            if consumer is None:  # the consumer's app is gone: nobody to offer it to
                entry.delete()
                continue
            error = _offer(consumer, [as_event(entry.event)])
            if error is None:
                entry.delete()
                counts["backlog_done"] += 1
                continue
            counts["backlog_failed"] += 1
            wait = min(BACKLOG_BACKOFF * (2 ** entry.attempts), BACKLOG_BACKOFF_CAP)
            EventBacklog.objects.filter(pk=entry.pk).update(attempts=entry.attempts + 1, error=str(error)[:2000],
                                                            retry_at=timezone.now() + wait)


def _prune() -> None:
    cutoff = timezone.now() - KEEP
    old = EventRecord.objects.filter(created_at__lt=cutoff, dispatched_at__isnull=False, backlog__isnull=True)
    ids = list(old.values_list("pk", flat=True)[:5000])
    if ids:
        with writer():
            EventRecord.objects.filter(pk__in=ids).delete()


def run_dispatch(ctx) -> dict[str, int]:
    """The ``core.events.dispatch`` job."""
    result = dispatch(on_batch=lambda c: ctx.progress(c["events"], None, f"{c['events']} events handed over"))
    if result["failed"] or result["backlog_failed"]:
        ctx.log(f"{result['failed'] + result['backlog_failed']} events could not be taken by a consumer; "
                "they are offered again with back-off (see the log of the consumer's app).")
    return result


def pending_count() -> int:
    return EventRecord.objects.filter(dispatched_at__isnull=True).count()
