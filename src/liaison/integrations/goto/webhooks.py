"""GoToWebinar webhooks: set-up on GoTo, signed deliveries verified, de-duplicated, applied.

Set-up (four calls, GoTo's documented order): a signing secret for the OAuth application,
one webhook per event (``registrant.added``, ``registrant.joined``, ``webinar.created``,
``webinar.changed``), their activation, and the connected user's subscriptions.

Delivery check (GoTo documents the header names; the scheme is the sandbox's, see
docs/sandbox/goto.md): ``x-webhook-signature`` = base64(HMAC-SHA256(secret,
``x-webhook-signature-timestamp`` + ":" + raw body)). A delivery whose ``eventKey`` was
seen before is acknowledged and ignored; a new one is applied through the same upsert
code as the sync (``facts``), in the transaction that records its ``eventKey``. Polling
stays the safety net: GoTo documents no retries or ordering.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from liaison.core.errors import LiaisonError
from liaison.core.http import MalformedResponse, ProviderError
from liaison.core.http import keys as keyjson
from liaison.integrations.goto import facts
from liaison.integrations.goto.client import (
    AttendeeRecord,
    EventRecord,
    Reader,
    RegistrantRecord,
    SessionRecord,
    status_of,
)
from liaison.integrations.goto.models import Event, Registration, WebhookChannel, WebhookEvent
from liaison.integrations.goto.webinar import WEBHOOK_EVENTS, WebinarApi

SIGNATURE_HEADER = "x-webhook-signature"
TIMESTAMP_HEADER = "x-webhook-signature-timestamp"
# A signed delivery older (or newer) than this is refused: a replay of an old capture. The
# eventKey de-duplication stops replays of known events whatever their age.
MAX_SKEW = timedelta(hours=1)


def callback_url(channel: WebhookChannel) -> str:
    return settings.LIAISON_BASE_URL.rstrip("/") + reverse("integrations:goto:webhook", args=[channel.token])


def channel_for(integration) -> WebhookChannel:
    channel, _ = WebhookChannel.objects.get_or_create(integration=integration)
    return channel


def enable(integration) -> WebhookChannel:
    """Create the secret, the webhooks and the user's subscriptions on GoTo (or say why not)."""
    channel = channel_for(integration)
    url = callback_url(channel)
    now = timezone.now()
    try:
        with WebinarApi(integration) as api:
            if channel.webhook_keys:  # start from a clean slate: never two sets of webhooks
                _drop(api, channel)
            secret_id, secret = api.create_secret_key()
            # The secret belongs to the OAuth application: every account using the same client shares it.
            _share_secret(integration, secret_id, secret)
            hooks = api.create_webhooks(url, WEBHOOK_EVENTS)
            api.set_webhooks_state(list(hooks.values()), "ACTIVE")
            subscriptions = api.subscribe(list(hooks.values()))
    except ProviderError as exc:
        WebhookChannel.objects.filter(pk=channel.pk).update(
            state=WebhookChannel.State.ERROR, updated_at=now,
            message=f"GoTo refused the webhook set-up: {exc.user_message}"
                    + (" GoTo only calls https addresses: set LIAISON_BASE_URL to this server's public https "
                       "address." if url.startswith("http://") else ""))
        channel.refresh_from_db()
        return channel
    WebhookChannel.objects.filter(pk=channel.pk).update(
        callback_url=url, webhook_keys=hooks, subscription_keys=subscriptions, state=WebhookChannel.State.ACTIVE,
        message=f"GoTo sends {', '.join(sorted(hooks))} to {url}.", updated_at=now)
    channel.refresh_from_db()
    return channel


def _share_secret(integration, secret_id: str, secret: str) -> None:
    config = integration.config()
    from liaison.integrations.models import Integration

    same_client = [i.pk for i in Integration.objects.filter(spec_key="goto")
                   if i.pk == integration.pk or (i.settings.get("client_id") == config.client_id
                                                 and i.settings.get("auth_base_url") == config.auth_base_url)]
    for pk in same_client:
        WebhookChannel.objects.get_or_create(integration_id=pk)
    channels = list(WebhookChannel.objects.filter(integration_id__in=same_client))
    for channel in channels:
        channel.secret, channel.secret_key_id = secret, secret_id
    WebhookChannel.objects.bulk_update(channels, ["secret", "secret_key_id"])


def _drop(api: WebinarApi, channel: WebhookChannel) -> None:
    if channel.subscription_keys:
        api.unsubscribe(list(channel.subscription_keys.values()))
    if channel.webhook_keys:
        api.delete_webhooks(list(channel.webhook_keys.values()))


def disable(integration) -> WebhookChannel:
    """Remove the subscriptions and webhooks on GoTo; polling carries on alone."""
    channel = channel_for(integration)
    message = "Webhooks are off: changes arrive with the next sync."
    try:
        with WebinarApi(integration) as api:
            _drop(api, channel)
    except ProviderError as exc:
        if exc.status != 404:
            raise LiaisonError(f"GoTo refused to remove the webhooks: {exc.user_message}") from None
    WebhookChannel.objects.filter(pk=channel.pk).update(
        webhook_keys={}, subscription_keys={}, state=WebhookChannel.State.OFF, message=message,
        updated_at=timezone.now())
    channel.refresh_from_db()
    return channel


# -- receiving -------------------------------------------------------------------------------------

