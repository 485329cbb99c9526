"""The forms app's campaign step: "submits form" (a decision, and a way into a campaign)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from liaison.core.contributions import CampaignStep, ContactEvent
from liaison.webforms import services
from liaison.webforms.models import Form


class FormsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    forms: list[int] = Field(default_factory=list, title="Forms", description="Leave empty for any form.")


@dataclass(eq=False, repr=False)
class SubmitsForm(CampaignStep):
    def matches(self, config: FormsConfig, event: ContactEvent) -> bool:
        return event.key in self.events and (not config.forms or
                                             event.subject_value("form_id") in {str(f) for f in config.forms})

    def context_from(self, config: FormsConfig, event: ContactEvent):
        return {"form_id": event.data.get("form_id"), "submission_id": event.data.get("submission_id")}

    def check(self, config: FormsConfig):
        found = set(Form.objects.filter(pk__in=config.forms).values_list("pk", flat=True))
        return [f"Form #{f} does not exist (any more)." for f in config.forms if f not in found]

    def config_choices(self, name):
        return services.form_choices() if name == "forms" else None

    def summary(self, config: FormsConfig):
        if not config.forms:
            return "Submits any form"
        names = dict(Form.objects.filter(pk__in=config.forms).values_list("pk", "name"))
        return "Submits " + ", ".join(f"“{names.get(f, f'#{f} (deleted)')}”" for f in config.forms)


def campaign_steps() -> list[CampaignStep]:
    return [SubmitsForm(key="webforms.submits", label="Submits form", step_kind="decision", group="Forms",
                        events=("webforms.submitted",), can_start=True, config_schema=FormsConfig,
                        description="Waits for (or starts with) a submission of one of these forms.")]
