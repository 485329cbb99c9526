
from datetime import datetime
from typing import Any, Literal

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict
from pydantic import Field as PydanticField

from liaison.campaigns import services
from liaison.campaigns.models import Campaign, Enrollment, Step, StepRun
from liaison.core.restapi import ERRORS, Count, Id, Pagination, SettingFieldOut

router = Router(tags=["Campaigns"])

Reentry = Literal["never", "rejoin", "always"]
Branch = Literal["", "yes", "no"]
Delay = Literal["none", "relative", "until"]
Unit = Literal["minutes", "hours", "days"]


class AudienceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str = PydanticField(..., max_length=100, description="An audience key, e.g. segments.segment.")
    values: list[str] = PydanticField(..., max_length=1000, description="e.g. segment ids")


class StartIn(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str = PydanticField(..., max_length=100, description="A decision that can start a campaign "
                                                              "(GET /campaigns/step-types, can_start).")
    config: dict[str, Any] = {}


class CampaignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = PydanticField(None, max_length=200)
    description: str | None = PydanticField(None, max_length=10_000)
    reentry: Reentry | None = PydanticField(None, description="never: once; rejoin: again after leaving and "
                                                              "rejoining the audience; always: again after each run")
    exit_on_leave: bool | None = PydanticField(None, description="Take contacts out when they leave the audience "
                                                                 "(default: yes).")
    audiences: list[AudienceIn] | None = PydanticField(None, max_length=50)
    starts: list[StartIn] | None = PydanticField(None, max_length=50)


class CampaignOut(Schema):
    id: int
    name: str
    description: str
    status: str
    reentry: str
    exit_on_leave: bool
    audiences: list[dict[str, Any]]
    starts: list[dict[str, Any]]
    sources: list[str]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    last_run_at: datetime | None

    @staticmethod
    def resolve_sources(obj: Campaign) -> list[str]:
        return services.describe_sources(obj)


class StepIn(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str = PydanticField(..., max_length=100, description="A step key: GET /campaigns/step-types.")
    parent: Id | None = PydanticField(None, description="The step this one follows (none: a first step).")
    branch: Branch = PydanticField("", description="'' after an action; 'yes' or 'no' under a condition or decision")
    position: Count | None = PydanticField(None, description="Among its siblings (none: last).")
    name: str = PydanticField("", max_length=200)
    config: dict[str, Any] = {}
    delay: Delay = "none"
    delay_amount: Count = 0
    delay_unit: Unit = "days"
    delay_until: datetime | None = None
    timeout_amount: Count = PydanticField(0, description="Decisions: how long to wait (0: forever).")
    timeout_unit: Unit = "days"


class StepPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str | None = PydanticField(None, max_length=100, description="Another step of the same kind.")
    name: str | None = PydanticField(None, max_length=200)
    config: dict[str, Any] | None = None
    delay: Delay | None = None
    delay_amount: Count | None = None
    delay_unit: Unit | None = None
    delay_until: datetime | None = None
    timeout_amount: Count | None = None
    timeout_unit: Unit | None = None


class MoveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    parent: Id | None = None
    branch: Branch = ""
    position: Count | None = None


class StatsOut(Schema):
    pending: int
    running: int
    waiting: int
    done: int
    failed: int
    skipped: int
    yes: int
    no: int
    total: int


class StepOut(Schema):
    id: int
    parent: int | None
    branch: str
    position: int
    kind: str
    key: str
    name: str
    label: str
    group: str
    summary: str
    config: dict[str, Any]
    delay: str
    delay_amount: int
    delay_unit: str
    delay_until: datetime | None
    delay_text: str
    timeout_amount: int
    timeout_unit: str
    timeout_text: str
    unavailable: str
    stats: StatsOut


class StepNodeOut(StepOut):
    children: list["StepNodeOut"]


StepNodeOut.model_rebuild()


class StepStatsOut(StatsOut):
    step_id: int
    summary: str


class EnrollmentStatsOut(Schema):
    active: int
    completed: int
    stopped: int
    total: int
    contacts: int


class CampaignStatsOut(Schema):
    enrollments: EnrollmentStatsOut
    steps: list[StepStatsOut]


class StepRunOut(Schema):
    step_id: int
    step_key: str
    status: str
    branch: str
    attempts: int
    message: str
    due_at: datetime
    deadline: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_step_key(obj: StepRun) -> str:
        return obj.step.key


class EnrollmentOut(Schema):
    id: int
    contact_id: int
    contact_email: str
    round: int
    status: str
    source: str
    context: dict[str, Any]
    entered_at: datetime
    completed_at: datetime | None
    runs: list[StepRunOut]

    @staticmethod
    def resolve_contact_email(obj: Enrollment) -> str:
        return obj.contact.email

    @staticmethod
    def resolve_runs(obj: Enrollment) -> list[StepRun]:
        return list(obj.runs.all())


class StepTypeOut(Schema):
    key: str
    label: str
    kind: str
    group: str
    description: str
    can_start: bool
    idempotent: bool
    events: list[str]
    unavailable: str
    config: list[SettingFieldOut]


class JobRef(Schema):
    job_id: int
    status: str
    label: str


def _campaign(campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign, pk=campaign_id)


def _step(campaign_id: int, step_id: int) -> Step:
    return get_object_or_404(Step.objects.select_related("campaign"), pk=step_id, campaign_id=campaign_id)


def _step_out(step: Step) -> dict[str, Any]:
    return services.node(step, services.step_stats(step.campaign))


def _job(job) -> Status:
    return Status(202, {"job_id": job.pk, "status": job.status, "label": job.label})


@router.get("/campaigns", response=list[CampaignOut])
@paginate(Pagination)
def list_campaigns(request, status: Literal["draft", "published", "paused"] | None = None):
    qs = Campaign.objects.all()
    return qs.filter(status=status) if status else qs


@router.post("/campaigns", response={201: CampaignOut, **ERRORS})
def create_campaign(request, payload: CampaignIn):
    return Status(201, services.create_campaign(payload.model_dump(exclude_unset=True), user=request.user))


@router.get("/campaigns/step-types", response=list[StepTypeOut])
def step_types(request):
    """The actions, conditions and decisions a campaign can use, with their settings."""
    return services.catalogue()


@router.post("/campaigns/run", response={202: JobRef, **ERRORS})
def run_all(request):
    """Run every published campaign now (they also run every minute)."""
    return _job(services.run_now(user=request.user))


@router.get("/campaigns/{campaign_id}", response={200: CampaignOut, **ERRORS})
def get_campaign(request, campaign_id: Id):
    return _campaign(campaign_id)


@router.patch("/campaigns/{campaign_id}", response={200: CampaignOut, **ERRORS})
def update_campaign(request, campaign_id: Id, payload: CampaignIn):
    return services.update_campaign(_campaign(campaign_id), payload.model_dump(exclude_unset=True))


@router.delete("/campaigns/{campaign_id}", response={204: None, **ERRORS})
def delete_campaign(request, campaign_id: Id):
    services.delete_campaign(_campaign(campaign_id))
    return Status(204, None)


@router.post("/campaigns/{campaign_id}/publish", response={200: CampaignOut, **ERRORS})
def publish(request, campaign_id: Id):
    """Start running the campaign (refused with the reasons when it cannot run)."""
    return services.publish(_campaign(campaign_id))


@router.post("/campaigns/{campaign_id}/pause", response={200: CampaignOut, **ERRORS})
def pause(request, campaign_id: Id):
    return services.pause(_campaign(campaign_id))


@router.post("/campaigns/{campaign_id}/resume", response={200: CampaignOut, **ERRORS})
def resume(request, campaign_id: Id):
    return services.resume(_campaign(campaign_id))


@router.post("/campaigns/{campaign_id}/run", response={202: JobRef, **ERRORS})
def run_campaign(request, campaign_id: Id):
    return _job(services.run_now(_campaign(campaign_id), user=request.user))


@router.get("/campaigns/{campaign_id}/steps", response={200: list[StepNodeOut], **ERRORS})
def get_tree(request, campaign_id: Id):
    """The step tree: first steps, each with its children (each child names its branch) and statistics."""
    return services.campaign_tree(_campaign(campaign_id))


@router.post("/campaigns/{campaign_id}/steps", response={201: StepOut, **ERRORS})
def add_step(request, campaign_id: Id, payload: StepIn):
    step = services.add_step(_campaign(campaign_id), payload.model_dump())
    return Status(201, _step_out(step))


@router.get("/campaigns/{campaign_id}/steps/{step_id}", response={200: StepOut, **ERRORS})
def get_step(request, campaign_id: Id, step_id: Id):
    return _step_out(_step(campaign_id, step_id))


@router.patch("/campaigns/{campaign_id}/steps/{step_id}", response={200: StepOut, **ERRORS})
def update_step(request, campaign_id: Id, step_id: Id, payload: StepPatch):
    data = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None or k == "delay_until"}
    return _step_out(services.update_step(_step(campaign_id, step_id), data))


@router.post("/campaigns/{campaign_id}/steps/{step_id}/move", response={200: StepOut, **ERRORS})
def move_step(request, campaign_id: Id, step_id: Id, payload: MoveIn):
    step = services.move_step(_step(campaign_id, step_id), payload.parent, payload.branch, payload.position)
    return _step_out(step)


@router.delete("/campaigns/{campaign_id}/steps/{step_id}", response={204: None, **ERRORS})
def delete_step(request, campaign_id: Id, step_id: Id):
    services.delete_step(_step(campaign_id, step_id))
    return Status(204, None)


@router.get("/campaigns/{campaign_id}/stats", response={200: CampaignStatsOut, **ERRORS})
def stats(request, campaign_id: Id):
    campaign = _campaign(campaign_id)
    per_step = services.step_stats(campaign)
    steps = [{"step_id": s.pk, "summary": s.name or services.summarize(s.key, s.config),
              **(per_step.get(s.pk) or services.empty_stats())} for s in campaign.steps.all()]
    return {"enrollments": services.enrollment_stats(campaign), "steps": steps}


@router.get("/campaigns/{campaign_id}/enrollments", response={200: list[EnrollmentOut], **ERRORS})
@paginate(Pagination)
def enrollments(request, campaign_id: Id, status: Literal["active", "completed", "stopped"] | None = None,
                contact: Id | None = Query(None, description="Only this contact's enrollments.")):
    """Who went through the campaign, each with their step log (newest first)."""
    qs = (_campaign(campaign_id).enrollments.select_related("contact")
          .prefetch_related(Prefetch("runs", queryset=StepRun.objects.select_related("step").order_by("created_at",
                                                                                                        "id"))))
    if status:
        qs = qs.filter(status=status)
    if contact:
        qs = qs.filter(contact_id=contact)
    return qs
