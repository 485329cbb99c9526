"""Forms: fields, actions, submissions (with each action's outcome) and daily view counts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Form(models.Model):
    name = models.CharField(max_length=200, help_text="For you; visitors see the title.")
    # The public address is /f/<slug>/: it never changes by itself (renaming keeps it).
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200, blank=True)
    intro = models.TextField(blank=True)
    submit_label = models.CharField(max_length=80, default="Submit")
    success_message = models.TextField(default="Thank you! We have received your answers.")
    redirect_url = models.URLField(max_length=500, blank=True)
    published = models.BooleanField(default=True)
    views = models.PositiveBigIntegerField(default=0)
    submission_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped by every save of the form, its fields or actions: the public page's cache key.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def public_title(self) -> str:
        return self.title or self.name

    @property
    def conversion(self) -> float | None:
        return round(100.0 * self.submission_count / self.views, 1) if self.views else None


class FormField(models.Model):
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="fields")
    # The input's name and the key of the value in submissions, exports and the API.
    key = models.SlugField(max_length=64)
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=100, help_text="A form field type key (text, email, goto.webinar...).")
    required = models.BooleanField(default=False)
    help_text = models.CharField(max_length=300, blank=True)
    placeholder = models.CharField(max_length=200, blank=True)
    default = models.CharField(max_length=500, blank=True)
    options = models.JSONField(default=list, blank=True, help_text="[{value, label}] for select, radio, checkboxes.")
    # {"min_length", "max_length", "min", "max", "pattern", "pattern_message"}
    validation = models.JSONField(default=dict, blank=True)
    contact_field = models.CharField(max_length=100, blank=True, help_text="Contact field key the value goes to.")
    config = models.JSONField(default=dict, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["form", "key"], name="form_field_unique_key")]

    def __str__(self) -> str:
        return self.label


class FormAction(models.Model):
    """A configured action of a form (``key`` names a ``core.contributions.FormAction``)."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="actions")
    key = models.CharField(max_length=100)
    config = models.JSONField(default=dict, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.key


class Submission(models.Model):
    """A stored submission (created by the processor from the intake, see ``intake.py``)."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="submissions")
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="form_submissions")
    # The answers, by field key (cleaned values).
    data = models.JSONField(default=dict, blank=True)
    # The values given to the contact (by contact field key).
    contact_data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The intake entry it came from: a processor that crashed after storing it does not store it twice.
    intake_key = models.CharField(max_length=40, null=True, blank=True, unique=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    referrer = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["form", "-created_at", "-id"], name="submission_by_form")]

    def __str__(self) -> str:
        return f"{self.form} #{self.pk}"


class Intake(models.Model):
    """Submissions waiting for the processor (PostgreSQL; embedded, a file of its own holds them)."""

    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)


class ActionRun(models.Model):
    """What one action did for one submission (a snapshot: editing the form changes nothing here)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RETRYING = "retrying", "Waiting to retry"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="action_runs")
    order = models.PositiveIntegerField()
    key = models.CharField(max_length=100)
    label = models.CharField(max_length=200)
    config = models.JSONField(default=dict, blank=True)
    in_job = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order"]
        constraints = [models.UniqueConstraint(fields=["submission", "order"], name="action_run_unique")]


class FormDayStat(models.Model):
    """Views of a form per day (submissions are counted from their own table)."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="day_stats")
    day = models.DateField()
    views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["form", "day"], name="form_day_stat_unique")]
