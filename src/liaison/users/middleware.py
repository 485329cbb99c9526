"""Access control for every UI request (secure by default) and the user's time zone."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils import timezone

from liaison.core.permissions import default_capability, has_capability

# Paths with their own access rules: the API authenticates itself (tokens or session),
# static files are public, and the demo sandbox emulates providers.
EXEMPT_PREFIXES = ("/api/", "/static/", "/sandbox/", "/favicon.ico")


class AccessMiddleware:
    """Every view needs a signed-in user with the right capability, unless marked public.

    A view states its capability with ``@requires("admin")``; otherwise reading needs
    "view" and changing needs "edit", so a read-only user can never post a change.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "liaison_public", False) or request.path.startswith(EXEMPT_PREFIXES):
            return None
        if not request.user.is_authenticated:
            if getattr(request, "htmx", False):
                response = HttpResponse(status=401)
                response["HX-Redirect"] = settings.LOGIN_URL if settings.LOGIN_URL.startswith("/") else "/login/"
                return response
            return redirect_to_login(request.get_full_path())
        capability = getattr(view_func, "liaison_capability", None) or default_capability(request.method)
        if not has_capability(request.user, capability):
            raise PermissionDenied(f"Your role does not allow this ({capability} rights are needed).")
        return None


class TimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tz_name = getattr(getattr(request, "user", None), "time_zone", None)
        if tz_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tz_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
