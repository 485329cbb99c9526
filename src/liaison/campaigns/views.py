"""Campaign pages: the list, settings (sources, re-entry), the builder, statistics, enrollments.

The builder is the campaign's page: the step tree with each step's summary and statistics,
and an editor panel. "Add a step" and "Edit" load the step form into the panel (HTMX;
plain pages without JavaScript); saving redraws the whole builder (``#builder``) with the
server's messages next to the inputs. Every change goes through ``campaigns.services``.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from liaison.campaigns import services
from liaison.campaigns.models import Campaign, Enrollment, Step, StepRun
from liaison.core.configform import config_from_post, config_inputs
from liaison.core.contributions import Audience, CampaignStep
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.registry import registry

PAGE_SIZE = 50
AUDIENCE_CHOICES = 500
MAX_STARTS = 20
STEP_PREFIX = "step"
KIND_LABELS = dict(Step.Kind.choices)
BRANCH_LABELS = {"": "", "yes": "Yes", "no": "No"}


def _page(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _flat(errors: dict[str, list[str]], prefix: str = STEP_PREFIX) -> dict[str, list[str]]:
    """Service field names -> input names: ``config.email`` -> ``step-c-email``,
    ``starts.0.config.form`` -> ``starts-0-c-form``, ``audiences.0.values`` -> ``audiences-0-values``."""
    flat: dict[str, list[str]] = {}
    for key, found in (errors or {}).items():
        if key == "config":
            name = f"{prefix}-config"
        elif key.startswith("config."):
            name = f"{prefix}-c-{key[len('config.'):]}"
        else:
            name = re.sub(r"\.", "-", key.replace(".config.", ".c."))
        flat.setdefault(name, []).extend(found)
    return flat


# -- list and settings ---------------------------------------------------------------------

def campaign_list(request):
    qs = Campaign.objects.all()
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(description__icontains=q))
    status = request.GET.get("status", "")
    if status in Campaign.Status.values:
        qs = qs.filter(status=status)
    page = _page(request, qs)
    counts = services.enrolled_counts([c.pk for c in page])
    rows = [{"campaign": c, "counts": counts.get(c.pk, {}), "sources": services.describe_sources(c)} for c in page]
    return render(request, "campaigns/campaign_list.html", {
        "page": page, "rows": rows, "q": q, "status": status, "statuses": Campaign.Status.choices})


def _start_steps() -> list[CampaignStep]:
    return sorted((s for s in registry.all(CampaignStep) if s.step_kind == "decision" and s.can_start),
                  key=lambda s: (s.group, s.label))


def _audience_inputs(audiences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per registered audience: its name, the groups offered and those chosen."""
    chosen = {a.get("key"): [str(v) for v in a.get("values") or []] for a in audiences or []}
    found = []
    for audience in sorted(registry.all(Audience), key=lambda a: (a.group, a.label)):
        values = chosen.get(audience.key, [])
        choices = list(audience.choices("", 0, AUDIENCE_CHOICES).items)
        offered = {str(v) for v, _ in choices}
        missing = [v for v in values if v not in offered]
        if missing:  # chosen groups beyond the first page (or deleted ones) stay visible
            labels = audience.choice_labels(missing)
            choices += [(v, labels.get(v, f"#{v} (deleted)")) for v in missing]
        index = next((i for i, a in enumerate(audiences or []) if a.get("key") == audience.key), None)
        found.append({"audience": audience, "name": f"audience-{audience.key}", "values": values,
                      "choices": [(str(v), label) for v, label in choices],
                      "error_name": f"audiences-{index}-values" if index is not None else ""})
    return found


