from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from liaison.contacts import exports, imports, services
from liaison.contacts.fields import CUSTOM_PREFIX, STANDARD_FIELDS, custom_field_defs
from liaison.contacts.models import Company, Contact, ContactImport, Field
from liaison.core.contributions import ContactPanel, TimelineKind
from liaison.core.errors import ValidationFailed
from liaison.core.permissions import has_capability, requires
from liaison.core.registry import registry

PAGE_SIZE = 50
TIMELINE_PAGE = 25
# Standard fields shown on the contact form (company and owner get their own inputs).
FORM_FIELDS = [f for f in STANDARD_FIELDS if f.key not in {"company", "owner", "points", "do_not_contact",
                                                             "dnc_reason"}]


def _page(request, qs, size=PAGE_SIZE):
    return Paginator(qs, size).get_page(request.GET.get("page"))


def contact_list(request):
    params = request.GET
    page = _page(request, services.filter_contacts(params))
    return render(request, "contacts/contact_list.html", {
        "page": page,
        "params": params,
        "companies": Company.objects.order_by("name")[:500],
        "owners": get_user_model().objects.filter(is_active=True).order_by("username"),
        "sorts": services.SORTS,
    })


def contact_export(request):
    qs = services.filter_contacts(request.GET)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(exports.contacts_csv(qs), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="contacts-{stamp}.csv"'
    return response


def _contact_form_values(post) -> dict:
    values = {f.key: post.get(f.key, "") for f in FORM_FIELDS}
    values["company"] = post.get("company", "")
    values["owner"] = post.get("owner", "")
    values["points"] = post.get("points", "")
    for definition in custom_field_defs():
        if definition.type == "multiselect":
            values[definition.key] = post.getlist(definition.key)
        elif definition.type == "boolean":
            values[definition.key] = "yes" if post.get(definition.key) else "no"
        else:
            values[definition.key] = post.get(definition.key, "")
    return values


def _contact_form(request, contact=None, values=None, errors=None, status=200):
    customs = custom_field_defs()
    if values is None:
        values = {}
        if contact is not None:
            values = {f.key: getattr(contact, f.key) for f in FORM_FIELDS}
            values["company"] = contact.company.name if contact.company else ""
            values["owner"] = contact.owner_id or ""
            values["points"] = contact.points
            for d in customs:
                values[d.key] = (contact.custom or {}).get(d.alias, "")
    return render(request, "contacts/contact_form.html", {
        "contact": contact, "values": values, "errors": errors or {}, "standard_fields": FORM_FIELDS,
        "custom_fields": customs, "owners": get_user_model().objects.filter(is_active=True).order_by("username"),
    }, status=status)


def contact_create(request):
    if request.method == "POST":
        values = _contact_form_values(request.POST)
        try:
            contact = services.save_contact(values, user=request.user, source="ui")
        except ValidationFailed as exc:
            return _contact_form(request, values=values, errors=exc.errors, status=422)
        messages.success(request, f"Contact {contact} created.")
        return redirect("contacts:detail", pk=contact.pk)
    return _contact_form(request)


def contact_edit(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    if request.method == "POST":
        values = _contact_form_values(request.POST)
        try:
            services.save_contact(values, contact=contact, user=request.user, source="ui")
        except ValidationFailed as exc:
            return _contact_form(request, contact, values=values, errors=exc.errors, status=422)
        messages.success(request, "Contact saved.")
        return redirect("contacts:detail", pk=contact.pk)
    return _contact_form(request, contact)


def contact_detail(request, pk):
    contact = get_object_or_404(Contact.objects.select_related("company", "owner"), pk=pk)
    customs = [(d, (contact.custom or {}).get(d.alias)) for d in custom_field_defs()]
    kinds = sorted(registry.all(TimelineKind), key=lambda k: (k.group, k.label))
    return render(request, "contacts/contact_detail.html", {
        "contact": contact, "customs": customs, "kinds": kinds,
        "selected_kinds": request.GET.getlist("kind"), **_panels(request, contact),
        **_timeline_page(contact, request),
    })


def _panels(request, contact) -> dict:
    """Sections other apps add to the page (``ContactPanel``), by slot."""
    slots: dict[str, list] = {"sidebar_panels": [], "action_panels": []}
    for panel in sorted(registry.all(ContactPanel), key=lambda p: (p.order, p.key)):
        if has_capability(request.user, panel.permission):
            context = panel.context(request, contact) if panel.context else {}
            slots[f"{'action' if panel.slot == 'actions' else 'sidebar'}_panels"].append(
                {"panel": panel, "context": context})
    return slots


def _timeline_page(contact, request) -> dict:
    qs = services.timeline(contact, request.GET.getlist("kind"))
    before = request.GET.get("before")
    if before:
        try:
            stamp, _, last_id = before.partition("_")
            moment = datetime.fromisoformat(stamp)
            qs = qs.filter(occurred_at__lte=moment).exclude(occurred_at=moment, id__gte=int(last_id))
        except ValueError:
            raise Http404("Bad timeline cursor") from None
    entries = list(qs[: TIMELINE_PAGE + 1])
    more = len(entries) > TIMELINE_PAGE
    entries = entries[:TIMELINE_PAGE]
    kinds = {k.key: k for k in registry.all(TimelineKind)}
    rows = [{"activity": a, "kind": kinds.get(a.kind)} for a in entries]
    cursor = f"{entries[-1].occurred_at.isoformat()}_{entries[-1].pk}" if more else ""
    return {"timeline": rows, "timeline_cursor": cursor}


def contact_timeline(request, pk):
    """One page of the timeline (HTMX "load more" and kind filters)."""
    contact = get_object_or_404(Contact, pk=pk)
    return render(request, "contacts/_timeline.html", {"contact": contact, "selected_kinds":
                                                        request.GET.getlist("kind"), **_timeline_page(contact, request)})


@require_POST
def contact_note(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    try:
        services.add_note(contact, request.POST.get("text", ""), request.user)
        messages.success(request, "Note added to the timeline.")
    except ValidationFailed as exc:
        messages.error(request, " ".join(m for ms in exc.errors.values() for m in ms))
    return redirect("contacts:detail", pk=pk)


@require_POST
def contact_dnc(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    value = request.POST.get("do_not_contact") == "1"
    services.set_do_not_contact(contact, value, request.POST.get("reason", "") or "Set by hand", source="ui")
    messages.success(request, "Do not contact set." if value else "Do not contact cleared.")
    return redirect("contacts:detail", pk=pk)


@require_POST
def contact_delete(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    name = str(contact)
    services.delete_contacts([contact.pk])
    messages.success(request, f"Contact {name} deleted.")
    return redirect("contacts:list")


@require_POST
def contact_bulk_delete(request):
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    if not ids:
        messages.warning(request, "Select the contacts to delete first.")
    else:
        deleted = services.delete_contacts(ids)
        messages.success(request, f"{deleted} contact(s) deleted.")
    return redirect(request.POST.get("next") or "contacts:list")


# -- companies ----------------------------------------------------------------------

def company_list(request):
    from django.db.models import Count

    qs = Company.objects.annotate(contact_count=Count("contacts"))
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(name__icontains=q)
    return render(request, "contacts/company_list.html", {"page": _page(request, qs.order_by("name")), "q": q})


def _company_form(request, company=None, values=None, errors=None, status=200):
    customs = custom_field_defs(Field.Object.COMPANY)
    if values is None:
        values = {}
        if company:
            values = {k: getattr(company, k) for k in ("name", "website", "email", "phone", "address1", "address2",
                                                        "city", "state", "postcode", "country", "industry",
                                                        "employees")}
            values.update({d.key: (company.custom or {}).get(d.alias, "") for d in customs})
    return render(request, "contacts/company_form.html", {"company": company, "values": values,
                                                          "errors": errors or {}, "custom_fields": customs},
                  status=status)


def _company_values(post) -> dict:
    keys = ("name", "website", "email", "phone", "address1", "address2", "city", "state", "postcode", "country",
            "industry", "employees")
    values = {k: post.get(k, "") for k in keys}
    values["custom"] = {d.alias: post.get(d.key, "") for d in custom_field_defs(Field.Object.COMPANY)}
    return values


def _as_form_values(values: dict) -> dict:
    """Submitted company values keyed as the form's inputs (custom fields as custom.<alias>)."""
    return {**values, **{CUSTOM_PREFIX + k: v for k, v in values["custom"].items()}}


def company_create(request):
    if request.method == "POST":
        values = _company_values(request.POST)
        try:
            company = services.save_company(values)
        except ValidationFailed as exc:
            return _company_form(request, values=_as_form_values(values), errors=exc.errors, status=422)
        messages.success(request, f"Company {company} created.")
        return redirect("contacts:company", pk=company.pk)
    return _company_form(request)


def company_edit(request, pk):
    company = get_object_or_404(Company, pk=pk)
    if request.method == "POST":
        values = _company_values(request.POST)
        try:
            services.save_company(values, company=company)
        except ValidationFailed as exc:
            return _company_form(request, company, values=_as_form_values(values), errors=exc.errors, status=422)
        messages.success(request, "Company saved.")
        return redirect("contacts:company", pk=pk)
    return _company_form(request, company)


def company_detail(request, pk):
    company = get_object_or_404(Company, pk=pk)
    customs = [(d, (company.custom or {}).get(d.alias)) for d in custom_field_defs(Field.Object.COMPANY)]
    page = _page(request, company.contacts.order_by("last_name", "first_name", "id"))
    return render(request, "contacts/company_detail.html", {"company": company, "customs": customs, "page": page})


@require_POST
def company_delete(request, pk):
    company = get_object_or_404(Company, pk=pk)
    name = company.name
    company.delete()
    messages.success(request, f"Company {name} deleted; its contacts were kept.")
    return redirect("contacts:companies")


# -- custom fields ------------------------------------------------------------------

def field_list(request):
    return render(request, "contacts/field_list.html", {"fields": Field.objects.all(),
                                                        "standard_fields": STANDARD_FIELDS})


def _field_form(request, field_obj=None, values=None, errors=None, status=200):
    if values is None:
        values = {"object": "contact", "type": "text", "group": "core"}
        if field_obj:
            values = {"object": field_obj.object, "alias": field_obj.alias, "label": field_obj.label,
                      "type": field_obj.type, "group": field_obj.group, "order": field_obj.order,
                      "default": "" if field_obj.default is None else field_obj.default,
                      "choices": "\n".join(str(c.get("value")) for c in field_obj.choices or [])}
    usage = services.field_usage(field_obj) if field_obj else 0
    return render(request, "contacts/field_form.html", {
        "field_obj": field_obj, "values": values, "errors": errors or {}, "types": Field.Type.choices,
        "objects": Field.Object.choices, "usage": usage}, status=status)


def _field_values(post) -> dict:
    return {k: post.get(k, "") for k in ("object", "alias", "label", "type", "group", "order", "default",
                                          "choices")}


def field_create(request):
    if request.method == "POST":
        values = _field_values(request.POST)
        try:
            field_obj = services.save_field(values)
        except ValidationFailed as exc:
            return _field_form(request, values=values, errors=exc.errors, status=422)
        messages.success(request, f"Field “{field_obj.label}” created.")
        return redirect("contacts:fields")
    return _field_form(request)


def field_edit(request, pk):
    field_obj = get_object_or_404(Field, pk=pk)
    if request.method == "POST":
        values = _field_values(request.POST)
        try:
            services.save_field(values, field_obj=field_obj)
        except ValidationFailed as exc:
            return _field_form(request, field_obj, values=values, errors=exc.errors, status=422)
        messages.success(request, "Field saved.")
        return redirect("contacts:fields")
    return _field_form(request, field_obj)


@require_POST
def field_delete(request, pk):
    field_obj = get_object_or_404(Field, pk=pk)
    label = field_obj.label
    affected = services.delete_field(field_obj)
    messages.success(request, f"Field “{label}” deleted; {affected} value(s) removed.")
    return redirect("contacts:fields")


# -- imports ------------------------------------------------------------------------

def import_list(request):
    return render(request, "contacts/import_list.html",
                  {"page": _page(request, ContactImport.objects.select_related("job", "created_by"))})


@requires("edit")
def import_upload(request):
    errors = {}
    if request.method == "POST":
        try:
            contact_import = imports.create_import(request.FILES.get("file"), request.user)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            return redirect("contacts:import_mapping", pk=contact_import.pk)
    return render(request, "contacts/import_upload.html", {"errors": errors}, status=422 if errors else 200)


@requires("edit")
def import_mapping(request, pk):
    contact_import = get_object_or_404(ContactImport, pk=pk)
    if contact_import.status != ContactImport.Status.DRAFT:
        return redirect("contacts:import_detail", pk=pk)
    errors = {}
    mapping = contact_import.mapping
    policy = contact_import.policy
    if request.method == "POST":
        mapping = {str(i): request.POST.get(f"column_{i}", "") for i in range(len(contact_import.headers))}
        policy = {request.POST.get(f"column_{i}"): request.POST.get(f"policy_{i}", "")
                  for i in range(len(contact_import.headers)) if request.POST.get(f"column_{i}")}
        try:
            imports.set_mapping(contact_import, mapping, policy)
            if request.POST.get("action") == "start":
                imports.start_import(contact_import, request.user)
                messages.success(request, f"Import of {contact_import.original_name} started.")
                return redirect("contacts:import_detail", pk=pk)
            messages.success(request, "Mapping saved; check the preview below.")
        except ValidationFailed as exc:
            errors = exc.errors
    columns = [{"index": i, "header": h, "field": mapping.get(str(i), ""), "error_key": f"column_{i}",
                "policy": policy.get(mapping.get(str(i), ""), "")}
               for i, h in enumerate(contact_import.headers)]
    return render(request, "contacts/import_mapping.html", {
        "imp": contact_import, "columns": columns, "choices": imports.field_choices(), "errors": errors,
        "preview": imports.preview(contact_import, {k: v for k, v in mapping.items() if v}),
    }, status=422 if errors else 200)


def import_detail(request, pk):
    contact_import = get_object_or_404(ContactImport.objects.select_related("job"), pk=pk)
    page = _page(request, contact_import.row_errors.all())
    template = "contacts/_import_progress.html" if request.htmx and request.GET.get("fragment") else \
        "contacts/import_detail.html"
    return render(request, template, {"imp": contact_import, "page": page})


def import_errors_csv(request, pk):
    import csv
    import io

    contact_import = get_object_or_404(ContactImport, pk=pk)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["line", "reason", *contact_import.headers])
    for error in contact_import.row_errors.all().iterator():
        writer.writerow([error.line, error.reason, *error.row])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{pk}-errors.csv"'
    return response


@require_POST
def import_delete(request, pk):
    contact_import = get_object_or_404(ContactImport, pk=pk)
    if contact_import.status in (ContactImport.Status.QUEUED, ContactImport.Status.RUNNING):
        messages.error(request, "This import is running; cancel its job first.")
        return redirect("contacts:import_detail", pk=pk)
    contact_import.file.delete(save=False)
    contact_import.delete()
    messages.success(request, "Import removed (the contacts it created stay).")
    return redirect("contacts:imports")
