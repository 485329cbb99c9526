from datetime import datetime
from typing import Annotated, Any

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict
from pydantic import Field as PydanticField

from liaison.core.contributions import PointEvent
from liaison.core.errors import NotFound
from liaison.core.registry import registry
from liaison.core.restapi import ERRORS, Id, Pagination, SettingFieldOut, SmallInt
from liaison.core.schema import describe
from liaison.points import services
from liaison.points.models import PointRule, PointTrigger, TriggerFiring

router = Router(tags=["points"])


class RuleOut(Schema):
    id: int
    name: str
    description: str
    active: bool
    event: str = PydanticField(description="A point event key (GET /points/events).")
    subjects: list[str] = PydanticField(description="The subjects the rule is limited to; empty: any.")
    points: int
    once_per_contact: bool
    summary: str
    problem: str = PydanticField(description="Why the rule scores nothing now (its event is unavailable), or empty.")
    award_count: int
    last_award: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_summary(obj: PointRule) -> str:
        return services.describe_rule(obj)

    @staticmethod
    def resolve_problem(obj: PointRule) -> str:
        return services.rule_problem(obj)


class RuleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = PydanticField(None, max_length=200)
    description: str | None = PydanticField(None, max_length=5000)
    active: bool | None = None
    event: str | None = PydanticField(None, max_length=100)
    subjects: list[Annotated[str, PydanticField(max_length=255)]] | None = PydanticField(None, max_length=500)
    points: SmallInt | None = PydanticField(None, description="Negative to take points away; never 0.")
    once_per_contact: bool | None = None


class AwardOut(Schema):
    id: int
    contact_id: int
    email: str = PydanticField(alias="contact.email")
    points: int
    event_ref: str
    awarded_at: datetime


