from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from liaison.contacts.fields import contact_field_catalogue
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.http import ProviderError
from liaison.core.permissions import requires
from liaison.integrations import schema, services
from liaison.integrations.models import ApiCall, FieldMapping, Integration, SyncRun


def integration_list(request):
    integrations = list(Integration.objects.all())
    runs = {}
    for run in SyncRun.objects.filter(integration__in=integrations).order_by("integration_id", "-started_at"):
        runs.setdefault(run.integration_id, run)
    rows = [{"integration": i, "last_run": runs.get(i.pk)} for i in integrations]
    return render(request, "integrations/integration_list.html",
                  {"rows": rows, "specs": services.available_specs()})


def _settings_fields(spec, integration=None, values=None):
    """The schema's fields with their current values (never a secret's value)."""
    stored = integration.settings if integration else {}
    secrets = integration.secrets if integration else {}
    rows = []
    for field in schema.describe(spec.settings_schema):
        if field.kind == "secret":
            value = ""
        elif values is not None and field.name in values:
            value = values[field.name]
        else:
            value = stored.get(field.name, field.default)
        rows.append({"field": field, "value": value, "is_set": field.kind == "secret" and field.name in secrets})
    return rows


def _posted_settings(spec, post) -> tuple[dict, set[str]]:
    values = {}
    clear = set()
    for field in schema.describe(spec.settings_schema):
        name = field.name
        if field.kind == "bool":
            values[name] = bool(post.get(name))
        elif field.kind == "secret":
            if post.get(f"clear_{name}"):
                clear.add(name)
            elif post.get(name):
                values[name] = post.get(name)
        else:
            raw = post.get(name, "")
            if raw == "" and not field.required:
                values[name] = field.default
            else:
                values[name] = raw
    return values, clear


@requires("admin")
def integration_create(request, spec_key):
    spec = services.get_spec(spec_key) if spec_key in {s.key for s in services.available_specs()} else None
    if spec is None:
        raise Http404("No such integration")
    errors: dict = {}
    values: dict = {}
    name = spec.label
    if request.method == "POST":
        name = request.POST.get("name", "")
        values, _ = _posted_settings(spec, request.POST)
        features = {f.key: bool(request.POST.get(f"feature_{f.key}")) for f in spec.features}
        try:
            integration = services.create_integration(spec_key, name, values, user=request.user,
                                                      owner=request.POST.get("owner") or request.user,
                                                      features=features)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            messages.success(request, f"{spec.label} account “{integration.name}” added.")
            return redirect("integrations:detail", pk=integration.pk)
    return render(request, "integrations/integration_form.html", {
        "spec": spec, "integration": None, "name": name, "errors": errors,
        "settings_fields": _settings_fields(spec, values=values),
        "features": [{"feature": f, "enabled": f.default} for f in spec.features],
        "owners": get_user_model().objects.filter(is_active=True), "owner_id": request.user.pk,
    }, status=422 if errors else 200)


