from __future__ import annotations

from django.conf import settings as django_settings
from django.db import models
from django.utils import timezone

from liaison.core.contributions import IntegrationSpec
from liaison.core.registry import registry
from liaison.core.secrets import EncryptedJSONField


class Integration(models.Model):
    """One connected account of a provider (several per provider are allowed)."""

    class Status(models.TextChoices):
        NEW = "new", "Not checked yet"
        CONNECTED = "connected", "Connected"
        ERROR = "error", "Connection problem"

    spec_key = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=150)
    published = models.BooleanField(
        default=True, help_text="Unpublished integrations keep their data but do not sync or act.")
    settings = models.JSONField(default=dict, blank=True)
    secrets = EncryptedJSONField(blank=True, default=dict)
    features = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Default owner of contacts this integration creates.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    status_message = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    # Facts discovered from the provider (organizer key, account name, ...): not secrets.
    account = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["spec_key", "name"]
        constraints = [models.UniqueConstraint(fields=["spec_key", "name"], name="integration_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def spec(self) -> IntegrationSpec | None:
        """The integration's code, or None when its app is no longer installed."""
        return registry.find(IntegrationSpec, self.spec_key)

    @property
    def credential_key(self) -> str:
        return f"integration:{self.pk}"

    def config(self):
        """The typed settings (pydantic model of the spec), secrets included."""
        return self.spec.settings_schema.model_validate({**self.settings, **self.secrets})

    def feature_enabled(self, key: str) -> bool:
        if key in self.features:
            return bool(self.features[key])
        spec = self.spec
        default = next((f.default for f in (spec.features if spec else ()) if f.key == key), False)
        return default


class FieldMapping(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "Provider → Liaison"
        OUTBOUND = "out", "Liaison → provider"
        BOTH = "both", "Both ways"

    class Policy(models.TextChoices):
        OVERWRITE = "overwrite", "Overwrite"
        FILL = "fill", "Fill only if empty"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="mappings")
    local_field = models.CharField(max_length=100, help_text="Contact field key, e.g. first_name or custom.industry")
    remote_field = models.CharField(max_length=150)
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.BOTH)
    policy = models.CharField(max_length=10, choices=Policy.choices, default=Policy.OVERWRITE)

    class Meta:
        ordering = ["integration", "local_field"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "local_field"], name="mapping_unique_local_field"),
        ]

    def __str__(self) -> str:
        return f"{self.local_field} ↔ {self.remote_field}"


class SyncState(models.Model):
    """A cursor per (integration, stream, partition), e.g. ("webinar.registrants", webinarKey)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_states")
    stream = models.CharField(max_length=100)
    partition = models.CharField(max_length=200, blank=True, default="")
    cursor = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "stream", "partition"], name="syncstate_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.stream}[{self.partition}]"


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Completed with errors"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="runs")
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    trigger = models.CharField(max_length=20, default="manual")
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    api_summary = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    progress_current = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    progress_message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.integration} run #{self.pk}"

    @property
    def duration(self):
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def progress_percent(self) -> int | None:
        if not self.progress_total:
            return None
        return max(0, min(100, int(100 * self.progress_current / self.progress_total)))

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.RUNNING


class ApiCall(models.Model):
    """One outbound call (never its headers, query or body)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="api_calls")
    sync_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField()
    error = models.CharField(max_length=100, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["integration", "-at"], name="apicall_recent")]
