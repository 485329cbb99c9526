"""The GoTo sync: incremental, per product and account, resumable, at the fewest calls.

Per product (each switched on separately, each with its own 10 calls/s budget):

* **GoToWebinar.** One listing of the window (``page``/``size`` 200; after the first run
  only from the last listing minus a day, plus every event still open), one listing of
  completed sessions since the last run, then per event: its registrants (paged, one
  transaction and one cursor per page, so a crash resumes at the next page) when the
  event is new, changed state, ended since the last read, is live or starts within 24 h,
  or its last read is older than the refresh interval; and each newly ended session's
  attendees (one call; none when GoTo reports nobody attended). An event that is over,
  whose registrants were read after its end and whose sessions are all read is
  *complete* and is not fetched again unless ``--full``.
* **GoToTraining.** The scheduled-training list (one call), then per training the
  registrant list (one call, GoTo's cache may lag two hours: a registration is only
  called cancelled after that), the session report once a slot has ended, and each
  new session's attendees.
* **GoToMeeting.** Upcoming meetings, held sessions and attendees since the last run:
  three calls whatever the size.
* **GoToAssist.** Support sessions created since the last run (plus those still open),
  enriched with the session reports where the account has that capability.

Registrations GoTo stops listing become ``cancelled`` (never deleted); a failure on one
event is recorded on the run and the others go on; cursors are capped at the run's
start, so what changes during a run is read by the next one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone

from liaison.core.errors import LiaisonError
from liaison.core.http import ProviderError
from liaison.integrations.goto import facts
from liaison.integrations.goto.assist import OPEN_STATUSES, AssistApi
from liaison.integrations.goto.client import EventRecord, RegistrantRecord, SessionRecord, parse_instant
from liaison.integrations.goto.meeting import MeetingApi
from liaison.integrations.goto.models import AssistSession, Event, Session, TriggerEvent, WebhookEvent
from liaison.integrations.goto.prefetch import Prefetcher
from liaison.integrations.goto.spec import PRODUCT_LABELS, PRODUCTS, goto_auth, validate_options
from liaison.integrations.goto.training import TrainingApi, attended
from liaison.integrations.goto.webinar import WebinarApi, is_gone

logger = logging.getLogger(__name__)

LIST_OVERLAP = timedelta(days=1)  # longer than any session: re-listing overlaps by this much
SOON = timedelta(hours=24)  # events live or starting within this are re-read on every run
COMPLETE_GRACE = timedelta(hours=2)  # GoTo's reports may appear a while after a session ends
CANCEL_GRACE = {"webinar": timedelta(minutes=10), "training": timedelta(hours=2)}  # registrant-cache lag
ASSIST_OPEN_LIMIT = timedelta(days=30)  # GoTo keeps support sessions at least 30 days
WEBHOOK_EVENT_RETENTION = timedelta(days=90)
TRIGGER_EVENT_RETENTION = timedelta(days=90)
# A 404 on these says the event itself is gone (GoTo answers 404 for cancelled webinars and
# deleted trainings); a 404 on anything else (one session's report) is an error to report.
EVENT_PATHS = frozenset({
    "/organizers/{organizerKey}/webinars/{webinarKey}",
    "/organizers/{organizerKey}/webinars/{webinarKey}/registrants",
    "/organizers/{organizerKey}/trainings/{trainingKey}",
    "/organizers/{organizerKey}/trainings/{trainingKey}/registrants",
})


def is_systemic(exc: BaseException) -> bool:
    """Failures that concern the whole account (not one event): stop the run at once."""
    if isinstance(exc, ProviderError):
        # Token endpoint refusals (RFC 6749 codes) and gateway refusals of the token itself.
        return exc.code in ("InvalidToken", "TokenExpired", "NotConnected", "invalid_grant", "invalid_client",
                            "unauthorized_client") or (exc.status in (401, 403) and exc.code in ("", "InvalidToken"))
    return False


def run(ctx) -> None:
    """``IntegrationSpec.sync``: every switched-on product (or the one asked for)."""
    options = validate_options(ctx.options)
    integration = ctx.integration
    if not (integration.account or {}).get("organizer_key"):
        raise LiaisonError("This GoTo account is not connected yet: open it and click “Connect GoTo” (the organizer "
                           "key is discovered when you connect).")
    if options["product"]:
        products = [options["product"]]
    else:
        products = [p for p in PRODUCTS if integration.feature_enabled(p)]
    if not products:
        ctx.log("Every GoTo product is switched off for this account: nothing to synchronise.")
        return
    facts.refresh_statuses(integration, ctx.started_at)
    auth = goto_auth(integration)
    failures: list[BaseException] = []
    done = 0
    for product in products:
        syncer = SYNCERS[product](ctx, auth, options)
        try:
            syncer.run()
        except (ProviderError, LiaisonError) as exc:
            if is_systemic(exc):
                raise
            if not getattr(exc, "goto_recorded", False):
                ctx.error(f"{PRODUCT_LABELS[product]}: {exc}", product=product)
            failures.append(exc)
        else:
            done += 1
        finally:
            syncer.close()
    WebhookEvent.objects.filter(integration=integration,
                                received_at__lt=timezone.now() - WEBHOOK_EVENT_RETENTION).delete()
    # Trigger events older than any poll or delivery could still need (their facts stay).
    TriggerEvent.objects.filter(integration=integration,
                                created_at__lt=timezone.now() - TRIGGER_EVENT_RETENTION).delete()
    if failures and not done:
        raise failures[0]


class ProductSync:
    product = ""
    label = ""
    api_class: Any = None

    def __init__(self, ctx, auth, options: dict[str, Any]):
        self.ctx = ctx
        self.integration = ctx.integration
        self.config = self.integration.config()
        self.options = options
        self.full = options["full"]
        self.now: datetime = ctx.started_at
        self.api = self.api_class(self.integration, auth=auth, audit=ctx.audit)
        self.window_start = self.now - timedelta(days=self.config.past_window_days)
        self.window_end = self.now + timedelta(days=self.config.future_window_days)
        self.failures: list[ProviderError] = []
        self.successes = 0

    def close(self) -> None:
        self.api.close()

    def count(self, counts: facts.Counts) -> None:
        self.ctx.count(**counts.as_dict())

    def events(self):
        return Event.objects.filter(integration=self.integration, product=self.product)

    def cursor_time(self, stream: str, name: str) -> datetime | None:
        state = self.ctx.cursor(stream, default={}) or {}
        return parse_instant(state[name]) if state.get(name) else None

    # -- per-event isolation ----------------------------------------------------------
    def each_event(self, events: list[Event], work) -> None:
        total = len(events)
        for index, event in enumerate(events):
            self.ctx.check_cancelled()
            self.ctx.progress(index, total, f"{self.label}: {event.title}"[:300])
            try:
                work(event)
                self.successes += 1
            except ProviderError as exc:
                self.event_failed(event, exc)
        self.finish_events(total)

    def event_failed(self, event: Event, exc: ProviderError) -> None:
        """One event's failure: gone (cancelled), systemic (stop), or recorded while the others go on."""
        if is_systemic(exc):
            raise exc
        if is_gone(exc) and exc.path in EVENT_PATHS:
            facts.cancel_events([event], self.now)
            self.ctx.log(f"{self.label} “{event.title}” ({event.provider_key}) no longer exists: marked cancelled.")
            self.successes += 1
            return
        exc.goto_recorded = True
        self.ctx.error(f"{self.label} “{event.title}”: {exc.user_message}", event=event.provider_key)
        self.failures.append(exc)

    def finish_events(self, total: int) -> None:
        self.ctx.progress(total, total, f"{self.label}: {total} event(s) done")
        if self.failures and not self.successes:
            raise self.failures[0]

    # -- what needs reading ------------------------------------------------------------------
    def due_for_registrants(self, event: Event, cursor: dict | None) -> bool:
        if self.full or (cursor and "page" in cursor):
            return True
        synced = event.registrants_synced_at
        if synced is None:
            return True
        if event.ends_at and event.ends_at <= self.now:
            return synced < event.ends_at  # one final read after the end
        if self.soon(event):
            return True
        # Spread re-reads of later events (0-24 % earlier, by key) so they do not all fall due together.
        interval = timedelta(minutes=self.config.upcoming_refresh_minutes)
        jitter = (int(event.provider_key[-4:]) % 25) / 100 if event.provider_key[-4:].isdigit() else 0
        return self.now - synced >= interval * (1 - jitter)

    def soon(self, event: Event) -> bool:
        for slot in event.times or []:
            start, end = parse_instant(slot["start"]), parse_instant(slot["end"])
            if start - SOON <= self.now < end:
                return True
        return False

    def open_events_missing(self, listed: set[str], start: datetime, end: datetime) -> list[Event]:
        """Known, not-yet-finished events in a listed window that the listing left out."""
        candidates = self.events().filter(status__in=[Event.Status.UPCOMING, Event.Status.LIVE],
                                          starts_at__gte=start, starts_at__lte=end)
        return [e for e in candidates if e.provider_key not in listed]

    def recheck(self, listed: set[str], start: datetime, end: datetime, fetch, skip_over: bool = False) -> None:
        """Known open events a listing left out: cancelled on GoTo (404), or moved (read again)."""
        for event in self.open_events_missing(listed, start, end):
            if skip_over and event.ends_at and event.ends_at <= self.now:
                continue  # the list leaves finished events out: nothing to check
            try:
                record = fetch(event)
            except ProviderError as exc:
                if not is_gone(exc):
                    raise
                facts.cancel_events([event], self.now)
                self.ctx.log(f"{self.label} “{event.title}” was cancelled or deleted on GoTo.")
                continue
            _, counts = facts.upsert_events(self.integration, self.product, [record], self.now)
            self.count(counts)

    def mark_complete(self) -> int:
        """Over, registrants read after the end, every session read: not fetched again."""
        pending = Session.objects.filter(event=OuterRef("pk"), attendance_synced_at__isnull=True)
        return (self.events().filter(attendance_complete=False, status=Event.Status.PAST,
                                     ends_at__lte=self.now - COMPLETE_GRACE)
                .filter(Q(registrants_synced_at__gte=F("ends_at")) | Q(product__in=["meeting", "training"]))
                .exclude(Exists(pending)).update(attendance_complete=True))

    def in_scope(self):
        """Events the sync still cares about (complete ones only with --full)."""
        qs = self.events().exclude(status=Event.Status.CANCELLED).filter(
            Q(ends_at__isnull=True) | Q(ends_at__gte=self.window_start))
        return qs if self.full else qs.filter(attendance_complete=False)

    def pending_sessions(self) -> dict[int, list[Session]]:
        qs = Session.objects.filter(event__integration=self.integration, event__product=self.product)
        if not self.full:
            qs = qs.filter(attendance_synced_at__isnull=True)
        else:
            qs = qs.filter(Q(ends_at__isnull=True) | Q(ends_at__gte=self.window_start))
        grouped: dict[int, list[Session]] = defaultdict(list)
        for session in qs.filter(ends_at__lte=self.now).order_by("starts_at"):
            grouped[session.event_id].append(session)
        return grouped

    def store_attendees(self, event: Event, session: Session, records) -> None:
        """One session's attendees, stored with the mark that they were read (one transaction)."""
        with transaction.atomic():
            counts = facts.store_attendances(self.integration, event, session, records, now=self.now)
            Session.objects.filter(pk=session.pk).update(attendance_synced_at=self.now)
        self.count(counts)

    def fetch_one(self, key: str, fetch, noun: str) -> Event:
        """``--id``: the one event, read by its key; a 404 marks a known one cancelled, and says so."""
        try:
            record = fetch(key)
        except ProviderError as exc:
            if is_gone(exc):
                facts.cancel_events(self.events().filter(provider_key=key), self.now)
                raise LiaisonError(f"{self.label} has no {noun} {key} for this organizer (it may have been "
                                   f"cancelled or deleted).") from None
            raise
        events, counts = facts.upsert_events(self.integration, self.product, [record], self.now)
        self.count(counts)
        return events[record.key]

    def finish_registrant_read(self, event: Event, marker: datetime, seen: int, total: int) -> int:
        """After the last page: registrations GoTo no longer lists become cancelled.

        Only when the number of registrants read matches GoTo's total: a list that moved
        while being read (someone removed meanwhile) is left for the next read to judge.
        """
        cancelled = 0
        if seen == total:
            cancelled = facts.cancel_missing_registrations(self.integration, event, marker=marker, now=self.now,
                                                           grace=CANCEL_GRACE.get(self.product, timedelta(0)))
        Event.objects.filter(pk=event.pk).update(registrants_synced_at=marker)
        event.registrants_synced_at = marker
        return cancelled


