from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from liaison.core.errors import ValidationFailed
from liaison.users.models import ApiToken

TOKEN_PREFIX = "lsn"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(user, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the plain token (shown once, never stored)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": ["Give the token a name, e.g. the tool that will use it."]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed({"expires_at": ["The expiry date must be in the future."]})
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:100], prefix=prefix, digest=_digest(secret),
                                    expires_at=expires_at)
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


def authenticate_token(raw: str):
    """The active user a token belongs to, or None."""
    token = find_api_token(raw)
    return token.user if token is not None else None


def find_api_token(raw: str) -> ApiToken | None:
    """The valid token row (with its active user) for a presented token, or None.

    Features that act per connection (the GoTo connector: one token = one connection)
    need the token, not only its user.
    """
    try:
        marker, prefix, secret = (raw or "").strip().split("_", 2)
    except ValueError:
        return None
    if marker != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or token.is_expired or not token.user.is_active:
        return None
    if not hmac.compare_digest(token.digest, _digest(secret)):
        return None
    now = timezone.now()
    # Write "last used" at most once a minute per token.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def ensure_admin(username: str = "admin", email: str = "admin@localhost") -> tuple[object, str | None]:
    """Create an administrator when there is none. Returns (user, password or None)."""
    User = get_user_model()
    existing = User.objects.filter(role=User.Role.ADMIN, is_active=True).first() or User.objects.filter(
        is_superuser=True, is_active=True).first()
    if existing:
        return existing, None
    password = secrets.token_urlsafe(12)
    name = username
    suffix = 1
    while User.objects.filter(username=name).exists():
        suffix += 1
        name = f"{username}{suffix}"
    user = User.objects.create_superuser(username=name, email=email, password=password)
    return user, password
