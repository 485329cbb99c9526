"""Exceptions shared by the kernel and the apps."""

from __future__ import annotations


class LiaisonError(Exception):
    """An error whose message is meant for the user (shown as is in the UI and API)."""

    retryable = False


class RetryableError(LiaisonError):
    """A transient failure: the job that met it is retried with back-off.

    ``retry_after`` (seconds), when known, is the earliest sensible retry.
    """

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ValidationFailed(LiaisonError):
    """Input refused, with messages per field: ``{"field": ["message", ...]}``."""

    def __init__(self, errors: dict[str, list[str]] | str, message: str = ""):
        if isinstance(errors, str):
            errors = {"__all__": [errors]}
        self.errors = errors
        super().__init__(message or "; ".join(f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v)
                                               for k, v in errors.items()))


class NotFound(LiaisonError):
    pass


class RateLimited(LiaisonError):
    """A caller exceeded a limit (API calls per connection, trigger polls): refused, not queued.

    The API answers 429 with ``Retry-After: <retry_after>`` (whole seconds, rounded up).
    """

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after