class ActionSchema(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str = PydanticField(..., max_length=100, description="A trigger action key (GET /points/trigger-actions).")
    config: dict[str, Any] = PydanticField(default_factory=dict)


class TriggerOut(Schema):
    id: int
    name: str
    description: str
    active: bool
    threshold: int
    actions: list[ActionSchema]
    summary: list[str]
    include_existing: bool
    counts: dict[str, int] = PydanticField(description="Firings by status (queued, retrying, succeeded, failed, "
                                                       "skipped) and waiting (queued + retrying).")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_summary(obj: PointTrigger) -> list[str]:
        return services.describe_actions(obj.actions)

    @staticmethod
    def resolve_counts(obj: PointTrigger) -> dict[str, int]:
        return services.firing_counts([obj.pk]).get(obj.pk, {})


class TriggerIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = PydanticField(None, max_length=200)
    description: str | None = PydanticField(None, max_length=5000)
    active: bool | None = None
    threshold: SmallInt | None = PydanticField(None, description="At least 1.")
    actions: list[ActionSchema] | None = PydanticField(None, max_length=services.MAX_ACTIONS)
    include_existing: bool | None = PydanticField(
        None, description="Creation only: also fire for contacts already at the threshold (else they are skipped).")


class FiringOut(Schema):
    id: int
    contact_id: int
    email: str = PydanticField(alias="contact.email")
    status: str
    points: int
    results: list[dict[str, Any]] = PydanticField(description="One per action: key, label, ok, message, retry.")
    message: str
    job_id: int | None
    fired_at: datetime
    finished_at: datetime | None


class FiringFilters(Schema):
    status: str | None = PydanticField(None, max_length=20, description="queued, retrying, succeeded, failed or "
                                                                         "skipped")
    q: str | None = PydanticField(None, max_length=200, description="Part of the contact's e-mail address.")


class JobRef(Schema):
    job_id: int
    status: str
    label: str


class EventOut(Schema):
    key: str
    label: str
    group: str
    description: str
    subject: str
    subject_label: str


class ChoiceOut(Schema):
    value: str
    label: str


class ActionTypeOut(Schema):
    key: str
    label: str
    group: str
    description: str
    config: list[SettingFieldOut]
    config_schema: dict[str, Any]


class ListFilters(Schema):
    q: str | None = PydanticField(None, max_length=200)


def _rule(rule_id: int) -> PointRule:
    return get_object_or_404(services.rule_rows(), pk=rule_id)


def _trigger(trigger_id: int) -> PointTrigger:
    return get_object_or_404(PointTrigger, pk=trigger_id)


def _job(job) -> dict:
    return {"job_id": job.pk, "status": job.status, "label": job.label}


# -- rules ------------------------------------------------------------------------------------

@router.get("/points/rules", response=list[RuleOut])
@paginate(Pagination)
def list_rules(request, filters: ListFilters = Query(...)):
    qs = services.rule_rows()
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    return qs


@router.post("/points/rules", response={201: RuleOut, **ERRORS})
def create_rule(request, payload: RuleIn):
    rule = services.save_rule(payload.model_dump(exclude_unset=True), user=request.user)
    return Status(201, _rule(rule.pk))


@router.get("/points/rules/{rule_id}", response={200: RuleOut, **ERRORS})
def get_rule(request, rule_id: Id):
    return _rule(rule_id)


@router.patch("/points/rules/{rule_id}", response={200: RuleOut, **ERRORS})
def update_rule(request, rule_id: Id, payload: RuleIn):
    services.save_rule(payload.model_dump(exclude_unset=True), rule=_rule(rule_id), user=request.user)
    return _rule(rule_id)


@router.delete("/points/rules/{rule_id}", response={204: None, **ERRORS})
def delete_rule(request, rule_id: Id):
    services.delete_rule(_rule(rule_id))
    return Status(204, None)


@router.get("/points/rules/{rule_id}/awards", response=list[AwardOut])
@paginate(Pagination)
def list_awards(request, rule_id: Id):
    return _rule(rule_id).awards.select_related("contact")


# -- triggers ---------------------------------------------------------------------------------

@router.get("/points/triggers", response=list[TriggerOut])
@paginate(Pagination)
def list_triggers(request, filters: ListFilters = Query(...)):
    qs = PointTrigger.objects.all()
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    return qs


@router.post("/points/triggers", response={201: TriggerOut, **ERRORS})
def create_trigger(request, payload: TriggerIn):
    return Status(201, services.save_trigger(payload.model_dump(exclude_unset=True), user=request.user))


@router.post("/points/triggers/evaluate", response={202: JobRef, **ERRORS})
def evaluate_all(request):
    """Compare every contact's points with the active triggers now (a job)."""
    return Status(202, _job(services.request_evaluation(user=request.user)))


@router.get("/points/triggers/{trigger_id}", response={200: TriggerOut, **ERRORS})
def get_trigger(request, trigger_id: Id):
    return _trigger(trigger_id)


@router.patch("/points/triggers/{trigger_id}", response={200: TriggerOut, **ERRORS})
def update_trigger(request, trigger_id: Id, payload: TriggerIn):
    return services.save_trigger(payload.model_dump(exclude_unset=True), trigger=_trigger(trigger_id),
                                 user=request.user)


@router.delete("/points/triggers/{trigger_id}", response={204: None, **ERRORS})
def delete_trigger(request, trigger_id: Id):
    services.delete_trigger(_trigger(trigger_id))
    return Status(204, None)


@router.post("/points/triggers/{trigger_id}/evaluate", response={202: JobRef, **ERRORS})
def evaluate_trigger(request, trigger_id: Id):
    return Status(202, _job(services.request_evaluation(_trigger(trigger_id), user=request.user)))


@router.get("/points/triggers/{trigger_id}/firings", response=list[FiringOut])
@paginate(Pagination)
def list_firings(request, trigger_id: Id, filters: FiringFilters = Query(...)):
    status = filters.status or ""
    if status and status not in TriggerFiring.Status.values:
        status = "__none__"  # an unknown status matches nothing
    return services.firing_rows(_trigger(trigger_id), status, filters.q or "")


# -- catalogues -------------------------------------------------------------------------------

@router.get("/points/events", response=list[EventOut])
def list_events(request):
    """The events rules can score (the registry's point events)."""
    return [{"key": e.key, "label": e.label, "group": e.group, "description": e.description, "subject": e.subject,
             "subject_label": e.subject_label} for e in services.point_events()]


@router.get("/points/events/{key}/subjects", response={200: list[ChoiceOut], **ERRORS})
def event_subjects(request, key: str):
    """The subjects a rule on this event may be limited to (e-mails, forms, webinars...)."""
    event = registry.find(PointEvent, key)
    if event is None:
        raise NotFound(f"There is no point event “{key}”.")
    return [{"value": v, "label": label} for v, label in services.subject_choices(event)]


@router.get("/points/trigger-actions", response=list[ActionTypeOut])
def list_trigger_actions(request):
    """The actions triggers can run (the registry's campaign actions), with their settings."""
    found = []
    for step in services.trigger_actions():
        settings = []
        for s in describe(step.config_schema):
            offered = step.config_choices(s.name)
            settings.append({**s.__dict__, "choices": offered if offered is not None else list(s.choices)})
        found.append({"key": step.key, "label": step.label, "group": step.group, "description": step.description,
                      "config": settings, "config_schema": step.config_schema.model_json_schema()})
    return found