# -- GoToWebinar ----------------------------------------------------------------------------------

class WebinarSync(ProductSync):
    product = "webinar"
    label = "GoToWebinar"
    api_class = WebinarApi
    REGISTRANTS = "webinar.registrants"

    def run(self) -> None:
        if self.options["id"]:
            self.run_one(self.options["id"])
            return
        self.list_events()
        self.list_sessions()
        cursors = self.ctx.cursors(self.REGISTRANTS)
        sessions = self.pending_sessions()
        work = [e for e in self.in_scope().order_by("starts_at", "id")
                if self.due_for_registrants(e, cursors.get(e.provider_key)) or sessions.get(e.pk)]
        self.process(work, cursors, sessions)
        self.mark_complete()

    def list_events(self) -> None:
        start = self.window_start
        listed_at = None if self.full else self.cursor_time("webinar.list", "listed_at")
        if listed_at:
            open_start = self.events().filter(status__in=[Event.Status.UPCOMING, Event.Status.LIVE]).aggregate(
                first=Min("starts_at"))["first"]
            since = listed_at - LIST_OVERLAP
            start = max(self.window_start, min(since, open_start or since))
        listed: set[str] = set()
        page = 0
        while True:
            self.ctx.progress(0, None, f"{self.label}: listing webinars (page {page + 1})")
            result = self.api.webinars(start, self.window_end, page, self.config.page_size)
            with transaction.atomic():
                _, counts = facts.upsert_events(self.integration, self.product, result.items, self.now)
            self.count(counts)
            listed.update(r.key for r in result.items)
            if result.last or not result.items:
                break
            page += 1
        self.recheck(listed, start, self.window_end,
                     lambda event: self.api.webinar(event.provider_key, organizer_key=event.organizer_key or None))
        self.ctx.save_cursor("webinar.list", {"listed_at": facts.iso(self.now)})

    def list_sessions(self) -> None:
        since = None if self.full else self.cursor_time("webinar.sessions", "to")
        start = max(self.window_start, since - LIST_OVERLAP) if since else self.window_start
        page = 0
        while True:
            self.ctx.progress(0, None, f"{self.label}: listing completed sessions (page {page + 1})")
            result = self.api.sessions(start, self.now, page, self.config.page_size)
            keys = {r.event_key for r in result.items}
            events = {e.provider_key: e for e in self.events().filter(provider_key__in=keys)}
            for key in keys - set(events):  # a session of a webinar outside the listed window
                try:
                    record = self.api.webinar(key)
                except ProviderError as exc:
                    if not is_gone(exc):
                        raise
                    continue
                found, counts = facts.upsert_events(self.integration, self.product, [record], self.now)
                self.count(counts)
                events.update(found)
            with transaction.atomic():
                facts.upsert_sessions(events, result.items)
            if result.last or not result.items:
                break
            page += 1
        self.ctx.save_cursor("webinar.sessions", {"to": facts.iso(self.now)})

    def resume(self, cursor: dict | None) -> tuple[int, datetime, int]:
        """Where a registrant read starts: (page, the read's marker, registrants seen so far)."""
        state = cursor if (cursor and "page" in cursor and not self.full) else {}
        marker = parse_instant(state["marker"]) if state.get("marker") else self.now
        return int(state.get("page", 0)), marker, int(state.get("seen", 0))

    def fetches(self, work: list[Event], cursors: dict, sessions: dict[int, list[Session]]):
        """What the chosen events need from GoTo, in order (HTTP only: runs in the prefetch thread)."""
        for event in work:
            try:
                cursor = cursors.get(event.provider_key)
                if self.due_for_registrants(event, cursor):
                    page = self.resume(cursor)[0]
                    while True:
                        result = self.api.registrants(event.provider_key, page, self.config.page_size,
                                                      organizer_key=event.organizer_key or None)
                        yield "registrants", event, page, result
                        if result.last:
                            break
                        page += 1
                for session in sessions.get(event.pk, []):
                    records = []
                    if session.attendee_count != 0:  # GoTo reports nobody attended: nothing to ask
                        records = self.api.session_attendees(event.provider_key, session.provider_key,
                                                             organizer_key=event.organizer_key or None)
                    yield "attendees", event, session, records
                yield "done", event, None, None
            except ProviderError as exc:
                yield "failed", event, None, exc
                if is_systemic(exc):
                    return

    def process(self, work: list[Event], cursors: dict, sessions: dict[int, list[Session]]) -> None:
        """Store what the prefetch thread fetches, one transaction (and cursor) per answer."""
        total, finished = len(work), 0
        reads: dict[int, tuple[datetime, int]] = {}
        self.ctx.progress(0, total, f"{self.label}: {total} event(s) to read")
        for kind, event, detail, payload in Prefetcher(self.fetches(work, cursors, sessions)):
            self.ctx.check_cancelled()
            if kind == "registrants":
                marker, seen = reads.get(event.pk) or self.resume(cursors.get(event.provider_key))[1:]
                reads[event.pk] = (marker, self.store_registrant_page(event, detail, payload, marker, seen))
            elif kind == "attendees":
                self.store_attendees(event, detail, payload)
            else:
                if kind == "done":
                    self.successes += 1
                else:
                    self.event_failed(event, payload)
                finished += 1
                self.ctx.progress(finished, total, f"{self.label}: {event.title}"[:300])
        self.finish_events(total)

    def store_registrant_page(self, event: Event, page: int, result, marker: datetime, seen: int) -> int:
        seen += len(result.items)
        with transaction.atomic():
            counts = facts.store_registrants(self.integration, event, result.items, now=self.now, marker=marker)
            if result.last:
                self.finish_registrant_read(event, marker, seen, result.total)
                self.ctx.save_cursor(self.REGISTRANTS, {"done": facts.iso(marker)}, event.provider_key)
            else:
                self.ctx.save_cursor(self.REGISTRANTS, {"page": page + 1, "marker": facts.iso(marker), "seen": seen},
                                     event.provider_key)
        self.count(counts)
        return seen

    def run_one(self, key: str) -> None:
        """``--id``: one webinar, everything about it re-read."""
        event = self.fetch_one(key, self.api.webinar, "webinar")
        events = {key: event}
        page = 0
        while True:
            result = self.api.webinar_sessions(key, page, self.config.page_size)
            facts.upsert_sessions(events, result.items)
            if result.last or not result.items:
                break
            page += 1
        self.full = True
        self.process([event], {}, {event.pk: list(event.sessions.filter(ends_at__lte=self.now))})
        self.mark_complete()


