"""The GoTo connector's actions and triggers (what ``/api/connectors/goto/`` answers).

Reads come from Liaison's tables when GoTo was read recently enough (``fresh_seconds``,
120 s by default: the connector's polling interval), else from GoTo through the typed
clients, stored by the one upsert path (``facts``) first: so a connector read also feeds
the timeline and fires triggers for what it discovers. Adding a registrant always goes to
GoTo (``services.register_contact``: a duplicate is a success with the existing join link).

Limits (seeds/001): 100 calls per connection (API token) per 60 s, and one poll per
trigger and connection per 120 s. Both refuse with ``RateLimited`` (429 + ``Retry-After``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from liaison.contacts.models import Contact, normalize_email
from liaison.core.errors import LiaisonError, NotFound, RateLimited, ValidationFailed
from liaison.core.http import Budget, ProviderError
from liaison.integrations.goto import facts, services, triggers
from liaison.integrations.goto.models import Event, Registration, TriggerPoll
from liaison.integrations.goto.shapes import has_organizer_details
from liaison.integrations.goto.spec import PRODUCT_LABELS
from liaison.integrations.goto.training import TrainingApi
from liaison.integrations.goto.webinar import WebinarApi, is_gone
from liaison.integrations.models import Integration, SyncState

PRODUCTS = ("training", "webinar")
# The sync's own "listed at" cursors, and the connector's (a list read through the connector).
SYNC_LIST_CURSORS = {"webinar": ("webinar.list", "listed_at"), "training": ("training.sessions", "to")}
CONNECTOR_STREAM = "connector.list"
CANCEL_GRACE = {"webinar": timedelta(minutes=10), "training": timedelta(hours=2)}  # as the sync (registrant cache)


def fresh_seconds() -> float:
    return float(getattr(settings, "GOTO_CONNECTOR_FRESH_SECONDS", 120))


def call_limit() -> tuple[int, float]:
    """(calls, seconds) per connection: the connector document's 100 per 60 s."""
    calls, seconds = getattr(settings, "GOTO_CONNECTOR_CALLS", (100, 60))
    return int(calls), float(seconds)


def poll_seconds() -> float:
    return float(getattr(settings, "GOTO_CONNECTOR_POLL_SECONDS", 120))


# -- limits ----------------------------------------------------------------------------------------

def spend_call(token) -> None:
    """Count one call of this connection; refuse it (429) past 100 calls in 60 s."""
    calls, seconds = call_limit()
    wait = Budget(key=f"goto-connector:token:{token.pk}", limits=((calls, seconds),)).try_spend()
    if wait is not None:
        raise RateLimited(f"This connection made {calls} calls in the last {seconds:.0f} seconds, the connector's "
                          f"limit; try again in {math.ceil(wait)} s.", retry_after=wait)


def claim_poll(token, key: str, now: datetime | None = None) -> None:
    """Record a trigger poll; refuse it (429) within 120 s of this connection's previous one."""
    now = now or timezone.now()
    interval = poll_seconds()
    earliest = now - timedelta(seconds=interval)
    if TriggerPoll.objects.filter(token=token, key=key, polled_at__lte=earliest).update(polled_at=now):
        return
    try:
        with transaction.atomic():
            TriggerPoll.objects.create(token=token, key=key, polled_at=now)
        return
    except IntegrityError:
        pass  # polled before, too recently (or a twin poll won the race)
    last = TriggerPoll.objects.filter(token=token, key=key).values_list("polled_at", flat=True).first() or now
    wait = max(1.0, interval - (now - last).total_seconds())
    raise RateLimited(f"This trigger is polled at most once every {interval:.0f} seconds per connection; poll again "
                      f"in {math.ceil(wait)} s.", retry_after=wait)


@contextmanager
def provider_words() -> Iterator[None]:
    """GoTo's refusals as the caller's errors, in GoTo's words: 404 stays 404, a refused
    request (400, 409, 422) is a 400; other failures stay ``ProviderError`` (502)."""
    try:
        yield
    except ProviderError as exc:
        if exc.status in (404, 410):
            raise NotFound(exc.user_message) from None
        if exc.status in (400, 409, 422):
            raise LiaisonError(exc.user_message) from None
        raise


# -- accounts and events -------------------------------------------------------------------------------

def account(account_id: int, product: str | None = None) -> Integration:
    integration = Integration.objects.filter(pk=account_id, spec_key="goto").first()
    if integration is None:
        raise NotFound(f"There is no GoTo account {account_id} in Liaison (GET /api/connectors/goto/accounts lists "
                       f"them).")
    if not integration.published:
        raise LiaisonError(f"“{integration.name}” is unpublished: publish it to use the connector.")
    if not (integration.account or {}).get("organizer_key"):
        raise LiaisonError(f"“{integration.name}” is not connected to GoTo yet: open it in Liaison and click "
                           f"“Connect GoTo”.")
    if product is not None and not integration.feature_enabled(product):
        raise LiaisonError(f"{PRODUCT_LABELS[product]} is switched off for “{integration.name}”.")
    return integration