@requires("admin")
def integration_settings(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    spec = integration.spec
    if spec is None:
        messages.error(request, "The code of this integration is not installed; its settings cannot be edited.")
        return redirect("integrations:detail", pk=pk)
    errors: dict = {}
    values = None
    if request.method == "POST":
        values, clear = _posted_settings(spec, request.POST)
        features = {f.key: bool(request.POST.get(f"feature_{f.key}")) for f in spec.features}
        try:
            services.update_integration(integration, values=values, clear_secrets=clear,
                                        name=request.POST.get("name", ""),
                                        published=bool(request.POST.get("published")),
                                        owner=request.POST.get("owner") or None, features=features)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            messages.success(request, "Settings saved.")
            return redirect("integrations:detail", pk=pk)
    return render(request, "integrations/integration_form.html", {
        "spec": spec, "integration": integration, "name": integration.name, "errors": errors,
        "settings_fields": _settings_fields(spec, integration, values),
        "features": [{"feature": f, "enabled": integration.feature_enabled(f.key)} for f in spec.features],
        "owners": get_user_model().objects.filter(is_active=True), "owner_id": integration.owner_id,
    }, status=422 if errors else 200)


def integration_detail(request, pk):
    integration = get_object_or_404(Integration.objects.select_related("owner"), pk=pk)
    spec = integration.spec
    runs = integration.runs.all()[:10]
    context = {
        "integration": integration, "spec": spec, "runs": runs,
        "summary": spec.summary(integration) if spec else [],
        "connected": services.is_connected(integration),
        "schedule": services.sync_schedule(integration),
        "active_run": integration.runs.filter(status=SyncRun.Status.RUNNING).first(),
    }
    template = "integrations/integration_detail.html"
    if spec is not None and spec.detail_template:
        context.update(spec.detail_context(integration, request))
        template = spec.detail_template
    return render(request, template, context)


@require_POST
@requires("edit")
def integration_check(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    try:
        result = services.check_connection(integration)
    except LiaisonError as exc:
        result = None
        message = str(exc)
    else:
        message = result.message
    if request.htmx:
        return render(request, "integrations/_check_result.html", {"result": result, "message": message})
    (messages.success if result and result.ok else messages.error)(request, message)
    return redirect("integrations:detail", pk=pk)


@require_POST
@requires("edit")
def integration_sync(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    options = {"full": True} if request.POST.get("full") else {}
    try:
        job = services.start_sync(integration, user=request.user, options=options)
    except (ValidationFailed, LiaisonError) as exc:
        messages.error(request, str(exc))
        return redirect("integrations:detail", pk=pk)
    messages.success(request, f"Sync queued (job #{job.pk}); progress shows below.")
    return redirect("integrations:detail", pk=pk)


@require_POST
@requires("admin")
def integration_schedule(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    try:
        services.set_sync_schedule(integration, request.POST.get("cron", ""), bool(request.POST.get("enabled")))
        messages.success(request, "Sync schedule saved.")
    except ValidationFailed as exc:
        messages.error(request, " ".join(m for ms in exc.errors.values() for m in ms))
    return redirect("integrations:detail", pk=pk)


@require_POST
@requires("admin")
def integration_delete(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    name = integration.name
    services.delete_integration(integration)
    messages.success(request, f"“{name}” removed, with its settings, tokens and sync history.")
    return redirect("integrations:list")


@require_POST
@requires("admin")
def oauth_connect(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    try:
        url = services.oauth_start(integration, request.session)
    except (ValidationFailed, LiaisonError) as exc:
        messages.error(request, str(exc))
        return redirect("integrations:detail", pk=pk)
    return HttpResponseRedirect(url)


@requires("admin")
def oauth_callback(request):
    try:
        integration, message = services.oauth_complete(
            request.session, state=request.GET.get("state", ""), code=request.GET.get("code", ""),
            error=request.GET.get("error", ""), error_description=request.GET.get("error_description", ""))
    except ProviderError as exc:
        messages.error(request, exc.user_message)
        return redirect("integrations:list")
    except LiaisonError as exc:
        messages.error(request, str(exc))
        return redirect("integrations:list")
    messages.success(request, message)
    return redirect("integrations:detail", pk=integration.pk)


@require_POST
@requires("admin")
def oauth_disconnect(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    services.disconnect(integration)
    messages.success(request, "Disconnected: the stored tokens were deleted.")
    return redirect("integrations:detail", pk=pk)


@requires("admin")
def mapping(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    spec = integration.spec
    errors: dict = {}
    remote_fields = []
    remote_error = ""
    if spec is not None:
        try:
            remote_fields = spec.remote_fields(integration)
        except (ProviderError, LiaisonError) as exc:
            remote_error = str(exc)
    rows = [{"local_field": m.local_field, "remote_field": m.remote_field, "direction": m.direction,
             "policy": m.policy} for m in integration.mappings.all()]
    if request.method == "POST":
        count = int(request.POST.get("rows", "0") or 0)
        rows = [{"local_field": request.POST.get(f"local_{i}", ""), "remote_field": request.POST.get(f"remote_{i}", ""),
                 "direction": request.POST.get(f"direction_{i}", ""), "policy": request.POST.get(f"policy_{i}", "")}
                for i in range(count)]
        try:
            services.save_mappings(integration, rows)
        except (ValidationFailed, LiaisonError) as exc:
            errors = getattr(exc, "errors", {"__all__": [str(exc)]})
        else:
            messages.success(request, "Field mapping saved.")
            return redirect("integrations:mapping", pk=pk)
    blank = {"local_field": "", "remote_field": "", "direction": "both", "policy": "overwrite"}
    rows = rows + [dict(blank) for _ in range(3)]
    for index, row in enumerate(rows):
        row["index"] = index
        row["errors"] = {k.split(".", 1)[1]: v for k, v in errors.items() if k.startswith(f"rows[{index}].")}
    return render(request, "integrations/mapping.html", {
        "integration": integration, "spec": spec, "rows": rows, "errors": errors,
        "local_fields": contact_field_catalogue(), "remote_fields": remote_fields, "remote_error": remote_error,
        "directions": FieldMapping.Direction.choices, "policies": FieldMapping.Policy.choices,
    }, status=422 if errors else 200)


def run_list(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    page = Paginator(integration.runs.all(), 50).get_page(request.GET.get("page"))
    return render(request, "integrations/run_list.html", {"integration": integration, "page": page})


def run_detail(request, pk, run_id):
    run = get_object_or_404(SyncRun.objects.select_related("integration", "job"), pk=run_id, integration_id=pk)
    if request.htmx and request.GET.get("fragment"):
        return render(request, "integrations/_run_status.html", {"run": run})
    return render(request, "integrations/run_detail.html", {"run": run, "integration": run.integration})


def api_calls(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    page = Paginator(ApiCall.objects.filter(integration=integration), 100).get_page(request.GET.get("page"))
    return render(request, "integrations/api_calls.html", {"integration": integration, "page": page})
