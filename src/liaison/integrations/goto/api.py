# No "from __future__ import annotations": ninja resolves the annotations at import.
"""Read-only REST API of the GoTo facts, mounted at /api/integrations/goto/."""

from datetime import datetime
from typing import Any, Literal

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from liaison.contacts.models import Contact
from liaison.core.restapi import ERRORS, Id, Pagination
from liaison.integrations.goto import queries, rules, support
from liaison.integrations.goto.models import AssistNotification, AssistRule, AssistSession, Event

router = Router(tags=["GoTo"])

ProductName = Literal["webinar", "training", "meeting"]
EventStatus = Literal["upcoming", "live", "past", "cancelled"]
RegistrationStatus = Literal["approved", "waiting", "denied", "cancelled"]
AssistStatus = Literal["notStarted", "waiting", "active", "complete", "abandoned"]


class SessionOut(Schema):
    id: int
    provider_key: str
    starts_at: datetime | None
    ends_at: datetime | None
    attendee_count: int | None
    attendance_synced_at: datetime | None


class EventOut(Schema):
    id: int
    integration_id: int
    product: str
    provider_key: str
    provider_id: str
    organizer_key: str
    title: str
    description: str
    status: str
    starts_at: datetime | None
    ends_at: datetime | None
    times: list[dict[str, Any]]
    time_zone: str
    recurrence: str
    recurrence_key: str
    registration_url: str
    join_url: str
    cancelled_at: datetime | None
    registrants_synced_at: datetime | None
    attendance_complete: bool
    registered: int
    attended: int
    no_show: int


class EventDetailOut(EventOut):
    sessions: list[SessionOut]


class RegistrationOut(Schema):
    id: int
    event_id: int
    contact_id: int
    email: str
    first_name: str
    last_name: str
    registrant_key: str
    status: str
    source: str
    registered_at: datetime | None
    cancelled_at: datetime | None
    join_url: str
    confirmation_url: str


class AttendanceOut(Schema):
    id: int
    event_id: int
    session_id: int
    session_key: str
    contact_id: int
    registration_id: int | None
    email: str
    first_join_at: datetime | None
    last_leave_at: datetime | None
    duration_seconds: int
    intervals: list[dict[str, Any]]

    @staticmethod
    def resolve_session_key(obj) -> str:
        return obj.session.provider_key


class AssistSessionOut(Schema):
    id: int
    integration_id: int
    session_id: str
    contact_id: int | None
    status: str
    customer_name: str
    customer_email: str
    expert_name: str
    expert_email: str
    expert_key: str
    partner_object: str
    partner_object_url: str
    customer_join_url: str
    recording_url: str
    started_at: datetime | None
    customer_joined_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    portal: str
    resolution: str
    rating: int | None
    feedback: str
    custom_fields: dict[str, str]


class EventFilters(Schema):
    integration: Id | None = None
    product: ProductName | None = None
    status: EventStatus | None = None
    q: str | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None


class RegistrationFilters(Schema):
    integration: Id | None = None
    product: ProductName | None = None
    event: Id | None = None
    contact: Id | None = None
    email: str | None = None
    status: RegistrationStatus | None = None


class AttendanceFilters(Schema):
    integration: Id | None = None
    product: ProductName | None = None
    event: Id | None = None
    session: Id | None = None
    contact: Id | None = None
    email: str | None = None


class AssistFilters(Schema):
    integration: Id | None = None
    contact: Id | None = None
    status: AssistStatus | None = None
    agent: str | None = Field(None, max_length=200, description="Agent's name (part), e-mail or user key")
    portal: str | None = Field(None, max_length=100)
    resolution: str | None = Field(None, max_length=20)
    rating_min: int | None = Field(None, ge=1, le=5)
    rating_max: int | None = Field(None, ge=1, le=5)
    started_after: datetime | None = None
    started_before: datetime | None = None
    q: str | None = Field(None, max_length=200)


@router.get("/events", response=list[EventOut])
@paginate(Pagination)
def list_events(request, filters: EventFilters = Query(...)):
    """Webinars, trainings and meetings with registered / attended / no-show counts."""
    return queries.with_counts(queries.filter_events(filters.model_dump())).order_by("-starts_at", "-id")


