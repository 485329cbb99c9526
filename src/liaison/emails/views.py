from __future__ import annotations

import base64

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.permissions import public
from liaison.emails import broadcasts, services
from liaison.emails.core_tokens import PREVIEW_TOKEN
from liaison.emails.models import Broadcast, Email, Send
from liaison.emails.rendering import render_stored
from liaison.emails.tokens import available_tokens

PAGE_SIZE = 50
FORM_FIELDS = ("name", "kind", "subject", "from_name", "from_email", "reply_to", "category", "html", "text")
# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _page(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def email_list(request):
    qs = Email.objects.select_related("created_by")
    q = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(subject__icontains=q) | Q(category__icontains=q))
    if kind in Email.Kind.values:
        qs = qs.filter(kind=kind)
    page = _page(request, qs)
    stats = services.stats_for([e.pk for e in page])
    sending = {b.email_id: b for b in Broadcast.objects.filter(email__in=list(page)).select_related("job")}
    rows = [{"email": e, "stats": stats[e.pk], "broadcast": sending.get(e.pk)} for e in page]
    return render(request, "emails/email_list.html", {"page": page, "rows": rows, "q": q, "kind": kind,
                                                      "kinds": Email.Kind.choices})


def _form_values(post) -> dict:
    values = {name: post.get(name, "") for name in FORM_FIELDS}
    values["published"] = bool(post.get("published"))
    # Only segment e-mails have audiences (a template e-mail's hidden choices are dropped).
    values["audiences"] = [{"audience": option["audience"].key,
                            "values": post.getlist(f"audience:{option['audience'].key}")}
                           for option in broadcasts.audience_options(choices=False)] \
        if values["kind"] == Email.Kind.SEGMENT else []
    return values


def _chosen_audiences(values) -> dict[str, list[str]]:
    return {item["audience"]: [str(v) for v in item["values"]] for item in values.get("audiences") or []}


def _editor(request, email=None, values=None, errors=None, status=200):
    if values is None:
        if email is not None:
            values = {name: getattr(email, name) for name in FORM_FIELDS}
            values["published"] = email.published
            values["audiences"] = [{"audience": k, "values": v} for k, v in email.audience_targets()]
        else:
            kind = request.GET.get("kind") if request.GET.get("kind") in Email.Kind.values else Email.Kind.TEMPLATE
            values = {"kind": kind, "published": True, "subject": "", "name": "",
                      "html": "<p>Hello {contactfield=first_name|there},</p>\n\n<p></p>\n\n"
                              "<p style=\"font-size:12px;color:#666\"><a href=\"{webview_url}\">View in your browser"
                              "</a> · <a href=\"{unsubscribe_url}\">Unsubscribe</a></p>"}
    return render(request, "emails/email_form.html", {
        "email": email, "values": values, "errors": errors or {}, "kinds": Email.Kind.choices,
        "tokens": _token_catalogue(), "preview_contact": request.GET.get("contact", ""),
        "audience_options": broadcasts.audience_options(), "chosen": _chosen_audiences(values),
    }, status=status)


def _token_catalogue() -> list[dict]:
    catalogue = []
    for token in available_tokens():
        choices = token.choices() if token.choices else []
        catalogue.append({"token": token, "syntax": token.syntax(), "choices": choices,
                          "insert": "{" + token.key + "}" if token.param != "required" else ""})
    return catalogue


def email_create(request):
    if request.method == "POST":
        values = _form_values(request.POST)
        try:
            email = services.save_email(values, user=request.user)
        except ValidationFailed as exc:
            return _editor(request, values=values, errors=exc.errors, status=422)
        messages.success(request, f"E-mail “{email.name}” created.")
        return redirect("emails:detail", pk=email.pk)
    return _editor(request)


def email_edit(request, pk):
    email = get_object_or_404(Email, pk=pk)
    if request.method == "POST":
        values = _form_values(request.POST)
        try:
            services.save_email(values, email=email, user=request.user)
        except ValidationFailed as exc:
            email.refresh_from_db()
            return _editor(request, email, values=values, errors=exc.errors, status=422)
        messages.success(request, "E-mail saved.")
        return redirect("emails:detail", pk=email.pk)
    return _editor(request, email)


