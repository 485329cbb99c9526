# No "from __future__ import annotations": ninja resolves the annotations at import.
"""The GoTo connector: actions and triggers for automation tools, at /api/connectors/goto/.

One connection = one API token (``Authorization: Bearer lsn_…``): its calls are counted
against the connector's limit (100 per 60 s, then 429 with ``Retry-After``), its trigger
polls against one per 120 s per trigger, and its push subscriptions are its own. The
account (a GoTo account connected in Liaison) is chosen by the path. Operation ids are the
connector's (GetTraining, ListRegistrations, AddRegistrant, GetRegistrant, OnNewTraining,
OnNewRegistration, and the GoToWebinar equivalents).
"""

from datetime import datetime
from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from liaison.api.auth import TokenAuth
from liaison.core.errors import NotFound, ValidationFailed
from liaison.core.restapi import ERRORS, Id
from liaison.integrations.goto import connector, shapes
from liaison.integrations.goto.models import TriggerEvent
from liaison.webhooks import services as webhooks
from liaison.webhooks.models import Subscription


class ConnectionAuth(TokenAuth):
    """Bearer tokens only (a browser session is no connection); each call spends the
    connection's budget."""

    def authenticate(self, request, token):
        user = super().authenticate(request, token)
        if user is not None:
            connector.spend_call(request.api_token)
        return user


router = Router(tags=["GoTo connector"], auth=ConnectionAuth())

LIMITED = {**ERRORS, 429: ERRORS[404]}
TRIGGERS = {
    "OnNewTraining": (TriggerEvent.Topic.TRAINING_CREATED, "training", False),
    "OnNewRegistration": (TriggerEvent.Topic.TRAINING_REGISTRANT, "training", True),
    "OnNewWebinar": (TriggerEvent.Topic.WEBINAR_CREATED, "webinar", False),
    "OnNewWebinarRegistration": (TriggerEvent.Topic.WEBINAR_REGISTRANT, "webinar", True),
}
TRIGGER_BY_TOPIC = {topic: name for name, (topic, _, _) in TRIGGERS.items()}


# -- schemas (the connector's fields, exactly) -------------------------------------------------------

class AccountOut(Schema):
    id: int
    name: str
    organizerKey: str
    products: list[str]


class TrainingTime(Schema):
    startDate: str | None
    endDate: str | None


class Organizer(Schema):
    givenName: str
    surname: str
    email: str
    organizerKey: str


class TrainingOut(Schema):
    trainingId: str
    name: str
    timeZone: str
    times: list[TrainingTime]
    organizers: list[Organizer]
    trainingKey: str


class TrainingRegistrantOut(Schema):
    email: str
    givenName: str
    surname: str
    status: str
    registrationDate: str | None
    joinUrl: str
    confirmationUrl: str
    registrantKey: str


class TrainingRegistrantIn(Schema):
    model_config = ConfigDict(extra="forbid")
    email: str = Field("", max_length=254)
    givenName: str = Field("", max_length=100)
    surname: str = Field("", max_length=100)


class TrainingRegistrantAdded(Schema):
    joinUrl: str
    confirmationUrl: str
    registrantKey: str


class WebinarTime(Schema):
    startTime: str | None
    endTime: str | None


class WebinarOut(Schema):
    webinarKey: str
    webinarID: str
    subject: str
    description: str
    organizerKey: str
    timeZone: str
    times: list[WebinarTime]
    registrationUrl: str


class WebinarRegistrantOut(Schema):
    registrantKey: str
    firstName: str
    lastName: str
    email: str
    status: str
    registrationDate: str | None
    joinUrl: str


class WebinarRegistrantIn(Schema):
    model_config = ConfigDict(extra="forbid")
    email: str = Field("", max_length=254)
    firstName: str = Field("", max_length=100)
    lastName: str = Field("", max_length=100)


class WebinarRegistrantAdded(Schema):
    registrantKey: str
    joinUrl: str


class WebinarWindow(Schema):
    fromTime: datetime | None = None
    toTime: datetime | None = None
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class Cursor(Schema):
    cursor: str | None = Field(None, max_length=20, description="X-Liaison-Cursor of the previous poll; none: "
                                                                 "start now")


class SubscriptionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    trigger: Literal["OnNewTraining", "OnNewRegistration", "OnNewWebinar", "OnNewWebinarRegistration"]
    callbackUrl: str = Field(max_length=500)
    trainingKey: str | None = Field(None, max_length=40, description="OnNewRegistration: the training watched")
    webinarKey: str | None = Field(None, max_length=40, description="OnNewWebinarRegistration: the webinar watched")


class SubscriptionOut(Schema):
    id: int
    trigger: str
    callbackUrl: str
    key: str | None = Field(description="The training or webinar watched (registrant triggers)")
    active: bool
    disabledReason: str
    createdAt: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="Verifies X-Liaison-Signature (HMAC-SHA256 of timestamp.body)")


class DeliveryOut(Schema):
    id: int
    eventId: str
    status: str
    attempts: int
    responseCode: int | None
    lastError: str
    durationMs: float | None
    createdAt: datetime
    lastAttemptAt: datetime | None
    nextAttemptAt: datetime | None
    deliveredAt: datetime | None


# -- accounts ---------------------------------------------------------------------------------------------

@router.get("/accounts", response={200: list[AccountOut], **LIMITED}, operation_id="ListAccounts")
def list_accounts(request):
    """The GoTo accounts this Liaison is connected to (the ``{account}`` of every other path)."""
    return [{"id": i.pk, "name": i.name, "organizerKey": i.account.get("organizer_key", ""),
             "products": [p for p in connector.PRODUCTS if i.feature_enabled(p)]} for i in connector.accounts()]


# -- GoToTraining --------------------------------------------------------------------------------------------

def _training(account: int, training_key: str):
    integration = connector.account(account, "training")
    return connector.get_event(integration, "training", training_key)


@router.get("/{account}/trainings/{training_key}", response={200: TrainingOut, **LIMITED},
            operation_id="GetTraining")
def get_training(request, account: Id, training_key: str):
    """Everything about a scheduled training (``training_key``: its trainingKey or trainingId)."""
    return shapes.training_item(_training(account, training_key))


@router.get("/{account}/trainings/{training_key}/registrants", response={200: list[TrainingRegistrantOut], **LIMITED},
            operation_id="ListRegistrations")
def list_training_registrants(request, account: Id, training_key: str):
    """Every current registrant of a training."""
    event = _training(account, training_key)
    return [shapes.registrant_item(event, r) for r in connector.registrations(event)]


@router.post("/{account}/trainings/{training_key}/registrants",
             response={200: TrainingRegistrantAdded, 201: TrainingRegistrantAdded, **LIMITED},
             operation_id="AddRegistrant")
def add_training_registrant(request, account: Id, training_key: str, payload: TrainingRegistrantIn):
    """Register one person (by e-mail). 201 when registered now, 200 when already registered
    (the existing links come back: GoTo's "duplicate registrant" is not an error here)."""
    event = _training(account, training_key)
    outcome = connector.add_registrant(event, email=payload.email, first_name=payload.givenName,
                                       last_name=payload.surname)
    reg = outcome.registration
    return Status(201 if outcome.created else 200, {"joinUrl": reg.join_url, "confirmationUrl": reg.confirmation_url,
                                                    "registrantKey": reg.registrant_key})


@router.get("/{account}/trainings/{training_key}/registrants/{registrant_key}",
            response={200: TrainingRegistrantOut, **LIMITED}, operation_id="GetRegistrant")
def get_training_registrant(request, account: Id, training_key: str, registrant_key: str):
    event = _training(account, training_key)
    return shapes.registrant_item(event, connector.get_registration(event, registrant_key))


# -- GoToWebinar -------------------------------------------------------------------------------------------------

def _webinar(account: int, webinar_key: str):
    integration = connector.account(account, "webinar")
    return connector.get_event(integration, "webinar", webinar_key)


@router.get("/{account}/webinars", response={200: list[WebinarOut], **LIMITED}, operation_id="ListWebinars")
def list_webinars(request, account: Id, window: WebinarWindow = Query(...)):
    """Webinars starting in [fromTime, toTime] (default: from now to the account's future window)."""
    integration = connector.account(account, "webinar")
    events = connector.list_webinars(integration, window.fromTime, window.toTime, limit=window.limit,
                                     offset=window.offset)
    return [shapes.webinar_item(e) for e in events]