def accounts() -> list[Integration]:
    return [i for i in Integration.objects.filter(spec_key="goto", published=True)
            if (i.account or {}).get("organizer_key")]


KEY_FIELDS = {"training": ("trainingKey", "trainingKey (or trainingId)"), "webinar": ("webinarKey", "webinarKey"),
              "registrant": ("registrantKey", "registrantKey")}


def clean_key(key: str, kind: str) -> str:
    key = (key or "").strip()
    if not key.isdigit() or len(key) > 40:
        field, label = KEY_FIELDS[kind]
        raise ValidationFailed({field: [f"“{key}” is not a GoTo key: give the {label}, digits only."]})
    return key


def api_for(integration: Integration, product: str):
    return (TrainingApi if product == "training" else WebinarApi)(integration)


def listed_at(integration: Integration, product: str) -> datetime | None:
    """When GoTo's list of this product was last read (by the sync or the connector).

    Cursors are stored as the sync framework stores them: ``{"value": {...}}``."""
    stream, field = SYNC_LIST_CURSORS[product]
    moments = []
    for state in SyncState.objects.filter(integration=integration, stream__in=[stream, CONNECTOR_STREAM],
                                          partition__in=["", product]):
        value = (state.cursor or {}).get("value") or {}
        if state.stream == CONNECTOR_STREAM:
            moment = value.get("at") if state.partition == product else None
        else:
            moment = value.get(field) if state.partition == "" else None
        if moment:
            moments.append(datetime.fromisoformat(moment))
    return max(moments, default=None)


def is_fresh(moment: datetime | None, max_age: float | None = None) -> bool:
    age = fresh_seconds() if max_age is None else max_age
    return moment is not None and moment >= timezone.now() - timedelta(seconds=age)


def _mark_listed(integration: Integration, product: str, moment: datetime) -> None:
    SyncState.objects.update_or_create(integration=integration, stream=CONNECTOR_STREAM, partition=product,
                                       defaults={"cursor": {"value": {"at": moment.isoformat()}}, "updated_at": moment})


def _local(integration: Integration, product: str, key: str) -> Event | None:
    qs = Event.objects.filter(integration=integration, product=product)
    return qs.filter(provider_key=key).first() or (qs.filter(provider_id=key).first() if product == "training"
                                                   else None)


def get_event(integration: Integration, product: str, key: str) -> Event:
    """One training or webinar: Liaison's copy when GoTo was listed recently, else GoTo's."""
    key = clean_key(key, product)
    event = _local(integration, product, key)
    if (event is not None and event.status != Event.Status.CANCELLED and is_fresh(listed_at(integration, product))
            and (product != "training" or facts_complete(event))):
        return event
    now = timezone.now()
    with api_for(integration, product) as api, provider_words():
        try:
            record = api.training(event.provider_key if event else key) if product == "training" else \
                api.webinar(event.provider_key if event else key)
        except ProviderError as exc:
            if event is not None and is_gone(exc):
                with transaction.atomic():
                    facts.cancel_events([event], now)
            raise
    with transaction.atomic():
        events, _ = facts.upsert_events(integration, product, [record], now)
    return events[record.key]


def facts_complete(event: Event) -> bool:
    """A training stored before organizer details were kept is read again once."""
    return has_organizer_details(event) or not event.organizer_key


def refresh_list(integration: Integration, product: str, window: tuple[datetime, datetime] | None = None,
                 max_age: float | None = None) -> None:
    """Read GoTo's list: trainings (the scheduled ones), or webinars in a window (default: now
    to the account's future window). The default list is read only when not fresh."""
    if window is None and is_fresh(listed_at(integration, product), max_age):
        return
    now = timezone.now()
    with api_for(integration, product) as api, provider_words():
        if product == "training":
            records = api.trainings()
        else:
            start, end = window or (now, now + timedelta(days=integration.config().future_window_days))
            records, page = [], 0
            while True:
                result = api.webinars(start, end, page)
                records.extend(result.items)
                if result.last or not result.items:
                    break
                page += 1
    with transaction.atomic():
        facts.upsert_events(integration, product, records, now)
        if window is None:
            _mark_listed(integration, product, now)


def list_webinars(integration: Integration, start: datetime | None, end: datetime | None, *, limit: int,
                  offset: int) -> list[Event]:
    """Webinars whose first session starts in ``[start, end]`` (default: from now to the future window)."""
    now = timezone.now()
    default_end = now + timedelta(days=integration.config().future_window_days)
    start, end = start or now, end or default_end
    if end < start:
        raise ValidationFailed({"toTime": ["toTime must not be before fromTime."]})
    if start >= now - timedelta(minutes=1) and end <= default_end:
        refresh_list(integration, "webinar")  # the upcoming list, read when not fresh
    else:
        refresh_list(integration, "webinar", (start, end))
    qs = (Event.objects.filter(integration=integration, product="webinar", starts_at__gte=start, starts_at__lte=end)
          .exclude(status=Event.Status.CANCELLED).order_by("starts_at", "id"))
    return list(qs[offset:offset + limit])


