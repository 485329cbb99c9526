from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


def normalize_email(email: str) -> str:
    """The matching key of an e-mail address: trimmed and lower-cased."""
    return (email or "").strip().lower()


def normalize_name(name: str) -> str:
    return " ".join((name or "").split()).lower()


class Company(models.Model):
    name = models.CharField(max_length=255)
    # Companies are matched by name, case- and space-insensitively.
    name_key = models.CharField(max_length=255, unique=True, editable=False)
    website = models.URLField(max_length=500, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    address1 = models.CharField("address", max_length=255, blank=True)
    address2 = models.CharField("address (line 2)", max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField("state / region", max_length=100, blank=True)
    postcode = models.CharField(max_length=30, blank=True)
    country = models.CharField(max_length=100, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.name_key = normalize_name(self.name)
        self.updated_at = timezone.now()
        super().save(*args, **kwargs)


class Contact(models.Model):
    email = models.EmailField(max_length=254)
    # Contacts are matched by e-mail, case-insensitively: the unique index on the
    # normalized key makes duplicates impossible, whatever the code path.
    email_key = models.CharField(max_length=254, unique=True, editable=False)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    position = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    mobile = models.CharField(max_length=50, blank=True)
    address1 = models.CharField("address", max_length=255, blank=True)
    address2 = models.CharField("address (line 2)", max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField("state / region", max_length=100, blank=True)
    postcode = models.CharField(max_length=30, blank=True)
    country = models.CharField(max_length=100, blank=True)
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    points = models.IntegerField(default=0)
    do_not_contact = models.BooleanField(default=False)
    dnc_reason = models.CharField("do-not-contact reason", max_length=255, blank=True)
    dnc_at = models.DateTimeField("do-not-contact since", null=True, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="contact_name"),
            models.Index(fields=["company"], name="contact_company"),
            models.Index(fields=["points"], name="contact_points"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip()
        self.email_key = normalize_email(self.email)
        super().save(*args, **kwargs)


class Field(models.Model):
    """A custom field definition; values live in ``Contact.custom`` / ``Company.custom``."""

    class Object(models.TextChoices):
        CONTACT = "contact", "Contact"
        COMPANY = "company", "Company"

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        TEXTAREA = "textarea", "Text area"
        NUMBER = "number", "Number"
        BOOLEAN = "boolean", "Yes / no"
        DATE = "date", "Date"
        DATETIME = "datetime", "Date and time"
        SELECT = "select", "Select"
        MULTISELECT = "multiselect", "Multiple select"
        EMAIL = "email", "E-mail"
        URL = "url", "URL"
        PHONE = "phone", "Phone"

    object = models.CharField(max_length=20, choices=Object.choices, default=Object.CONTACT)
    alias = models.SlugField(max_length=64, help_text="Stable name used in tokens, imports and the API.")
    label = models.CharField(max_length=150)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.TEXT)
    group = models.CharField(max_length=64, default="core", blank=True)
    default = models.JSONField(null=True, blank=True)
    choices = models.JSONField(default=list, blank=True, help_text="For select fields: [{value, label}].")
    order = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["object", "group", "order", "label"]
        constraints = [models.UniqueConstraint(fields=["object", "alias"], name="field_unique_alias")]

    def __str__(self) -> str:
        return self.label

    def choice_values(self) -> list[str]:
        return [str(c.get("value")) for c in self.choices or []]


class Activity(models.Model):
    """One entry of a contact's timeline, written when the fact is stored.

    ``dedup_key`` is unique: recording the same fact twice (a re-run sync, a retried
    job) leaves one entry.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=80)
    occurred_at = models.DateTimeField()
    title = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=80, blank=True)
    dedup_key = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"], name="activity_timeline"),
            models.Index(fields=["contact", "kind", "-occurred_at"], name="activity_contact_kind"),
            models.Index(fields=["kind", "occurred_at"], name="activity_kind_time"),
        ]

    def __str__(self) -> str:
        return self.title


class ContactImport(models.Model):
    """A CSV import: its file, column mapping, progress cursor and outcome."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Waiting for the mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    encoding = models.CharField(max_length=30, default="utf-8")
    delimiter = models.CharField(max_length=1, default=",")
    headers = models.JSONField(default=list, blank=True)
    # {"column index as text": "field key"} e.g. {"0": "email", "3": "custom.industry"}
    mapping = models.JSONField(default=dict, blank=True)
    # {"field key": "overwrite" | "fill"}; fields not listed overwrite.
    policy = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    total_rows = models.PositiveIntegerField(default=0)
    # The resume cursor: data rows fully committed so far.
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name


class ImportRowError(models.Model):
    contact_import = models.ForeignKey(ContactImport, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField(help_text="Line number in the file (the header is line 1).")
    reason = models.TextField()
    row = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["line"]
        constraints = [models.UniqueConstraint(fields=["contact_import", "line"], name="import_error_once_per_line")]
