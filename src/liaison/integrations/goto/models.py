"""GoTo facts: events, their sessions, registrations, attendances, support sessions.

Every table has its natural key as a unique constraint, so a re-run writes nothing new
and a crash between two pages duplicates nothing (ARCHITECTURE.md, "Data rules"):

* Event: (integration, product, provider_key)        webinarKey / trainingKey / meetingId
* Session: (event, provider_key)                       sessionKey / meeting sessionId
* Registration: (event, email_key)
* Attendance: (session, email_key)
* AssistSession: (integration, session_id)
* WebhookEvent: (integration, event_key)              GoTo's eventKey, for de-duplication

Provider keys are strings (64-bit integers break float-based JSON). Times are UTC.
Registrations are never deleted because GoTo's list omits them: they become
``cancelled`` with ``cancelled_at``.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone

from liaison.core.secrets import EncryptedTextField


class Product(models.TextChoices):
    WEBINAR = "webinar", "GoToWebinar"
    TRAINING = "training", "GoToTraining"
    MEETING = "meeting", "GoToMeeting"


class Event(models.Model):
    class Status(models.TextChoices):
        UPCOMING = "upcoming", "Upcoming"
        LIVE = "live", "Live"
        PAST = "past", "Past"
        CANCELLED = "cancelled", "Cancelled"

    integration = models.ForeignKey("integrations.Integration", on_delete=models.CASCADE, related_name="goto_events")
    product = models.CharField(max_length=20, choices=Product.choices)
    provider_key = models.CharField(max_length=40, help_text="webinarKey, trainingKey or meetingId")
    provider_id = models.CharField(max_length=40, blank=True, help_text="The short id people type (webinarID...)")
    organizer_key = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField(null=True, blank=True, help_text="First session's start (UTC)")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Last session's end (UTC)")
    times = models.JSONField(default=list, blank=True, help_text="Every planned slot: [{start, end}] (ISO, UTC)")
    time_zone = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UPCOMING)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    recurrence = models.CharField(max_length=30, blank=True,
                                  help_text="single_session, series, sequence, multi_session, or the meeting type")
    recurrence_key = models.CharField(max_length=40, blank=True)
    recurrence_period = models.CharField(max_length=20, blank=True)
    registration_url = models.URLField(max_length=500, blank=True)
    join_url = models.URLField(max_length=500, blank=True, help_text="Meetings: the one join link")
    extra = models.JSONField(default=dict, blank=True)
    # Sync bookkeeping: when the registrant list was last read to its end, and whether the
    # event is over with every session's attendance read (then it is not fetched again).
    registrants_synced_at = models.DateTimeField(null=True, blank=True)
    attendance_complete = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "product", "provider_key"], name="goto_event_natural_key"),
        ]
        indexes = [
            models.Index(fields=["integration", "product", "status", "starts_at"], name="goto_event_listing"),
            models.Index(fields=["product", "starts_at"], name="goto_event_product_time"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def product_label(self) -> str:
        return Product(self.product).label


class Session(models.Model):
    """One held session of an event (GoTo lists sessions only once they have ended)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="sessions")
    provider_key = models.CharField(max_length=40)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    attendee_count = models.PositiveIntegerField(null=True, blank=True, help_text="As GoTo reports it")
    attendance_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "provider_key"], name="goto_session_natural_key")]

    def __str__(self) -> str:
        return f"{self.event} · {self.starts_at:%Y-%m-%d %H:%M}" if self.starts_at else str(self.event)


