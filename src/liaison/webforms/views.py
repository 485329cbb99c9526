from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from liaison.core.errors import ValidationFailed
from liaison.webforms import builder, services
from liaison.webforms.models import Form, Submission

PAGE_SIZE = 50


def form_list(request):
    qs = Form.objects.all()
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(title__icontains=q) | Q(slug__icontains=q))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "webforms/form_list.html", {"page": page, "q": q})


def _builder_context(data, errors=None) -> dict:
    spec = builder.spec_from_data(data)
    field_rows, action_rows = builder.rows(data, spec)
    flat = builder.flat_errors(errors or {})
    return {"data": data, "field_rows": field_rows, "action_rows": action_rows, "errors": flat,
            "problems": flat.get("__all__", []), **builder.palette()}


def _builder_page(request, form, data, errors=None, status=200):
    return render(request, "webforms/form_builder.html", {"form_obj": form, **_builder_context(data, errors)},
                  status=status)


def _save(request, form=None):
    data = builder.from_post(request.POST)
    try:
        saved = services.save_form(data, form=form, user=request.user)
    except ValidationFailed as exc:
        return _builder_page(request, form, data, exc.errors, status=422)
    messages.success(request, f"Form “{saved.name}” saved.")
    return redirect("webforms:detail", pk=saved.pk)


def form_create(request):
    if request.method == "POST":
        return _save(request)
    return _builder_page(request, None, services.new_form_defaults())


def form_edit(request, pk):
    form = get_object_or_404(Form, pk=pk)
    if request.method == "POST":
        return _save(request, form)
    return _builder_page(request, form, builder.from_form(form))


@require_POST
def builder_fragment(request):
    """Draw the builder again after a button (add, remove, move, type change); nothing is saved."""
    data = builder.apply(builder.from_post(request.POST), request.POST.get("op", ""))
    return render(request, "webforms/_builder.html", _builder_context(data))


def form_detail(request, pk):
    form = get_object_or_404(Form, pk=pk)
    recent = form.submissions.select_related("contact")[:10]
    return render(request, "webforms/form_detail.html", {
        "form_obj": form, "stats": services.stats(form), "recent": recent,
        "embed": services.embed_snippets(form, settings.LIAISON_BASE_URL),
        "fields": list(form.fields.all()), "actions": list(form.actions.all()),
    })


@require_POST
def form_delete(request, pk):
    form = get_object_or_404(Form, pk=pk)
    name = form.name
    form.delete()
    messages.success(request, f"Form “{name}” and its submissions deleted.")
    return redirect("webforms:list")


@require_POST
def form_duplicate(request, pk):
    copy = services.duplicate_form(get_object_or_404(Form, pk=pk), user=request.user)
    messages.success(request, f"Copied as “{copy.name}” (not published yet).")
    return redirect("webforms:edit", pk=copy.pk)


def submission_list(request, pk):
    form = get_object_or_404(Form, pk=pk)
    qs = form.submissions.select_related("contact").prefetch_related("action_runs")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(contact__email_key__contains=q.lower())
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    fields = list(form.fields.all())[:4]
    rows = [{"s": s, "values": [(s.data or {}).get(f.key, "") for f in fields]} for s in page]
    return render(request, "webforms/submission_list.html", {"form_obj": form, "page": page, "rows": rows,
                                                             "fields": fields, "q": q})


def submission_export(request, pk):
    form = get_object_or_404(Form, pk=pk)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(services.submissions_csv(form), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{form.slug}-submissions-{stamp}.csv"'
    return response


def submission_detail(request, pk, submission_id):
    form = get_object_or_404(Form, pk=pk)
    submission = get_object_or_404(Submission.objects.select_related("contact"), pk=submission_id, form=form)
    fields = list(form.fields.all())
    known = {f.key for f in fields}
    values = [(f.label, (submission.data or {}).get(f.key)) for f in fields if f.key in (submission.data or {})]
    values += [(key, value) for key, value in (submission.data or {}).items() if key not in known]
    return render(request, "webforms/submission_detail.html", {
        "form_obj": form, "submission": submission, "values": values,
        "runs": submission.action_runs.select_related("job")})


@require_POST
def submission_delete(request, pk, submission_id):
    services.delete_submission(get_object_or_404(Submission, pk=submission_id, form_id=pk))
    messages.success(request, "Submission deleted (the contact and its timeline are kept).")
    return redirect("webforms:submissions", pk=pk)