def email_detail(request, pk, errors=None, status=200, values=None):
    email = get_object_or_404(Email.objects.select_related("created_by"), pk=pk)
    status_filter = request.GET.get("status", "")
    sends = services.filter_sends({"email": email.pk, "status": status_filter if status_filter in
                                   Send.Status.values else "", "q": request.GET.get("q", "")})
    return render(request, "emails/email_detail.html", {
        "email": email, "sender": services.sender(email), "stats": services.email_stats(email),
        "links": services.link_stats(email),
        "page": _page(request, sends), "statuses": Send.Status.choices, "status": status_filter,
        "errors": errors or {}, "values": values or {"to": request.user.email}, "q": request.GET.get("q", ""),
        "broadcast": broadcasts.summary(email) if email.kind == Email.Kind.SEGMENT else None,
    }, status=status)


def broadcast_panel(request, pk):
    """The broadcast card alone: what the detail page polls while it is sending (HTMX)."""
    email = get_object_or_404(Email, pk=pk)
    return render(request, "emails/_broadcast.html", {"email": email, "broadcast": broadcasts.summary(email)})


def _broadcast_action(action, done):
    @require_POST
    def view(request, pk):
        email = get_object_or_404(Email, pk=pk)
        try:
            action(email, request)
        except ValidationFailed as exc:
            for text in (m for ms in exc.errors.values() for m in ms):
                messages.error(request, text)
        except LiaisonError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, done.format(name=email.name))
        return redirect("emails:detail", pk=pk)
    return view


broadcast_start = _broadcast_action(lambda email, request: broadcasts.start(email, user=request.user),
                                    "“{name}” is being sent.")
broadcast_resume = _broadcast_action(lambda email, request: broadcasts.resume(email, user=request.user),
                                     "Sending “{name}” again from where it stopped.")
broadcast_pause = _broadcast_action(lambda email, request: broadcasts.pause(email),
                                    "Paused: it stops after the message in hand; resume it whenever you like.")
broadcast_cancel = _broadcast_action(lambda email, request: broadcasts.cancel(email),
                                     "Cancelled: messages still waiting will not be sent.")


@require_POST
def email_delete(request, pk):
    email = get_object_or_404(Email, pk=pk)
    name = email.name
    removed = services.delete_email(email)
    messages.success(request, f"E-mail “{name}” deleted with its {removed} send(s).")
    return redirect("emails:list")


@require_POST
def email_send(request, pk):
    email = get_object_or_404(Email, pk=pk)
    value = request.POST.get("contact", "")
    contact = services.find_contact(value)
    try:
        if contact is None:
            raise ValidationFailed({"contact": [f"No contact has the address {value!r}." if value.strip()
                                                else "Choose a contact."]})
        send = services.send_email(email, contact, user=request.user)
    except ValidationFailed as exc:
        errors = {"contact" if k in ("contact", "email", "__all__") else k: v for k, v in exc.errors.items()}
        return email_detail(request, pk, errors=errors, status=422, values={"contact": value,
                                                                            "to": request.user.email})
    if send.status == Send.Status.SKIPPED:
        messages.warning(request, f"Not sent to {contact.email}: {send.reason}.")
    else:
        messages.success(request, f"“{email.name}” is on its way to {contact.email}.")
    return redirect("emails:detail", pk=pk)


@require_POST
def email_test(request, pk):
    email = get_object_or_404(Email, pk=pk)
    to = request.POST.get("to", "")
    contact = services.find_contact(request.POST.get("contact", "")) if request.POST.get("contact") else None
    try:
        job = services.send_test(email, to, contact=contact, user=request.user)
    except ValidationFailed as exc:
        errors = {"to" if k == "to" else "test": v for k, v in exc.errors.items()}
        return email_detail(request, pk, errors=errors, status=422, values={"to": to})
    messages.success(request, f"A test message is on its way to {to} (job #{job.pk}).")
    return redirect("emails:detail", pk=pk)


def _preview_response(request, email, contact_value):
    contact = services.find_contact(contact_value) if contact_value else None
    result = services.preview(email, contact)
    return render(request, "emails/_preview.html", {"preview": result, "contact": contact,
                                                    "contact_value": contact_value,
                                                    "unknown_contact": bool(contact_value) and contact is None})


@require_POST
def preview_draft(request):
    """The editor's live preview of unsaved values (HTMX)."""
    values = _form_values(request.POST)
    email = Email(**{k: v for k, v in values.items() if k not in ("published", "audiences")})
    return _preview_response(request, email, request.POST.get("preview_contact", "").strip())


def email_preview(request, pk):
    email = get_object_or_404(Email, pk=pk)
    return _preview_response(request, email, request.GET.get("contact", "").strip())


def contact_search(request):
    """<option>s for a contact picker (a datalist filled as the user types)."""
    query = next((request.GET[k] for k in ("q", "contact", "preview_contact") if request.GET.get(k)), "")
    contacts = services.search_contacts(query)
    return render(request, "emails/_contact_options.html", {"contacts": contacts})


