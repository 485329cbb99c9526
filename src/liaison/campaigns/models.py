"""Campaigns: sources, a tree of steps, enrollments and what each step did for each of them.

A ``Campaign`` starts from audiences (``{"key", "values"}``, registry ``Audience``) and
from "start" decisions (``{"key", "config"}``, registry ``CampaignStep`` decisions with
``can_start``). Its ``Step`` rows form a tree: a root has no parent; a step under an
action has branch ``""``; a step under a condition or a decision has branch ``"yes"`` or
``"no"``. A contact's run through the campaign is an ``Enrollment`` (one per round, for
re-entry); what one step did for it is a ``StepRun``, unique per (enrollment, step): a
step runs at most once per enrollment, whatever crashes or re-runs happen.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

UNITS = {"minutes": timedelta(minutes=1), "hours": timedelta(hours=1), "days": timedelta(days=1)}


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        PAUSED = "paused", "Paused"

    class Reentry(models.TextChoices):
        NEVER = "never", "Never: a contact goes through the campaign once"
        REJOIN = "rejoin", "After leaving and rejoining the audience"
        ALWAYS = "always", "Again each time, once the previous run is over"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    reentry = models.CharField(max_length=10, choices=Reentry.choices, default=Reentry.NEVER)
    # [{"key": "segments.segment", "values": ["3", "4"]}]
    audiences = models.JSONField(default=list, blank=True)
    # Contacts enrolled from an audience are taken out when they are no longer in it (Mautic's way).
    exit_on_leave = models.BooleanField(
        default=True, help_text="Take contacts out of the campaign when they leave its audience.")
    # [{"key": "webforms.submits", "config": {...}}]: start decisions (can_start=True)
    starts = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["status"], name="campaign_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class Step(models.Model):
    class Kind(models.TextChoices):
        ACTION = "action", "Action"
        CONDITION = "condition", "Condition"
        DECISION = "decision", "Decision"

    class Branch(models.TextChoices):
        NEXT = "", "Next"
        YES = "yes", "Yes"
        NO = "no", "No"

    class Delay(models.TextChoices):
        NONE = "none", "At once"
        RELATIVE = "relative", "After a delay"
        UNTIL = "until", "On a date"

    class Unit(models.TextChoices):
        MINUTES = "minutes", "minutes"
        HOURS = "hours", "hours"
        DAYS = "days", "days"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    branch = models.CharField(max_length=3, choices=Branch.choices, default="", blank=True)
    position = models.PositiveIntegerField(default=0)
    step_kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=100, help_text="A campaign step key (emails.send, segments.member...).")
    name = models.CharField(max_length=200, blank=True, help_text="Optional; the builder shows the summary otherwise.")
    config = models.JSONField(default=dict, blank=True)
    delay = models.CharField(max_length=10, choices=Delay.choices, default=Delay.NONE)
    delay_amount = models.PositiveIntegerField(default=0)
    delay_unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.DAYS)
    delay_until = models.DateTimeField(null=True, blank=True)
    # Decisions: how long to wait for the event before the "no" branch (0: wait forever).
    timeout_amount = models.PositiveIntegerField(default=0)
    timeout_unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.DAYS)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["campaign", "parent", "branch", "position"], name="campaign_step_tree")]

    def __str__(self) -> str:
        return self.name or self.key

    def delay_timedelta(self) -> timedelta | None:
        if self.delay == self.Delay.RELATIVE and self.delay_amount:
            return UNITS[self.delay_unit] * self.delay_amount
        return None

    def due_from(self, now: datetime) -> datetime:
        """When this step runs for a contact reaching it at ``now``."""
        if self.delay == self.Delay.UNTIL and self.delay_until:
            return max(now, self.delay_until)
        return now + (self.delay_timedelta() or timedelta(0))

    def timeout_timedelta(self) -> timedelta | None:
        return UNITS[self.timeout_unit] * self.timeout_amount if self.timeout_amount else None

    def describe_delay(self) -> str:
        if self.delay == self.Delay.RELATIVE and self.delay_amount:
            unit = self.delay_unit if self.delay_amount != 1 else self.delay_unit[:-1]
            return f"after {self.delay_amount} {unit}"
        if self.delay == self.Delay.UNTIL and self.delay_until:
            return f"on {self.delay_until:%Y-%m-%d %H:%M} UTC"
        return ""

    def describe_timeout(self) -> str:
        if not self.timeout_amount:
            return ""
        unit = self.timeout_unit if self.timeout_amount != 1 else self.timeout_unit[:-1]
        return f"{self.timeout_amount} {unit}"


class Enrollment(models.Model):
    """One contact's run through a campaign (``round`` counts re-entries, from 1)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "In progress"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="campaign_enrollments")
    round = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # What the entry event and earlier steps said (merged), handed to the next steps.
    context = models.JSONField(default=dict, blank=True)
    # "audience" or the start event's key; entry_ref names the fact (an event counts once).
    source = models.CharField(max_length=100, blank=True)
    entry_ref = models.CharField(max_length=255, blank=True)
    entered_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact", "round"], name="enrollment_unique_round"),
            models.UniqueConstraint(fields=["campaign", "contact", "entry_ref"], condition=~Q(entry_ref=""),
                                    name="enrollment_unique_entry"),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="enrollment_campaign_status"),
                   models.Index(fields=["contact", "campaign"], name="enrollment_contact")]


class StepRun(models.Model):
    """What one step did (or waits to do) for one enrollment: at most once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Scheduled"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for the event"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    OPEN = (Status.PENDING, Status.RUNNING, Status.WAITING)

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="runs")
    # Copies of the enrollment's, so the executor's and the statistics' queries need no join.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    # Decisions: when the "no" branch is taken if no event came (null: wait forever).
    deadline = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    branch = models.CharField(max_length=3, blank=True)
    # The outcome in a sentence: the provider's words for a failure, why it waits.
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The worker's token while running (claimed by an UPDATE ... WHERE status='pending').
    claim = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["enrollment", "step"], name="step_run_at_most_once")]
        indexes = [
            models.Index(fields=["status", "due_at"], name="step_run_due"),
            models.Index(fields=["step", "status", "due_at"], name="step_run_step_due"),
            models.Index(fields=["status", "deadline"], name="step_run_deadline"),
            models.Index(fields=["contact", "status"], name="step_run_contact"),
            models.Index(fields=["claim"], name="step_run_claim"),
            models.Index(fields=["campaign", "step", "status"], name="step_run_stats"),
        ]
