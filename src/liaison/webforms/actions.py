"""The core's form actions and save-time validator (segments add theirs from their own app)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from liaison.contacts import services as contacts
from liaison.contacts.fields import contact_field_catalogue
from liaison.core.contributions import ActionResult, FormAction, FormSpec, FormValidator
from liaison.core.errors import ValidationFailed
from liaison.core.registry import registry

PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")


class PointsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(..., ge=-1_000_000, le=1_000_000, title="Points",
                        description="Added to the contact's points (negative to take some away).")
    reason: str = Field("", max_length=200, title="Reason", description="Shown on the timeline.")


@dataclass(eq=False, repr=False)
class AdjustPoints(FormAction):
    def run(self, submission, contact, config: PointsConfig) -> ActionResult:
        reason = config.reason or f"Submitted “{submission.form.name}”"
        contacts.adjust_points([contact.pk], config.points, reason, source=f"form:{submission.form_id}")
        return ActionResult(True, f"{config.points:+d} points.", {"points": config.points})

    def run_batch(self, items, config: PointsConfig) -> list[ActionResult]:
        """One bulk update per round (a contact submitting twice in the batch gets two rounds)."""
        reason = config.reason or f"Submitted “{items[0][0].form.name}”"
        remaining = Counter(contact.pk for _, contact in items)
        while remaining:
            contacts.adjust_points(list(remaining), config.points, reason, source=f"form:{items[0][0].form_id}")
            remaining = Counter({pk: n - 1 for pk, n in remaining.items() if n > 1})
        return [ActionResult(True, f"{config.points:+d} points.", {"points": config.points}) for _ in items]

    def check(self, config: PointsConfig, form: FormSpec) -> list[str]:
        return [] if config.points else [f"{self.label}: give a number of points other than 0."]

    def summary(self, config: PointsConfig) -> str:
        return f"{self.label}: {config.points:+d}"


class UpdateFieldConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(..., max_length=100, title="Contact field")
    value: str = Field("", max_length=500, title="Value",
                       description="Text; {key} is replaced by the answer to the form field with that key.")
    policy: Literal["overwrite", "fill"] = Field("overwrite", title="When the contact has a value",
                                                 description="overwrite, or fill only if empty")


@dataclass(eq=False, repr=False)
class UpdateContactField(FormAction):
    def run(self, submission, contact, config: UpdateFieldConfig) -> ActionResult:
        value = self._value(submission, config)
        try:
            result = contacts.upsert_contacts([{"email": contact.email, config.field: value}],
                                              policy={config.field: config.policy})
        except ValidationFailed as exc:
            return ActionResult(False, f"The value was refused: {exc}")
        changed = bool(result.updated)
        label = self._label(config)
        return ActionResult(True, f"{label} set to “{value}”." if changed else f"{label} unchanged.",
                            {"field": config.field, "value": value, "changed": changed})

    def run_batch(self, items, config: UpdateFieldConfig) -> list[ActionResult]:
        """One bulk upsert for the batch (a refused value fails the batch: then each runs alone)."""
        values = [self._value(submission, config) for submission, _ in items]
        result = contacts.upsert_contacts([{"email": contact.email, config.field: value}
                                           for (_, contact), value in zip(items, values, strict=True)],
                                          policy={config.field: config.policy})
        updated = set(result.updated_ids)
        label = self._label(config)
        return [ActionResult(True, f"{label} set to “{value}”." if contact.pk in updated else f"{label} unchanged.",
                             {"field": config.field, "value": value, "changed": contact.pk in updated})
                for (_, contact), value in zip(items, values, strict=True)]

    @staticmethod
    def _value(submission, config: UpdateFieldConfig) -> str:
        data = submission.data or {}

        def answer(match: re.Match) -> str:
            value = data.get(match.group(1), "")
            return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

        return PLACEHOLDER.sub(answer, config.value)

    @staticmethod
    def _label(config: UpdateFieldConfig) -> str:
        return next((f.label for f in contact_field_catalogue() if f.key == config.field), config.field)

    def config_choices(self, name: str, form: FormSpec) -> list[tuple[str, str]] | None:
        if name == "field":
            return [(f.key, f.label) for f in contact_field_catalogue() if f.key not in ("email", "owner")]
        return None

    def check(self, config: UpdateFieldConfig, form: FormSpec) -> list[str]:
        problems = []
        if config.field not in {f.key for f in contact_field_catalogue()} or config.field in ("email", "owner"):
            problems.append(f"{self.label}: “{config.field}” is not a contact field this action can set.")
        missing = [k for k in PLACEHOLDER.findall(config.value) if form.field(k) is None]
        if missing:
            problems.append(f"{self.label}: the form has no field {', '.join(f'“{k}”' for k in missing)}.")
        return problems

    def summary(self, config: UpdateFieldConfig) -> str:
        return f"{self.label}: {config.field} = “{config.value}”"


def core_actions() -> list[FormAction]:
    return [
        AdjustPoints(key="contact.points", label="Adjust points", config_schema=PointsConfig,
                     description="Adds (or takes away) points; the change appears on the timeline."),
        UpdateContactField(key="contact.update_field", label="Update contact field", config_schema=UpdateFieldConfig,
                           description="Sets a contact field to a fixed text or to an answer."),
    ]


def contact_is_known(form: FormSpec) -> list[str]:
    """Actions that need the contact need a required field mapped to its e-mail address."""
    email = form.field_for("email")
    if email is not None and email.required:
        return []
    needing = []
    for spec in form.actions:
        action = registry.find(FormAction, spec.key)
        if action is not None and action.needs_contact and action.label not in needing:
            needing.append(action.label)
    if not needing:
        return []
    what = "is not required" if email is not None else "is missing"
    return [f"“{label}” needs the contact, but the field mapped to the contact's E-mail {what}: add a required "
            f"field mapped to E-mail." for label in needing]


def core_validators() -> list[FormValidator]:
    return [FormValidator(key="webforms.contact_known", label="Actions need the contact's e-mail",
                          check=contact_is_known)]
