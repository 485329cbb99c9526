"""Outgoing webhooks: subscriptions (where to post which topic, signed with which secret) and
the log of their deliveries.

* Subscription: (owner, topic, scope, url) is unique, so subscribing twice returns the
  first subscription instead of a second one. ``scope`` narrows a topic (a GoTo account,
  one training); "" receives every event of the topic. ``owner`` says who manages it:
  "" for people (UI, API), ``apitoken:<id>`` for a connector connection, or an app's name.
* Delivery: (subscription, event_id) is unique: publishing the same event twice queues
  nothing more. One row per event and subscription, whatever the number of attempts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from liaison.core.secrets import EncryptedTextField


class Subscription(models.Model):
    name = models.CharField(max_length=200, blank=True)
    topic = models.CharField(max_length=100)
    scope = models.CharField(max_length=200, blank=True, default="",
                             help_text="What the topic is narrowed to (e.g. goto:3 or goto:3:training:812…); empty: all")
    url = models.URLField(max_length=500)
    secret = EncryptedTextField(help_text="Signs every delivery (HMAC-SHA256); stored encrypted")
    owner = models.CharField(max_length=100, blank=True, default="", db_index=True)
    active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    # Deliveries in a row that failed for good; reset by a success. Too many turn the subscription off.
    failure_streak = models.PositiveIntegerField(default=0)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["topic", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "topic", "scope", "url"], name="webhook_subscription_unique"),
        ]
        indexes = [models.Index(fields=["topic", "scope", "active"], name="webhook_subscription_match")]

    def __str__(self) -> str:
        return self.name or f"{self.topic} → {self.url}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RETRYING = "retrying", "Waiting to retry"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=200, help_text="The event's own id (also in the body): receivers may "
                                                          "de-duplicate on it")
    topic = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, help_text="The body, exactly as posted")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True, help_text="Of the last attempt")
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["subscription", "event_id"], name="webhook_delivery_once")]
        indexes = [
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log"),
            models.Index(fields=["status", "created_at"], name="webhook_delivery_status"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk} → {self.subscription_id}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL
