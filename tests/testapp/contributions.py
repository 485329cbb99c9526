"""Test-only contributions that use every extension point the way an integration would.

- a segment filter whose values come from a local table (Example CRM accounts),
- a form field type whose choices come from a local table and refuse a choice that is no
  longer offered (like GoTo's "upcoming webinars"),
- a form action calling out, so it runs in a job, with a field mapping and a fixed or
  "visitor selects" plan (like "register to webinar"),
- a save-time validator with Mautic's rules for such actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from pydantic import BaseModel, ConfigDict, Field

from liaison.core.contributions import (
    ActionResult,
    ChoicePage,
    FormAction,
    FormFieldType,
    FormSpec,
    FormValidator,
    SegmentFilter,
)

# Plans offered now (a test changes it to retire one); calls made by the push action.
PLANS = {"basic": "Basic", "pro": "Pro", "team": "Team"}
PUSHED: list[dict] = []
FAILURES: list[Exception] = []


@dataclass(eq=False, repr=False)
class SyncedFromFilter(SegmentFilter):
    """Contacts synced from these Example CRM connections (values: integration ids)."""

    def to_q(self, operator, value):
        from tests.testapp.models import ExamplePerson

        synced = ExamplePerson.objects.filter(contact=OuterRef("pk"), integration_id__in=[int(v) for v in value])
        return Exists(synced) if operator == "in" else ~Exists(synced)

    def choices(self, query="", offset=0, limit=50):
        from liaison.integrations.models import Integration

        qs = Integration.objects.filter(spec_key__startswith="example", name__icontains=query).order_by("name")
        rows = [(str(pk), name) for pk, name in qs.values_list("pk", "name")[offset:offset + limit + 1]]
        return ChoicePage(rows[:limit], more=len(rows) > limit)

    def choice_labels(self, values):
        from liaison.integrations.models import Integration

        ids = [int(v) for v in values if str(v).isdigit()]
        return {str(pk): name for pk, name in Integration.objects.filter(pk__in=ids).values_list("pk", "name")}


@dataclass(eq=False, repr=False)
class PlanField(FormFieldType):
    """A select of the plans offered now; a plan retired since the page was drawn is refused."""

    def choices(self, field):
        return list(PLANS.items())

    def clean(self, value, field):
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item not in PLANS:
                raise ValidationError(f"{item}: this plan is no longer available.")
        return value


class PushConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field("form", title="Plan", description="A plan, or “form”: the visitor selects it.")
    email_field: str = Field(..., title="E-mail field")
    first_name_field: str = Field(..., title="First-name field")
    last_name_field: str = Field(..., title="Last-name field")
    mode: Literal["normal", "fail", "retry"] = "normal"


@dataclass(eq=False, repr=False)
class PushAction(FormAction):
    def run(self, submission, contact, config: PushConfig):
        if FAILURES:
            raise FAILURES.pop(0)
        plan = submission.data.get("plan") if config.plan == "form" else config.plan
        call = {"email": submission.data.get(config.email_field), "first_name": submission.data.get(
            config.first_name_field), "last_name": submission.data.get(config.last_name_field), "plan": plan,
                "contact_id": contact.pk}
        PUSHED.append(call)
        return ActionResult(True, f"Pushed to Example CRM on plan {plan}.", {"plan": plan})

    def config_choices(self, name, form: FormSpec):
        if name == "plan":
            return [("form", "Visitor selects"), *PLANS.items()]
        if name.endswith("_field"):
            return [(f.key, f.label) for f in form.fields]
        return None

    def check(self, config: PushConfig, form: FormSpec):
        return [f"{self.label}: the form has no field “{key}”." for key in
                (config.email_field, config.first_name_field, config.last_name_field) if form.field(key) is None]


def push_needs_fields(form: FormSpec) -> list[str]:
    """Mautic's rules: names and e-mail present and required; "visitor selects" needs a plan field."""
    if not form.actions_of("example.push"):
        return []
    problems = []
    for contact_field, label in (("email", "E-mail"), ("first_name", "First name"), ("last_name", "Last name")):
        found = form.field_for(contact_field)
        if found is None:
            problems.append(f"No field fills the contact's {label}: add one.")
        elif not found.required:
            problems.append(f"The field “{found.label}” ({label}) must be required.")
    for action in form.actions_of("example.push"):
        if action.config.get("plan") == "form":
            plans = form.fields_of_type("example.plan")
            if not plans:
                problems.append("The required field “Plan” is missing: the visitor cannot select a plan.")
            elif not plans[0].required:
                problems.append(f"The field “{plans[0].label}” should be required.")
    return problems


def example_contributions():
    return [
        SyncedFromFilter(key="example.synced_from", label="Synced from Example CRM", group="Example CRM",
                         value_type="choice", operators=("in", "not_in")),
        PlanField(key="example.plan", label="Example CRM plans", group="Example CRM", widget="select"),
        PushAction(key="example.push", label="Push to Example CRM", group="Example CRM", runs_in_job=True,
                   config_schema=PushConfig),
        FormValidator(key="example.push_fields", label="Example CRM push fields", check=push_needs_fields),
    ]

