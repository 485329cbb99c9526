"""A test-only campaign action with choices for its settings (point triggers run it).

"Push to Example CRM" records each target it is given, refuses the addresses listed in
its config with the provider's own words, and raises a retryable failure while the test
asks for one: enough to prove how runners report outcomes without a real provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from liaison.core.contributions import ActionResult, CampaignStep
from liaison.core.errors import RetryableError

# What the action did (one dict per target) and how many transient failures are still due.
CALLS: list[dict] = []
TRANSIENT = {"left": 0}
LISTS = {"vip": "VIP list", "newsletter": "Newsletter list"}


class PushConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    crm_list: str = Field(title="List", description="The Example CRM list to put the contact in.")
    refuse: str = Field("", title="Refuse these addresses",
                        description="Test-only: the CRM answers 'Contact is locked' for them (comma-separated).")


@dataclass(eq=False, repr=False)
class PushToExample(CampaignStep):
    def run(self, targets, config):
        if TRANSIENT["left"] > 0:
            TRANSIENT["left"] -= 1
            raise RetryableError("Example CRM is busy (503), try later.")
        results = []
        for target in targets:
            CALLS.append({"email": target.contact.email, "list": config.crm_list, "dedupe_key": target.dedupe_key,
                          "source": target.source, "context": dict(target.context)})
            if target.contact.email in {a.strip() for a in config.refuse.split(",")}:
                results.append(ActionResult(False, f"Example CRM: Contact {target.contact.email} is locked."))
            else:
                results.append(ActionResult(True, f"Added to {LISTS.get(config.crm_list, config.crm_list)}.",
                                            {"context": {"example": {"list": config.crm_list}}}))
        return results

    def check(self, config):
        return [] if config.crm_list in LISTS else [f"There is no list “{config.crm_list}” in Example CRM."]

    def config_choices(self, name):
        return list(LISTS.items()) if name == "crm_list" else None

    def summary(self, config):
        return f"Push to Example CRM ({LISTS.get(config.crm_list, config.crm_list)})"


def push_steps() -> list[CampaignStep]:
    return [PushToExample(key="example.push", label="Push to Example CRM", step_kind="action", group="Example",
                          config_schema=PushConfig, idempotent=True)]
