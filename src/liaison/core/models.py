from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from liaison.core.secrets import EncryptedJSONField, EncryptedTextField


class Schedule(models.Model):
    """A job enqueued on a cron expression (UTC). Each slot is enqueued exactly once."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=100)
    params = models.JSONField(default=dict, blank=True)
    cron = models.CharField(max_length=100, help_text="Cron expression, evaluated in UTC.")
    enabled = models.BooleanField(default=True)
    # Identifies what the schedule belongs to (e.g. "integration:3"), to find it again.
    owner_key = models.CharField(max_length=200, blank=True, db_index=True)
    last_slot = models.DateTimeField(null=True, blank=True)
    next_slot = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Job(models.Model):
    """One background job: its parameters, attempts, progress, log, result or error."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        RETRYING = "retrying", "Waiting to retry"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.RETRYING)

    kind = models.CharField(max_length=100, db_index=True)
    label = models.CharField(max_length=300)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    run_after = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress_current = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    progress_message = models.CharField(max_length=300, blank=True)
    log = models.TextField(blank=True, default="")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    slot = models.DateTimeField(null=True, blank=True)
    concurrency_key = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    worker = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "run_after"], name="job_status_run_after")]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "slot"], name="job_once_per_schedule_slot"),
            models.UniqueConstraint(
                fields=["concurrency_key"],
                condition=Q(status__in=["queued", "running", "retrying"]) & ~Q(concurrency_key=""),
                name="job_one_active_per_concurrency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.label}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def progress_percent(self) -> int | None:
        if not self.progress_total:
            return None
        return max(0, min(100, int(100 * self.progress_current / self.progress_total)))

    @property
    def duration(self):
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    def log_lines(self) -> list[str]:
        return self.log.splitlines()


class Credential(models.Model):
    """OAuth2 tokens of one connection, encrypted at rest (see ``core.http.auth``)."""

    key = models.CharField(max_length=200, unique=True)
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    token_type = models.CharField(max_length=40, default="Bearer")
    expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.TextField(blank=True, default="")
    extra = EncryptedJSONField(blank=True, default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key


class EventRecord(models.Model):
    """A contact event in the outbox (``core.events``): written with the fact it announces,
    handed to the event consumers (points, campaigns) after the commit."""

    key = models.CharField(max_length=100)
    ref = models.CharField(max_length=255)
    contact_ids = models.JSONField(default=list)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=Q(dispatched_at__isnull=True), name="event_pending"),
            models.Index(fields=["created_at"], name="event_created"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.ref}"


class EventBacklog(models.Model):
    """An event one consumer failed to take: offered to it again, alone, with back-off."""

    event = models.ForeignKey(EventRecord, on_delete=models.CASCADE, related_name="backlog")
    consumer = models.CharField(max_length=100)
    attempts = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True, default="")
    retry_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "consumer"], name="event_backlog_unique")]
        indexes = [models.Index(fields=["retry_at"], name="event_backlog_due")]
