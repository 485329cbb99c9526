"""The typed contributions apps and integrations put in the registry (ARCHITECTURE.md)."""

from liaison.core.contributions.base import Contribution
from liaison.core.contributions.contacts import ContactPanel
from liaison.core.contributions.emails import EmailToken, EmailValidator, TokenContext, TokenResult
from liaison.core.contributions.integrations import (
    CheckResult,
    Feature,
    IntegrationSpec,
    OAuthConfig,
    RemoteField,
)
from liaison.core.contributions.jobs import JobKind
from liaison.core.contributions.navigation import NavItem
from liaison.core.contributions.timeline import PointEvent, TimelineKind
from liaison.core.contributions.webhooks import WebhookTopic

__all__ = [
    "CheckResult",
    "ContactPanel",
    "Contribution",
    "EmailToken",
    "EmailValidator",
    "Feature",
    "IntegrationSpec",
    "JobKind",
    "NavItem",
    "OAuthConfig",
    "PointEvent",
    "RemoteField",
    "TimelineKind",
    "TokenContext",
    "TokenResult",
    "WebhookTopic",
]
