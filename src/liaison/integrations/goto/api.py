# No "from __future__ import annotations": ninja resolves the annotations at import.
"""Read-only REST API of the GoTo facts, mounted at /api/integrations/goto/."""

from datetime import datetime
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.pagination import paginate

from liaison.core.restapi import ERRORS, Id, Pagination
from liaison.integrations.goto import queries
from liaison.integrations.goto.models import Event

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
    partner_object: str
    partner_object_url: str
    customer_join_url: str
    recording_url: str
    started_at: datetime | None
    customer_joined_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    resolution: str
    rating: int | None
    feedback: str


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
    q: str | None = None


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
    """GoToAssist support sessions."""
    return queries.filter_assist(filters.model_dump())
