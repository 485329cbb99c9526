"""Role capabilities, enforced alike in the UI (middleware, decorators) and the API.

Three roles: admin (everything), marketer (create and change marketing data, run
syncs and imports), read-only (look). A view or API operation states the capability
it needs; without a statement, reading needs "view" and changing needs "edit".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied

ROLE_ADMIN = "admin"
ROLE_MARKETER = "marketer"
ROLE_READONLY = "readonly"

CAPABILITIES: dict[str, frozenset[str]] = {
    "view": frozenset({ROLE_ADMIN, ROLE_MARKETER, ROLE_READONLY}),
    "edit": frozenset({ROLE_ADMIN, ROLE_MARKETER}),
    "admin": frozenset({ROLE_ADMIN}),
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def has_capability(user, capability: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return getattr(user, "role", None) in CAPABILITIES[capability]


def default_capability(method: str) -> str:
    return "view" if method.upper() in SAFE_METHODS else "edit"


def require(user, capability: str) -> None:
    if not has_capability(user, capability):
        raise PermissionDenied(f"Your role does not allow this ({capability} rights are needed).")


def requires(capability: str) -> Callable:
    """Mark a view (or API operation) as needing a capability; checked before it runs."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            # API operations authenticate into request.auth; views into request.user.
            require(getattr(request, "auth", None) or request.user, capability)
            return view(request, *args, **kwargs)

        wrapper.liaison_capability = capability
        return wrapper

    return decorate


def public(view):
    """Mark a view as open to anonymous visitors (login page, public forms, tracking)."""
    view.liaison_public = True
    return view