# -- registrants -------------------------------------------------------------------------------------------

def refresh_registrants(event: Event, max_age: float | None = None) -> None:
    """Read every registrant of the event from GoTo when the last read is not fresh."""
    if is_fresh(event.registrants_synced_at, max_age):
        return
    integration = event.integration
    now = timezone.now()
    organizer = event.organizer_key or None
    with api_for(integration, event.product) as api, provider_words():
        if event.product == "training":
            records = api.registrants(event.provider_key, organizer_key=organizer)
            total = len(records)
        else:
            records, page, total = [], 0, 0
            while True:
                result = api.registrants(event.provider_key, page, organizer_key=organizer)
                records.extend(result.items)
                total = result.total
                if result.last or not result.items:
                    break
                page += 1
    with transaction.atomic():
        facts.store_registrants(integration, event, records, now=now, marker=now)
        if len(records) == total:  # a list that moved while read is judged by the next read
            facts.cancel_missing_registrations(integration, event, marker=now, now=now,
                                               grace=CANCEL_GRACE[event.product])
        Event.objects.filter(pk=event.pk).update(registrants_synced_at=now)
    event.registrants_synced_at = now


def registrations(event: Event):
    refresh_registrants(event)
    return (Registration.objects.filter(event=event).exclude(status=Registration.Status.CANCELLED)
            .order_by("registered_at", "id"))


def get_registration(event: Event, registrant_key: str) -> Registration:
    registrant_key = clean_key(registrant_key, "registrant")
    known = Registration.objects.filter(event=event, registrant_key=registrant_key).first()
    if known is not None and is_fresh(event.registrants_synced_at):
        if known.status == Registration.Status.CANCELLED:
            raise NotFound(f"Registrant {registrant_key} is no longer registered for “{event.title}” (cancelled "
                           f"on {known.cancelled_at:%Y-%m-%d}).")
        return known
    now = timezone.now()
    with api_for(event.integration, event.product) as api, provider_words():
        record = api.registrant(event.provider_key, registrant_key, organizer_key=event.organizer_key or None)
    with transaction.atomic():
        facts.store_registrants(event.integration, event, [record], now=now, source=Registration.Source.API)
    found = Registration.objects.get(event=event, email_key=normalize_email(record.email))
    if found.status == Registration.Status.CANCELLED:
        raise NotFound(f"Registrant {registrant_key} is no longer registered for “{event.title}”.")
    return found


RENAMED = {"training": {"first_name": "givenName", "last_name": "surname"},
           "webinar": {"first_name": "firstName", "last_name": "lastName"}}


def add_registrant(event: Event, *, email: str, first_name: str = "", last_name: str = ""
                   ) -> services.RegistrationOutcome:
    """Register someone on GoTo (a duplicate comes back as a success with the existing link).

    The contact is matched by e-mail; a new one is created with the registration (names
    from GoTo only fill empty fields).
    """
    names = RENAMED[event.product]
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed({"email": [f"{PRODUCT_LABELS[event.product]} needs the registrant's e-mail address"
                                          + (f" (“{email}” is not one)." if email else ".")]}) from None
    contact = Contact.objects.filter(email_key=normalize_email(email)).first() or Contact(email=email)
    try:
        with provider_words():
            return services.register_contact(event, contact, source=Registration.Source.API,
                                             first_name=first_name.strip() or None,
                                             last_name=last_name.strip() or None)
    except ValidationFailed as exc:  # the connector's field names
        raise ValidationFailed({names.get(k, k): v for k, v in exc.errors.items()}) from None


# -- triggers -------------------------------------------------------------------------------------------------

def poll(integration: Integration, topic: str, cursor: str | None, event: Event | None = None):
    """New trigger events after ``cursor`` (GoTo read first when stale): ``(items, next cursor)``.

    Without a cursor the trigger starts now: nothing is returned, the cursor is the latest
    event (a new flow does not receive the past).
    """
    product = "training" if ".training." in topic else "webinar"
    # Polls come every 120 s: what was read more than half of that ago is read again, so each
    # poll sees GoTo as it is (several connections polling one account share the reads).
    max_age = min(fresh_seconds(), poll_seconds() / 2)
    if event is None:
        refresh_list(integration, product, max_age=max_age)
    else:
        refresh_registrants(event, max_age=max_age)
    if cursor in (None, ""):
        return [], triggers.latest_id(integration, topic, event)
    if not str(cursor).isdigit():
        raise ValidationFailed({"cursor": [("Use the cursor a previous poll answered (X-Liaison-Cursor), or none "
                                            "to start now.")]})
    rows = triggers.since(integration, topic, int(cursor), event=event)
    return [row.payload for row in rows], (rows[-1].pk if rows else int(cursor))
