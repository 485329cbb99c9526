
from datetime import date, datetime
from typing import Any, Literal

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import ConfigDict, field_validator
from pydantic import Field as PydanticField

from liaison.contacts import exports, imports, services
from liaison.contacts.models import Activity, Company, Contact, ContactImport, Field
from liaison.core.errors import ValidationFailed
from liaison.core.restapi import ERRORS, Count, Id, Pagination, SmallInt

router = Router(tags=["contacts"])


class CompanyRef(Schema):
    id: int
    name: str


class ContactOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    position: str
    phone: str
    mobile: str
    address1: str
    address2: str
    city: str
    state: str
    postcode: str
    country: str
    company: CompanyRef | None
    owner_id: int | None
    points: int
    do_not_contact: bool
    dnc_reason: str
    dnc_at: datetime | None
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime | None


class ContactIn(Schema):
    model_config = ConfigDict(extra="forbid")

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    position: str | None = None
    phone: str | None = None
    mobile: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    company: str | None = PydanticField(None, description="Company name; created when new.")
    owner: str | Id | None = PydanticField(None, description="User id, username or e-mail.")
    points: SmallInt | None = None
    do_not_contact: bool | None = None
    dnc_reason: str | None = None
    custom: dict[str, Any] | None = None


class ContactFilters(Schema):
    q: str | None = None
    company: Id | None = None
    owner: Id | None = None
    do_not_contact: bool | None = None
    points_min: SmallInt | None = None
    created_after: date | None = None
    created_before: date | None = None
    segment: Id | None = PydanticField(None, description="Members of this segment (read by the segments app's hook).")
    sort: str | None = PydanticField(None, description="name, email, created, points, active; prefix - to reverse")