# -- GoToTraining ---------------------------------------------------------------------------------------

REPORT_PREFIX = "s"  # key of a training known only from GoTo's session report: "s" + its sessionKey


class TrainingSync(ProductSync):
    """Trainings: GoTo lists scheduled ones only, and its session report names trainings without
    their key. A completed session is attached to the known training with that name and slot; a
    training that ended before Liaison ever listed it becomes one event per session, keyed by
    the sessionKey, whose registrants come from the session's report (it lists non-attendees too).
    """

    product = "training"
    label = "GoToTraining"
    api_class = TrainingApi

    def run(self) -> None:
        if self.options["id"]:
            self.run_one(self.options["id"])
            return
        self.ctx.progress(0, None, f"{self.label}: listing trainings")
        records = self.api.trainings()
        with transaction.atomic():
            _, counts = facts.upsert_events(self.integration, self.product, records, self.now)
        self.count(counts)
        listed = {r.key for r in records}
        # Completed trainings drop out of GoTo's list; a missing one not yet over was deleted.
        self.recheck(listed, self.window_start, self.window_end,
                     lambda event: self.api.training(event.provider_key), skip_over=True)
        self.read_session_report()
        facts.refresh_statuses(self.integration, self.now)
        sessions = self.pending_sessions()
        work = [e for e in self.in_scope().order_by("starts_at", "id")
                if self.due_for_registrants(e, None) or sessions.get(e.pk)]
        self.each_event(work, lambda event: self.sync_event(event, sessions.get(event.pk, [])))
        self.mark_complete()

    def due_for_registrants(self, event: Event, cursor: dict | None) -> bool:
        # Once a training is over, its session reports (which list every registrant) complete it.
        if event.provider_key.startswith(REPORT_PREFIX) or (event.ends_at and event.ends_at <= self.now):
            return False
        return super().due_for_registrants(event, cursor)

    def read_session_report(self) -> None:
        since = None if self.full else self.cursor_time("training.sessions", "to")
        start = max(self.window_start, since - LIST_OVERLAP) if since else self.window_start
        self.ctx.progress(0, None, f"{self.label}: completed sessions")
        rows = self.api.sessions_report(start, self.now)
        known = set(Session.objects.filter(event__integration=self.integration, event__product=self.product,
                                           provider_key__in=[s.key for s, _ in rows])
                    .values_list("provider_key", flat=True))
        fresh = [(s, name) for s, name in rows if s.key not in known or self.full]
        if fresh:
            trainings = list(self.events().filter(starts_at__lte=self.now).exclude(
                provider_key__startswith=REPORT_PREFIX).exclude(status=Event.Status.CANCELLED))
            orphans = []
            for session, name in fresh:
                event = self.match(trainings, session, name)
                if event is None:
                    session.event_key = f"{REPORT_PREFIX}{session.key}"
                    orphans.append(EventRecord(key=session.event_key, title=name or "Training",
                                               times=[(session.starts_at, session.ends_at)],
                                               recurrence="report_only"))
                else:
                    session.event_key = event.provider_key
            with transaction.atomic():
                events, counts = facts.upsert_events(self.integration, self.product, orphans, self.now)
                events.update({e.provider_key: e for e in trainings})
                facts.upsert_sessions(events, [s for s, _ in fresh])
            self.count(counts)
        self.ctx.save_cursor("training.sessions", {"to": facts.iso(self.now)})

    @staticmethod
    def match(trainings: list[Event], session: SessionRecord, name: str) -> Event | None:
        """The known training a report session belongs to: same name, a slot around its start."""
        wanted = " ".join((name or "").split()).lower()
        found = []
        for event in trainings:
            if " ".join(event.title.split()).lower() != wanted or session.starts_at is None:
                continue
            for slot in event.times or []:
                start, end = parse_instant(slot["start"]), parse_instant(slot["end"])
                if start - timedelta(hours=1) <= session.starts_at <= end:
                    found.append(event)
                    break
        return found[0] if len(found) == 1 else None

    def sync_event(self, event: Event, sessions: list[Session]) -> None:
        if self.due_for_registrants(event, None):
            records = self.api.registrants(event.provider_key, organizer_key=event.organizer_key or None)
            with transaction.atomic():
                counts = facts.store_registrants(self.integration, event, records, now=self.now, marker=self.now)
                self.finish_registrant_read(event, self.now, len(records), len(records))
            self.count(counts)
        for session in sessions:
            # The last session's report lists every registrant (non-attendees too): it completes the
            # registrations of a training that is over, and is the only source for a report-only one.
            last = event.provider_key.startswith(REPORT_PREFIX) or bool(
                event.ends_at and session.ends_at and session.ends_at >= event.ends_at)
            rows = []
            if session.attendee_count != 0 or last:
                rows = self.api.session_attendees(session.provider_key, organizer_key=event.organizer_key or None)
            with transaction.atomic():
                if rows and last:
                    self.count(facts.store_registrants(self.integration, event, [
                        RegistrantRecord(email=r.email, first_name=r.first_name, last_name=r.last_name)
                        for r in rows], now=self.now))
                    Event.objects.filter(pk=event.pk).update(registrants_synced_at=self.now)
                self.store_attendees(event, session, [r for r in rows if attended(r)])

    def run_one(self, key: str) -> None:
        event = self.fetch_one(key, self.api.training, "training")
        events = {key: event}
        facts.upsert_sessions(events, self.api.training_sessions(key, organizer_key=event.organizer_key or None))
        self.full = True
        sessions = list(event.sessions.filter(ends_at__lte=self.now))
        self.each_event([event], lambda e: self.sync_event(e, sessions))
        self.mark_complete()