@dataclass
class Outcome:
    status: int
    message: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b":" + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(channel: WebhookChannel, headers, body: bytes) -> str | None:
    """None when the delivery is GoTo's; else why it is refused, in words."""
    if not channel.secret:
        return "No signing secret is stored: turn the webhooks on again."
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    signature = headers.get(SIGNATURE_HEADER) or ""
    if not timestamp or not signature:
        return "The delivery is not signed."
    if not timestamp.isdigit():
        return "The signature timestamp is not a number."
    sent = datetime.fromtimestamp(int(timestamp) / 1000, tz=UTC)
    if abs(timezone.now() - sent) > MAX_SKEW:
        return "The signature timestamp is too far from now (a replayed or delayed delivery)."
    if not hmac.compare_digest(sign(channel.secret, timestamp, body), signature):
        return "The signature does not match the stored secret."
    return None


def receive(channel: WebhookChannel, headers, body: bytes) -> Outcome:
    """Check, de-duplicate and apply one delivery; the answer GoTo gets."""
    integration = channel.integration
    problem = verify(channel, headers, body)
    if problem:
        WebhookChannel.objects.filter(pk=channel.pk).update(rejected=F("rejected") + 1)
        return Outcome(401, problem)
    try:
        payload = keyjson.loads(body)
    except ValueError:
        return Outcome(400, "The delivery is not valid JSON.")
    if not isinstance(payload, dict) or not str(payload.get("eventKey") or "").strip():
        return Outcome(400, "The delivery has no eventKey.")
    event_key = str(payload["eventKey"]).strip()[:64]
    event_name = str(payload.get("eventName") or "")[:60]
    now = timezone.now()
    WebhookChannel.objects.filter(pk=channel.pk).update(received=F("received") + 1, last_received_at=now)
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(integration=integration, event_key=event_key, event_name=event_name,
                                              payload=_jsonable(payload), received_at=now)
            if not integration.published:
                outcome, message = WebhookEvent.Outcome.IGNORED, "The account is unpublished."
            elif event_name not in WEBHOOK_EVENTS:
                outcome, message = WebhookEvent.Outcome.IGNORED, f"Liaison does not use “{event_name}” events."
            else:
                message = apply(integration, event_name, payload, now)
                outcome = WebhookEvent.Outcome.APPLIED
            WebhookEvent.objects.filter(pk=row.pk).update(outcome=outcome, message=message[:500])
    except IntegrityError:
        return Outcome(200, f"Already received ({event_key}).")
    except MalformedResponse as exc:
        WebhookEvent.objects.get_or_create(
            integration=integration, event_key=event_key,
            defaults={"event_name": event_name, "outcome": WebhookEvent.Outcome.FAILED, "message": str(exc)[:500],
                      "payload": _jsonable(payload), "received_at": now})
        return Outcome(400, str(exc))
    return Outcome(200, message)


def _jsonable(value: Any) -> Any:
    """The payload as stored JSON (integers stay exact; decimals, which GoTo never sends for keys, as text)."""
    return json.loads(json.dumps(value, default=str))


def apply(integration, event_name: str, payload: dict[str, Any], now) -> str:
    """Apply one webhook through the sync's upsert code; the outcome in words."""
    read = Reader("GoToWebinar", f"a “{event_name}” webhook")
    webinar_key = read.key(payload, "webinarKey")
    title = read.text(payload, "webinarTitle")
    if event_name in ("webinar.created", "webinar.changed"):
        if read.text(payload, "status").upper() == "DELETED":
            event = facts.ensure_event(integration, "webinar", webinar_key, title)
            facts.cancel_events([event], now)
            return f"“{event.title}” was cancelled."
        record = EventRecord(key=webinar_key, title=title, description=read.text(payload, "description"),
                             times=read.times(payload), organizer_key=read.key(payload, "organizerKey", False),
                             time_zone=read.text(payload, "timeZone"),
                             recurrence=read.text(payload, "recurrenceType"),
                             recurrence_key=read.key(payload, "recurrenceKey", False))
        events, counts = facts.upsert_events(integration, "webinar", [record], now)
        return f"“{events[webinar_key].title}” {'created' if counts.created else 'updated'}."
    event = facts.ensure_event(integration, "webinar", webinar_key, title)
    if event.status == Event.Status.CANCELLED:
        return f"“{event.title}” is cancelled: ignored."
    if event_name == "registrant.added":
        record = RegistrantRecord(email=read.email(payload), first_name=read.text(payload, "firstName"),
                                  last_name=read.text(payload, "lastName"), key=read.key(payload, "registrantKey"),
                                  status=status_of(read.text(payload, "status")),
                                  registered_at=read.instant(payload, "registrationDate", required=False),
                                  join_url=read.text(payload, "joinUrl"))
        counts = facts.store_registrants(integration, event, [record], now=now, source=Registration.Source.WEBHOOK)
        return f"{record.email} registered for “{event.title}”" + ("." if counts.created else " (already known).")
    # registrant.joined: a provisional attendance until the session's report is read.
    joined = read.instant(payload, "joinTime")
    session_key = read.key(payload, "sessionKey")
    sessions = facts.upsert_sessions({webinar_key: event}, [SessionRecord(key=session_key, event_key=webinar_key,
                                                                          starts_at=None, ends_at=None)])
    attendee = AttendeeRecord(email=read.email(payload), first_name=read.text(payload, "firstName"),
                              last_name=read.text(payload, "lastName"),
                              registrant_key=read.key(payload, "registrantKey", False), intervals=[(joined, None)])
    facts.store_attendances(integration, event, sessions[session_key], [attendee], now=now, provisional=True)
    return f"{attendee.email} joined “{event.title}”."