@router.get("/events/{event_id}", response={200: EventDetailOut, **ERRORS})
def get_event(request, event_id: Id):
    return get_object_or_404(queries.with_counts(Event.objects.all()), pk=event_id)


@router.get("/registrations", response=list[RegistrationOut])
@paginate(Pagination)
def list_registrations(request, filters: RegistrationFilters = Query(...)):
    """Registrations (cancelled ones included, with their date)."""
    return queries.filter_registrations(filters.model_dump())


@router.get("/attendances", response=list[AttendanceOut])
@paginate(Pagination)
def list_attendances(request, filters: AttendanceFilters = Query(...)):
    """Attendances with every join/leave interval and the total duration in seconds."""
    return queries.filter_attendances(filters.model_dump())


@router.get("/assist-sessions", response=list[AssistSessionOut])
@paginate(Pagination)
def list_assist_sessions(request, filters: AssistFilters = Query(...)):
    """GoToAssist support sessions: the sessions report (agent, portal, times, duration,
    resolution, rating, feedback, custom fields, replay link), filtered."""
    return support.filter_sessions(filters.model_dump())


@router.get("/assist-sessions/export", response={200: None, **ERRORS})
def export_assist_sessions(request, filters: AssistFilters = Query(...)):
    """The same report as CSV (every matching session, streamed)."""
    response = StreamingHttpResponse(support.export_csv(support.filter_sessions(filters.model_dump())),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="support-sessions.csv"'
    return response


class StartSessionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    contact_id: Id
    integration: Id | None = Field(None, description="The GoTo account (optional when there is one)")
    connection_code: bool = Field(False, description="A Phone Mode connection code instead of a join link")
    valid_minutes: int = Field(20, ge=1, le=1440, description="Connection codes: how long the code is valid")


class StartedOut(Schema):
    session: AssistSessionOut
    code: str | None = None
    code_expires_at: datetime | None = None


class SendLinkIn(Schema):
    model_config = ConfigDict(extra="forbid")
    email_id: Id


class SendLinkOut(Schema):
    send_id: int
    status: str
    job_id: int | None


class CodeOut(Schema):
    code: str
    session_id: str
    created_at: datetime | None
    expires_at: datetime | None
    status: str
    customer_join_url: str
    contact_id: int | None


class RuleIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    kind: Literal["low_rating", "unresolved", "waiting"]
    threshold: int | None = Field(None, ge=1, le=10000)
    integration: Id | None = None
    channel: Literal["email", "webhook"] = "email"
    email: str | None = Field(None, max_length=254)
    user: Id | None = None
    webhook_url: str | None = Field(None, max_length=500)
    active: bool = True


class RulePatch(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    kind: Literal["low_rating", "unresolved", "waiting"] | None = None
    threshold: int | None = Field(None, ge=1, le=10000)
    channel: Literal["email", "webhook"] | None = None
    email: str | None = Field(None, max_length=254)
    webhook_url: str | None = Field(None, max_length=500)
    active: bool | None = None


class RuleOut(Schema):
    id: int
    name: str
    kind: str
    condition: str
    threshold: int | None
    integration_id: int | None
    channel: str
    email: str
    user_id: int | None
    webhook_id: int | None
    recipient: str
    active: bool
    above: bool
    crossings: int
    last_count: int | None
    last_checked_at: datetime | None
    created_at: datetime


class RuleCreatedOut(RuleOut):
    webhook_secret: str | None = Field(None, description="The new webhook subscription's signing secret, shown once")


class NotificationOut(Schema):
    id: int
    rule_id: int
    occurrence: str
    session_id: int | None
    channel: str
    recipient: str
    subject: str
    status: str
    error: str
    delivery_id: int | None
    created_at: datetime
    sent_at: datetime | None


class AgentOut(Schema):
    user_key: str
    name: str
    email: str
    status: str
    active_sessions: int
    waiting_sessions: int


class WaitingOut(Schema):
    session_id: str
    customer_name: str
    portal: str
    waiting_since: datetime | None
    waiting_seconds: int


class QueueOut(Schema):
    waiting_count: int
    longest_wait_seconds: int
    customers: list[WaitingOut]


class MonitorOut(Schema):
    agents: list[AgentOut] | None
    queue: QueueOut | None
    fetched_at: datetime
    missing: list[str]
    error: str


@router.post("/assist-sessions", response={201: StartedOut, **ERRORS})
def start_assist_session(request, payload: StartSessionIn):
    """Start a support session for a contact (their reference ``liaison-contact-<id>`` is the
    partner object); the answer holds the customer's join link, or the connection code."""
    contact = get_object_or_404(Contact, pk=payload.contact_id)
    integration = support.assist_account(payload.integration)
    if payload.connection_code:
        code = support.create_code(integration, contact, user=request.user, valid_minutes=payload.valid_minutes)
        return Status(201, {"session": code.session, "code": code.code, "code_expires_at": code.expires_at})
    return Status(201, {"session": support.start_session(integration, contact, user=request.user)})


@router.post("/assist-sessions/{session_id}/send-link", response={202: SendLinkOut, **ERRORS})
def send_assist_link(request, session_id: Id, payload: SendLinkIn):
    """E-mail the customer's join link with a template e-mail containing ``{support_session_link}``."""
    from liaison.emails.models import Email

    session = get_object_or_404(AssistSession.objects.select_related("contact", "integration"), pk=session_id)
    email = get_object_or_404(Email, pk=payload.email_id)
    send = support.send_join_link(session, email, user=request.user)
    return Status(202, {"send_id": send.pk, "status": send.status, "job_id": send.job_id})


@router.get("/assist/codes", response={200: list[CodeOut], **ERRORS})
def list_codes(request, integration: Id):
    """The account's open Phone Mode connection codes, as GoTo lists them."""
    rows = support.open_codes(_assist(integration))
    return [{**{k: v for k, v in row.items() if k != "contact"},
             "contact_id": row["contact"].pk if row["contact"] else None} for row in rows]


@router.delete("/assist/codes/{code}", response={204: None, **ERRORS})
def cancel_code(request, code: str, integration: Id):
    support.cancel_code(_assist(integration), code)
    return Status(204, None)


@router.get("/assist/monitor", response={200: MonitorOut, **ERRORS})
def get_monitor(request, integration: Id):
    """Agents' status and the waiting queue (read from GoTo at most every 15 s)."""
    return support.monitor(_assist(integration))


@router.get("/assist/rules", response=list[RuleOut])
def list_rules(request):
    return AssistRule.objects.select_related("webhook", "user")


@router.post("/assist/rules", response={201: RuleCreatedOut, **ERRORS})
def create_rule(request, payload: RuleIn):
    """Notify by e-mail or webhook when a session is rated at or below ``threshold``, left
    unresolved, or when ``threshold`` customers are waiting."""
    rule, secret = rules.save_rule(payload.model_dump(), user=request.user)
    rule.webhook_secret = secret
    return Status(201, rule)


@router.get("/assist/rules/{rule_id}", response={200: RuleOut, **ERRORS})
def get_rule(request, rule_id: Id):
    return get_object_or_404(AssistRule, pk=rule_id)


@router.patch("/assist/rules/{rule_id}", response={200: RuleCreatedOut, **ERRORS})
def patch_rule(request, rule_id: Id, payload: RulePatch):
    rule = get_object_or_404(AssistRule.objects.select_related("webhook"), pk=rule_id)
    rule, secret = rules.save_rule(payload.model_dump(exclude_unset=True), rule, user=request.user)
    rule.webhook_secret = secret
    return rule


@router.delete("/assist/rules/{rule_id}", response={204: None, **ERRORS})
def delete_rule(request, rule_id: Id):
    rules.delete_rule(get_object_or_404(AssistRule, pk=rule_id))
    return Status(204, None)


@router.get("/assist/rules/{rule_id}/notifications", response=list[NotificationOut])
@paginate(Pagination)
def list_notifications(request, rule_id: Id):
    """What the rule sent (one per session, or per crossing of the waiting threshold)."""
    return AssistNotification.objects.filter(rule_id=rule_id).order_by("-created_at", "-id")


def _assist(integration_id: int):
    return support.assist_account(integration_id)