# -- GoToMeeting -----------------------------------------------------------------------------------------

class MeetingSync(ProductSync):
    product = "meeting"
    label = "GoToMeeting"
    api_class = MeetingApi

    def run(self) -> None:
        self.ctx.progress(0, 3, f"{self.label}: upcoming meetings")
        if self.options["id"]:
            self.fetch_one(self.options["id"], self.api.meeting, "meeting")
            self.full = True
        else:
            upcoming = self.api.upcoming()
            with transaction.atomic():
                _, counts = facts.upsert_events(self.integration, self.product, upcoming, self.now)
            self.count(counts)
            # Over: its sessions come from the history below. Not over and not listed: deleted?
            self.recheck({r.key for r in upcoming}, self.window_start, self.window_end,
                         lambda event: self.api.meeting(event.provider_key), skip_over=True)
        since = None if self.full else self.cursor_time("meeting.history", "to")
        start = max(self.window_start, since - LIST_OVERLAP) if since else self.window_start
        self.ctx.progress(1, 3, f"{self.label}: held sessions")
        history = self.api.historical(start, self.now)
        self.ctx.progress(2, 3, f"{self.label}: attendees")
        rows = self.api.attendees(start, self.now)
        if self.options["id"]:
            history = [(m, s) for m, s in history if m.key == self.options["id"]]
            rows = [r for r in rows if r.meeting_id == self.options["id"]]
        with transaction.atomic():
            self.store_history(history, rows)
            facts.refresh_statuses(self.integration, self.now)
            if not self.options["id"]:
                self.ctx.save_cursor("meeting.history", {"to": facts.iso(self.now)})
        self.ctx.progress(3, 3, f"{self.label}: done")
        self.mark_complete()

    def store_history(self, history, rows) -> None:
        from liaison.integrations.goto.client import AttendeeRecord, split_name

        known = {e.provider_key: e for e in self.events().filter(provider_key__in={m.key for m, _ in history})}
        # A meeting known from its schedule keeps its planned times; one seen only in the
        # history takes the times of its sessions.
        slots: dict[str, list] = defaultdict(list)
        for meeting, _ in history:
            slots[meeting.key].extend(meeting.times)
        unknown = {}
        for meeting, _ in history:
            if meeting.key not in known:
                meeting.times = sorted(set(slots[meeting.key]))
                unknown[meeting.key] = meeting
        events, counts = facts.upsert_events(self.integration, self.product, unknown.values(), self.now)
        self.count(counts)
        events.update(known)
        sessions = facts.upsert_sessions(events, [s for _, s in history])
        by_session: dict[str, list[AttendeeRecord]] = defaultdict(list)
        for row in rows:
            first, last = split_name(row.name)
            by_session[row.session_key].append(AttendeeRecord(
                email=row.email, first_name=first, last_name=last, intervals=[(row.joined_at, row.left_at)],
                duration_seconds=row.duration_seconds))
        for key, session in sessions.items():
            if session.attendance_synced_at and not self.full:
                continue
            self.count(facts.store_attendances(self.integration, session.event, session, by_session.get(key, []),
                                               now=self.now))
            Session.objects.filter(pk=session.pk).update(attendance_synced_at=self.now)


