"""GoTo facts for points and campaigns: the point events, and the signal that announces them.

Point events (``PointEvent``, what point rules can score): ``goto.webinar.registered``,
``goto.webinar.attended``, ``goto.training.registered``, ``goto.training.attended``,
``goto.meeting.attended``, ``goto.assist.attended`` (a support session the customer joined),
``goto.assist.left`` (a support session that ended, with its ``rating`` and ``resolution``).

``occurred`` is sent once per batch of new facts, after the transaction that stored them
commits, from the one place facts are stored (``facts``: the sync, GoToWebinar's webhooks and
Liaison's own registrations from forms and campaigns all go through it)::

    from liaison.integrations.goto.points import occurred

    @receiver(occurred)
    def score(sender, *, event_key, contact_ids, occurred_at, dedup_ref, **extra):
        for rule in rules_for(event_key):
            rule.award(contact_ids, at=occurred_at, once_per=dedup_ref)

Keyword arguments:

* ``event_key``: the point event, e.g. ``"goto.webinar.registered"``;
* ``contact_ids``: the contacts concerned (distinct, sorted);
* ``occurred_at``: when the facts happened (registration time, first join, the customer
  joining; for a batch the latest of them);
* ``dedup_ref``: the same for every announcement of the same fact for the same contact:
  ``goto:<product>:<event key>`` (so registering, cancelling and registering again, or two
  Liaison accounts reading the same webinar, never score twice for one contact), and
  ``goto:<account id>:assist:<session id>`` for support sessions (``...:left`` when it ends,
  ``...:rated`` when its rating arrives only after it ended). Consumers keep
  ``(event_key, contact_id, dedup_ref)`` unique;
* ``product``, ``integration_id``, ``goto_event_id`` (Liaison's ``Event`` id; None for
  GoToAssist), ``goto_event_key`` (webinarKey, trainingKey, meetingId or the support
  session id), ``title``; ``goto.assist.left`` adds ``rating`` (1–5 or None) and ``resolution``.

Exactly once: each fact carries an ``announced_at`` marker (registrations: the registration;
attended: the person's first attendance at the event; GoToAssist: the session) set by the
write that announces it, under a row lock, so a re-run sync or a webhook racing the sync
announces nothing twice. *Attended* is announced once per person and event, whatever the
number of sessions. *Left* is announced on the stored transition (the session becomes final;
a final session's rating arrives), in the transaction that stores it, so a re-run that
changes nothing announces nothing.

History is stored and shown but not announced: facts about events that ended more than
``HISTORY`` before Liaison learned of them (a first sync reading last year's webinars) score
no points and move no campaign.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.dispatch import Signal

from liaison.core import events
from liaison.core.contributions import PointEvent
from liaison.integrations.goto.models import AssistSession, Attendance, Event, Registration, Session
from liaison.integrations.goto.queries import ASSIST_ATTENDED
from liaison.integrations.goto.spec import PRODUCT_LABELS

occurred = Signal()

HISTORY = timedelta(days=7)

POINT_EVENTS = (
    ("goto.webinar.registered", "Registers for a webinar"),
    ("goto.webinar.attended", "Attends a webinar"),
    ("goto.training.registered", "Registers for a training"),
    ("goto.training.attended", "Attends a training"),
    ("goto.meeting.attended", "Attends a meeting"),
    ("goto.assist.attended", "Has a GoToAssist support session"),
    ("goto.assist.left", "Leaves a GoToAssist support session"),
)


def event_choices(product: str):
    """``(provider key, "title (date)")`` of a product's events, newest first: the subjects rules may name."""
    def choices() -> list[tuple[str, str]]:
        rows = (Event.objects.filter(product=product).order_by("-starts_at", "pk")
                .values_list("provider_key", "title", "starts_at"))
        seen: dict[str, str] = {}
        for key, title, starts_at in rows:
            seen.setdefault(key, f"{title} ({starts_at:%Y-%m-%d})" if starts_at else title)
        return list(seen.items())
    return choices


def point_events() -> list[PointEvent]:
    found = []
    for key, label in POINT_EVENTS:
        product = key.split(".")[1]
        subject = {} if product == "assist" else {
            "subject": "goto_event_key", "subject_label": PRODUCT_LABELS[product], "subject_choices": event_choices(product)}
        found.append(PointEvent(key=key, label=label, group=PRODUCT_LABELS[product], **subject))
    return found


def is_history(ended_at: datetime | None, now: datetime) -> bool:
    return ended_at is not None and ended_at < now - HISTORY


def _claim(qs, now: datetime, *fields: str) -> list[tuple]:
    """Rows of ``qs`` not announced yet, marked announced now (locked first: a concurrent
    writer waits, then sees the mark). Call inside the transaction that stored them."""
    rows = list(qs.filter(announced_at__isnull=True).select_for_update().values_list("pk", *fields))
    if rows:
        qs.model.objects.filter(pk__in=[r[0] for r in rows]).update(announced_at=now)
    return [r[1:] for r in rows]


