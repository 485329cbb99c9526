from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def new_send_token() -> str:
    """The secret in a send's tracking, unsubscribe and web-view URLs (128 random bits)."""
    return secrets.token_urlsafe(16)


class Email(models.Model):
    """An e-mail: its content with tokens, its sender, and how it is sent (kind)."""

    class Kind(models.TextChoices):
        # Sent one contact at a time by form and campaign actions (and "Send to a contact").
        TEMPLATE = "template", "Template e-mail"
        # Broadcast to segments (the broadcast job drives the batch sender).
        SEGMENT = "segment", "Segment e-mail"

    name = models.CharField(max_length=200)
    subject = models.CharField(max_length=255)
    html = models.TextField("HTML body")
    # Blank: the text part is generated from the HTML when sending.
    text = models.TextField("text part", blank=True, default="")
    from_name = models.CharField(max_length=100, blank=True)
    # Blank: the configured default sender (LIAISON_DEFAULT_FROM_EMAIL).
    from_email = models.CharField("from address", max_length=254, blank=True)
    reply_to = models.CharField("reply-to", max_length=254, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TEMPLATE)
    # Unpublished e-mails are never sent to contacts (tests still work).
    published = models.BooleanField(default=True)
    category = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["kind", "-updated_at"], name="email_kind_updated")]

    def __str__(self) -> str:
        return self.name

    def token_uses(self):
        """Every token this e-mail contains: [TokenUse(name, param, default, source, field)]."""
        from liaison.emails.tokens import uses_in_email

        return uses_in_email(self)

    def audience_targets(self) -> list[tuple[str, list[str]]]:
        """Who a segment e-mail goes to: ``[(audience key, values)]`` (e.g. ``("segments.segment", ["3"])``).

        Validators read it to check an e-mail against its audiences (it sees what the save
        being checked has written)."""
        if self.pk is None:
            return []
        rows = sorted(self.audiences.all(), key=lambda a: a.audience)  # .all(): prefetch_related works
        return [(a.audience, [str(v) for v in a.values]) for a in rows]


class EmailAudience(models.Model):
    """One audience a segment e-mail is broadcast to: a registry ``Audience`` key and its values
    (for ``segments.segment``: segment ids). Contacts in any of them get it."""

    email = models.ForeignKey(Email, on_delete=models.CASCADE, related_name="audiences")
    audience = models.CharField(max_length=100)
    values = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["audience"]
        constraints = [models.UniqueConstraint(fields=["email", "audience"], name="email_audience_once")]

    def __str__(self) -> str:
        return f"{self.audience}: {', '.join(map(str, self.values))}"


class Broadcast(models.Model):
    """The sending of a segment e-mail to its audiences: its state, its job and its runs.

    One per segment e-mail. Each run (start, resume, "send to new members") sends to the
    audience's contacts that have no send of this broadcast yet; ``Send.broadcast`` is unique
    per contact, so nobody gets it twice.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Not sent yet"
        RUNNING = "running", "Sending"
        PAUSED = "paused", "Paused"
        FINISHED = "finished", "Sent"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Stopped by an error"

    email = models.OneToOneField(Email, on_delete=models.CASCADE, related_name="broadcast")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Contacts of the audience at the start of the latest run (for progress).
    total = models.PositiveIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Broadcast of {self.email}"

    @property
    def interrupted(self) -> bool:
        """Marked sending, but its job is over (the worker died and the job ran out of attempts)."""
        return self.status == self.Status.RUNNING and (self.job is None or not self.job.is_active)

    @property
    def state(self) -> str:
        return "interrupted" if self.interrupted else self.status

    @property
    def state_label(self) -> str:
        return "Interrupted" if self.interrupted else self.get_status_display()


class EmailContent(models.Model):
    """The exact content sends were rendered from, shared by every send of that version.

    Web views re-render a send from its version and the token values stored on the send,
    so they show the message as it was sent, even after the e-mail was edited.
    """

    email = models.ForeignKey(Email, on_delete=models.CASCADE, related_name="versions")
    digest = models.CharField(max_length=64, unique=True)
    subject = models.CharField(max_length=255)
    html = models.TextField()
    text = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    @staticmethod
    def digest_of(email_id: int, subject: str, html: str, text: str) -> str:
        payload = "\x1f".join([str(email_id), subject, html, text]).encode()
        return hashlib.sha256(payload).hexdigest()


class Send(models.Model):
    """One message to one contact: the send log, its tracking token and counters.

    ``dedupe_key`` is unique: the same logical send (a broadcast to a contact, a campaign
    step for an enrollment) can never be created twice, whatever crashes and retries.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not sent"

    email = models.ForeignKey(Email, on_delete=models.CASCADE, related_name="sends")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="email_sends")
    to_email = models.CharField("to", max_length=254)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=500, blank=True)
    token = models.CharField(max_length=32, unique=True, default=new_send_token)
    dedupe_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # The batch that claimed it ("<owner>:<random>"); kept after sending for recovery.
    claim = models.CharField(max_length=80, blank=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The broadcast this send belongs to (segment e-mails): unique per contact.
    broadcast = models.ForeignKey(Broadcast, null=True, blank=True, on_delete=models.CASCADE, related_name="sends")
    content = models.ForeignKey(EmailContent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject = models.CharField(max_length=255, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    # The tracked links of this send; the click URL carries the index.
    links = models.JSONField(default=list, blank=True)
    # HTML values of the tokens, to show the message again (web view) exactly as sent.
    values = models.JSONField(default=dict, blank=True)
    # Why it was sent (campaign step, form submission, broadcast ...), read by tokens.
    context = models.JSONField(default=dict, blank=True)
    # Problems met while rendering that did not stop the send (a token's fallback, ...).
    notes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    open_count = models.PositiveIntegerField(default=0)
    clicked_at = models.DateTimeField(null=True, blank=True)
    click_count = models.PositiveIntegerField(default=0)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["email", "status"], name="send_email_status"),
            models.Index(fields=["email", "-created_at", "-id"], name="send_email_log"),
            models.Index(fields=["contact", "-created_at"], name="send_contact_created"),
            # Recovery looks for sends stuck in "sending".
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="send_sending_claimed"),
            models.Index(fields=["status", "created_at"], name="send_status_created"),
            models.Index(fields=["broadcast", "status"], name="send_broadcast_status"),
        ]
        constraints = [
            # A contact never gets the same broadcast twice, whatever crashes, retries and re-runs.
            models.UniqueConstraint(fields=["broadcast", "contact"], name="send_once_per_broadcast"),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.to_email}"

    @property
    def opened(self) -> bool:
        return self.opened_at is not None


class Click(models.Model):
    """One click on a tracked link (no IP address or user agent is kept)."""

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="clicks")
    link = models.PositiveSmallIntegerField()
    url = models.TextField()
    clicked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-clicked_at", "-id"]
        indexes = [models.Index(fields=["send", "link"], name="click_send_link")]
