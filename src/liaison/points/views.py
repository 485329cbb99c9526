from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from liaison.core.contributions import PointEvent
from liaison.core.errors import ValidationFailed
from liaison.core.registry import registry
from liaison.points import builder, services
from liaison.points.models import PointRule, PointTrigger, TriggerFiring

PAGE_SIZE = 50


def _page(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


# -- rules ------------------------------------------------------------------------------------

def rule_list(request):
    qs = services.rule_rows()
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(description__icontains=q))
    page = _page(request, qs)
    rows = [{"rule": r, "summary": services.describe_rule(r), "problem": services.rule_problem(r)} for r in page]
    return render(request, "points/rule_list.html", {"page": page, "rows": rows, "q": q, "tab": "rules"})


def _subject_context(event_key: str, selected) -> dict:
    event = registry.find(PointEvent, event_key)
    return {"event": event, "subject_choices": services.subject_choices(event), "selected": [str(s) for s in selected]}


def _rule_form(request, rule=None, values=None, errors=None, status=200):
    if values is None:
        values = {"name": rule.name, "description": rule.description, "event": rule.event,
                  "subjects": rule.subjects, "points": rule.points, "once_per_contact": rule.once_per_contact,
                  "active": rule.active} if rule else {"points": 5, "active": True, "subjects": []}
    choices = services.event_choices()
    if values.get("event") and values["event"] not in dict(choices):
        choices.append((values["event"], f"{values['event']} (unavailable)"))
    return render(request, "points/rule_form.html", {
        "rule": rule, "values": values, "errors": errors or {}, "event_choices": choices,
        **_subject_context(values.get("event", ""), values.get("subjects") or []),
    }, status=status)


def _rule_values(post) -> dict:
    return {"name": post.get("name", ""), "description": post.get("description", ""), "event": post.get("event", ""),
            "subjects": post.getlist("subjects"), "points": post.get("points", ""),
            "once_per_contact": bool(post.get("once_per_contact")), "active": bool(post.get("active"))}


def _save_rule(request, rule=None):
    values = _rule_values(request.POST)
    try:
        saved = services.save_rule(values, rule=rule, user=request.user)
    except ValidationFailed as exc:
        return _rule_form(request, rule, values, exc.errors, status=422)
    messages.success(request, f"Rule “{saved.name}” saved.")
    return redirect("points:rule", pk=saved.pk)


def rule_create(request):
    if request.method == "POST":
        return _save_rule(request)
    return _rule_form(request)


def rule_edit(request, pk):
    rule = get_object_or_404(PointRule, pk=pk)
    if request.method == "POST":
        return _save_rule(request, rule)
    return _rule_form(request, rule)


def rule_subjects(request):
    """The subject input for the event chosen in the rule form (HTMX)."""
    return render(request, "points/_subjects.html", {
        "errors": {}, **_subject_context(request.GET.get("event", ""), request.GET.getlist("subjects"))})


def rule_detail(request, pk):
    rule = get_object_or_404(services.rule_rows(), pk=pk)
    page = _page(request, rule.awards.select_related("contact"))
    return render(request, "points/rule_detail.html", {
        "rule": rule, "page": page, "summary": services.describe_rule(rule), "problem": services.rule_problem(rule),
        "tab": "rules"})


@require_POST
def rule_delete(request, pk):
    rule = get_object_or_404(PointRule, pk=pk)
    services.delete_rule(rule)
    messages.success(request, f"Rule “{rule.name}” deleted (the points it gave stay with the contacts).")
    return redirect("points:rules")


# -- triggers ---------------------------------------------------------------------------------

def trigger_list(request):
    qs = PointTrigger.objects.all()
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(description__icontains=q))
    page = _page(request, qs)
    counts = services.firing_counts([t.pk for t in page])
    rows = [{"trigger": t, "actions": services.describe_actions(t.actions), "counts": counts.get(t.pk, {})}
            for t in page]
    return render(request, "points/trigger_list.html", {"page": page, "rows": rows, "q": q, "tab": "triggers"})


def _builder_context(actions, errors=None) -> dict:
    flat = builder.flat_errors(errors or {})
    return {"action_rows": builder.rows(actions), "palette": builder.palette(), "errors": flat}


def _trigger_form(request, trigger=None, values=None, actions=None, errors=None, status=200):
    if values is None:
        values = {"name": trigger.name, "description": trigger.description, "threshold": trigger.threshold,
                  "active": trigger.active, "include_existing": trigger.include_existing} if trigger else {
            "active": True, "include_existing": False}
    actions = actions if actions is not None else (list(trigger.actions) if trigger else [])
    context = _builder_context(actions, errors)
    context["errors"].update({k: v for k, v in (errors or {}).items() if "." not in k})
    return render(request, "points/trigger_form.html", {"trigger": trigger, "values": values, **context},
                  status=status)


def _save_trigger(request, trigger=None):
    post = request.POST
    values = {"name": post.get("name", ""), "description": post.get("description", ""),
              "threshold": post.get("threshold", ""), "active": bool(post.get("active")),
              "include_existing": bool(post.get("include_existing"))}
    actions = builder.actions_from_post(post)
    try:
        saved = services.save_trigger({**values, "actions": actions}, trigger=trigger, user=request.user)
    except ValidationFailed as exc:
        return _trigger_form(request, trigger, values, actions, exc.errors, status=422)
    messages.success(request, f"Trigger “{saved.name}” saved." + (
        " Contacts at its threshold are being looked at." if saved.active else ""))
    return redirect("points:trigger", pk=saved.pk)


def trigger_create(request):
    if request.method == "POST":
        return _save_trigger(request)
    return _trigger_form(request)


def trigger_edit(request, pk):
    trigger = get_object_or_404(PointTrigger, pk=pk)
    if request.method == "POST":
        return _save_trigger(request, trigger)
    return _trigger_form(request, trigger)


@require_POST
def actions_fragment(request):
    """Draw the action builder again after a button (add, remove, move); nothing is saved."""
    actions = builder.apply(builder.actions_from_post(request.POST), request.POST.get("op", ""))
    return render(request, "points/_actions.html", _builder_context(actions))


def trigger_detail(request, pk):
    trigger = get_object_or_404(PointTrigger, pk=pk)
    status = request.GET.get("status", "")
    status = status if status in TriggerFiring.Status.values else ""
    q = request.GET.get("q", "").strip()
    page = _page(request, services.firing_rows(trigger, status, q))
    return render(request, "points/trigger_detail.html", {
        "trigger": trigger, "page": page, "status": status, "q": q, "statuses": TriggerFiring.Status.choices,
        "counts": services.firing_counts([trigger.pk]).get(trigger.pk, {}),
        "actions": services.describe_actions(trigger.actions), "tab": "triggers"})


@require_POST
def trigger_delete(request, pk):
    trigger = get_object_or_404(PointTrigger, pk=pk)
    services.delete_trigger(trigger)
    messages.success(request, f"Trigger “{trigger.name}” and its firing log deleted.")
    return redirect("points:triggers")


@require_POST
def triggers_evaluate(request):
    job = services.request_evaluation(user=request.user)
    messages.success(request, f"Evaluating the triggers for every contact (job #{job.pk}).")
    return redirect("points:triggers")


def contact_panel(request, contact) -> dict:
    """The contact page's "Points" card: recent awards, triggers reached, the next one."""
    return services.contact_points(contact)
