"""Segments (marketing lists): filters, materialized membership, static members.

A contact is a member when the filters match it or a static entry includes it, unless a
static entry excludes it: static entries (added or removed by hand, by import, by a form
or campaign action) take precedence over the filters.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def empty_tree() -> dict:
    return {"match": "all", "rules": []}


class Segment(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # {"match": "all"|"any", "rules": [condition | group]}; conditions are
    # {"filter": key, "operator": op, "value": ...} (see core.contributions.segments).
    filters = models.JSONField(default=empty_tree, blank=True)
    # Kept by rebuilds (exact) and by re-evaluation and static changes (deltas).
    member_count = models.PositiveIntegerField(default=0)
    built_at = models.DateTimeField(null=True, blank=True)
    # Why the last rebuild did not run (an unavailable filter), shown on the segment.
    build_problem = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A contact in a segment, as last computed (the materialized membership)."""

    class Source(models.TextChoices):
        FILTER = "filter", "Filters"
        STATIC = "static", "Added by hand"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="segment_memberships")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.FILTER)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "contact"], name="membership_unique")]
        indexes = [models.Index(fields=["contact", "segment"], name="membership_by_contact")]


class StaticMember(models.Model):
    """A hand-made decision about one contact: always in (included) or never in (excluded)."""

    class Origin(models.TextChoices):
        MANUAL = "manual", "By hand"
        IMPORT = "import", "Import"
        ACTION = "action", "Form or campaign action"
        API = "api", "API"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="static_members")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    included = models.BooleanField()
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.MANUAL)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "contact"], name="static_member_unique")]
        indexes = [models.Index(fields=["contact"], name="static_member_by_contact")]


class PendingContact(models.Model):
    """Contacts changed since the last re-evaluation (a queue; duplicates collapse when read).

    No foreign key: queueing must stay one cheap INSERT, and a contact deleted meanwhile
    is simply not found when the queue is read.
    """

    contact_id = models.BigIntegerField()
    queued_at = models.DateTimeField(default=timezone.now)
