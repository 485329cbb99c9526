from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from liaison.contacts.models import Contact
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.models import Job
from liaison.segments import builder, services
from liaison.segments import filters as engine
from liaison.segments.models import Segment, StaticMember

PAGE_SIZE = 50
MAX_IMPORT_LINES = 10_000


def _page(request, qs, size=PAGE_SIZE):
    return Paginator(qs, size).get_page(request.GET.get("page"))


def _next(request, default: str) -> str:
    target = request.POST.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def segment_list(request):
    qs = Segment.objects.all()
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(description__icontains=q))
    filters = engine.catalogue()
    page = _page(request, qs)
    rows = [{"segment": s, "problems": engine.problems(s.filters, filters)} for s in page]
    running = Job.objects.filter(kind="segments.rebuild", status__in=Job.ACTIVE).first()
    return render(request, "segments/segment_list.html", {"page": page, "rows": rows, "q": q, "running": running})


def _builder_context(tree: dict, filters, errors=None) -> dict:
    view = builder.decorate(builder.from_tree(tree, filters), errors or {})
    return {"root": view, "filter_groups": engine.grouped(filters)}


def _form(request, segment=None, values=None, tree=None, errors=None, status=200):
    filters = engine.catalogue()
    if values is None:
        values = {"name": segment.name if segment else "", "description": segment.description if segment else ""}
    tree = tree if tree is not None else (segment.filters if segment else {"match": "all", "rules": []})
    unavailable = engine.problems(tree, filters)
    return render(request, "segments/segment_form.html", {
        "segment": segment, "values": values, "errors": errors or {}, "unavailable": unavailable,
        **_builder_context(tree, filters, errors),
    }, status=status)


def _save(request, segment=None):
    filters = engine.catalogue()
    tree = builder.tree_from_post(request.POST, filters)
    values = {"name": request.POST.get("name", ""), "description": request.POST.get("description", "")}
    try:
        saved = services.save_segment({**values, "filters": tree}, segment=segment, user=request.user)
    except ValidationFailed as exc:
        return _form(request, segment, values, tree, exc.errors, status=422)
    messages.success(request, f"Segment “{saved.name}” saved; its members are being computed.")
    return redirect("segments:detail", pk=saved.pk)


def segment_create(request):
    if request.method == "POST":
        return _save(request)
    return _form(request)


def segment_edit(request, pk):
    segment = get_object_or_404(Segment, pk=pk)
    if request.method == "POST":
        return _save(request, segment)
    return _form(request, segment)


@require_POST
def builder_fragment(request):
    """Redraw the builder after a change (filter, operator, add, remove); nothing is saved."""
    filters = engine.catalogue()
    tree = builder.apply(builder.tree_from_post(request.POST, filters), request.POST.get("op", ""), filters)
    return render(request, "segments/_builder.html", _builder_context(tree, filters))


def filter_choices(request, key):
    """A page of a filter's values for the builder's search box (inputs named ``<path>-value``)."""
    flt = engine.catalogue().get(key)
    path = request.GET.get("path", "")
    if flt is None or not builder.PATH.match(path):
        raise Http404("No such filter")
    kind = "radio" if request.GET.get("kind") == "radio" else "checkbox"
    selected = set(request.GET.getlist(f"{path}-value"))
    try:
        offset = max(0, min(int(request.GET.get("offset", 0)), 1_000_000))
    except ValueError:
        offset = 0
    query = request.GET.get(f"{path}-search", "")[:100]
    page = flt.choices(query, offset, builder.CHOICES_SHOWN)
    items = [(v, label) for v, label in page.items if v not in selected]
    return render(request, "segments/_choices.html", {
        "items": items, "path": path, "kind": kind, "more": page.more, "key": key, "q": query,
        "next_offset": offset + builder.CHOICES_SHOWN})


def _rebuild_job(segment):
    return Job.objects.filter(kind="segments.rebuild").filter(
        Q(params__segment_id=segment.pk) | Q(params={})).order_by("-created_at", "-id").first()


def segment_detail(request, pk):
    segment = get_object_or_404(Segment, pk=pk)
    job = _rebuild_job(segment)
    if request.htmx and request.GET.get("fragment") == "rebuild":
        return render(request, "segments/_rebuild_status.html", {"segment": segment, "job": job})
    filters = engine.catalogue()
    q = request.GET.get("q", "").strip()
    page = _page(request, services.member_rows(segment, q))
    excluded = StaticMember.objects.filter(segment=segment, included=False).select_related("contact")
    return render(request, "segments/segment_detail.html", {
        "segment": segment, "job": job, "page": page, "q": q,
        "summary": engine.describe(segment.filters, filters),
        "unavailable": engine.problems(segment.filters, filters),
        "excluded": excluded.order_by("-added_at")[:50], "excluded_count": excluded.count(),
        "users": services.users_of(segment),
        "undo": undo if (undo := request.session.get("segments_undo")) and undo.get("segment") == segment.pk else None,
    })