@router.get("/{account}/webinars/{webinar_key}", response={200: WebinarOut, **LIMITED}, operation_id="GetWebinar")
def get_webinar(request, account: Id, webinar_key: str):
    return shapes.webinar_item(_webinar(account, webinar_key))


@router.get("/{account}/webinars/{webinar_key}/registrants", response={200: list[WebinarRegistrantOut], **LIMITED},
            operation_id="ListWebinarRegistrations")
def list_webinar_registrants(request, account: Id, webinar_key: str):
    event = _webinar(account, webinar_key)
    return [shapes.registrant_item(event, r) for r in connector.registrations(event)]


@router.post("/{account}/webinars/{webinar_key}/registrants",
             response={200: WebinarRegistrantAdded, 201: WebinarRegistrantAdded, **LIMITED},
             operation_id="AddWebinarRegistrant")
def add_webinar_registrant(request, account: Id, webinar_key: str, payload: WebinarRegistrantIn):
    event = _webinar(account, webinar_key)
    outcome = connector.add_registrant(event, email=payload.email, first_name=payload.firstName,
                                       last_name=payload.lastName)
    reg = outcome.registration
    return Status(201 if outcome.created else 200, {"registrantKey": reg.registrant_key, "joinUrl": reg.join_url})


@router.get("/{account}/webinars/{webinar_key}/registrants/{registrant_key}",
            response={200: WebinarRegistrantOut, **LIMITED}, operation_id="GetWebinarRegistrant")
def get_webinar_registrant(request, account: Id, webinar_key: str, registrant_key: str):
    event = _webinar(account, webinar_key)
    return shapes.registrant_item(event, connector.get_registration(event, registrant_key))


# -- polling triggers ----------------------------------------------------------------------------------------------

def _poll(request, response: HttpResponse, account: int, trigger: str, cursor: str | None, key: str | None = None):
    topic, product, _ = TRIGGERS[trigger]
    integration = connector.account(account, product)
    connector.claim_poll(request.api_token, f"{integration.pk}:{trigger}:{key or ''}")
    event = connector.get_event(integration, product, key) if key else None
    items, next_cursor = connector.poll(integration, topic, cursor, event)
    response["X-Liaison-Cursor"] = str(next_cursor)
    response["Location"] = request.build_absolute_uri(f"{request.path}?cursor={next_cursor}")
    response["Retry-After"] = str(int(connector.poll_seconds()))
    return items


@router.get("/{account}/triggers/new-trainings", response={200: list[TrainingOut], **LIMITED},
            operation_id="OnNewTraining", openapi_extra={"x-ms-trigger": "batch"})
def on_new_training(request, response: HttpResponse, account: Id, query: Cursor = Query(...)):
    """Trainings created since ``cursor`` (polled at most every 120 s). The next cursor is in
    ``X-Liaison-Cursor`` (and ``Location``); without a cursor the trigger starts now."""
    return _poll(request, response, account, "OnNewTraining", query.cursor)


@router.get("/{account}/trainings/{training_key}/triggers/new-registrants",
            response={200: list[TrainingRegistrantOut], **LIMITED}, operation_id="OnNewRegistration",
            openapi_extra={"x-ms-trigger": "batch"})
def on_new_training_registrant(request, response: HttpResponse, account: Id, training_key: str,
                               query: Cursor = Query(...)):
    """Registrants added to a training since ``cursor``."""
    return _poll(request, response, account, "OnNewRegistration", query.cursor, training_key)


@router.get("/{account}/triggers/new-webinars", response={200: list[WebinarOut], **LIMITED},
            operation_id="OnNewWebinar", openapi_extra={"x-ms-trigger": "batch"})
def on_new_webinar(request, response: HttpResponse, account: Id, query: Cursor = Query(...)):
    return _poll(request, response, account, "OnNewWebinar", query.cursor)


@router.get("/{account}/webinars/{webinar_key}/triggers/new-registrants",
            response={200: list[WebinarRegistrantOut], **LIMITED}, operation_id="OnNewWebinarRegistration",
            openapi_extra={"x-ms-trigger": "batch"})
