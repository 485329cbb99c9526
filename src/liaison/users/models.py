from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from liaison.core.permissions import ROLE_ADMIN, ROLE_MARKETER, ROLE_READONLY


class User(AbstractUser):
    class Role(models.TextChoices):
        ADMIN = ROLE_ADMIN, "Administrator"
        MARKETER = ROLE_MARKETER, "Marketer"
        READONLY = ROLE_READONLY, "Read-only"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MARKETER)
    time_zone = models.CharField(max_length=64, default="UTC")

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        if self.is_superuser:
            self.role = self.Role.ADMIN
        super().save(*args, **kwargs)


class ApiToken(models.Model):
    """A personal API token. Only a hash is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
