
from datetime import datetime
from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict
from pydantic import Field as PydanticField

from liaison.core.api import JobOut
from liaison.core.permissions import requires
from liaison.core.restapi import ERRORS, Id, Pagination, SettingFieldOut
from liaison.integrations import schema, services
from liaison.integrations.models import ApiCall, FieldMapping, Integration, SyncRun

router = Router(tags=["integrations"])


class FeatureOut(Schema):
    key: str
    label: str
    default: bool
    description: str


class SpecOut(Schema):
    key: str
    label: str
    description: str
    auth_style: str
    settings: list[SettingFieldOut]
    features: list[FeatureOut]
    default_sync_cron: str | None
    sync_options: dict[str, str]


class IntegrationOut(Schema):
    id: int
    spec: str
    name: str
    published: bool
    settings: dict[str, Any]
    secrets_set: list[str] = PydanticField(description="Names of the secrets stored (their values are never returned)")
    features: dict[str, bool]
    owner_id: int | None
    status: str
    status_message: str
    checked_at: datetime | None
    connected: bool
    account: dict[str, Any]


class IntegrationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    spec: str
    name: str
    settings: dict[str, Any] = {}
    features: dict[str, bool] = {}
    owner: Id | None = None
    published: bool = True


class IntegrationPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    settings: dict[str, Any] | None = PydanticField(
        None, description="Settings to change; a secret sent as \"\" or left out keeps its stored value")
    clear_secrets: list[str] = []
    features: dict[str, bool] | None = None
    owner: Id | None = None
    published: bool | None = None


class CheckOut(Schema):
    ok: bool
    message: str
    details: dict[str, Any]


class SyncIn(Schema):
    model_config = ConfigDict(extra="forbid")

    full: bool = False
    options: dict[str, Any] = {}


class RunOut(Schema):
    id: int
    integration_id: int
    job_id: int | None
    trigger: str
    options: dict[str, Any]
    status: str
    started_at: datetime
    finished_at: datetime | None
    fetched: int
    created: int
    updated: int
    unchanged: int
    failed: int
    api_calls: int
    message: str
    progress_current: int
    progress_total: int | None


class RunDetailOut(RunOut):
    errors: list[dict[str, Any]]
    api_summary: list[dict[str, Any]]


class MappingRow(Schema):
    local_field: str
    remote_field: str
    direction: str = FieldMapping.Direction.BOTH
    policy: str = FieldMapping.Policy.OVERWRITE


class ApiCallOut(Schema):
    id: int
    method: str
    path: str
    status: int | None
    latency_ms: float
    error: str
    at: datetime
    sync_run_id: int | None


def _out(integration: Integration) -> dict[str, Any]:
    return {
        "id": integration.pk, "spec": integration.spec_key, "name": integration.name,
        "published": integration.published, "settings": integration.settings,
        "secrets_set": sorted(integration.secrets), "features": integration.features,
        "owner_id": integration.owner_id, "status": integration.status,
        "status_message": integration.status_message, "checked_at": integration.checked_at,
        "connected": services.is_connected(integration), "account": integration.account,
    }


@router.get("/integrations/specs", response=list[SpecOut])
def list_specs(request):
    return [{
        "key": spec.key, "label": spec.label, "description": spec.description, "auth_style": spec.auth_style,
        "settings": [f.__dict__ for f in schema.describe(spec.settings_schema)],
        "features": [f.__dict__ for f in spec.features], "default_sync_cron": spec.default_sync_cron,
        "sync_options": spec.sync_options,
    } for spec in services.available_specs()]


@router.get("/integrations", response=list[IntegrationOut])
def list_integrations(request):
    return [_out(i) for i in Integration.objects.all()]


@router.post("/integrations", response={201: IntegrationOut, **ERRORS})
@requires("admin")
def create_integration(request, payload: IntegrationIn):
    integration = services.create_integration(payload.spec, payload.name, payload.settings, user=request.user,
                                               owner=payload.owner, features=payload.features,
                                               published=payload.published)
    return Status(201, _out(integration))


@router.get("/integrations/{integration_id}", response={200: IntegrationOut, **ERRORS})
def get_integration(request, integration_id: Id):
    return _out(get_object_or_404(Integration, pk=integration_id))


@router.patch("/integrations/{integration_id}", response={200: IntegrationOut, **ERRORS})
@requires("admin")
def update_integration(request, integration_id: Id, payload: IntegrationPatch):
    integration = get_object_or_404(Integration, pk=integration_id)
    data = payload.model_dump(exclude_unset=True)
    services.update_integration(
        integration, values=data.get("settings"), clear_secrets=data.get("clear_secrets", []),
        name=data.get("name"), published=data.get("published"), features=data.get("features"),
        **({"owner": data["owner"]} if "owner" in data else {}))
    return _out(integration)


@router.delete("/integrations/{integration_id}", response={204: None, **ERRORS})
@requires("admin")
def delete_integration(request, integration_id: Id):
    services.delete_integration(get_object_or_404(Integration, pk=integration_id))
    return Status(204, None)


@router.post("/integrations/{integration_id}/check", response={200: CheckOut, **ERRORS})
def check(request, integration_id: Id):
    result = services.check_connection(get_object_or_404(Integration, pk=integration_id))
    return {"ok": result.ok, "message": result.message, "details": result.details}


@router.post("/integrations/{integration_id}/sync", response={202: JobOut, **ERRORS})
def sync_now(request, integration_id: Id, payload: SyncIn | None = None):
    payload = payload or SyncIn()
    options = dict(payload.options)
    if payload.full:
        options["full"] = True
    integration = get_object_or_404(Integration, pk=integration_id)
    return Status(202, services.start_sync(integration, user=request.user, trigger="api", options=options))


@router.get("/integrations/{integration_id}/runs", response=list[RunOut])
@paginate(Pagination)
def list_runs(request, integration_id: Id):
    return get_object_or_404(Integration, pk=integration_id).runs.all()


@router.get("/integrations/{integration_id}/runs/{run_id}", response={200: RunDetailOut, **ERRORS})
def get_run(request, integration_id: Id, run_id: Id):
    return get_object_or_404(SyncRun, pk=run_id, integration_id=integration_id)


@router.get("/integrations/{integration_id}/mappings", response=list[MappingRow])
def get_mappings(request, integration_id: Id):
    return list(get_object_or_404(Integration, pk=integration_id).mappings.all())


@router.put("/integrations/{integration_id}/mappings", response={200: list[MappingRow], **ERRORS})
@requires("admin")
def put_mappings(request, integration_id: Id, payload: list[MappingRow]):
    integration = get_object_or_404(Integration, pk=integration_id)
    return services.save_mappings(integration, [row.model_dump() for row in payload])


@router.get("/integrations/{integration_id}/calls", response=list[ApiCallOut])
@paginate(Pagination)
def list_calls(request, integration_id: Id):
    get_object_or_404(Integration, pk=integration_id)
    return ApiCall.objects.filter(integration_id=integration_id)
