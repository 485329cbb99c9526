# No "from __future__ import annotations": ninja resolves the annotations at import.
"""Outgoing webhooks over the REST API (/api/webhooks/...)."""

from datetime import datetime
from typing import Literal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from liaison.core.restapi import ERRORS, Id, Pagination
from liaison.webhooks import services
from liaison.webhooks.models import Delivery, Subscription

router = Router(tags=["Webhooks"])

DeliveryStatus = Literal["pending", "retrying", "succeeded", "failed", "cancelled"]


class TopicOut(Schema):
    key: str
    label: str
    description: str
    group: str
    scope_label: str


class SubscriptionOut(Schema):
    id: int
    name: str
    topic: str
    scope: str
    url: str
    owner: str
    active: bool
    disabled_at: datetime | None
    disabled_reason: str
    failure_streak: int
    last_delivery_at: datetime | None
    last_success_at: datetime | None
    created_at: datetime


class SubscriptionSecretOut(SubscriptionOut):
    secret: str = Field(description="Signs every delivery: shown when the subscription is created or its secret "
                                    "rotated")


class SubscriptionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    topic: str = Field(max_length=100)
    url: str = Field(max_length=500)
    name: str = Field("", max_length=200)
    scope: str = Field("", max_length=200)


class SubscriptionPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    url: str | None = Field(None, max_length=500)
    active: bool | None = None


class DeliveryOut(Schema):
    id: int
    subscription_id: int
    event_id: str
    topic: str
    status: str
    attempts: int
    response_code: int | None
    last_error: str
    duration_ms: float | None
    job_id: int | None
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None

    @staticmethod
    def resolve_next_attempt_at(obj) -> datetime | None:
        return services.next_attempt(obj)


class DeliveryDetailOut(DeliveryOut):
    payload: dict


class SecretOut(Schema):
    secret: str


class SubscriptionFilters(Schema):
    topic: str | None = None
    owner: str | None = None
    active: bool | None = None


class DeliveryFilters(Schema):
    subscription: Id | None = None
    status: DeliveryStatus | None = None
    topic: str | None = None


@router.get("/webhooks/topics", response=list[TopicOut])
def list_topics(request):
    """What can be subscribed to (each integration adds its own)."""
    return services.topics()


@router.get("/webhooks/subscriptions", response=list[SubscriptionOut])
@paginate(Pagination)
def list_subscriptions(request, filters: SubscriptionFilters = Query(...)):
    return services.filter_subscriptions(filters.model_dump())


@router.post("/webhooks/subscriptions", response={200: SubscriptionSecretOut, 201: SubscriptionSecretOut, **ERRORS})
def create_subscription(request, payload: SubscriptionIn):
    """Subscribe an address to a topic; the answer holds the signing secret. The same topic, scope
    and address again answers 200 with the existing subscription."""
    subscription, created = services.create_subscription(user=request.user, **payload.model_dump())
    return Status(201 if created else 200, subscription)


@router.get("/webhooks/subscriptions/{subscription_id}", response={200: SubscriptionOut, **ERRORS})
def get_subscription(request, subscription_id: Id):
    return get_object_or_404(Subscription, pk=subscription_id)


@router.patch("/webhooks/subscriptions/{subscription_id}", response={200: SubscriptionOut, **ERRORS})
def patch_subscription(request, subscription_id: Id, payload: SubscriptionPatch):
    """Rename, move to another address, or turn off / on (on again resets the failure count)."""
    subscription = get_object_or_404(Subscription, pk=subscription_id)
    return services.update_subscription(subscription, **payload.model_dump(exclude_unset=True))


@router.delete("/webhooks/subscriptions/{subscription_id}", response={204: None, **ERRORS})
def delete_subscription(request, subscription_id: Id):
    services.delete_subscription(get_object_or_404(Subscription, pk=subscription_id))
    return Status(204, None)


@router.post("/webhooks/subscriptions/{subscription_id}/rotate-secret", response={200: SecretOut, **ERRORS})
def rotate_secret(request, subscription_id: Id):
    """A new signing secret (the old one stops working at once)."""
    return {"secret": services.rotate_secret(get_object_or_404(Subscription, pk=subscription_id))}


@router.post("/webhooks/subscriptions/{subscription_id}/test", response={202: DeliveryOut, **ERRORS})
def send_test(request, subscription_id: Id):
    """Send the topic's example, marked ``"test": true``."""
    return Status(202, services.send_test(get_object_or_404(Subscription, pk=subscription_id)))


@router.get("/webhooks/deliveries", response=list[DeliveryOut])
@paginate(Pagination)
def list_deliveries(request, filters: DeliveryFilters = Query(...)):
    """The delivery log: status, attempts, last error, response code, duration, next attempt."""
    return services.filter_deliveries(filters.model_dump())


@router.get("/webhooks/deliveries/{delivery_id}", response={200: DeliveryDetailOut, **ERRORS})
def get_delivery(request, delivery_id: Id):
    return get_object_or_404(Delivery.objects.select_related("job"), pk=delivery_id)


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", response={202: DeliveryOut, **ERRORS})
def redeliver(request, delivery_id: Id):
    """Send a failed or cancelled delivery again (same body and id)."""
    delivery = get_object_or_404(Delivery.objects.select_related("subscription"), pk=delivery_id)
    return Status(202, services.redeliver(delivery))
