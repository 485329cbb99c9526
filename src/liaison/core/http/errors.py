"""Provider errors, in the provider's words and in a sentence the user understands."""

from __future__ import annotations

from dataclasses import dataclass

from liaison.core.errors import LiaisonError

STATUS_SENTENCES = {
    400: "{provider} refused the request as invalid.",
    401: "{provider} did not accept the credentials; reconnect the account.",
    403: "{provider} refused access; check the account's permissions or reconnect it.",
    404: "{provider} could not find what was asked for.",
    405: "{provider} does not allow this operation.",
    409: "{provider} reported a conflict with existing data.",
    410: "{provider} says this no longer exists.",
    422: "{provider} could not process the data sent.",
    429: "{provider} kept refusing calls because its rate limit was exceeded.",
}


@dataclass
class ErrorInfo:
    """What a provider said about a failure: its code, its own message, an incident id."""

    code: str = ""
    detail: str = ""
    incident: str = ""


class ProviderError(LiaisonError):
    """A call to a provider failed. ``str()`` is the sentence shown to users.

    ``detail`` is the provider's own message, kept verbatim; ``sentence`` is its
    translation (from the integration's table of known codes, else by HTTP status).
    """

    def __init__(
        self,
        provider: str,
        sentence: str,
        *,
        status: int | None = None,
        code: str = "",
        detail: str = "",
        incident: str = "",
        method: str = "",
        path: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
    ):
        self.provider = provider
        self.sentence = sentence
        self.status = status
        self.code = code
        self.detail = detail
        self.incident = incident
        self.method = method
        self.path = path
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(self.user_message)

    @property
    def user_message(self) -> str:
        message = self.sentence
        said = ": ".join(part for part in (self.code, self.detail) if part)
        if said and said not in message:
            message += f' ({self.provider} said: "{said}")'
        if self.incident:
            message += f" [incident {self.incident}]"
        return message

    def as_dict(self) -> dict:
        return {
            "provider": self.provider,
            "message": self.user_message,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            "incident": self.incident,
        }


class MalformedResponse(ProviderError):
    """The provider answered with a body that cannot be read; nothing is stored from it."""


class BudgetExhausted(LiaisonError):
    """The call budget stayed full longer than the caller may wait; retry later."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after