def on_new_webinar_registrant(request, response: HttpResponse, account: Id, webinar_key: str,
                              query: Cursor = Query(...)):
    return _poll(request, response, account, "OnNewWebinarRegistration", query.cursor, webinar_key)


# -- push triggers (subscriptions) -------------------------------------------------------------------------------

def _owner(request) -> str:
    return f"apitoken:{request.api_token.pk}"


def _subscription_out(subscription: Subscription) -> dict:
    key = subscription.scope.split(":")[-1] if subscription.scope.count(":") == 3 else None
    return {"id": subscription.pk, "trigger": TRIGGER_BY_TOPIC.get(subscription.topic, subscription.topic),
            "callbackUrl": subscription.url, "key": key, "active": subscription.active,
            "disabledReason": subscription.disabled_reason, "createdAt": subscription.created_at,
            "secret": subscription.secret}


def _own(request, account: int, subscription_id: int) -> Subscription:
    subscription = Subscription.objects.filter(pk=subscription_id, owner=_owner(request),
                                               scope__startswith=f"goto:{account}").first()
    if subscription is None or subscription.scope.split(":")[1] != str(account):
        raise NotFound(f"This connection has no subscription {subscription_id} on GoTo account {account}.")
    return subscription


@router.post("/{account}/subscriptions", response={200: SubscriptionCreated, 201: SubscriptionCreated, **LIMITED},
             operation_id="CreateTriggerSubscription")
def subscribe(request, response: HttpResponse, account: Id, payload: SubscriptionIn):
    """Push a trigger to ``callbackUrl``: each new training / registrant batch is POSTed there,
    signed (``X-Liaison-Signature``) with the ``secret`` answered here. The same trigger and
    address again answers 200 with the existing subscription."""
    topic, product, needs_key = TRIGGERS[payload.trigger]
    integration = connector.account(account, product)
    scope = f"goto:{integration.pk}"
    if needs_key:
        given = payload.trainingKey if product == "training" else payload.webinarKey
        if not given:
            field = f"{product}Key"
            raise ValidationFailed({field: [f"{payload.trigger} watches one {product}: give its {field}."]})
        event = connector.get_event(integration, product, given)
        scope = f"{scope}:{product}:{event.provider_key}"
    subscription, created = webhooks.create_subscription(
        topic=topic, url=payload.callbackUrl, scope=scope, owner=_owner(request), user=request.user,
        name=f"{payload.trigger} ({request.api_token.name})")
    # Where to DELETE it (automation tools that subscribe webhook triggers read this header).
    response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{subscription.pk}")
    return Status(201 if created else 200, _subscription_out(subscription))


@router.get("/{account}/subscriptions", response={200: list[SubscriptionOut], **LIMITED},
            operation_id="ListTriggerSubscriptions")
def list_subscriptions(request, account: Id):
    """This connection's subscriptions on the account."""
    connector.account(account)
    rows = Subscription.objects.filter(owner=_owner(request), scope__startswith=f"goto:{account}").order_by("id")
    return [_subscription_out(s) for s in rows if s.scope.split(":")[1] == str(account)]


@router.delete("/{account}/subscriptions/{subscription_id}", response={204: None, **LIMITED},
               operation_id="DeleteTriggerSubscription")
def unsubscribe(request, account: Id, subscription_id: Id):
    webhooks.delete_subscription(_own(request, account, subscription_id))
    return Status(204, None)


@router.get("/{account}/subscriptions/{subscription_id}/deliveries", response={200: list[DeliveryOut], **LIMITED},
            operation_id="ListTriggerDeliveries")
def list_deliveries(request, account: Id, subscription_id: Id):
    """The subscription's last 100 deliveries: status, attempts, last error, response code, duration."""
    subscription = _own(request, account, subscription_id)
    rows = webhooks.filter_deliveries({"subscription": subscription.pk})[:100]
    return [{"id": d.pk, "eventId": d.event_id, "status": d.status, "attempts": d.attempts,
             "responseCode": d.response_code, "lastError": d.last_error, "durationMs": d.duration_ms,
             "createdAt": d.created_at, "lastAttemptAt": d.last_attempt_at,
             "nextAttemptAt": webhooks.next_attempt(d), "deliveredAt": d.delivered_at} for d in rows]