def _send(sender, *, event_key: str, rows: list[tuple[int, datetime | None]], now: datetime, dedup_ref: str,
          product: str, integration_id: int, goto_event_id: int | None, goto_event_key: str, title: str,
          extra: dict | None = None) -> None:
    contact_ids = sorted({contact_id for contact_id, _ in rows})
    if not contact_ids:
        return
    occurred_at = max((when for _, when in rows if when), default=now)
    kwargs = {"event_key": event_key, "contact_ids": contact_ids, "occurred_at": occurred_at, "dedup_ref": dedup_ref,
              "product": product, "integration_id": integration_id, "goto_event_id": goto_event_id,
              "goto_event_key": goto_event_key, "title": title, **(extra or {})}
    # The durable announcement (points, campaigns) commits with the facts; the signal follows the commit.
    events.announce(event_key, contact_ids, ref=dedup_ref, occurred_at=occurred_at,
                    data={"product": product, "integration_id": integration_id, "goto_event_id": goto_event_id,
                          "goto_event_key": goto_event_key, "title": title, **(extra or {})})
    transaction.on_commit(lambda: occurred.send(sender=sender, **kwargs))


def _send_event(sender, event: Event, verb: str, rows: list[tuple], now: datetime) -> int:
    _send(sender, event_key=f"goto.{event.product}.{verb}", rows=rows, now=now,
          dedup_ref=f"goto:{event.product}:{event.provider_key}", product=event.product,
          integration_id=event.integration_id, goto_event_id=event.pk, goto_event_key=event.provider_key,
          title=event.title)
    return len(rows)


def announce_registrations(event: Event, email_keys: Iterable[str], now: datetime) -> int:
    """New active registrations of one event (``facts.store_registrants``)."""
    keys = list(email_keys)
    if not keys or event.product not in ("webinar", "training") or event.status == Event.Status.CANCELLED \
            or is_history(event.ends_at, now):
        return 0
    rows = _claim(Registration.objects.filter(event=event, email_key__in=keys, status__in=Registration.ACTIVE), now,
                  "contact_id", "registered_at")
    return _send_event(Registration, event, "registered", rows, now)


def announce_attendances(event: Event, session: Session, email_keys: Iterable[str], now: datetime) -> int:
    """New attendances of one session: "attended" for those with no earlier announced attendance
    at the event (``facts.store_attendances``)."""
    keys = list(email_keys)
    if not keys or is_history(session.ends_at or event.ends_at, now):
        return 0
    earlier = Attendance.objects.filter(event=OuterRef("event"), email_key=OuterRef("email_key"),
                                        announced_at__isnull=False)
    rows = _claim(Attendance.objects.filter(session=session, email_key__in=keys).exclude(Exists(earlier)), now,
                  "contact_id", "first_join_at")
    return _send_event(Attendance, event, "attended", rows, now)


def announce_assist_sessions(integration, session_ids: Iterable[str], now: datetime) -> int:
    """Support sessions the customer joined, with a known contact (``facts.store_assist_sessions``)."""
    ids = list(session_ids)
    if not ids:
        return 0
    qs = (AssistSession.objects.filter(ASSIST_ATTENDED, integration=integration, session_id__in=ids,
                                       contact__isnull=False)
          .exclude(started_at__lt=now - HISTORY))
    rows = _claim(qs, now, "contact_id", "session_id", "customer_joined_at", "started_at")
    for contact_id, session_id, joined_at, started_at in rows:
        _send(AssistSession, event_key="goto.assist.attended", rows=[(contact_id, joined_at or started_at)], now=now,
              dedup_ref=f"goto:{integration.pk}:assist:{session_id}", product="assist",
              integration_id=integration.pk, goto_event_id=None, goto_event_key=session_id,
              title=f"Support session {session_id}")
    return len(rows)


def announce_assist_outcomes(integration, previous: dict[str, tuple[str, int | None]], now: datetime) -> int:
    """Support sessions that just ended, or whose rating just arrived after they ended
    (``facts.store_assist_sessions``; ``previous``: session id -> the stored (status, rating)
    before this write, ``("", None)`` for a new one). Returns how many were announced."""
    from liaison.integrations.goto.assist import FINAL_STATUSES

    if not previous:
        return 0
    rows = (AssistSession.objects.filter(integration=integration, session_id__in=list(previous),
                                         status__in=FINAL_STATUSES, contact__isnull=False)
            .values_list("contact_id", "session_id", "ended_at", "started_at", "rating", "resolution", "status"))
    sent = 0
    for contact_id, session_id, ended_at, started_at, rating, resolution, status in rows:
        if is_history(ended_at or started_at, now):
            continue
        before_status, before_rating = previous[session_id]
        if before_status not in FINAL_STATUSES:
            phase = "left"
        elif before_rating is None and rating is not None:
            phase = "rated"
        else:
            continue
        _send(AssistSession, event_key="goto.assist.left", rows=[(contact_id, ended_at or started_at)], now=now,
              dedup_ref=f"goto:{integration.pk}:assist:{session_id}:{phase}", product="assist",
              integration_id=integration.pk, goto_event_id=None, goto_event_key=session_id,
              title=f"Support session {session_id}",
              extra={"rating": rating, "resolution": resolution, "status": status})
        sent += 1
    return sent
