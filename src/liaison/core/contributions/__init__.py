"""The typed contributions apps and integrations put in the registry (ARCHITECTURE.md)."""

from liaison.core.contributions.audiences import Audience
from liaison.core.contributions.base import Contribution
from liaison.core.contributions.campaigns import STEP_KINDS, CampaignStep, StepTarget
from liaison.core.contributions.contacts import ContactPanel
from liaison.core.contributions.emails import EmailToken, EmailValidator, TokenContext, TokenResult
from liaison.core.contributions.events import ContactEvent, EventConsumer
from liaison.core.contributions.forms import (
    ActionResult,
    ActionSpec,
    FieldSpec,
    FormAction,
    FormFieldType,
    FormSpec,
    FormValidator,
    NoConfig,
)
from liaison.core.contributions.integrations import (
    CheckResult,
    Feature,
    IntegrationSpec,
    OAuthConfig,
    RemoteField,
)
from liaison.core.contributions.jobs import JobKind
from liaison.core.contributions.navigation import NavItem, TemplateHook
from liaison.core.contributions.segments import OPERATORS, ChoicePage, Operator, SegmentFilter
from liaison.core.contributions.timeline import PointEvent, TimelineKind
from liaison.core.contributions.webhooks import WebhookTopic

__all__ = [
    "OPERATORS",
    "STEP_KINDS",
    "ActionResult",
    "CampaignStep",
    "ActionSpec",
    "Audience",
    "CheckResult",
    "ChoicePage",
    "ContactEvent",
    "ContactPanel",
    "Contribution",
    "EmailToken",
    "EmailValidator",
    "EventConsumer",
    "Feature",
    "FieldSpec",
    "FormAction",
    "FormFieldType",
    "FormSpec",
    "FormValidator",
    "IntegrationSpec",
    "JobKind",
    "NavItem",
    "NoConfig",
    "OAuthConfig",
    "Operator",
    "PointEvent",
    "RemoteField",
    "SegmentFilter",
    "StepTarget",
    "TemplateHook",
    "TimelineKind",
    "TokenContext",
    "TokenResult",
    "WebhookTopic",
]
