
from datetime import datetime
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict
from pydantic import Field as PydanticField

from liaison.contacts.models import Contact
from liaison.core.contributions import Audience
from liaison.core.errors import ValidationFailed
from liaison.core.registry import registry
from liaison.core.restapi import ERRORS, Id, Pagination
from liaison.emails import broadcasts, services
from liaison.emails.models import Email, Send
from liaison.emails.tokens import available_tokens

router = Router(tags=["emails"])

Kind = Literal["template", "segment"]
SendStatus = Literal["queued", "sending", "sent", "failed", "skipped"]


class AudienceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    audience: str = PydanticField(description="An audience key, e.g. segments.segment.", max_length=100)
    values: list[str] = PydanticField(description="Its groups, e.g. segment ids.", max_length=500)


class AudienceOut(Schema):
    audience: str
    values: list[str]


class EmailOut(Schema):
    id: int
    name: str
    subject: str
    html: str
    text: str
    from_name: str
    from_email: str
    reply_to: str
    kind: str
    published: bool
    category: str
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    audiences: list[AudienceOut]

    @staticmethod
    def resolve_audiences(obj):
        return [{"audience": key, "values": values} for key, values in obj.audience_targets()]


class EmailIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = PydanticField(None, description="Blank: generated from the HTML when sending.")
    from_name: str | None = None
    from_email: str | None = PydanticField(None, description="Blank: the configured default sender.")
    reply_to: str | None = None
    kind: Kind | None = None
    published: bool | None = None
    category: str | None = None
    audiences: list[AudienceIn] | None = PydanticField(
        None, description="Segment e-mails: who gets the broadcast (contacts in any of them).")


class EmailFilters(Schema):
    q: str | None = None
    kind: Kind | None = None


class PreviewOut(Schema):
    subject: str
    html: str
    text: str
    problems: dict[str, list[str]]
    notes: list[str]
    skip_reason: str


class SendOut(Schema):
    id: int
    email_id: int
    contact_id: int
    to_email: str
    status: str
    reason: str
    subject: str
    dedupe_key: str | None
    context: dict[str, Any]
    links: list[str]
    notes: list[str]
    message_id: str
    job_id: int | None
    created_at: datetime
    sent_at: datetime | None
    opened_at: datetime | None
    open_count: int
    clicked_at: datetime | None
    click_count: int
    unsubscribed_at: datetime | None


class SendIn(Schema):
    model_config = ConfigDict(extra="forbid")

    contact_id: Id | None = None
    contact_email: str | None = PydanticField(None, description="The contact's e-mail address (instead of its id).")
    context: dict[str, Any] | None = PydanticField(None, description="Stored on the send; tokens can read it.")
    dedupe_key: str | None = PydanticField(None, max_length=255,
                                           description="Sending again with the same key sends nothing more.")


class SendAccepted(Schema):
    send: SendOut
    job_id: int | None


class TestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to: str
    contact_id: Id | None = None


class JobAccepted(Schema):
    job_id: int


class StatsOut(Schema):
    total: int
    queued: int
    sending: int
    sent: int
    failed: int
    skipped: int
    opened: int
    clicked: int
    unsubscribed: int
    clicks: int
    open_rate: float
    click_rate: float
    links: list[dict[str, Any]]


class TokenOut(Schema):
    key: str
    label: str
    syntax: str
    param: str
    param_label: str
    description: str
    group: str
    is_link: bool


class SendFilters(Schema):
    email: Id | None = None
    contact: Id | None = None
    status: SendStatus | None = None


class RecipientsOut(Schema):
    in_audience: int
    do_not_contact: int
    no_address: int
    already: int
    to_send: int
    waiting: int


class BroadcastStatsOut(Schema):
    total: int
    queued: int
    sent: int
    failed: int
    skipped: int
    opened: int
    clicked: int
    unsubscribed: int
    reasons: list[dict[str, Any]]


class BroadcastOut(Schema):
    status: Literal["draft", "running", "paused", "finished", "cancelled", "failed", "interrupted"]
    status_label: str
    error: str
    job_id: int | None
    job_status: str | None
    progress_current: int
    progress_total: int | None
    progress_message: str
    runs: int
    started_at: datetime | None
    finished_at: datetime | None
    audiences: list[str]
    recipients: RecipientsOut
    stats: BroadcastStatsOut


class AudienceKindOut(Schema):
    key: str
    label: str
    group: str
    description: str


def _present(payload: Schema) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)


@router.get("/emails/audiences", response=list[AudienceKindOut], summary="The audiences segment e-mails can target")
def list_audiences(request):
    return [{"key": a.key, "label": a.label, "group": a.group, "description": a.description}
            for a in registry.all(Audience)]


@router.get("/emails", response=list[EmailOut])
@paginate(Pagination)
def list_emails(request, filters: EmailFilters = Query(...)):
    qs = Email.objects.prefetch_related("audiences")
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return qs


@router.post("/emails", response={201: EmailOut, **ERRORS})
def create_email(request, payload: EmailIn):
    return Status(201, services.save_email(_present(payload), user=request.user))


