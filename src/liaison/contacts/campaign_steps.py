"""The contacts app's campaign steps: adjust points, update a contact field."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from liaison.contacts import services
from liaison.contacts.fields import contact_field_catalogue
from liaison.core.contributions import ActionResult, CampaignStep
from liaison.core.errors import ValidationFailed

NOT_SETTABLE = ("email", "owner")


class PointsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(..., ge=-1_000_000, le=1_000_000, title="Points",
                        description="Added to the contact's points (negative to take some away).")
    reason: str = Field("", max_length=200, title="Reason", description="Shown on the timeline.")


class FieldConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(..., max_length=100, title="Contact field")
    value: str = Field("", max_length=500, title="Value")
    policy: Literal["overwrite", "fill"] = Field("overwrite", title="When the contact has a value",
                                                 description="overwrite, or fill only if empty")


def _source(targets) -> str:
    first = targets[0]
    return f"campaign:{first.campaign_id}" if first.campaign_id else first.source


@dataclass(eq=False, repr=False)
class AdjustPoints(CampaignStep):
    def run(self, targets, config: PointsConfig):
        reason = config.reason or ("Campaign step" if targets[0].campaign_id else "Points trigger")
        # One bulk update per round: a contact reaching the step twice in a batch gets two.
        remaining = Counter(t.contact.pk for t in targets)
        while remaining:
            services.adjust_points(list(remaining), config.points, reason, source=_source(targets))
            remaining = Counter({pk: n - 1 for pk, n in remaining.items() if n > 1})
        return [ActionResult(True, f"{config.points:+d} points.", data={"points": config.points}) for _ in targets]

    def check(self, config: PointsConfig):
        return [] if config.points else ["Give a number of points other than 0."]

    def summary(self, config: PointsConfig):
        return f"Adjust points: {config.points:+d}"


@dataclass(eq=False, repr=False)
class UpdateField(CampaignStep):
    def run(self, targets, config: FieldConfig):
        label = self._label(config)
        rows = {t.contact.email: {"email": t.contact.email, config.field: config.value} for t in targets}
        try:
            result = services.upsert_contacts(list(rows.values()), policy={config.field: config.policy})
        except ValidationFailed as exc:
            return [ActionResult(False, f"The value was refused: {exc}") for _ in targets]
        updated = set(result.updated_ids)
        return [ActionResult(True, f"{label} set to “{config.value}”." if t.contact.pk in updated
                             else f"{label} unchanged.") for t in targets]

    @staticmethod
    def _label(config: FieldConfig) -> str:
        return next((f.label for f in contact_field_catalogue() if f.key == config.field), config.field)

    def check(self, config: FieldConfig):
        keys = {f.key for f in contact_field_catalogue()}
        if config.field not in keys or config.field in NOT_SETTABLE:
            return [f"“{config.field}” is not a contact field this action can set."]
        return []

    def config_choices(self, name):
        if name == "field":
            return [(f.key, f.label) for f in contact_field_catalogue() if f.key not in NOT_SETTABLE]
        return None

    def summary(self, config: FieldConfig):
        return f"Set {self._label(config)} to “{config.value}”"


def campaign_steps() -> list[CampaignStep]:
    return [
        AdjustPoints(key="contacts.points", label="Adjust points", group="Contacts", config_schema=PointsConfig,
                     batch_size=500, description="Adds (or takes away) points; the change is on the timeline."),
        UpdateField(key="contacts.update_field", label="Update contact field", group="Contacts",
                    config_schema=FieldConfig, batch_size=500, idempotent=True,
                    description="Sets a contact field to a fixed value."),
    ]