def _start_rows(starts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for index, item in enumerate(starts):
        definition = services.step_type(str(item.get("key", "")))
        prefix = f"starts-{index}"
        inputs = []
        if definition is not None:
            inputs = config_inputs(definition.config_schema, prefix, item.get("config") or {},
                                   definition.config_choices)
        rows.append({"index": index, "prefix": prefix, "key": item.get("key", ""), "definition": definition,
                     "inputs": inputs})
    return rows


def _starts_from_post(post) -> list[dict[str, Any]]:
    try:
        count = max(0, min(int(post.get("starts-n", "0")), MAX_STARTS))
    except ValueError:
        count = 0
    starts = []
    for index in range(count):
        key = post.get(f"starts-{index}-key", "")
        definition = services.step_type(key)
        schema = definition.config_schema if definition is not None else None
        starts.append({"key": key, "config": config_from_post(post, f"starts-{index}", schema)})
    return starts


def _campaign_values(post) -> dict[str, Any]:
    audiences = []
    for audience in registry.all(Audience):
        values = [v for v in post.getlist(f"audience-{audience.key}") if v]
        if values:
            audiences.append({"key": audience.key, "values": values})
    return {"name": post.get("name", ""), "description": post.get("description", ""),
            "reentry": post.get("reentry", ""), "exit_on_leave": bool(post.get("exit_on_leave")),
            "audiences": audiences, "starts": _starts_from_post(post)}


def _starts_context(starts, errors=None) -> dict[str, Any]:
    return {"start_rows": _start_rows(starts), "start_steps": _start_steps(), "errors": errors or {}}


def _campaign_form(request, campaign=None, values=None, errors=None, status=200):
    if values is None:
        values = {"name": campaign.name, "description": campaign.description, "reentry": campaign.reentry,
                  "exit_on_leave": campaign.exit_on_leave, "audiences": campaign.audiences,
                  "starts": campaign.starts} if campaign else {
            "reentry": Campaign.Reentry.NEVER, "exit_on_leave": True, "audiences": [], "starts": []}
    flat = _flat(errors or {})
    return render(request, "campaigns/campaign_form.html", {
        "campaign": campaign, "values": values, "errors": flat,
        "audience_inputs": _audience_inputs(values.get("audiences") or []),
        "reentry_choices": Campaign.Reentry.choices,
        **_starts_context(values.get("starts") or [], flat)}, status=status)


def _save_campaign(request, campaign=None):
    values = _campaign_values(request.POST)
    try:
        saved = services.save_campaign(values, campaign, user=request.user)
    except ValidationFailed as exc:
        return _campaign_form(request, campaign, values, exc.errors, status=422)
    messages.success(request, f"Campaign “{saved.name}” saved." + (
        "" if campaign else " Add its steps below."))
    return redirect("campaigns:detail", pk=saved.pk)


def campaign_create(request):
    if request.method == "POST":
        return _save_campaign(request)
    return _campaign_form(request)


def campaign_edit(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    if request.method == "POST":
        return _save_campaign(request, campaign)
    return _campaign_form(request, campaign)


@require_POST
def starts_fragment(request):
    """Redraw the start events after "add" or "remove" (``op``); nothing is saved."""
    starts = _starts_from_post(request.POST)
    verb, _, arg = request.POST.get("op", "").partition(":")
    if verb == "add" and services.step_type(arg) is not None and len(starts) < MAX_STARTS:
        starts.append({"key": arg, "config": {}})
    elif verb == "remove" and arg.isdigit() and int(arg) < len(starts):
        starts.pop(int(arg))
    return render(request, "campaigns/_starts.html", _starts_context(starts))


@require_POST
def campaign_delete(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    name = campaign.name
    services.delete_campaign(campaign)
    messages.success(request, f"Campaign “{name}” deleted with its steps and enrollments (timelines are kept).")
    return redirect("campaigns:list")


# -- the builder ---------------------------------------------------------------------------

def _branches(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each node's children split by branch (``yes`` / ``no`` under conditions and decisions)."""
    for node in nodes:
        _branches(node["children"])
        node["yes"] = [c for c in node["children"] if c["branch"] == "yes"]
        node["no"] = [c for c in node["children"] if c["branch"] == "no"]
    return nodes


def _builder_context(campaign: Campaign, editor: dict[str, Any] | None = None) -> dict[str, Any]:
    problems = services.publish_problems(campaign) if not campaign.is_published else {}
    return {"campaign": campaign, "tree": _branches(services.campaign_tree(campaign)), "editor": editor,
            "step_problems": {int(k.split(".", 1)[1]): v for k, v in problems.items() if k.startswith("step.")},
            "problems": [m for k, ms in problems.items() if not k.startswith("step.") for m in ms]}


def _run_context(campaign: Campaign) -> dict[str, Any]:
    return {"campaign": campaign, "job": services.last_run_job(campaign)}


def campaign_detail(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    fragment = request.GET.get("fragment") if request.htmx else None
    if fragment == "run":
        job = services.last_run_job(campaign)
        response = render(request, "campaigns/_run_status.html", {"campaign": campaign, "job": job})
        if request.GET.get("polling") and not (job and job.is_active):
            response["HX-Trigger"] = "campaign-ran"  # the builder redraws its statistics
        return response
    if fragment == "builder":
        return render(request, "campaigns/_builder.html", _builder_context(campaign))
    return render(request, "campaigns/campaign_detail.html", {
        **_builder_context(campaign), **_run_context(campaign),
        "sources": services.describe_sources(campaign), "counts": services.enrollment_stats(campaign)})


def _palette(kind: str) -> list[tuple[str, list[CampaignStep]]]:
    groups: dict[str, list[CampaignStep]] = {}
    for step in sorted(registry.all(CampaignStep), key=lambda s: (s.group, s.label)):
        if step.step_kind == kind:
            groups.setdefault(step.group, []).append(step)
    return sorted(groups.items(), key=lambda kv: (kv[0] != "Liaison", kv[0]))


def _local_input(value) -> str:
    """A stored date as a datetime-local input's value, in the user's time zone."""
    if not value:
        return ""
    if isinstance(value, str):
        return value
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def _step_values(post=None, step: Step | None = None) -> dict[str, Any]:
    if post is not None:
        return {name: post.get(name, "") for name in
                ("name", "delay", "delay_amount", "delay_unit", "delay_until", "timeout_amount", "timeout_unit")}
    if step is not None:
        return {"name": step.name, "delay": step.delay, "delay_amount": step.delay_amount or "",
                "delay_unit": step.delay_unit, "delay_until": _local_input(step.delay_until),
                "timeout_amount": step.timeout_amount or "", "timeout_unit": step.timeout_unit}
    return {"name": "", "delay": Step.Delay.NONE, "delay_amount": "", "delay_unit": Step.Unit.DAYS,
            "delay_until": "", "timeout_amount": "", "timeout_unit": Step.Unit.DAYS}


def _step_data(post, definition: CampaignStep) -> dict[str, Any]:
    """What the step form posted, for ``add_step`` / ``update_step``."""
    data: dict[str, Any] = {"key": definition.key, "name": post.get("name", ""),
                            "config": config_from_post(post, STEP_PREFIX, definition.config_schema)}
    if definition.step_kind == Step.Kind.DECISION:
        data.update(delay=Step.Delay.NONE, timeout_amount=post.get("timeout_amount", "") or 0,
                    timeout_unit=post.get("timeout_unit", "") or Step.Unit.DAYS)
    else:
        data.update(delay=post.get("delay", "") or Step.Delay.NONE, delay_amount=post.get("delay_amount", "") or 0,
                    delay_unit=post.get("delay_unit", "") or Step.Unit.DAYS,
                    delay_until=post.get("delay_until", ""), timeout_amount=0)
    return data


def _place_label(parent: Step | None, branch: str) -> str:
    if parent is None:
        return "at the start of the campaign"
    summary = parent.name or services.summarize(parent.key, parent.config)
    if branch in ("yes", "no"):
        return f"on the “{BRANCH_LABELS[branch]}” branch of “{summary}”"
    return f"after “{summary}”"


def _editor(campaign: Campaign, *, step: Step | None = None, parent: Step | None = None, branch: str = "",
            kind: str = "", key: str = "", values=None, config=None, errors=None) -> dict[str, Any]:
    """The step form: add (``step`` None: choose the kind, then the step) or edit ``step``."""
    if step is not None:
        kind, key = step.step_kind, key or step.key
        parent, branch = step.parent, step.branch
    kind = kind if kind in Step.Kind.values else ""
    definition = services.step_type(key) if key else None
    if definition is not None and definition.step_kind != kind:
        # another kind than the one chosen (or than the edited step's): choose again
        definition, key = (None, "") if step is None else (services.step_type(step.key), step.key)
    inputs = []
    if definition is not None:
        inputs = config_inputs(definition.config_schema, STEP_PREFIX, config or {}, definition.config_choices)
    flat = _flat(errors or {})
    url = (reverse("campaigns:step_edit", args=[campaign.pk, step.pk]) if step is not None
           else reverse("campaigns:step_add", args=[campaign.pk]))
    return {"campaign": campaign, "step": step, "parent": parent, "branch": branch, "kind": kind, "key": key,
            "definition": definition, "inputs": inputs, "values": values or _step_values(step=step),
            "errors": flat, "palette": _palette(kind) if kind else [], "url": url,
            "place": _place_label(parent, branch), "kind_choices": Step.Kind.choices,
            "kind_label": KIND_LABELS.get(kind, ""), "delay_choices": Step.Delay.choices,
            "unit_choices": Step.Unit.choices, "config_errors": flat.get(f"{STEP_PREFIX}-config", []),
            "other_errors": [m for k in ("key", "parent", "branch", "__all__") for m in flat.get(k, [])]}


def _parent_from(campaign: Campaign, value) -> Step | None:
    if value in (None, ""):
        return None
    if not str(value).isdigit() or len(str(value)) > 18:
        raise Http404("No such step")
    return get_object_or_404(Step, campaign=campaign, pk=int(value))


def _editor_page(request, campaign, editor, status=200):
    """The step form: the panel's content (HTMX) or a page of its own."""
    template = "campaigns/_step_form.html" if request.htmx else "campaigns/step_form.html"
    return render(request, template, {"campaign": campaign, "e": editor}, status=status)


def _saved(request, campaign: Campaign, note: str):
    if request.htmx:
        return render(request, "campaigns/_builder.html", {**_builder_context(campaign), "note": note})
    messages.success(request, note)
    return redirect("campaigns:detail", pk=campaign.pk)


def _refused(request, campaign: Campaign, editor: dict[str, Any]):
    if request.htmx:  # htmx swaps only 2xx answers: the builder with the form and its messages
        return render(request, "campaigns/_builder.html", _builder_context(campaign, editor))
    return _editor_page(request, campaign, editor, status=422)


def step_add(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    source = request.POST if request.method == "POST" else request.GET
    parent = _parent_from(campaign, source.get("parent"))
    branch = source.get("branch", "")
    key = source.get("key", "")
    definition = services.step_type(key) if key else None
    kind = source.get("kind", "") or (definition.step_kind if definition else "")
    if request.method == "POST" and definition is not None and definition.step_kind == kind:
        try:
            step = services.add_step(campaign, {**_step_data(request.POST, definition),
                                                "parent": parent.pk if parent else None, "branch": branch})
        except ValidationFailed as exc:
            editor = _editor(campaign, parent=parent, branch=branch, kind=kind, key=key,
                             values=_step_values(request.POST),
                             config=config_from_post(request.POST, STEP_PREFIX, definition.config_schema),
                             errors=exc.errors)
            return _refused(request, campaign, editor)
        return _saved(request, campaign, f"Step “{step.name or services.summarize(step.key, step.config)}” added.")
    # A GET, or a change of kind or step: draw the form again with what was typed.
    has_values = "delay" in source or "timeout_amount" in source
    config = config_from_post(source, STEP_PREFIX, definition.config_schema) if definition and has_values else None
    errors = {"key": ["Choose the step to add."]} if request.method == "POST" else None
    editor = _editor(campaign, parent=parent, branch=branch, kind=kind, key=key,
                     values=_step_values(source) if has_values else None, config=config, errors=errors)
    if request.method == "POST":
        return _refused(request, campaign, editor)
    return _editor_page(request, campaign, editor)


def step_edit(request, pk, step_id):
    campaign = get_object_or_404(Campaign, pk=pk)
    step = get_object_or_404(Step.objects.select_related("parent"), pk=step_id, campaign=campaign)
    source = request.POST if request.method == "POST" else request.GET
    key = source.get("key", "") or step.key
    definition = services.step_type(key)
    if request.method == "POST":
        if definition is None:
            editor = _editor(campaign, step=step, key=key, values=_step_values(request.POST),
                             errors={"key": [f"The step {key!r} is not available: choose another or delete it."]})
            return _refused(request, campaign, editor)
        try:
            services.update_step(step, _step_data(request.POST, definition))
        except ValidationFailed as exc:
            step.refresh_from_db()
            editor = _editor(campaign, step=step, key=key, values=_step_values(request.POST),
                             config=config_from_post(request.POST, STEP_PREFIX, definition.config_schema),
                             errors=exc.errors)
            return _refused(request, campaign, editor)
        return _saved(request, campaign, f"Step “{step.name or services.summarize(step.key, step.config)}” saved.")
    changed = "key" in source
    config = (config_from_post(source, STEP_PREFIX, definition.config_schema) if changed and definition
              else step.config)
    editor = _editor(campaign, step=step, key=key, values=_step_values(source) if changed else None, config=config)
    return _editor_page(request, campaign, editor)


@require_POST
def step_delete(request, pk, step_id):
    campaign = get_object_or_404(Campaign, pk=pk)
    step = get_object_or_404(Step, pk=step_id, campaign=campaign)
    summary = step.name or services.summarize(step.key, step.config)
    services.delete_step(step)
    return _saved(request, campaign, f"Step “{summary}” deleted with the steps under it.")


@require_POST
def step_move(request, pk, step_id):
    """Move a step (with the steps under it) one place up or down among the steps at its place."""
    campaign = get_object_or_404(Campaign, pk=pk)
    step = get_object_or_404(Step, pk=step_id, campaign=campaign)
    siblings = list(Step.objects.filter(campaign=campaign, parent_id=step.parent_id, branch=step.branch)
                    .order_by("position", "id").values_list("pk", flat=True))
    index = siblings.index(step.pk) + (-1 if request.POST.get("direction") == "up" else 1)
    if 0 <= index < len(siblings):
        services.move_step(step, step.parent_id, step.branch, index)
    return _saved(request, campaign, "Step moved.")


# -- publishing and running ----------------------------------------------------------------

@require_POST
def campaign_publish(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        services.publish(campaign)
    except ValidationFailed as exc:
        for found in exc.errors.values():
            for message in found:
                messages.error(request, message)
        messages.error(request, "The campaign was not published: fix the points above first.")
    else:
        messages.success(request, f"“{campaign.name}” is published: contacts of its audience enter it now.")
    return redirect("campaigns:detail", pk=pk)


@require_POST
def campaign_pause(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        services.pause(campaign)
    except LiaisonError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{campaign.name}” is paused: contacts stay where they are until you resume it.")
    return redirect("campaigns:detail", pk=pk)


@require_POST
def campaign_resume(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        services.resume(campaign)
    except ValidationFailed as exc:
        for found in exc.errors.values():
            for message in found:
                messages.error(request, message)
    except LiaisonError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{campaign.name}” runs again.")
    return redirect("campaigns:detail", pk=pk)


@require_POST
def campaign_run(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        job = services.run_now(campaign, user=request.user)
    except LiaisonError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Running “{campaign.name}” now (job #{job.pk}).")
    return redirect("campaigns:detail", pk=pk)


# -- statistics and enrollments ------------------------------------------------------------

def _flatten(nodes, depth=0, branch="") -> list[dict[str, Any]]:
    rows = []
    for node in nodes:
        rows.append({**node, "depth": depth, "indent": depth * 1.5, "branch_label": BRANCH_LABELS.get(node["branch"])})
        rows += _flatten(node["children"], depth + 1)
    return rows


def campaign_stats(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    return render(request, "campaigns/campaign_stats.html", {
        "campaign": campaign, "counts": services.enrollment_stats(campaign),
        "rows": _flatten(services.campaign_tree(campaign)), "sources": services.describe_sources(campaign),
        "job": services.last_run_job(campaign)})


def enrollment_list(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    qs = campaign.enrollments.select_related("contact").prefetch_related(
        Prefetch("runs", queryset=StepRun.objects.order_by("created_at", "id")))
    status = request.GET.get("status", "")
    if status in Enrollment.Status.values:
        qs = qs.filter(status=status)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(contact__email_key__contains=q.lower())
    contact = request.GET.get("contact", "")
    if contact.isdigit() and len(contact) < 19:
        qs = qs.filter(contact_id=int(contact))
    failed = request.GET.get("failed") == "1"
    if failed:
        qs = qs.filter(runs__status=StepRun.Status.FAILED).distinct()
    page = _page(request, qs)
    steps = {s.pk: s for s in Step.objects.filter(campaign=campaign)}
    summaries = {pk: s.name or services.summarize(s.key, s.config) for pk, s in steps.items()}
    rows = [{"enrollment": e, "runs": [{"run": r, "summary": summaries.get(r.step_id, "(deleted step)"),
                                        "kind": KIND_LABELS.get(steps[r.step_id].step_kind, "")
                                        if r.step_id in steps else ""} for r in e.runs.all()]}
            for e in page]
    return render(request, "campaigns/enrollment_list.html", {
        "campaign": campaign, "page": page, "rows": rows, "q": q, "status": status, "failed": failed,
        "contact": contact,
        "statuses": Enrollment.Status.choices, "counts": services.enrollment_stats(campaign)})


# -- the contact page ----------------------------------------------------------------------

PANEL_ENROLLMENTS = 10


def contact_panel(request, contact) -> dict[str, Any]:
    """The contact's latest campaign runs, each with its last step (three queries)."""
    enrollments = list(Enrollment.objects.filter(contact=contact).select_related("campaign")
                       .order_by("-entered_at", "-id")[:PANEL_ENROLLMENTS + 1])
    shown = enrollments[:PANEL_ENROLLMENTS]
    last: dict[int, StepRun] = {}
    for run in (StepRun.objects.filter(enrollment_id__in=[e.pk for e in shown]).select_related("step")
                .order_by("created_at", "id")):
        last[run.enrollment_id] = run
    rows = []
    for enrollment in shown:
        run = last.get(enrollment.pk)
        rows.append({"enrollment": enrollment, "run": run,
                     "summary": (run.step.name or services.summarize(run.step.key, run.step.config)) if run else ""})
    return {"campaign_rows": rows, "more": len(enrollments) > PANEL_ENROLLMENTS}