def send_to_contact(request):
    """From a contact's page: choose a template e-mail and send it."""
    contact = services.find_contact(request.GET.get("contact") or request.POST.get("contact", ""))
    if contact is None:
        raise Http404("No such contact")
    errors = {}
    if request.method == "POST":
        email = Email.objects.filter(pk=request.POST.get("email") or 0).first() if str(
            request.POST.get("email", "")).isdigit() else None
        try:
            if email is None:
                raise ValidationFailed({"email": ["Choose an e-mail."]})
            send = services.send_email(email, contact, user=request.user)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            if send.status == Send.Status.SKIPPED:
                messages.warning(request, f"Not sent: {send.reason}.")
            else:
                messages.success(request, f"“{email.name}” is on its way to {contact.email}.")
            return redirect("contacts:detail", pk=contact.pk)
    emails = Email.objects.filter(kind=Email.Kind.TEMPLATE, published=True).order_by("name")
    return render(request, "emails/send_to_contact.html", {"contact": contact, "emails": emails, "errors": errors,
                                                           "selected": request.POST.get("email", "")},
                  status=422 if errors else 200)


def send_detail(request, pk):
    send = get_object_or_404(Send.objects.select_related("email", "contact", "content", "job"), pk=pk)
    return render(request, "emails/send_detail.html", {
        "send": send, "html": render_stored(send, tracked=False) if send.status == Send.Status.SENT else "",
        "clicks": send.clicks.all()[:100],
    })


def contact_panel_context(request, contact) -> dict:
    sends = list(Send.objects.filter(contact=contact).select_related("email").order_by("-created_at", "-id")[:8])
    return {"sends": sends, "more": Send.objects.filter(contact=contact).count() > len(sends)}


def contact_sends(request, pk):
    from liaison.contacts.models import Contact

    contact = get_object_or_404(Contact, pk=pk)
    page = _page(request, services.filter_sends({"contact": contact.pk, "status": request.GET.get("status", "")}))
    return render(request, "emails/contact_sends.html", {"contact": contact, "page": page,
                                                         "statuses": Send.Status.choices,
                                                         "status": request.GET.get("status", "")})


# -- public: tracking, unsubscribe, web view -------------------------------------------------------

@public
@never_cache
def open_pixel(request, token):
    services.record_open(token)
    # Unknown tokens get the same image: a broken picture would help nobody.
    return HttpResponse(PIXEL, content_type="image/gif")


@public
@never_cache
def click(request, token, index):
    url = services.record_click(token, int(index))
    if url is None:
        raise Http404("Unknown link")
    response = HttpResponse(status=302)
    response["Location"] = url
    response["Referrer-Policy"] = "no-referrer"
    return response


@public
@csrf_exempt  # the token in the URL is the secret; mail providers post one-click requests without cookies
@never_cache
def unsubscribe(request, token):
    if token == PREVIEW_TOKEN:
        return render(request, "emails/public_preview.html", {"what": "unsubscribe"})
    send = services.find_send(token)
    if send is None:
        raise Http404("Unknown unsubscribe link")
    if request.method == "POST":
        done = services.unsubscribe(send)
        if request.POST.get("List-Unsubscribe") == "One-Click":
            # RFC 8058: the mail provider's request, answered without a page.
            return HttpResponse("Unsubscribed.\n", content_type="text/plain")
        return render(request, "emails/unsubscribe.html", {"send": send, "done": True, "changed": done,
                                                           "can_undo": services.can_undo_unsubscribe(send)})
    return render(request, "emails/unsubscribe.html", {"send": send, "done": False,
                                                       "already": send.contact.do_not_contact})


@public
@csrf_exempt
@require_POST
@never_cache
def unsubscribe_undo(request, token):
    send = services.find_send(token)
    if send is None:
        raise Http404("Unknown link")
    undone = services.undo_unsubscribe(send)
    return render(request, "emails/unsubscribe.html", {"send": send, "done": False, "undone": undone,
                                                       "already": send.contact.do_not_contact})


@public
@never_cache
def webview(request, token):
    if token == PREVIEW_TOKEN:
        return render(request, "emails/public_preview.html", {"what": "webview"})
    send = services.find_send(token)
    if send is None or send.status != Send.Status.SENT:
        raise Http404("Unknown message")
    response = HttpResponse(render_stored(send), content_type="text/html; charset=utf-8")
    # The message is the sender's HTML: no scripts may run on Liaison's origin.
    response["Content-Security-Policy"] = "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
    return response