@require_POST
def segment_rebuild(request, pk):
    segment = get_object_or_404(Segment, pk=pk)
    services.request_rebuild(segment, user=request.user)
    messages.success(request, f"Rebuilding “{segment.name}”.")
    return redirect("segments:detail", pk=pk)


@require_POST
def rebuild_all(request):
    job = services.request_rebuild(user=request.user)
    messages.success(request, "Rebuilding every segment.")
    return redirect("core:job", pk=job.pk)


@require_POST
def segment_delete(request, pk):
    segment = get_object_or_404(Segment, pk=pk)
    try:
        services.delete_segment(segment)
    except LiaisonError as exc:
        messages.error(request, str(exc))
        return redirect("segments:detail", pk=pk)
    messages.success(request, f"Segment “{segment.name}” deleted (its contacts were kept).")
    return redirect("segments:list")


def _ids(post) -> list[int]:
    return [int(i) for i in post.getlist("contact_id") if i.isdigit() and len(i) < 19]


@require_POST
def members_add_to(request):
    """Add a contact to the segment chosen in a select (the contact page)."""
    value = request.POST.get("segment", "")
    if not value.isdigit() or len(value) > 18:
        raise Http404("No such segment")
    return members_add(request, int(value))


@require_POST
def members_add(request, pk):
    """Add contacts by hand: ids (from the contact page) or pasted/uploaded e-mail addresses."""
    segment = get_object_or_404(Segment, pk=pk)
    back = _next(request, reverse("segments:detail", args=[pk]))
    ids = _ids(request.POST)
    refused: list[str] = []
    origin = "manual"
    lines = request.POST.get("emails", "").splitlines()
    upload = request.FILES.get("file")
    if upload is not None:
        origin = "import"
        try:
            lines += _emails_from_csv(upload.read())
        except ValueError as exc:
            messages.error(request, str(exc))
            return redirect(back)
    if len(lines) > MAX_IMPORT_LINES:
        messages.error(request, f"Add at most {MAX_IMPORT_LINES:,} addresses at once (use the contact import "
                                f"for more).")
        return redirect(back)
    if lines:
        found, refused = services.contacts_from_emails(lines, create=bool(request.POST.get("create")),
                                                       user=request.user)
        ids += found
    if not ids and not refused:
        messages.warning(request, "Give at least one contact or e-mail address.")
        return redirect(back)
    added = services.add_static(segment, ids, origin=origin, user=request.user)
    text = f"{added} contact(s) added to “{segment.name}”"
    if len(ids) - added:
        text += f"; {len(ids) - added} already in it"
    messages.success(request, text + ".")
    if refused:
        shown = ", ".join(refused[:10]) + (" …" if len(refused) > 10 else "")
        messages.warning(request, f"{len(refused)} address(es) refused (no such contact, or not an e-mail "
                                  f"address): {shown}")
    return redirect(back)


def _emails_from_csv(data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    column = next((i for i, h in enumerate(header) if h in ("email", "e-mail", "email address", "e-mail address")),
                  None)
    if column is None:
        if any("@" in cell for cell in rows[0]):
            column = next(i for i, cell in enumerate(rows[0]) if "@" in cell)
            return [r[column] for r in rows if len(r) > column]
        raise ValueError("The file needs an “email” column.")
    return [r[column] for r in rows[1:] if len(r) > column]


@require_POST
def members_remove(request, pk):
    """Keep contacts out of the segment (static exclusion), with an undo."""
    segment = get_object_or_404(Segment, pk=pk)
    ids = _ids(request.POST)
    removed = services.remove_static(segment, ids, user=request.user)
    messages.success(request, f"{removed} contact(s) removed from “{segment.name}”; they stay out even if the "
                              f"filters match.")
    request.session["segments_undo"] = {"segment": segment.pk, "ids": ids}
    return redirect(_next(request, reverse("segments:detail", args=[pk])))


@require_POST
def members_reset(request, pk):
    """Forget hand-made decisions (also the undo of a removal): the filters decide again."""
    segment = get_object_or_404(Segment, pk=pk)
    ids = _ids(request.POST)
    changes = services.reset_static(segment, ids)
    messages.success(request, f"The filters decide again for {len(ids)} contact(s) (+{changes.added} "
                              f"−{changes.removed}).")
    request.session.pop("segments_undo", None)
    return redirect(_next(request, reverse("segments:detail", args=[pk])))


# -- hooks into contact pages -----------------------------------------------------------------

def contact_panel(request, contact: Contact) -> dict:
    rows = services.contact_segments(contact)
    inside = {r["segment"].pk for r in rows if not r["excluded"]}
    return {"segment_rows": rows,
            "segment_choices": [s for s in services.segments_by_name() if s.pk not in inside][:500]}


def contact_list_filter(request, context: dict) -> dict:
    return {"segment_choices": services.segments_by_name()[:500],
            "segment_selected": request.GET.get("segment", "") if request else ""}

