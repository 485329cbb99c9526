
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict
from pydantic import Field as PydanticField

from liaison.core.contributions import FormAction as ActionType
from liaison.core.contributions import FormFieldType
from liaison.core.errors import ValidationFailed
from liaison.core.registry import registry
from liaison.core.restapi import ERRORS, Id, Pagination, SettingFieldOut
from liaison.core.schema import describe
from liaison.webforms import services
from liaison.webforms.models import Form, Submission

router = Router(tags=["forms"])


class FieldSchema(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str = PydanticField("", max_length=64, description="Made from the label when empty.")
    label: str = PydanticField(..., max_length=200)
    type: str = PydanticField("text", max_length=100, description="A field type key: GET /forms/field-types.")
    required: bool = False
    help_text: str = PydanticField("", max_length=300)
    placeholder: str = PydanticField("", max_length=200)
    default: str = PydanticField("", max_length=500)
    options: list[dict[str, str]] = PydanticField([], max_length=1000, description="[{value, label}]")
    validation: dict[str, Any] = PydanticField({}, description="min_length, max_length, min, max, pattern, "
                                                                "pattern_message")
    contact_field: str = PydanticField("", max_length=100, description="e.g. email, first_name, custom.industry")
    config: dict[str, Any] = {}


class ActionSchema(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str = PydanticField(..., max_length=100, description="An action key: GET /forms/action-types.")
    config: dict[str, Any] = {}


class FormIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = PydanticField(None, max_length=300)
    slug: str | None = PydanticField(None, max_length=100)
    title: str | None = PydanticField(None, max_length=300)
    intro: str | None = PydanticField(None, max_length=10_000)
    submit_label: str | None = PydanticField(None, max_length=100)
    success_message: str | None = PydanticField(None, max_length=10_000)
    redirect_url: str | None = PydanticField(None, max_length=600)
    published: bool | None = None
    fields: list[FieldSchema] | None = PydanticField(None, max_length=100, description="Replaces all the fields.")
    actions: list[ActionSchema] | None = PydanticField(None, max_length=30, description="Replaces all the actions.")


class FormOut(Schema):
    id: int
    name: str
    slug: str
    title: str
    intro: str
    submit_label: str
    success_message: str
    redirect_url: str
    published: bool
    url: str
    views: int
    submission_count: int
    fields: list[FieldSchema]
    actions: list[ActionSchema]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_url(obj: Form) -> str:
        return f"{settings.LIAISON_BASE_URL}/f/{obj.slug}/"

    @staticmethod
    def resolve_fields(obj: Form) -> list[dict[str, Any]]:
        return [services._field_dict(f) for f in obj.fields.all()]

    @staticmethod
    def resolve_actions(obj: Form) -> list[dict[str, Any]]:
        return [{"key": a.key, "config": a.config} for a in obj.actions.all()]


class ActionRunOut(Schema):
    order: int
    key: str
    label: str
    status: str
    message: str
    data: dict[str, Any]
    in_job: bool
    job_id: int | None
    finished_at: datetime | None


class SubmissionOut(Schema):
    id: int
    form_id: int
    contact_id: int | None
    data: dict[str, Any]
    created_at: datetime
    ip: str | None
    referrer: str
    actions: list[ActionRunOut]

    @staticmethod
    def resolve_actions(obj: Submission) -> list[Any]:
        return list(obj.action_runs.all())


class DayOut(Schema):
    day: date
    views: int
    submissions: int
    conversion: float | None


class StatsOut(Schema):
    views: int
    submissions: int
    conversion: float | None
    days: list[DayOut]


class FieldTypeOut(Schema):
    key: str
    label: str
    group: str
    widget: str
    has_options: bool
    description: str
    config: list[SettingFieldOut]


class ActionTypeOut(Schema):
    key: str
    label: str
    group: str
    description: str
    runs_in_job: bool
    needs_contact: bool
    config: list[SettingFieldOut]
    config_schema: dict[str, Any]


def _form(form_id: int) -> Form:
    return get_object_or_404(Form, pk=form_id)


def _data(payload: FormIn) -> dict[str, Any]:
    return payload.model_dump(exclude_unset=True)


@router.get("/forms", response=list[FormOut])
@paginate(Pagination)
def list_forms(request, q: str | None = Query(None, max_length=200)):
    qs = Form.objects.prefetch_related("fields", "actions")
    if q:
        qs = qs.filter(name__icontains=q)
    return qs


@router.post("/forms", response={201: FormOut, **ERRORS})
def create_form(request, payload: FormIn):
    data = _data(payload)
    if not data.get("name"):
        raise ValidationFailed({"name": ["A form needs a name."]})
    data.setdefault("fields", services.new_form_defaults()["fields"])
    return Status(201, services.save_form(data, user=request.user))


@router.get("/forms/field-types", response=list[FieldTypeOut])
def field_types(request):
    return [{"key": t.key, "label": t.label, "group": t.group, "widget": t.widget, "has_options": t.has_options,
             "description": t.description,
             "config": [s.__dict__ for s in describe(t.config_schema)] if t.config_schema else []}
            for t in registry.all(FormFieldType)]


@router.get("/forms/action-types", response=list[ActionTypeOut])
def action_types(request):
    return [{"key": a.key, "label": a.label, "group": a.group, "description": a.description,
             "runs_in_job": a.runs_in_job, "needs_contact": a.needs_contact,
             "config": [s.__dict__ for s in describe(a.config_schema)],
             "config_schema": a.config_schema.model_json_schema()} for a in registry.all(ActionType)]


@router.get("/forms/{form_id}", response={200: FormOut, **ERRORS})
def get_form(request, form_id: Id):
    return _form(form_id)


@router.patch("/forms/{form_id}", response={200: FormOut, **ERRORS})
def update_form(request, form_id: Id, payload: FormIn):
    return services.save_form(_data(payload), form=_form(form_id), user=request.user)


@router.delete("/forms/{form_id}", response={204: None, **ERRORS})
def delete_form(request, form_id: Id):
    _form(form_id).delete()
    return Status(204, None)


@router.get("/forms/{form_id}/stats", response={200: StatsOut, **ERRORS})
def form_stats(request, form_id: Id, days: int = Query(30, ge=1, le=366)):
    return services.stats(_form(form_id), days)


@router.get("/forms/{form_id}/submissions", response=list[SubmissionOut])
@paginate(Pagination)
def list_submissions(request, form_id: Id, since: datetime | None = None):
    qs = _form(form_id).submissions.prefetch_related("action_runs")
    if since:
        qs = qs.filter(created_at__gte=since)
    return qs


@router.get("/forms/{form_id}/submissions/export", summary="Export the submissions as CSV")
def export_submissions(request, form_id: Id):
    form = _form(form_id)
    response = StreamingHttpResponse(services.submissions_csv(form), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{form.slug}-submissions.csv"'
    return response


@router.get("/forms/{form_id}/submissions/{submission_id}", response={200: SubmissionOut, **ERRORS})
def get_submission(request, form_id: Id, submission_id: Id):
    return get_object_or_404(Submission, pk=submission_id, form_id=form_id)


@router.delete("/forms/{form_id}/submissions/{submission_id}", response={204: None, **ERRORS})
def delete_submission(request, form_id: Id, submission_id: Id):
    services.delete_submission(get_object_or_404(Submission, pk=submission_id, form_id=form_id))
    return Status(204, None)
