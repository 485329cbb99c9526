
from datetime import datetime
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict
from pydantic import Field as PydanticField

from liaison.contacts.models import Contact
from liaison.core.contributions.segments import OPERATORS
from liaison.core.errors import NotFound, ValidationFailed
from liaison.core.restapi import ERRORS, Id, Pagination
from liaison.segments import filters as engine
from liaison.segments import services
from liaison.segments.models import Segment

router = Router(tags=["segments"])


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    filters: dict[str, Any]
    summary: str
    member_count: int
    built_at: datetime | None
    unavailable: list[str] = PydanticField(description="Why some filters cannot be used now (segment not rebuilt).")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_summary(obj: Segment) -> str:
        return engine.describe(obj.filters, engine.catalogue())

    @staticmethod
    def resolve_unavailable(obj: Segment) -> list[str]:
        return [u.reason for u in engine.problems(obj.filters, engine.catalogue())]


class SegmentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = PydanticField(None, max_length=300)
    description: str | None = PydanticField(None, max_length=10_000)
    filters: dict[str, Any] | None = PydanticField(
        None, description='{"match": "all"|"any", "rules": [{"filter": key, "operator": op, "value": ...} | group]}')


class MemberOut(Schema):
    contact_id: int
    email: str = PydanticField(alias="contact.email")
    first_name: str = PydanticField(alias="contact.first_name")
    last_name: str = PydanticField(alias="contact.last_name")
    source: str
    added_at: datetime


class StaticIn(Schema):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["include", "exclude", "reset"] = PydanticField(
        "include", description="include: always a member; exclude: never; reset: the filters decide again")
    contact_ids: list[Id] = PydanticField([], max_length=10_000)
    emails: list[str] = PydanticField([], max_length=10_000)
    create: bool = PydanticField(False, description="Create contacts for unknown e-mail addresses (include only).")


class StaticOut(Schema):
    changed: int
    refused: list[str]


class JobRef(Schema):
    job_id: int
    status: str
    label: str


class OperatorOut(Schema):
    key: str
    label: str
    arity: str


class FilterOut(Schema):
    key: str
    label: str
    group: str
    value_type: str
    operators: list[OperatorOut]
    description: str
    unavailable: str | None


class ChoiceOut(Schema):
    value: str
    label: str


class ChoicesOut(Schema):
    items: list[ChoiceOut]
    more: bool


class SegmentFilters(Schema):
    q: str | None = PydanticField(None, max_length=200)


def _segment(segment_id: int) -> Segment:
    return get_object_or_404(Segment, pk=segment_id)


@router.get("/segments", response=list[SegmentOut])
@paginate(Pagination)
def list_segments(request, filters: SegmentFilters = Query(...)):
    qs = Segment.objects.all()
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    return qs


@router.post("/segments", response={201: SegmentOut, **ERRORS})
def create_segment(request, payload: SegmentIn):
    data = payload.model_dump(exclude_unset=True)
    if not data.get("name"):
        raise ValidationFailed({"name": ["A segment needs a name."]})
    return Status(201, services.save_segment(data, user=request.user))


@router.post("/segments/rebuild", response={202: JobRef, **ERRORS})
def rebuild_all(request):
    job = services.request_rebuild(user=request.user)
    return Status(202, {"job_id": job.pk, "status": job.status, "label": job.label})


@router.get("/segments/{segment_id}", response={200: SegmentOut, **ERRORS})
def get_segment(request, segment_id: Id):
    return _segment(segment_id)


@router.patch("/segments/{segment_id}", response={200: SegmentOut, **ERRORS})
def update_segment(request, segment_id: Id, payload: SegmentIn):
    return services.save_segment(payload.model_dump(exclude_unset=True), segment=_segment(segment_id),
                                 user=request.user)


@router.delete("/segments/{segment_id}", response={204: None, **ERRORS})
def delete_segment(request, segment_id: Id):
    services.delete_segment(_segment(segment_id))
    return Status(204, None)


@router.get("/segments/{segment_id}/members", response=list[MemberOut])
@paginate(Pagination)
def list_members(request, segment_id: Id, q: str | None = Query(None, max_length=200)):
    return services.member_rows(_segment(segment_id), q or "")


@router.post("/segments/{segment_id}/members", response={200: StaticOut, **ERRORS})
def change_members(request, segment_id: Id, payload: StaticIn):
    """Static members: include or exclude contacts by hand (by id or e-mail), or reset them."""
    segment = _segment(segment_id)
    if payload.create and payload.mode != "include":
        raise ValidationFailed({"create": ["Contacts can only be created when including them."]})
    ids = list(payload.contact_ids)
    missing = set(ids) - set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if missing:
        raise ValidationFailed({"contact_ids": [f"No contact with id {', '.join(map(str, sorted(missing)[:10]))}."]})
    refused: list[str] = []
    if payload.emails:
        found, refused = services.contacts_from_emails(payload.emails, create=payload.create, user=request.user)
        ids += found
    if payload.mode == "include":
        changed = services.add_static(segment, ids, origin="api", user=request.user, source="api")
    elif payload.mode == "exclude":
        changed = services.remove_static(segment, ids, origin="api", user=request.user, source="api")
    else:
        result = services.reset_static(segment, ids)
        changed = result.added + result.removed
    return {"changed": changed, "refused": refused}


@router.post("/segments/{segment_id}/rebuild", response={202: JobRef, **ERRORS})
def rebuild_segment(request, segment_id: Id):
    job = services.request_rebuild(_segment(segment_id), user=request.user)
    return Status(202, {"job_id": job.pk, "status": job.status, "label": job.label})


@router.get("/segment-filters", response=list[FilterOut])
def list_filters(request):
    """Every filter usable in segments (the registry's, and one per custom field)."""
    return [{"key": f.key, "label": f.label, "group": f.group, "value_type": f.value_type,
             "operators": [{"key": o, "label": f.operator_label(o), "arity": OPERATORS[o].arity} for o in f.operators],
             "description": f.description, "unavailable": f.unavailable_reason()}
            for _, group in engine.grouped(engine.catalogue()) for f in group]


@router.get("/segment-filters/{key}/choices", response={200: ChoicesOut, **ERRORS})
def filter_choices(request, key: str, q: str = Query("", max_length=200), offset: int = Query(0, ge=0, le=1_000_000),
                   limit: int = Query(50, ge=1, le=500)):
    flt = engine.catalogue().get(key)
    if flt is None:
        raise NotFound(f"There is no filter “{key}”.")
    page = flt.choices(q, offset, limit)
    return {"items": [{"value": v, "label": label} for v, label in page.items], "more": page.more}


@router.get("/contacts/{contact_id}/segments", response={200: list[SegmentOut], **ERRORS})
def contact_segments(request, contact_id: Id):
    contact = get_object_or_404(Contact, pk=contact_id)
    return [row["segment"] for row in services.contact_segments(contact) if not row["excluded"]]