class Registration(models.Model):
    class Status(models.TextChoices):
        APPROVED = "approved", "Registered"
        WAITING = "waiting", "Waiting for approval"
        DENIED = "denied", "Denied"
        CANCELLED = "cancelled", "Cancelled"

    class Source(models.TextChoices):
        SYNC = "sync", "Sync"
        FORM = "form", "Form"
        CAMPAIGN = "campaign", "Campaign"
        POINTS = "points", "Points trigger"
        WEBHOOK = "webhook", "Webhook"
        API = "api", "API"

    ACTIVE = (Status.APPROVED, Status.WAITING)

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="goto_registrations")
    email = models.CharField(max_length=254)
    email_key = models.CharField(max_length=254)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    registrant_key = models.CharField(max_length=40, blank=True)
    join_url = models.URLField(max_length=500, blank=True)
    confirmation_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.APPROVED)
    registered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.SYNC)
    # The start of the last registrant read that saw this row (rows a complete read did not
    # see are the ones GoTo no longer lists: they become cancelled).
    seen_at = models.DateTimeField(null=True, blank=True)
    # When "registered" was announced to points and campaigns (``points.occurred``): set once,
    # by the write that first stored the registration, so nothing is announced twice.
    announced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-registered_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["event", "email_key"], name="goto_registration_natural_key")]
        indexes = [
            models.Index(fields=["contact", "event"], name="goto_registration_contact"),
            models.Index(fields=["event", "status"], name="goto_registration_status"),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.event}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class Attendance(models.Model):
    """One person's presence in one session: every join/leave interval, the total."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="attendances")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attendances")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="goto_attendances")
    registration = models.ForeignKey(Registration, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="attendances")
    email = models.CharField(max_length=254)
    email_key = models.CharField(max_length=254)
    registrant_key = models.CharField(max_length=40, blank=True)
    intervals = models.JSONField(default=list, blank=True, help_text="[{join, leave}] (ISO, UTC)")
    duration_seconds = models.PositiveIntegerField(default=0)
    first_join_at = models.DateTimeField(null=True, blank=True)
    last_leave_at = models.DateTimeField(null=True, blank=True)
    # Set on the attendance that announced "attended" for its event (the person's first one).
    announced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["first_join_at", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "email_key"], name="goto_attendance_natural_key")]
        indexes = [
            models.Index(fields=["contact", "event"], name="goto_attendance_contact"),
            models.Index(fields=["event", "email_key"], name="goto_attendance_event_email"),
        ]

    def __str__(self) -> str:
        return f"{self.email} @ {self.session}"


class AssistSession(models.Model):
    """A GoToAssist remote-support session."""

    class Status(models.TextChoices):
        NOT_STARTED = "notStarted", "Not started"
        WAITING = "waiting", "Waiting for the customer"
        ACTIVE = "active", "In progress"
        COMPLETE = "complete", "Complete"
        ABANDONED = "abandoned", "Abandoned"

    integration = models.ForeignKey("integrations.Integration", on_delete=models.CASCADE,
                                    related_name="goto_assist_sessions")
    session_id = models.CharField(max_length=40)
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="goto_assist_sessions")
    status = models.CharField(max_length=20, choices=Status.choices)
    customer_name = models.CharField(max_length=200, blank=True)
    customer_email = models.CharField(max_length=254, blank=True)
    expert_name = models.CharField(max_length=200, blank=True)
    expert_email = models.CharField(max_length=254, blank=True)
    expert_key = models.CharField(max_length=40, blank=True)
    partner_object = models.CharField(max_length=200, blank=True, help_text="The CRM ticket id")
    partner_object_url = models.URLField(max_length=500, blank=True)
    customer_join_url = models.URLField(max_length=500, blank=True)
    launch_url = models.URLField(max_length=500, blank=True, help_text="The expert's link (sessions created here)")
    recording_url = models.URLField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    customer_joined_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    resolution = models.CharField(max_length=20, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    feedback = models.TextField(blank=True)
    portal = models.CharField(max_length=100, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    # When "attended" (the customer joined) was announced to points and campaigns.
    announced_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "session_id"], name="goto_assist_natural_key"),
        ]
        indexes = [models.Index(fields=["contact"], name="goto_assist_contact")]

    def __str__(self) -> str:
        return f"Support session {self.session_id}"

    @property
    def is_final(self) -> bool:
        return self.status in (self.Status.COMPLETE, self.Status.ABANDONED)


def _token() -> str:
    return secrets.token_urlsafe(24)


class WebhookChannel(models.Model):
    """GoToWebinar webhooks of one account: where GoTo posts, how deliveries are signed."""

    class State(models.TextChoices):
        OFF = "off", "Off"
        ACTIVE = "active", "Active"
        ERROR = "error", "Problem"

    integration = models.OneToOneField("integrations.Integration", on_delete=models.CASCADE,
                                       related_name="goto_webhooks")
    token = models.CharField(max_length=64, unique=True, default=_token, help_text="The receiver URL's secret part")
    secret = EncryptedTextField(blank=True, help_text="GoTo's signing secret key (stored encrypted)")
    secret_key_id = models.CharField(max_length=40, blank=True)
    callback_url = models.URLField(max_length=500, blank=True)
    webhook_keys = models.JSONField(default=dict, blank=True, help_text="{eventName: webhookKey}")
    subscription_keys = models.JSONField(default=dict, blank=True, help_text="{webhookKey: userSubscriptionKey}")
    state = models.CharField(max_length=20, choices=State.choices, default=State.OFF)
    message = models.TextField(blank=True)
    received = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    last_received_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Webhooks of {self.integration}"


class WebhookEvent(models.Model):
    """One GoToWebinar webhook delivery, kept under its ``eventKey`` so a repeat is ignored."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Refused"

    integration = models.ForeignKey("integrations.Integration", on_delete=models.CASCADE,
                                    related_name="goto_webhook_events")
    event_key = models.CharField(max_length=64)
    event_name = models.CharField(max_length=60)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.APPLIED)
    message = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["integration", "event_key"], name="goto_webhook_event_key")]
        indexes = [models.Index(fields=["integration", "-received_at"], name="goto_webhook_recent")]

    def __str__(self) -> str:
        return f"{self.event_name} {self.event_key}"


# -- connector triggers (GoTo part 2) --------------------------------------------------------------

