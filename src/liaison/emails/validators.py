"""The core save-time rules for e-mails (``EmailValidator`` contributions)."""

from __future__ import annotations

from liaison.core.contributions import EmailValidator


def _needs_unsubscribe_link(email) -> list[str]:
    if email.kind != "segment":
        return []
    if any(use.name == "unsubscribe_url" for use in email.token_uses() if use.field == "html"):
        return []
    return ["A segment e-mail must let people unsubscribe: add a link to {unsubscribe_url} in the HTML body."]


CORE_VALIDATORS = (
    EmailValidator(key="emails.unsubscribe_link", label="Segment e-mails carry an unsubscribe link",
                   check=_needs_unsubscribe_link, field="html"),
)
