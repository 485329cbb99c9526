"""Storing GoTo facts: the one upsert path of the sync, the webhooks and the services.

Each function takes what one provider answer said and writes it set-based: one query to
read what exists, one ``INSERT ... ON CONFLICT`` to write, contacts through
``contacts.services.upsert_contacts`` (names filled only where empty: what marketers typed
is kept) and timeline entries through ``record_activities`` with stable ``dedup_key``s,
inside the caller's transaction. Nothing here calls GoTo.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from liaison.contacts.models import Activity, Contact, normalize_email
from liaison.contacts.services import ActivityInput, announce_changed, record_activities, upsert_contacts
from liaison.core.bulk import update_rows, upsert_rows
from liaison.integrations.goto import points, rules, triggers
from liaison.integrations.goto.assist import FINAL_STATUSES, AssistRecord, AssistReport
from liaison.integrations.goto.client import AttendeeRecord, EventRecord, RegistrantRecord, SessionRecord
from liaison.integrations.goto.models import AssistSession, Attendance, Event, Registration, Session

# Names come from GoTo only where the contact has none: never overwrite what marketers typed.
NAME_POLICY = {"first_name": "fill", "last_name": "fill"}
EVENT_FIELDS = ("provider_id", "organizer_key", "title", "description", "starts_at", "ends_at", "times", "time_zone",
                "status", "recurrence", "recurrence_key", "recurrence_period", "registration_url", "join_url",
                "extra")
REGISTRATION_FIELDS = ("email", "first_name", "last_name", "registrant_key", "join_url", "confirmation_url", "status",
                       "registered_at", "cancelled_at")
ATTENDANCE_FIELDS = ("email", "registrant_key", "registration_id", "intervals", "duration_seconds", "first_join_at",
                     "last_leave_at")
ASSIST_FIELDS = ("contact_id", "status", "customer_name", "customer_email", "expert_name", "expert_email",
                 "expert_key", "partner_object", "partner_object_url", "customer_join_url", "launch_url",
                 "recording_url", "started_at", "customer_joined_at", "ended_at", "duration_seconds", "notes",
                 "resolution", "rating", "feedback", "portal", "custom_fields")


@dataclass
class Counts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, other: Counts) -> Counts:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def source_of(integration) -> str:
    return f"integration:{integration.pk}"


def _short(value: str) -> str:
    """An e-mail key short enough for a dedup key (hashed beyond 120 characters)."""
    return value if len(value) <= 120 else hashlib.sha1(value.encode()).hexdigest()


def dedup_prefix(event: Event) -> str:
    return f"goto:{event.integration_id}:{event.product}:{event.provider_key}:"


def event_status(times: list[tuple[datetime, datetime]], now: datetime) -> str:
    """upcoming / live / past from the planned slots (cancellation is recorded apart)."""
    if any(start <= now < end for start, end in times):
        return Event.Status.LIVE
    if times and max(end for _, end in times) <= now:
        return Event.Status.PAST
    return Event.Status.UPCOMING


def event_snapshot(event: Event) -> dict[str, Any]:
    """What a timeline entry keeps about its event (refreshed if the event changes)."""
    return {"event_id": event.pk, "product": event.product, "event_key": event.provider_key, "title": event.title,
            "starts_at": iso(event.starts_at), "ends_at": iso(event.ends_at), "time_zone": event.time_zone}


KIND_TITLES = {
    "registered": "Registered for “{title}”",
    "attended": "Attended “{title}”",
    "cancelled": "Registration for “{title}” cancelled",
}


# -- events ------------------------------------------------------------------------------

def _event_values(record: EventRecord, now: datetime, current: Event | None) -> dict[str, Any]:
    times = sorted(record.times)
    return {
        "provider_id": record.provider_id[:40] or (current.provider_id if current else ""),
        "organizer_key": record.organizer_key or (current.organizer_key if current else ""),
        "title": (record.title or (current.title if current else "") or record.key)[:300],
        "description": record.description,
        "starts_at": times[0][0] if times else None,
        "ends_at": max(end for _, end in times) if times else None,
        "times": [{"start": iso(s), "end": iso(e)} for s, e in times],
        "time_zone": record.time_zone or (current.time_zone if current else ""),
        "status": event_status(times, now),
        "recurrence": record.recurrence[:30] or (current.recurrence if current else ""),
        "recurrence_key": record.recurrence_key or (current.recurrence_key if current else ""),
        "recurrence_period": record.recurrence_period[:20] or (current.recurrence_period if current else ""),
        "registration_url": record.registration_url or (current.registration_url if current else ""),
        "join_url": record.join_url or (current.join_url if current else ""),
        "extra": {**(current.extra if current else {}), **record.extra},
    }


def upsert_events(integration, product: str, records: Iterable[EventRecord], now: datetime
                  ) -> tuple[dict[str, Event], Counts]:
    """Create or update events by key; returns ``{key: Event}`` for every record."""
    by_key = {r.key: r for r in records}
    counts = Counts(fetched=len(by_key))
    if not by_key:
        return {}, counts
    existing = {e.provider_key: e for e in Event.objects.filter(integration=integration, product=product,
                                                                provider_key__in=list(by_key))}
    rows: list[Event] = []
    changed: list[str] = []
    fresh: list[str] = []  # first real sighting (new, or a webhook's placeholder without times): triggers
    for key, record in by_key.items():
        current = existing.get(key)
        values = _event_values(record, now, current)
        if current is None or not current.times:
            fresh.append(key)
        if current is None:
            counts.created += 1
        elif current.status != Event.Status.CANCELLED and all(getattr(current, f) == v for f, v in values.items()):
            counts.unchanged += 1
            continue
        else:
            counts.updated += 1
            if (current.title, current.times, current.time_zone) != (values["title"], values["times"],
                                                                      values["time_zone"]):
                changed.append(key)
        rows.append(Event(integration=integration, product=product, provider_key=key, created_at=now, updated_at=now,
                          cancelled_at=None, **values))
    if rows:
        Event.objects.bulk_create(rows, update_conflicts=True, unique_fields=["integration", "product", "provider_key"],
                                  update_fields=[*EVENT_FIELDS, "cancelled_at", "updated_at"], batch_size=500)
    events = {e.provider_key: e for e in Event.objects.filter(integration=integration, product=product,
                                                              provider_key__in=list(by_key))}
    if changed:
        refresh_event_snapshots([events[k] for k in changed])
    if fresh:
        triggers.events_created(integration, product, [events[k] for k in fresh], now)
    return events, counts


def ensure_event(integration, product: str, key: str, title: str = "") -> Event:
    """The event with this key, created with what is known (a webhook may arrive before the sync)."""
    event, created = Event.objects.get_or_create(
        integration=integration, product=product, provider_key=key,
        defaults={"title": (title or f"{product.capitalize()} {key}")[:300]})
    if not created and title and event.title == f"{product.capitalize()} {key}":
        Event.objects.filter(pk=event.pk).update(title=title[:300])
        event.title = title[:300]
    return event


def cancel_events(events: Iterable[Event], now: datetime) -> int:
    """GoTo no longer knows these events (404, ``webinar.changed`` DELETED): status cancelled."""
    ids = [e.pk for e in events if e.status != Event.Status.CANCELLED]
    if not ids:
        return 0
    return Event.objects.filter(pk__in=ids).update(status=Event.Status.CANCELLED, cancelled_at=now, updated_at=now)


def refresh_statuses(integration, now: datetime) -> int:
    """upcoming -> live -> past as time passes (set-based; exact slots are re-read by the sync)."""
    active = Event.objects.filter(integration=integration, status__in=[Event.Status.UPCOMING, Event.Status.LIVE])
    count = active.filter(ends_at__lte=now).update(status=Event.Status.PAST, updated_at=now)
    count += active.filter(status=Event.Status.UPCOMING, starts_at__lte=now, ends_at__gt=now).update(
        status=Event.Status.LIVE, updated_at=now)
    return count


def refresh_event_snapshots(events: list[Event]) -> int:
    """A renamed or rescheduled event: its timeline entries show the new title and times."""
    query = Q()
    for event in events:
        query |= Q(dedup_key__startswith=dedup_prefix(event))
    by_prefix = {dedup_prefix(e): e for e in events}
    activities = list(Activity.objects.filter(query).only("id", "dedup_key", "kind", "data", "title"))
    for activity in activities:
        event = by_prefix[":".join(activity.dedup_key.split(":")[:4]) + ":"]
        activity.data = {**activity.data, **event_snapshot(event)}
        verb = activity.kind.rsplit(".", 1)[-1]
        if verb in KIND_TITLES:
            activity.title = KIND_TITLES[verb].format(title=event.title)[:300]
    update_rows(Activity, ("data", "title"), ((a.data, a.title, a.pk) for a in activities))
    return len(activities)


# -- contacts ---------------------------------------------------------------------------------

def _contacts(integration, people: list[tuple[str, str, str]]) -> tuple[dict[str, int], int]:
    """Contact ids by e-mail key for (email, first, last); the number of unusable e-mails."""
    if not people:
        return {}, 0
    rows = [{"email": email, "first_name": first[:100], "last_name": last[:100]} for email, first, last in people]
    result = upsert_contacts(rows, policy=NAME_POLICY, default_policy="fill", owner=integration.owner_id,
                             skip_invalid=True)
    return result.ids, len(result.errors)


# -- registrations --------------------------------------------------------------------------------

def registration_data(event: Event, reg: Registration) -> dict[str, Any]:
    return {**event_snapshot(event), "join_url": reg.join_url, "status": reg.status,
            "registrant_key": reg.registrant_key, "email": reg.email, "source": reg.source}


def _registration_activity(integration, event: Event, reg: Registration, verb: str, when: datetime,
                           suffix: str = "") -> ActivityInput:
    return ActivityInput(
        contact_id=reg.contact_id, kind=f"goto.{event.product}.{verb}", occurred_at=when,
        title=KIND_TITLES[verb].format(title=event.title)[:300],
        dedup_key=f"{dedup_prefix(event)}{verb}:{_short(reg.email_key)}{suffix}",
        data=registration_data(event, reg), source=source_of(integration))


def store_registrants(integration, event: Event, records: Iterable[RegistrantRecord], *, now: datetime,
                      source: str = Registration.Source.SYNC, marker: datetime | None = None) -> Counts:
    """Upsert registrations (and their contacts and timeline entries) for one event.

    ``marker`` is the start of the registrant read this page belongs to: rows seen get it,
    so a complete read can tell which registrations GoTo no longer lists.
    """
    records = list(records)
    counts = Counts(fetched=len(records))
    ids, bad = _contacts(integration, [(r.email, r.first_name, r.last_name) for r in records])
    counts.failed += bad
    keyed: dict[str, RegistrantRecord] = {}
    for record in records:
        key = normalize_email(record.email)
        if key in ids:
            keyed[key] = record
    existing = {r.email_key: r for r in Registration.objects.filter(event=event, email_key__in=list(keyed))}
    rows: list[Registration] = []
    activities: list[ActivityInput] = []
    added: dict[str, str] = {}  # e-mail key -> trigger subject, for "a registrant is added" (and points)
    for key, record in keyed.items():
        current = existing.get(key)
        status = record.status
        values = {
            "email": record.email[:254],
            "first_name": record.first_name[:100] or (current.first_name if current else ""),
            "last_name": record.last_name[:100] or (current.last_name if current else ""),
            "registrant_key": record.key or (current.registrant_key if current else ""),
            "join_url": record.join_url or (current.join_url if current else ""),
            "confirmation_url": record.confirmation_url or (current.confirmation_url if current else ""),
            "status": status,
            # Unknown stays unknown (a training's session report gives no date): never the sync time.
            "registered_at": record.registered_at or (current.registered_at if current else None),
            "cancelled_at": ((current.cancelled_at if current and current.cancelled_at else now)
                             if status == Registration.Status.CANCELLED else None),
        }
        if current is None:
            counts.created += 1
            reg = Registration(event=event, email_key=key, contact_id=ids[key], source=source, seen_at=marker,
                               created_at=now, updated_at=now, **values)
            if status in Registration.ACTIVE:
                activities.append(_registration_activity(integration, event, reg, "registered",
                                                         reg.registered_at or event.starts_at or now))
                added[key] = _short(key)
            rows.append(reg)
            continue
        changed = any(getattr(current, f) != v for f, v in values.items())
        counts.updated += changed
        counts.unchanged += not changed
        if not changed and marker is None:
            continue
        reg = Registration(event=event, email_key=key, contact_id=current.contact_id, source=current.source,
                           seen_at=marker or current.seen_at, created_at=current.created_at,
                           updated_at=now if changed else current.updated_at, **values)
        rows.append(reg)
        if current.status == Registration.Status.CANCELLED and status in Registration.ACTIVE:
            activities.append(_registration_activity(integration, event, reg, "registered", now,
                                                     suffix=f":again:{int(now.timestamp())}"))
            added[key] = f"{_short(key)}:again:{int(now.timestamp())}"
        elif status == Registration.Status.CANCELLED and current.status != Registration.Status.CANCELLED:
            activities.append(_registration_activity(integration, event, reg, "cancelled", now,
                                                     suffix=f":{int(now.timestamp())}"))
    if rows:  # the hot path of a big first sync: one INSERT ... ON CONFLICT, values straight to the driver
        columns = ("event", "email_key", "contact", "source", "created_at", *REGISTRATION_FIELDS, "seen_at",
                   "updated_at")
        upsert_rows(Registration, columns, ([r.event_id, r.email_key, r.contact_id, r.source, r.created_at,
                                             *(getattr(r, f) for f in REGISTRATION_FIELDS), r.seen_at, r.updated_at]
                                            for r in rows),
                    conflict=("event", "email_key"), update=(*REGISTRATION_FIELDS, "seen_at", "updated_at"))
    record_activities(activities)
    if added:
        triggers.registrants_added(integration, event, added, now)
    points.announce_registrations(event, list(added), now)  # (a registration announced once, ever)
    return counts


def cancel_missing_registrations(integration, event: Event, *, marker: datetime, now: datetime,
                                 grace: timedelta) -> int:
    """Registrations a complete read did not see: GoTo dropped them, so they become cancelled.

    Rows created or registered within ``grace`` of the read are spared (GoToTraining's
    registrant cache lags; a registration made by Liaison a moment ago may not show yet).
    Nothing is deleted.
    """
    cutoff = marker - grace
    missing = list(Registration.objects.filter(event=event, status__in=Registration.ACTIVE)
                   .filter(Q(seen_at__isnull=True) | Q(seen_at__lt=marker))
                   .filter(created_at__lt=cutoff).filter(Q(registered_at__isnull=True) | Q(registered_at__lt=cutoff)))
    if not missing:
        return 0
    Registration.objects.filter(pk__in=[r.pk for r in missing]).update(
        status=Registration.Status.CANCELLED, cancelled_at=now, updated_at=now)
    activities = []
    for reg in missing:
        reg.status, reg.cancelled_at = Registration.Status.CANCELLED, now
        activities.append(_registration_activity(integration, event, reg, "cancelled", now,
                                                 suffix=f":{int(now.timestamp())}"))
    record_activities(activities)
    return len(missing)


# -- sessions and attendance ----------------------------------------------------------------------

def upsert_sessions(events: dict[str, Event], records: Iterable[SessionRecord]) -> dict[str, Session]:
    """Sessions by key, for records whose event is in ``events`` (keyed by provider key)."""
    by_key = {r.key: r for r in records if r.event_key in events}
    if not by_key:
        return {}
    existing = {(s.event_id, s.provider_key): s for s in
                Session.objects.filter(event__in=[events[r.event_key] for r in by_key.values()],
                                       provider_key__in=list(by_key))}
    rows = []
    for key, record in by_key.items():
        event = events[record.event_key]
        current = existing.get((event.pk, key))
        values = {"starts_at": record.starts_at or (current.starts_at if current else None),
                  "ends_at": record.ends_at or (current.ends_at if current else None),
                  "attendee_count": record.attendee_count if record.attendee_count is not None else (
                      current.attendee_count if current else None)}
        if current is not None and all(getattr(current, f) == v for f, v in values.items()):
            continue
        rows.append(Session(event=event, provider_key=key, **values))
    if rows:
        Session.objects.bulk_create(rows, update_conflicts=True, unique_fields=["event", "provider_key"],
                                    update_fields=["starts_at", "ends_at", "attendee_count"], batch_size=500)
    return {s.provider_key: s for s in Session.objects.filter(
        event__in=list(events.values()), provider_key__in=list(by_key)).select_related("event")}


def attendance_data(event: Event, session: Session, att: Attendance) -> dict[str, Any]:
    return {**event_snapshot(event), "session_key": session.provider_key, "session_starts_at": iso(session.starts_at),
            "session_ends_at": iso(session.ends_at), "first_join": iso(att.first_join_at),
            "last_leave": iso(att.last_leave_at), "duration_seconds": att.duration_seconds,
            "intervals": att.intervals, "email": att.email}


def merge_attendees(records: Iterable[AttendeeRecord]) -> list[AttendeeRecord]:
    """One record per e-mail (GoToMeeting sends one row per join interval)."""
    merged: dict[str, AttendeeRecord] = {}
    for record in records:
        key = normalize_email(record.email)
        if not key:
            continue
        seen = merged.get(key)
        if seen is None:
            merged[key] = AttendeeRecord(record.email, record.first_name, record.last_name, record.registrant_key,
                                         list(record.intervals), record.duration_seconds)
            continue
        seen.intervals.extend(record.intervals)
        seen.duration_seconds += record.duration_seconds
        seen.first_name = seen.first_name or record.first_name
        seen.last_name = seen.last_name or record.last_name
    for record in merged.values():
        record.intervals.sort(key=lambda pair: pair[0])
    return list(merged.values())


def store_attendances(integration, event: Event, session: Session, records: Iterable[AttendeeRecord], *,
                      now: datetime, provisional: bool = False) -> Counts:
    """Upsert one session's attendances (real join and leave times, never the sync time).

    ``provisional``: a webhook's "joined" before the session ended; the polled report,
    when it comes, replaces it (and a provisional row never overwrites a polled one).
    """
    records = merge_attendees(records)
    counts = Counts(fetched=len(records))
    ids, bad = _contacts(integration, [(r.email, r.first_name, r.last_name) for r in records])
    counts.failed += bad
    keyed = {normalize_email(r.email): r for r in records if normalize_email(r.email) in ids}
    registrations = dict(Registration.objects.filter(event=event, email_key__in=list(keyed))
                         .values_list("email_key", "pk"))
    existing = {a.email_key: a for a in Attendance.objects.filter(session=session, email_key__in=list(keyed))}
    rows: list[Attendance] = []
    new: list[Attendance] = []
    refreshed: list[Attendance] = []
    for key, record in keyed.items():
        current = existing.get(key)
        if provisional and current is not None:
            counts.unchanged += 1
            continue
        joins = [join for join, _ in record.intervals]
        leaves = [leave for _, leave in record.intervals if leave]
        values = {
            "email": record.email[:254],
            "registrant_key": record.registrant_key or (current.registrant_key if current else ""),
            "registration_id": registrations.get(key) or (current.registration_id if current else None),
            "intervals": [{"join": iso(j), "leave": iso(lv)} for j, lv in record.intervals],
            "duration_seconds": max(0, int(record.duration_seconds)),
            "first_join_at": min(joins) if joins else None,
            "last_leave_at": max(leaves) if leaves else None,
        }
        att = Attendance(session=session, event=event, email_key=key, contact_id=ids[key], created_at=now,
                         updated_at=now, **values)
        if current is None:
            counts.created += 1
            new.append(att)
        elif any(getattr(current, f) != v for f, v in values.items()):
            counts.updated += 1
            att.contact_id, att.created_at = current.contact_id, current.created_at
            refreshed.append(att)
        else:
            counts.unchanged += 1
            continue
        rows.append(att)
    if rows:
        columns = ("session", "event", "email_key", "contact", "created_at", *ATTENDANCE_FIELDS, "updated_at")
        upsert_rows(Attendance, columns, ([a.session_id, a.event_id, a.email_key, a.contact_id, a.created_at,
                                           *(getattr(a, f) for f in ATTENDANCE_FIELDS), a.updated_at] for a in rows),
                    conflict=("session", "email_key"), update=(*ATTENDANCE_FIELDS, "updated_at"))

    def entry(att: Attendance) -> ActivityInput:
        return ActivityInput(
            contact_id=att.contact_id, kind=f"goto.{event.product}.attended",
            occurred_at=att.first_join_at or session.starts_at or now,
            title=KIND_TITLES["attended"].format(title=event.title)[:300],
            dedup_key=f"{dedup_prefix(event)}{session.provider_key}:attended:{_short(att.email_key)}",
            data=attendance_data(event, session, att), source=source_of(integration))

    record_activities(entry(a) for a in new)
    refresh_activities([entry(a) for a in refreshed])
    if refreshed:  # durations changed: segments on time spent look again
        announce_changed(sorted({a.contact_id for a in refreshed}))
    points.announce_attendances(event, session, [a.email_key for a in new], now)
    return counts


def refresh_activities(entries: list[ActivityInput]) -> int:
    """Rewrite existing timeline entries (a fact they describe was completed or corrected)."""
    by_key = {e.dedup_key[:255]: e for e in entries}
    if not by_key:
        return 0
    found = dict(Activity.objects.filter(dedup_key__in=list(by_key)).values_list("dedup_key", "id"))
    update_rows(Activity, ("title", "occurred_at", "data"),
                ((e.title[:300], e.occurred_at, e.data, found[k]) for k, e in by_key.items() if k in found))
    record_activities(e for k, e in by_key.items() if k not in found)
    return len(found)


# -- GoToAssist ---------------------------------------------------------------------------------------

# Sessions started from a contact's page carry the contact's reference as their partner object.
CONTACT_REFERENCE = "liaison-contact-"
_REFERENCE = re.compile(r"^liaison-contact-(\d+)$")


def referenced_contacts(partner_objects: Iterable[str]) -> dict[str, int]:
    """``{partner_object: contact id}`` for references (``liaison-contact-<id>``) to existing contacts."""
    wanted = {}
    for value in partner_objects:
        match = _REFERENCE.match((value or "").strip())
        if match:
            wanted[value] = int(match.group(1))
    if not wanted:
        return {}
    found = set(Contact.objects.filter(pk__in=set(wanted.values())).values_list("pk", flat=True))
    return {value: pk for value, pk in wanted.items() if pk in found}


def assist_data(session: AssistSession) -> dict[str, Any]:
    return {"product": "assist", "session_id": session.session_id, "status": session.status,
            "started_at": iso(session.started_at), "ended_at": iso(session.ended_at),
            "duration_seconds": session.duration_seconds, "expert_name": session.expert_name,
            "portal": session.portal, "partner_object": session.partner_object, "resolution": session.resolution,
            "rating": session.rating, "feedback": session.feedback, "custom_fields": session.custom_fields or {},
            "customer_join_url": session.customer_join_url, "recording_url": session.recording_url,
            "title": f"Support session {session.session_id}"}


def assist_title(session: AssistSession) -> str:
    who = f" with {session.expert_name}" if session.expert_name else ""
    state = "abandoned" if session.status == AssistSession.Status.ABANDONED else "support session"
    return f"GoToAssist {state}{who}"[:300]


def store_assist_sessions(integration, records: Iterable[AssistRecord], *, now: datetime,
                          reports: dict[str, AssistReport] | None = None) -> Counts:
    """Upsert support sessions; an ended session with a known customer goes on their timeline."""
    by_id = {r.session_id: r for r in records}
    reports = reports or {}
    counts = Counts(fetched=len(by_id))
    ids, bad = _contacts(integration, [(r.customer_email, *_split(r.customer_name)) for r in by_id.values()
                                       if r.customer_email])
    counts.failed += bad
    linked = referenced_contacts(r.partner_object for r in by_id.values())
    existing = {s.session_id: s for s in AssistSession.objects.filter(integration=integration,
                                                                      session_id__in=list(by_id))}
    rows: list[AssistSession] = []
    outcomes: list[str] = []  # sessions whose outcome (status, rating, resolution) is new: rules look at them
    for session_id, record in by_id.items():
        current = existing.get(session_id)
        report = reports.get(session_id)
        duration = report.duration_seconds if report and report.duration_seconds is not None else None
        if duration is None and record.started_at and record.ended_at:
            duration = max(0, int((record.ended_at - record.started_at).total_seconds()))
        values = {
            # The contact the session was started for wins over the e-mail the customer typed.
            "contact_id": (linked.get(record.partner_object) or ids.get(normalize_email(record.customer_email))
                           or (current.contact_id if current else None)),
            "status": record.status[:20],
            "customer_name": record.customer_name[:200], "customer_email": record.customer_email[:254],
            "expert_name": record.expert_name[:200], "expert_email": record.expert_email[:254],
            "expert_key": record.expert_key, "partner_object": record.partner_object[:200],
            "partner_object_url": record.partner_object_url,
            "customer_join_url": record.customer_join_url or (current.customer_join_url if current else ""),
            "launch_url": record.launch_url or (current.launch_url if current else ""),
            "recording_url": record.recording_url,
            "started_at": record.started_at, "customer_joined_at": record.customer_joined_at,
            "ended_at": record.ended_at, "duration_seconds": duration,
            "notes": record.notes or (current.notes if current else ""),
            "resolution": (report.resolution if report else "") or (current.resolution if current else ""),
            "rating": (report.rating if report else None) or (current.rating if current else None),
            "feedback": (report.feedback if report else "") or (current.feedback if current else ""),
            "portal": (report.portal if report else "") or (current.portal if current else ""),
            "custom_fields": (report.custom_fields if report else {}) or (current.custom_fields if current else {}),
        }
        if current is None:
            counts.created += 1
        elif all(getattr(current, f) == v for f, v in values.items()):
            counts.unchanged += 1
            continue
        else:
            counts.updated += 1
        if current is None or any(getattr(current, f) != values[f] for f in ("status", "rating", "resolution")):
            outcomes.append(session_id)
        rows.append(AssistSession(integration=integration, session_id=session_id, first_seen_at=now, updated_at=now,
                                  **values))
    if rows:
        AssistSession.objects.bulk_create(rows, update_conflicts=True, unique_fields=["integration", "session_id"],
                                          update_fields=[*ASSIST_FIELDS, "updated_at"], batch_size=500)
    entries = [ActivityInput(
        contact_id=s.contact_id, kind="goto.assist.session", occurred_at=s.started_at or s.ended_at or now,
        title=assist_title(s), dedup_key=f"goto:{integration.pk}:assist:{s.session_id}", data=assist_data(s),
        source=source_of(integration)) for s in rows if s.contact_id and s.status in FINAL_STATUSES]
    refresh_activities(entries)
    if outcomes:
        rules.sessions_imported(integration, outcomes, now)
    points.announce_assist_sessions(integration, [s.session_id for s in rows], now)
    points.announce_assist_outcomes(integration, {
        sid: (existing[sid].status, existing[sid].rating) if sid in existing else ("", None) for sid in outcomes}, now)
    return counts


def _split(name: str) -> tuple[str, str]:
    from liaison.integrations.goto.client import split_name

    return split_name(name)