class TriggerEvent(models.Model):
    """A fact that fired a connector trigger, recorded once: a training or webinar created, a
    registrant added.

    The unique ``(integration, topic, subject)`` is the "emitted" marker: storing the same
    fact again (a re-run sync, a webhook racing the sync) fires nothing more. The id is the
    cursor of polling triggers; ``payload`` is the connector's object at that moment.
    """

    class Topic(models.TextChoices):
        TRAINING_CREATED = "goto.training.created", "A training is created"
        TRAINING_REGISTRANT = "goto.training.registrant_added", "A registrant is added to a training"
        WEBINAR_CREATED = "goto.webinar.created", "A webinar is created"
        WEBINAR_REGISTRANT = "goto.webinar.registrant_added", "A registrant is added to a webinar"

    integration = models.ForeignKey("integrations.Integration", on_delete=models.CASCADE,
                                    related_name="goto_trigger_events")
    topic = models.CharField(max_length=60, choices=Topic.choices)
    subject = models.CharField(max_length=300, help_text="The event key, or event key and e-mail key")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="trigger_events")
    registration = models.ForeignKey(Registration, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="trigger_events")
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    payload = models.JSONField(default=dict)
    claim = models.CharField(max_length=32, help_text="Which write inserted the row (it alone announces it)")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["integration", "topic", "subject"],
                                               name="goto_trigger_once")]
        indexes = [
            models.Index(fields=["integration", "topic", "id"], name="goto_trigger_poll"),
            models.Index(fields=["event", "topic", "id"], name="goto_trigger_event_poll"),
            models.Index(fields=["claim"], name="goto_trigger_claim"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.subject}"


class TriggerPoll(models.Model):
    """When a connection (API token) last polled one trigger: polls come at most every 120 s."""

    token = models.ForeignKey("users.ApiToken", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200, help_text="account, trigger and its parameter")
    polled_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="goto_trigger_poll_once")]


# -- GoToAssist workflows ------------------------------------------------------------------------------

class ConnectionCode(models.Model):
    """A Phone Mode connection code created from Liaison (the customer types it to join)."""

    integration = models.ForeignKey("integrations.Integration", on_delete=models.CASCADE,
                                    related_name="goto_connection_codes")
    code = models.CharField(max_length=20)
    session = models.ForeignKey(AssistSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    session_id_text = models.CharField(max_length=40, blank=True, help_text="GoTo's sessionId")
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="goto_connection_codes")
    customer_join_url = models.URLField(max_length=500, blank=True)
    created_by = models.ForeignKey("users.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["integration", "code"], name="goto_connection_code_unique")]
        indexes = [models.Index(fields=["contact", "expires_at"], name="goto_code_contact")]

    def __str__(self) -> str:
        return f"Connection code {self.code}"

    @property
    def is_open(self) -> bool:
        return self.cancelled_at is None and self.expires_at > timezone.now()


class AssistRule(models.Model):
    """Notify someone about support sessions: a low rating, an unresolved session, a long queue."""

    class Kind(models.TextChoices):
        LOW_RATING = "low_rating", "A session is rated at or below"
        UNRESOLVED = "unresolved", "A session is left unresolved"
        WAITING = "waiting", "The waiting queue reaches"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    name = models.CharField(max_length=200)
    integration = models.ForeignKey("integrations.Integration", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="goto_assist_rules", help_text="Empty: every GoTo account")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    threshold = models.PositiveIntegerField(null=True, blank=True,
                                            help_text="Rating 1-5 (low rating) or customers waiting (queue)")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    email = models.EmailField(max_length=254, blank=True)
    user = models.ForeignKey("users.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    webhook = models.ForeignKey("webhooks.Subscription", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    active = models.BooleanField(default=True)
    # The waiting-queue rule's state: above the threshold since the last crossing, and how many crossings.
    above = models.BooleanField(default=False)
    crossings = models.PositiveIntegerField(default=0)
    last_count = models.PositiveIntegerField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("users.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="low_rating") | models.Q(threshold__gte=1, threshold__lte=5),
                name="goto_rule_rating_threshold"),
            models.CheckConstraint(
                condition=~models.Q(kind="waiting") | models.Q(threshold__gte=1, threshold__lte=10000),
                name="goto_rule_waiting_threshold"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def condition(self) -> str:
        if self.kind == self.Kind.LOW_RATING:
            return f"rated {self.threshold} or less (out of 5)"
        if self.kind == self.Kind.WAITING:
            return f"{self.threshold} or more customers waiting"
        return "left unresolved"

    @property
    def recipient(self) -> str:
        if self.channel == self.Channel.WEBHOOK:
            return self.webhook.url if self.webhook_id and self.webhook else "(webhook deleted)"
        return self.email or (self.user.email if self.user_id and self.user else "")


class AssistNotification(models.Model):
    """One notification of a rule, recorded once per session (or per queue crossing)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(AssistRule, on_delete=models.CASCADE, related_name="notifications")
    occurrence = models.CharField(max_length=80, help_text="session:<id> or crossing:<n>")
    session = models.ForeignKey(AssistSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=20)
    recipient = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    delivery = models.ForeignKey("webhooks.Delivery", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    claim = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "occurrence"], name="goto_notification_once")]
        indexes = [models.Index(fields=["claim"], name="goto_notification_claim")]

    def __str__(self) -> str:
        return self.subject
