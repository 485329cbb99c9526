"""Test-only campaign steps, one of each kind, the way an integration would write them.

- ``example.tag`` (action): records a call per contact in ``CALLS``; ``OUTCOMES`` makes a
  contact fail (``"fail"``: the provider's words), fail transiently (``"retry"``) or the whole
  batch raise ``RetryableError`` (key ``"*"``: ``"raise"``); its result adds
  ``{"tagged": tag}`` to the context;
- ``example.idempotent`` (action, idempotent): may be re-run after a crash;
- ``example.offline`` (action): unavailable while ``OFFLINE`` holds a reason;
- ``example.named`` (condition): the contact's first name is one of ``names``;
- ``example.clicked`` (decision, can start a campaign): the ``example.clicked`` event for a
  given ``thing`` (any when empty); its ``thing`` goes to the context.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from pydantic import BaseModel, ConfigDict, Field

from liaison.core.contributions import ActionResult, CampaignStep, PointEvent
from liaison.core.errors import RetryableError

CALLS: list[dict] = []
OUTCOMES: dict[str, str] = {}
OFFLINE: list[str] = []


def reset() -> None:
    CALLS.clear()
    OUTCOMES.clear()
    OFFLINE.clear()


class TagConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str = Field(..., min_length=1, max_length=40, description="The tag to set in the Example CRM.")


class NamedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    names: list[str] = Field(..., min_length=1)


class ClickedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thing: str = ""


@dataclass(eq=False, repr=False)
class TagAction(CampaignStep):
    def run(self, targets, config: TagConfig):
        if OUTCOMES.get("*") == "raise":
            raise RetryableError("Example CRM is busy (503).")
        results = []
        for target in targets:
            CALLS.append({"step": self.key, "contact": target.contact.pk, "email": target.contact.email,
                          "tag": config.tag, "dedupe_key": target.dedupe_key, "context": dict(target.context),
                          "campaign_id": target.campaign_id, "step_id": target.step_id, "source": target.source})
            outcome = OUTCOMES.get(target.contact.email, "")
            if outcome == "fail":
                results.append(ActionResult(False, "Example CRM: contact is locked by another user"))
            elif outcome == "retry":
                results.append(ActionResult(False, "Example CRM timed out", retry=True))
            else:
                results.append(ActionResult(True, f"Tagged {config.tag}", data={"context": {"tagged": config.tag}}))
        return results

    def check(self, config: TagConfig):
        return ["The tag “forbidden” is reserved by the Example CRM."] if config.tag == "forbidden" else []

    def summary(self, config: TagConfig):
        return f"Tag “{config.tag}” in the Example CRM"


@dataclass(eq=False, repr=False)
class OfflineAction(TagAction):
    def unavailable_reason(self):
        return OFFLINE[0] if OFFLINE else None


@dataclass(eq=False, repr=False)
class NamedCondition(CampaignStep):
    def to_q(self, config: NamedConfig, campaign_id=None):
        return Q(first_name__in=config.names)

    def summary(self, config: NamedConfig):
        return f"First name is {' or '.join(config.names)}"


@dataclass(eq=False, repr=False)
class ClickedDecision(CampaignStep):
    def matches(self, config: ClickedConfig, event):
        return event.key in self.events and (not config.thing or event.subject_value("thing") == config.thing)

    def context_from(self, config: ClickedConfig, event):
        return {"clicked": event.subject_value("thing") or ""}

    def summary(self, config: ClickedConfig):
        return f"Clicks {config.thing or 'anything'}"


def example_steps() -> list:
    return [
        PointEvent(key="example.clicked", label="Clicked in the Example CRM", group="Example", subject="thing",
                   subject_label="Thing"),
        TagAction(key="example.tag", label="Tag in Example CRM", step_kind="action", group="Example",
                  config_schema=TagConfig, batch_size=50),
        TagAction(key="example.idempotent", label="Tag again (idempotent)", step_kind="action", group="Example",
                  config_schema=TagConfig, idempotent=True),
        OfflineAction(key="example.offline", label="Tag while offline", step_kind="action", group="Example",
                      config_schema=TagConfig),
        NamedCondition(key="example.named", label="First name is", step_kind="condition", group="Example",
                       config_schema=NamedConfig),
        ClickedDecision(key="example.clicked", label="Clicks in Example CRM", step_kind="decision", group="Example",
                        config_schema=ClickedConfig, events=("example.clicked",), can_start=True),
    ]