@router.get("/emails/tokens", response=list[TokenOut], summary="The tokens e-mails can contain")
def list_tokens(request):
    return [{"key": t.key, "label": t.label, "syntax": t.syntax(), "param": t.param, "param_label": t.param_label,
             "description": t.description, "group": t.group, "is_link": t.is_link} for t in available_tokens()]


@router.get("/emails/{email_id}", response={200: EmailOut, **ERRORS})
def get_email(request, email_id: Id):
    return get_object_or_404(Email, pk=email_id)


@router.patch("/emails/{email_id}", response={200: EmailOut, **ERRORS})
def update_email(request, email_id: Id, payload: EmailIn):
    return services.save_email(_present(payload), email=get_object_or_404(Email, pk=email_id), user=request.user)


@router.delete("/emails/{email_id}", response={204: None, **ERRORS})
def delete_email(request, email_id: Id):
    services.delete_email(get_object_or_404(Email, pk=email_id))
    return Status(204, None)


def _contact(contact_id: int | None, contact_email: str | None) -> Contact:
    contact = None
    if contact_id is not None:
        contact = Contact.objects.filter(pk=contact_id).first()
    elif contact_email:
        contact = services.find_contact(contact_email)
    if contact is None:
        raise ValidationFailed({"contact_id" if contact_id is not None else "contact_email": [
            "No such contact." if contact_id is not None or contact_email else "Give contact_id or contact_email."]})
    return contact


@router.get("/emails/{email_id}/preview", response={200: PreviewOut, **ERRORS},
            summary="The message as a contact (or a sample contact) would get it, without tracking")
def preview_email(request, email_id: Id, contact_id: Id | None = None):
    email = get_object_or_404(Email, pk=email_id)
    contact = _contact(contact_id, None) if contact_id is not None else None
    result = services.preview(email, contact)
    return {"subject": result.subject, "html": result.html, "text": result.text, "problems": result.problems,
            "notes": result.notes, "skip_reason": result.skip_reason}


@router.post("/emails/{email_id}/send", response={202: SendAccepted, **ERRORS},
             summary="Send a template e-mail to one contact (in the background)")
def send_email(request, email_id: Id, payload: SendIn):
    email = get_object_or_404(Email, pk=email_id)
    contact = _contact(payload.contact_id, payload.contact_email)
    send = services.send_email(email, contact, context=payload.context, dedupe_key=payload.dedupe_key,
                               user=request.user)
    return Status(202, {"send": send, "job_id": send.job_id})


@router.post("/emails/{email_id}/test", response={202: JobAccepted, **ERRORS}, summary="Send a test message")
def send_test(request, email_id: Id, payload: TestIn):
    email = get_object_or_404(Email, pk=email_id)
    contact = _contact(payload.contact_id, None) if payload.contact_id is not None else None
    return Status(202, {"job_id": services.send_test(email, payload.to, contact=contact, user=request.user).pk})


@router.get("/emails/{email_id}/stats", response={200: StatsOut, **ERRORS})
def email_stats(request, email_id: Id):
    email = get_object_or_404(Email, pk=email_id)
    return {**services.email_stats(email), "links": services.link_stats(email)}


@router.get("/emails/{email_id}/sends", response=list[SendOut])
@paginate(Pagination)
def email_sends(request, email_id: Id, status: SendStatus | None = None):
    email = get_object_or_404(Email, pk=email_id)
    return services.filter_sends({"email": email.pk, "status": status})


@router.get("/emails/{email_id}/broadcast", response={200: BroadcastOut, **ERRORS},
            summary="A segment e-mail's broadcast: state, progress, recipients and results")
def get_broadcast(request, email_id: Id):
    return broadcasts.summary(get_object_or_404(Email, pk=email_id))


@router.post("/emails/{email_id}/broadcast", response={202: BroadcastOut, **ERRORS},
             summary="Send a segment e-mail to its audiences (again: only to contacts who have not had it)")
def start_broadcast(request, email_id: Id):
    email = get_object_or_404(Email, pk=email_id)
    broadcasts.start(email, user=request.user)
    return Status(202, broadcasts.summary(email))


@router.post("/emails/{email_id}/broadcast/pause", response={200: BroadcastOut, **ERRORS})
def pause_broadcast(request, email_id: Id):
    email = get_object_or_404(Email, pk=email_id)
    broadcasts.pause(email)
    return broadcasts.summary(email)


@router.post("/emails/{email_id}/broadcast/resume", response={202: BroadcastOut, **ERRORS})
def resume_broadcast(request, email_id: Id):
    email = get_object_or_404(Email, pk=email_id)
    broadcasts.resume(email, user=request.user)
    return Status(202, broadcasts.summary(email))


@router.post("/emails/{email_id}/broadcast/cancel", response={200: BroadcastOut, **ERRORS})
def cancel_broadcast(request, email_id: Id):
    email = get_object_or_404(Email, pk=email_id)
    broadcasts.cancel(email)
    return broadcasts.summary(email)


@router.get("/sends", response=list[SendOut])
@paginate(Pagination)
def list_sends(request, filters: SendFilters = Query(...)):
    return services.filter_sends(filters.model_dump())


@router.get("/sends/{send_id}", response={200: SendOut, **ERRORS})
def get_send(request, send_id: Id):
    return get_object_or_404(Send, pk=send_id)