class BulkIn(Schema):
    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, Any]] = PydanticField(..., max_length=10000)
    policy: dict[str, Literal["overwrite", "fill"]] = {}
    default_policy: Literal["overwrite", "fill"] = "overwrite"
    skip_invalid: bool = False

    @field_validator("rows")
    @classmethod
    def _custom_is_an_object(cls, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # {"custom": "text"} reached the services as a string (a 500): refuse it here, in words.
        for index, row in enumerate(rows):
            if not isinstance(row.get("custom"), (dict, type(None))):
                raise ValueError(f"Row {index}: “custom” must be an object of field aliases and values.")
        return rows


class RowError(Schema):
    index: int
    errors: dict[str, str]


class BulkOut(Schema):
    created: int
    updated: int
    unchanged: int
    ids: dict[str, int]
    errors: list[RowError]


class ActivityOut(Schema):
    id: int
    contact_id: int
    kind: str
    occurred_at: datetime
    title: str
    data: dict[str, Any]
    source: str


class ActivityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    contact_id: Id
    kind: str
    occurred_at: datetime
    title: str = PydanticField(..., min_length=1, max_length=300)
    dedup_key: str = PydanticField(..., min_length=1, max_length=255)
    data: dict[str, Any] = {}
    source: str = "api"


class ActivityFilters(Schema):
    contact: Id | None = None
    kind: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None


class DncIn(Schema):
    do_not_contact: bool
    reason: str = ""


class NoteIn(Schema):
    text: str


class CompanyOut(Schema):
    id: int
    name: str
    website: str
    email: str
    phone: str
    address1: str
    address2: str
    city: str
    state: str
    postcode: str
    country: str
    industry: str
    employees: int | None
    custom: dict[str, Any]
    owner_id: int | None
    created_at: datetime


class CompanyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    industry: str | None = None
    employees: Count | None = None
    custom: dict[str, Any] | None = None
    owner: Id | None = None


class FieldOut(Schema):
    id: int
    object: str
    alias: str
    label: str
    type: str
    group: str
    default: Any = None
    choices: list[dict[str, Any]]
    order: int


class FieldIn(Schema):
    model_config = ConfigDict(extra="forbid")

    object: Literal["contact", "company"] = "contact"
    alias: str | None = None
    label: str | None = None
    type: str | None = None
    group: str | None = None
    default: Any = None
    choices: list[dict[str, Any]] | list[str] | None = None
    order: SmallInt | None = None


class ImportOut(Schema):
    id: int
    original_name: str
    status: str
    encoding: str
    delimiter: str
    headers: list[str]
    mapping: dict[str, str]
    policy: dict[str, str]
    total_rows: int
    processed_rows: int
    created_count: int
    updated_count: int
    unchanged_count: int
    failed_count: int
    error: str
    job_id: int | None


class ImportPreviewOut(Schema):
    contact_import: ImportOut
    preview: list[dict[str, Any]]


class MappingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    mapping: dict[str, str]
    policy: dict[str, Literal["overwrite", "fill"]] = {}


class ImportErrorOut(Schema):
    line: int
    reason: str
    row: list[str]


def _present(payload: Schema) -> dict[str, Any]:
    """Only the fields the client sent (PATCH semantics)."""
    return payload.model_dump(exclude_unset=True)


# -- contacts ------------------------------------------------------------------------

@router.get("/contacts", response=list[ContactOut])
@paginate(Pagination)
def list_contacts(request, filters: ContactFilters = Query(...)):
    params = {k: v for k, v in filters.model_dump().items() if v is not None}
    if "do_not_contact" in params:
        params["do_not_contact"] = "1" if params["do_not_contact"] else "0"
    return services.filter_contacts(params)


@router.post("/contacts", response={201: ContactOut, **ERRORS})
def create_contact(request, payload: ContactIn):
    data = _present(payload)
    if not data.get("email"):
        raise ValidationFailed({"email": ["E-mail is required."]})
    return Status(201, services.save_contact(_flatten(data), user=request.user, source="api"))


def _flatten(data: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in data.items() if k != "custom"}
    for alias, value in (data.get("custom") or {}).items():
        flat[f"custom.{alias}"] = value
    return flat


@router.get("/contacts/export", summary="Export the filtered contacts as CSV")
def export_contacts(request, filters: ContactFilters = Query(...)):
    params = {k: v for k, v in filters.model_dump().items() if v is not None}
    response = StreamingHttpResponse(exports.contacts_csv(services.filter_contacts(params)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="contacts.csv"'
    return response


@router.post("/contacts/bulk", response={200: BulkOut, **ERRORS})
def bulk_upsert(request, payload: BulkIn):
    result = services.upsert_contacts(payload.rows, policy=payload.policy, default_policy=payload.default_policy,
                                      skip_invalid=payload.skip_invalid, owner=request.user)
    return {"created": result.created, "updated": result.updated, "unchanged": result.unchanged, "ids": result.ids,
            "errors": [{"index": i, "errors": e} for i, e in result.errors]}


@router.get("/contacts/{contact_id}", response={200: ContactOut, **ERRORS})
def get_contact(request, contact_id: Id):
    return get_object_or_404(Contact.objects.select_related("company"), pk=contact_id)


@router.patch("/contacts/{contact_id}", response={200: ContactOut, **ERRORS})
def update_contact(request, contact_id: Id, payload: ContactIn):
    contact = get_object_or_404(Contact, pk=contact_id)
    return services.save_contact(_flatten(_present(payload)), contact=contact, user=request.user, source="api")


@router.delete("/contacts/{contact_id}", response={204: None, **ERRORS})
def delete_contact(request, contact_id: Id):
    contact = get_object_or_404(Contact, pk=contact_id)
    services.delete_contacts([contact.pk])
    return Status(204, None)


@router.post("/contacts/{contact_id}/do-not-contact", response={200: ContactOut, **ERRORS})
def set_dnc(request, contact_id: Id, payload: DncIn):
    contact = get_object_or_404(Contact, pk=contact_id)
    return services.set_do_not_contact(contact, payload.do_not_contact, payload.reason, source="api")


@router.post("/contacts/{contact_id}/notes", response={201: ActivityOut, **ERRORS})
def add_note(request, contact_id: Id, payload: NoteIn):
    contact = get_object_or_404(Contact, pk=contact_id)
    return Status(201, services.add_note(contact, payload.text, request.user))


@router.get("/contacts/{contact_id}/activities", response=list[ActivityOut])
@paginate(Pagination)
def contact_activities(request, contact_id: Id, kind: list[str] = Query(None)):
    contact = get_object_or_404(Contact, pk=contact_id)
    return services.timeline(contact, kind)


# -- activities ------------------------------------------------------------------------

@router.get("/activities", response=list[ActivityOut])
@paginate(Pagination)
def list_activities(request, filters: ActivityFilters = Query(...)):
    qs = Activity.objects.all()
    if filters.contact:
        qs = qs.filter(contact_id=filters.contact)
    if filters.kind:
        qs = qs.filter(kind__in=filters.kind)
    if filters.since:
        qs = qs.filter(occurred_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(occurred_at__lt=filters.until)
    return qs.order_by("-occurred_at", "-id")


class RecordOut(Schema):
    written: int


@router.post("/activities", response={200: RecordOut, **ERRORS})
def record(request, payload: list[ActivityIn]):
    missing = {a.contact_id for a in payload} - set(
        Contact.objects.filter(pk__in={a.contact_id for a in payload}).values_list("pk", flat=True))
    if missing:
        raise ValidationFailed({"contact_id": [f"No contact with id {', '.join(map(str, sorted(missing)))}."]})
    try:
        written = services.record_activities([services.ActivityInput(**a.model_dump()) for a in payload])
    except ValueError as exc:
        raise ValidationFailed({"kind": [str(exc)]}) from None
    return {"written": written}


# -- companies ---------------------------------------------------------------------------

@router.get("/companies", response=list[CompanyOut], tags=["companies"])
@paginate(Pagination)
def list_companies(request, q: str | None = None):
    qs = Company.objects.order_by("name")
    if q:
        qs = qs.filter(name__icontains=q)
    return qs


@router.post("/companies", response={201: CompanyOut, **ERRORS}, tags=["companies"])
def create_company(request, payload: CompanyIn):
    data = _present(payload)
    if not data.get("name"):
        raise ValidationFailed({"name": ["A company needs a name."]})
    return Status(201, services.save_company(data))


@router.get("/companies/{company_id}", response={200: CompanyOut, **ERRORS}, tags=["companies"])
def get_company(request, company_id: Id):
    return get_object_or_404(Company, pk=company_id)


@router.patch("/companies/{company_id}", response={200: CompanyOut, **ERRORS}, tags=["companies"])
def update_company(request, company_id: Id, payload: CompanyIn):
    return services.save_company(_present(payload), company=get_object_or_404(Company, pk=company_id))


@router.delete("/companies/{company_id}", response={204: None, **ERRORS}, tags=["companies"])
def delete_company(request, company_id: Id):
    get_object_or_404(Company, pk=company_id).delete()
    return Status(204, None)


# -- custom fields -----------------------------------------------------------------------

@router.get("/fields", response=list[FieldOut], tags=["fields"])
def list_fields(request, object: Literal["contact", "company"] | None = None):
    qs = Field.objects.all()
    if object:
        qs = qs.filter(object=object)
    return list(qs)


@router.post("/fields", response={201: FieldOut, **ERRORS}, tags=["fields"])
def create_field(request, payload: FieldIn):
    data = _field_data(payload)
    data.setdefault("object", "contact")
    return Status(201, services.save_field(data))


def _field_data(payload: FieldIn) -> dict[str, Any]:
    """The sent values, with choices given as plain strings turned into {value, label}."""
    data = _present(payload)
    if isinstance(data.get("choices"), list) and data["choices"] and isinstance(data["choices"][0], str):
        data["choices"] = [{"value": c, "label": c} for c in data["choices"]]
    return data


@router.get("/fields/{field_id}", response={200: FieldOut, **ERRORS}, tags=["fields"])
def get_field(request, field_id: Id):
    return get_object_or_404(Field, pk=field_id)


@router.patch("/fields/{field_id}", response={200: FieldOut, **ERRORS}, tags=["fields"])
def update_field(request, field_id: Id, payload: FieldIn):
    return services.save_field(_field_data(payload), field_obj=get_object_or_404(Field, pk=field_id))


@router.delete("/fields/{field_id}", response={204: None, **ERRORS}, tags=["fields"])
def delete_field(request, field_id: Id):
    services.delete_field(get_object_or_404(Field, pk=field_id))
    return Status(204, None)


# -- CSV imports -----------------------------------------------------------------------------

@router.post("/imports", response={201: ImportPreviewOut, **ERRORS}, tags=["imports"])
def upload_import(request, file: UploadedFile = File(...)):
    contact_import = imports.create_import(file, request.user)
    return Status(201, {"contact_import": contact_import, "preview": imports.preview(contact_import)})


@router.get("/imports/{import_id}", response={200: ImportOut, **ERRORS}, tags=["imports"])
def get_import(request, import_id: Id):
    return get_object_or_404(ContactImport, pk=import_id)


@router.put("/imports/{import_id}/mapping", response={200: ImportPreviewOut, **ERRORS}, tags=["imports"])
def map_import(request, import_id: Id, payload: MappingIn):
    contact_import = imports.set_mapping(get_object_or_404(ContactImport, pk=import_id), payload.mapping,
                                         payload.policy)
    return {"contact_import": contact_import, "preview": imports.preview(contact_import)}


@router.post("/imports/{import_id}/start", response={200: ImportOut, **ERRORS}, tags=["imports"])
def start_import(request, import_id: Id):
    contact_import = get_object_or_404(ContactImport, pk=import_id)
    imports.start_import(contact_import, request.user)
    contact_import.refresh_from_db()
    return contact_import


@router.get("/imports/{import_id}/errors", response=list[ImportErrorOut], tags=["imports"])
@paginate(Pagination)
def import_errors(request, import_id: Id):
    return get_object_or_404(ContactImport, pk=import_id).row_errors.all()
