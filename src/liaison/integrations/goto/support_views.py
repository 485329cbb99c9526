"""GoToAssist pages: the contact panel's actions, open connection codes, the sessions report
(with CSV), the monitor, and the notification rules."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from liaison.contacts.models import Contact
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.permissions import has_capability, requires
from liaison.integrations.goto import rules, support
from liaison.integrations.goto.models import AssistNotification, AssistRule, AssistSession
from liaison.integrations.goto.views import PAGE, _integration
from liaison.integrations.models import Integration


def _words(exc: LiaisonError) -> str:
    if isinstance(exc, ValidationFailed):
        return " ".join(m for messages_ in exc.errors.values() for m in messages_)
    return str(exc)


# -- the contact panel ------------------------------------------------------------------------------------


def contact_panel_context(request, contact) -> dict:
    accounts = support.assist_accounts()
    # Only what was probed already: rendering a contact page never calls GoTo.
    with_codes = [a for a in accounts if "connectionCodes" in ((a.account or {}).get("g2a_capabilities") or [])]
    sessions = support.sessions_for(contact, limit=8)
    return {"accounts": accounts, "code_accounts": with_codes,
            "open_sessions": [s for s in sessions if s.status in ("notStarted", "waiting", "active")],
            "past_sessions": [s for s in sessions if s.status not in ("notStarted", "waiting", "active")][:5],
            "codes": list(support.contact_codes(contact)), "emails": support.link_emails(),
            "can_edit": has_capability(request.user, "edit"), "token": support.LINK_TOKEN}


def _back_to(request, contact_id: int):
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(reverse("contacts:detail", args=[contact_id]) + "#goto-assist")


@require_POST
@requires("edit")
def start_session(request, contact_id):
    contact = get_object_or_404(Contact, pk=contact_id)
    try:
        integration = support.assist_account(request.POST.get("integration"))
        session = support.start_session(integration, contact, user=request.user)
    except LiaisonError as exc:
        messages.error(request, _words(exc))
    else:
        messages.success(request, f"Support session {session.session_id} created: give {contact} the join link "
                                  f"below, or e-mail it.")
    return _back_to(request, contact.pk)


@require_POST
@requires("edit")
def create_code(request, contact_id):
    contact = get_object_or_404(Contact, pk=contact_id)
    try:
        integration = support.assist_account(request.POST.get("integration"))
        code = support.create_code(integration, contact, user=request.user,
                                   valid_minutes=int(request.POST.get("valid_minutes") or 20))
    except ValueError:
        messages.error(request, "Give the code's validity in minutes (a whole number).")
    except LiaisonError as exc:
        messages.error(request, _words(exc))
    else:
        messages.success(request, f"Connection code {code.code} (valid until {timezone.localtime(code.expires_at):%H:%M}"
                                  f"): read it to {contact} on the phone.")
    return _back_to(request, contact.pk)


@require_POST
@requires("edit")
def send_link(request, session_id):
    from liaison.emails.models import Email

    session = get_object_or_404(AssistSession.objects.select_related("contact", "integration"), pk=session_id)
    email = Email.objects.filter(pk=request.POST.get("email") or 0).first()
    if email is None:
        messages.error(request, "Choose the e-mail that carries the link.")
    else:
        try:
            send = support.send_join_link(session, email, user=request.user)
        except LiaisonError as exc:
            messages.error(request, _words(exc))
        else:
            messages.success(request, f"“{email.name}” with the join link is {send.get_status_display().lower()} "
                                      f"for {session.contact.email}.")
    if session.contact_id is None:
        return redirect("integrations:goto:assist_report")
    return _back_to(request, session.contact_id)


# -- connection codes ---------------------------------------------------------------------------------------

def codes(request, pk):
    integration = _integration(pk)
    rows, problem = [], ""
    try:
        rows = support.open_codes(integration)
    except LiaisonError as exc:
        problem = str(exc)
    return render(request, "goto/assist_codes.html", {"integration": integration, "rows": rows, "problem": problem,
                                                      "can_edit": has_capability(request.user, "edit")})


@require_POST
@requires("edit")
def cancel_code(request, pk, code):
    integration = _integration(pk)
    try:
        support.cancel_code(integration, code)
    except LiaisonError as exc:
        messages.error(request, _words(exc))
    else:
        messages.success(request, f"Connection code {code} cancelled: it can no longer be used.")
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("integrations:goto:assist_codes", pk=pk)


# -- the sessions report -------------------------------------------------------------------------------------

def _date(value: str, end: bool = False):
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except (TypeError, ValueError):
        return None
    return timezone.make_aware(datetime.combine(day, time.max if end else time.min))


def report(request, pk=None):
    """Every imported support session (or one account's), filtered, paged, exportable."""
    integration = _integration(pk) if pk else None
    get = request.GET
    params = {k: get.get(k, "").strip() for k in ("integration", "status", "agent", "portal", "resolution", "q",
                                                   "rating_min", "rating_max", "since", "until", "contact")}
    errors: dict[str, list[str]] = {}
    if integration is not None:
        params["integration"] = str(integration.pk)
    for name in ("rating_min", "rating_max"):
        if params[name] and not (params[name].isdigit() and 1 <= int(params[name]) <= 5):
            errors[name] = ["A rating from 1 to 5."]
            params[name] = ""
    for name in ("integration", "contact"):
        if params[name] and not params[name].isdigit():
            params[name] = ""
    if params["status"] not in AssistSession.Status.values:
        params["status"] = ""
    query = {**params, "started_after": _date(params["since"]), "started_before": _date(params["until"], end=True)}
    qs = support.filter_sessions(query).select_related("integration", "contact")
    if get.get("format") == "csv":
        response = StreamingHttpResponse(support.export_csv(qs), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="support-sessions-{timezone.now():%Y%m%d}.csv"'
        return response
    capabilities = (integration.account or {}).get("g2a_capabilities") if integration else None
    return render(request, "goto/assist_report.html", {
        "integration": integration, "page": Paginator(qs, PAGE).get_page(get.get("page")), "params": params,
        "errors": errors, "statuses": AssistSession.Status.choices, "choices": support.report_choices(),
        "accounts": Integration.objects.filter(spec_key="goto").order_by("name"),
        "reports_available": capabilities is None or "sessionReports" in capabilities,
        "g2a_probed": bool(integration and "g2a_probed_at" in (integration.account or {})),
    }, status=422 if errors else 200)


# -- the monitor -----------------------------------------------------------------------------------------------

def monitor(request, pk):
    integration = _integration(pk)
    if not integration.feature_enabled("assist"):
        raise Http404("GoToAssist is switched off for this account")
    error = ""
    try:
        snapshot = support.monitor(integration, refresh=request.GET.get("refresh") == "1")
    except LiaisonError as exc:  # the capability probe itself failed
        snapshot, error = None, str(exc)
    context = {"integration": integration, "snapshot": snapshot, "error": error,
               "rules": AssistRule.objects.filter(kind=AssistRule.Kind.WAITING, active=True)
               .filter(Q(integration=integration) | Q(integration__isnull=True))}
    if request.GET.get("fragment"):
        return render(request, "goto/_assist_monitor.html", context)
    return render(request, "goto/assist_monitor.html", context)


# -- rules ---------------------------------------------------------------------------------------------------

RULE_FIELDS = ("name", "integration", "kind", "threshold", "channel", "email", "user", "webhook_url")


def rule_list(request):
    return render(request, "goto/assist_rules.html", {
        "rules": AssistRule.objects.select_related("integration", "user", "webhook"),
        "notifications": AssistNotification.objects.select_related("rule", "delivery", "session")[:50],
        "can_edit": has_capability(request.user, "edit")})


def _rule_form(request, rule, values, errors, status=200):
    from liaison.users.models import User

    return render(request, "goto/assist_rule_form.html", {
        "rule": rule, "values": values, "errors": errors, "kinds": AssistRule.Kind.choices,
        "channels": AssistRule.Channel.choices,
        "accounts": [(i.pk, i.name) for i in Integration.objects.filter(spec_key="goto").order_by("name")],
        "users": [(u.pk, f"{u} <{u.email}>") for u in User.objects.filter(is_active=True).exclude(email="")],
    }, status=status)


@requires("edit")
def rule_edit(request, rule_id=None):
    rule = get_object_or_404(AssistRule.objects.select_related("webhook"), pk=rule_id) if rule_id else None
    if request.method != "POST":
        values = ({"name": rule.name, "integration": rule.integration_id or "", "kind": rule.kind,
                   "threshold": rule.threshold or "", "channel": rule.channel, "email": rule.email,
                   "user": rule.user_id or "", "webhook_url": rule.webhook.url if rule.webhook_id else "",
                   "active": rule.active} if rule else {"channel": "email", "kind": "low_rating", "threshold": 2,
                                                       "active": True})
        return _rule_form(request, rule, values, {})
    values = {k: request.POST.get(k, "").strip() for k in RULE_FIELDS}
    values["active"] = bool(request.POST.get("active"))
    data = {**values, "integration": values["integration"] or None, "user": values["user"] or None}
    try:
        saved, secret = rules.save_rule(data, rule, user=request.user)
    except ValidationFailed as exc:
        return _rule_form(request, rule, values, exc.errors, status=422)
    messages.success(request, f"Rule “{saved.name}” saved.")
    if secret:
        messages.warning(request, f"Its webhook signs deliveries with this secret; give it to the receiver now, it "
                                  f"is not shown again: {secret}")
    return redirect("integrations:goto:assist_rules")


@require_POST
@requires("edit")
def rule_delete(request, rule_id):
    rule = get_object_or_404(AssistRule, pk=rule_id)
    rules.delete_rule(rule)
    messages.success(request, f"Rule “{rule.name}” deleted.")
    return redirect("integrations:goto:assist_rules")
