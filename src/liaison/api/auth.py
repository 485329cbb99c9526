"""API authentication: personal tokens (Bearer) or the browser session (with CSRF).

After authenticating, the role is checked against the method: reading needs "view",
changing needs "edit". Operations needing more say so with ``@requires("admin")``.
"""

from __future__ import annotations

from ninja.errors import AuthorizationError
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from liaison.core.permissions import default_capability, has_capability
from liaison.users.services import find_api_token


def _authorize(request, user):
    if user is None:
        return None
    request.user = user
    capability = default_capability(request.method)
    if not has_capability(user, capability):
        raise AuthorizationError(message=f"Your role does not allow this ({capability} rights are needed).")
    return user


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        api_token = find_api_token(token)
        # The token row itself, for features that act per connection (one token = one connection).
        request.api_token = api_token
        return _authorize(request, api_token.user if api_token is not None else None)


class SessionAuth(NinjaSessionAuth):
    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        return _authorize(request, user)