# -- GoToAssist -----------------------------------------------------------------------------------------------

class AssistSync(ProductSync):
    product = "assist"
    label = "GoToAssist"
    api_class = AssistApi

    def capabilities(self) -> set[str]:
        """The account's extra capabilities, probed at most once a day (or on --full)."""
        from liaison.integrations.goto import support

        return support.capabilities(self.integration, api=self.api, force=self.full)

    def run(self) -> None:
        self.ctx.progress(0, 2, f"{self.label}: support sessions")
        capabilities = self.capabilities()
        since = None if self.full else self.cursor_time("assist.sessions", "to")
        start = self.window_start
        if since:
            start = since - LIST_OVERLAP
            oldest_open = AssistSession.objects.filter(
                integration=self.integration, status__in=OPEN_STATUSES,
                first_seen_at__gte=self.now - ASSIST_OPEN_LIMIT).aggregate(first=Min("first_seen_at"))["first"]
            if oldest_open:
                start = min(start, oldest_open - LIST_OVERLAP)
            start = max(self.window_start, start)
        records = self.api.sessions(start, self.now)
        reports = {}
        if "sessionReports" in capabilities and any(r.status in ("complete", "abandoned") for r in records):
            self.ctx.progress(1, 2, f"{self.label}: session reports")
            reports = self.api.session_reports(start, self.now)
        with transaction.atomic():
            counts = facts.store_assist_sessions(self.integration, records, now=self.now, reports=reports)
            self.ctx.save_cursor("assist.sessions", {"to": facts.iso(self.now)})
        self.count(counts)
        self.ctx.progress(2, 2, f"{self.label}: {len(records)} session(s)")


SYNCERS: dict[str, type[ProductSync]] = {
    "webinar": WebinarSync, "training": TrainingSync, "meeting": MeetingSync, "assist": AssistSync,
}
