"""Points: rules that score contact events, and triggers that act once a contact's points
reach a threshold.

- A ``PointRule`` gives N points (negative to take some) when a ``PointEvent`` happens,
  optionally only for some subjects (these e-mails, these forms, these webinars), once per
  fact or once per contact.
- A ``PointAward`` is one scoring of one rule for one contact; its unique
  ``(rule, contact, ref)`` makes scoring idempotent: ``ref`` is the event's fact
  (``emails:send:12``), or ``ONCE`` for a rule that scores once per contact.
- A ``PointTrigger`` runs a list of campaign actions (registry ``CampaignStep`` actions)
  when a contact reaches its threshold; its ``TriggerFiring`` (unique per trigger and
  contact) keeps it to once per contact, ever, and holds each action's outcome.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

# The award ref of a rule that scores once per contact, whatever the fact.
ONCE = "once"


class PointRule(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    # A PointEvent key (emails.opened, webforms.submitted, goto.webinar.attended, ...).
    event = models.CharField(max_length=100, db_index=True)
    # Subject values (strings) the rule is limited to; empty: any subject.
    subjects = models.JSONField(default=list, blank=True)
    points = models.IntegerField()
    once_per_contact = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="point_rule_unique_name")]

    def __str__(self) -> str:
        return self.name


class PointAward(models.Model):
    rule = models.ForeignKey(PointRule, on_delete=models.CASCADE, related_name="awards")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="point_awards")
    # The fact scored (the event's ref), or ONCE for a once-per-contact rule.
    ref = models.CharField(max_length=255)
    event_ref = models.CharField(max_length=255, blank=True)
    points = models.IntegerField()
    awarded_at = models.DateTimeField(default=timezone.now)
    # Which insert wrote the row: after an INSERT that ignores conflicts, the rows with this
    # batch's token are exactly the new ones (portable; no RETURNING needed).
    batch = models.CharField(max_length=32, db_index=True)

    class Meta:
        ordering = ["-awarded_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "contact", "ref"], name="point_award_once")]
        indexes = [models.Index(fields=["rule", "-awarded_at"], name="point_award_rule_time")]


class PointTrigger(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    threshold = models.IntegerField()
    # [{"key": CampaignStep action key, "config": {...}}], run in this order.
    actions = models.JSONField(default=list, blank=True)
    # When created: also fire for contacts already at the threshold (else they are skipped).
    include_existing = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["threshold", "name", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="point_trigger_unique_name")]

    def __str__(self) -> str:
        return self.name


class TriggerFiring(models.Model):
    """A trigger reached by a contact: at most one per trigger and contact, ever."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RETRYING = "retrying", "Waiting to retry"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    OPEN = (Status.QUEUED, Status.RETRYING)

    trigger = models.ForeignKey(PointTrigger, on_delete=models.CASCADE, related_name="firings")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="trigger_firings")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # The contact's points when the threshold was found reached.
    points = models.IntegerField(default=0)
    # One entry per action, in order: {"key", "label", "ok", "message", "retry"?}.
    results = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    batch = models.CharField(max_length=32, db_index=True)
    fired_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["trigger", "contact"], name="trigger_firing_once")]
        indexes = [models.Index(fields=["trigger", "status"], name="trigger_firing_status"),
                   models.Index(fields=["trigger", "-fired_at"], name="trigger_firing_log")]
