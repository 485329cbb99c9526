"""One error shape for the whole API: {"detail": "...", "errors": {field: [messages]}}."""

from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied
from django.db import DataError
from django.http import Http404
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from liaison.core.errors import LiaisonError, NotFound, RateLimited, ValidationFailed
from liaison.core.http import ProviderError
from liaison.core.registry import UnknownContribution

logger = logging.getLogger(__name__)


def _field_name(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "payload", "data")]
    # ninja nests the body under the parameter name (e.g. ["body", "payload", "email"]).
    return ".".join(parts) or "__all__"


def install(api) -> None:
    @api.exception_handler(NinjaValidationError)
    def on_validation(request, exc):
        errors: dict[str, list[str]] = {}
        for error in exc.errors:
            message = error.get("msg", "Invalid value.")
            if error.get("type") == "missing":
                message = "This field is required."
            elif error.get("type") == "extra_forbidden":
                message = "Unknown field."
            errors.setdefault(_field_name(error.get("loc", ())), []).append(message)
        return api.create_response(request, {"detail": "Some values are not valid.", "errors": errors}, status=422)

    @api.exception_handler(ValidationFailed)
    def on_failed(request, exc):
        return api.create_response(request, {"detail": str(exc), "errors": exc.errors}, status=422)

    @api.exception_handler(ProviderError)
    def on_provider(request, exc):
        return api.create_response(request, {"detail": exc.user_message, "provider": exc.as_dict()}, status=502)

    @api.exception_handler(RateLimited)
    def on_rate_limited(request, exc):
        response = api.create_response(request, {"detail": str(exc)}, status=429)
        response["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response

    @api.exception_handler(NotFound)
    def on_not_found(request, exc):
        return api.create_response(request, {"detail": str(exc) or "Not found."}, status=404)

    @api.exception_handler(Http404)
    def on_404(request, exc):
        return api.create_response(request, {"detail": "Not found."}, status=404)

    @api.exception_handler(UnknownContribution)
    def on_unknown(request, exc):
        return api.create_response(request, {"detail": str(exc)}, status=404)

    @api.exception_handler(PermissionDenied)
    def on_denied(request, exc):
        return api.create_response(request, {"detail": str(exc) or "Not allowed."}, status=403)

    @api.exception_handler(AuthorizationError)
    def on_authz(request, exc):
        return api.create_response(request, {"detail": exc.message}, status=403)

    @api.exception_handler(AuthenticationError)
    def on_authn(request, exc):
        return api.create_response(
            request, {"detail": "Authenticate with “Authorization: Bearer <token>” or a signed-in session."},
            status=401)

    @api.exception_handler(OverflowError)
    def on_overflow(request, exc):
        # The last line of defence: schemas bound their numbers, this catches the rest.
        return api.create_response(request, {"detail": "A number in the request is too large to store."},
                                   status=422)

    @api.exception_handler(DataError)
    def on_data_error(request, exc):
        logger.warning("database refused a value: %s", exc)
        return api.create_response(request, {"detail": "A value in the request is too large or malformed to "
                                                       "store."}, status=422)

    @api.exception_handler(LiaisonError)
    def on_liaison(request, exc):
        return api.create_response(request, {"detail": str(exc)}, status=400)

    @api.exception_handler(HttpError)
    def on_http(request, exc):
        return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)
