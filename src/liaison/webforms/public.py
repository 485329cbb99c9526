"""The public side of forms: the page at /f/<slug>/, its embed script, the thank-you page.

Embeds live in other sites' iframes, where browsers do not send our cookies (SameSite),
so these views use no session and no CSRF cookie: a signed token drawn into each page
proves a submission came from a page we served, a honeypot field catches simple bots,
and a per-address limit (shared by every process) stops floods.
"""

from __future__ import annotations

import functools
import json
import logging

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from liaison.core import ratelimit
from liaison.core.permissions import public
from liaison.webforms import services
from liaison.webforms.fields import field_type

logger = logging.getLogger(__name__)


@functools.cache
def _limits(spec: str) -> tuple[ratelimit.Limit, ...]:
    return ratelimit.parse_limits(spec)


def rate_limits() -> tuple[ratelimit.Limit, ...]:
    return _limits(settings.FORMS_RATE_LIMIT)


def client_ip(request) -> str | None:
    if settings.FORMS_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:45] or None
    return request.META.get("REMOTE_ADDR") or None


def _widgets(public_form, raw: dict, errors: dict) -> list[dict]:
    rows = []
    for f in public_form.fields:
        kind = field_type(f.type)
        if kind is None:
            continue  # its integration is gone: the field is left out rather than blocking visitors
        rows.append({"field": f, "kind": kind, "widget": kind.widget, "multiple": kind.is_multiple(f),
                     "choices": kind.choices(f) if kind.widget in ("select", "radio", "checkbox") else [],
                     "value": raw.get(f.key, f.default), "errors": errors.get(f.key, [])})
    return rows


def _live_choices(public_form) -> list[tuple]:
    """The current choices of fields whose choices change by themselves (one query per such field):
    part of the drawn page's cache key, so a new upcoming webinar shows without editing the form."""
    found = []
    for f in public_form.fields:
        kind = field_type(f.type)
        if kind is not None and kind.live_choices:
            found.append(tuple(kind.choices(f)))
    return found


# The page as first drawn, per form version: a view only puts a fresh token in it (drawing
# the template costs more than the rest of the request).
_drawn: dict[tuple, str] = {}
TOKEN_MARK = "__liaison_form_token__"


def _page(request, public_form, raw=None, errors=None, status=200, notice=""):
    embed = request.GET.get("embed") == "1"
    form = public_form.form
    token = services.make_token(form)
    plain = not raw and not errors and not notice and status == 200
    key = (form.pk, form.updated_at, embed, request.path, *_live_choices(public_form))
    if plain and key in _drawn:
        return HttpResponse(_drawn[key].replace(TOKEN_MARK, token))
    response = render(request, "webforms/public_form.html", {
        "pf": public_form, "form_obj": form, "rows": _widgets(public_form, raw or {}, errors or {}),
        "token": TOKEN_MARK if plain else token, "errors": errors or {}, "embed": embed, "notice": notice,
        "honeypot": services.HONEYPOT, "token_name": services.TOKEN,
        "action": request.path + ("?embed=1" if embed else ""),
    }, status=status)
    if plain:
        if len(_drawn) > 500:
            _drawn.clear()
        _drawn[key] = response.content.decode()
        response.content = _drawn[key].replace(TOKEN_MARK, token).encode()
    return response


@public
@csrf_exempt
@xframe_options_exempt
def form_page(request, slug):
    public_form = services.public_form(slug)
    if public_form is None:
        return render(request, "webforms/public_missing.html", {"embed": request.GET.get("embed") == "1"},
                      status=404)
    if request.method == "POST":
        return _submit(request, public_form)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "POST"])
    services.count_view(public_form.form)
    prefill = {f.key: request.GET.getlist(f.key) if len(request.GET.getlist(f.key)) > 1 else request.GET.get(f.key)
               for f in public_form.fields if f.key in request.GET}
    return _page(request, public_form, raw=prefill)


def _submit(request, public_form):
    form = public_form.form
    embed = request.GET.get("embed") == "1"
    thanks = reverse("webforms:thanks", args=[form.slug]) + ("?embed=1" if embed else "")
    if request.POST.get(services.HONEYPOT):
        logger.info("form %s: honeypot filled from %s; nothing stored", form.slug, client_ip(request))
        return redirect(thanks)
    wait = ratelimit.hit(f"form-submit:{client_ip(request)}", rate_limits())
    if wait:
        response = _page(request, public_form, raw=request.POST, status=429,
                         notice=f"Too many submissions from your network. Please try again in {int(wait)} seconds.")
        response["Retry-After"] = str(int(wait))
        return response
    if not services.check_token(form, request.POST.get(services.TOKEN, "")):
        return _page(request, public_form, raw=request.POST, status=400,
                     notice="This page was open for too long (or did not come from this site). "
                            "Please check your answers and submit again.")
    outcome = services.submit(public_form, request.POST, services.Visitor(
        ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""),
        referrer=request.META.get("HTTP_REFERER", "")))
    if not outcome.ok:
        notice = " ".join(outcome.errors.get("__all__", [])) or "Please correct the answers marked below."
        return _page(request, public_form, raw=outcome.raw, errors=outcome.errors, status=422, notice=notice)
    if form.redirect_url and not embed:
        return redirect(form.redirect_url)
    return redirect(thanks)


@public
@xframe_options_exempt
def thanks_page(request, slug):
    public_form = services.public_form(slug)
    if public_form is None:
        raise Http404("No such form")
    return render(request, "webforms/public_thanks.html", {"form_obj": public_form.form,
                                                           "embed": request.GET.get("embed") == "1"})


@public
def embed_script(request, slug):
    """A script that draws the form in an iframe where it is placed, sized to its content."""
    public_form = services.public_form(slug)
    if public_form is None:
        return HttpResponse("console.warn('Liaison: this form is not published.');",
                            content_type="text/javascript; charset=utf-8", status=404)
    form = public_form.form
    base = settings.LIAISON_BASE_URL
    url = f"{base}/f/{form.slug}/?embed=1"
    script = EMBED_JS % {"url": json.dumps(url), "title": json.dumps(form.public_title), "origin": json.dumps(base)}
    response = HttpResponse(script, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


EMBED_JS = """(function () {
  var script = document.currentScript;
  var frame = document.createElement("iframe");
  frame.src = %(url)s;
  frame.title = %(title)s;
  frame.setAttribute("loading", "lazy");
  frame.style.cssText = "width:100%%;min-height:200px;border:0;overflow:hidden";
  script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow || event.origin !== %(origin)s) { return; }
    var data = event.data || {};
    if (data.liaison === "height" && data.height > 0) { frame.style.height = Math.ceil(data.height) + "px"; }
    if (data.liaison === "redirect" && /^https?:\\/\\//.test(data.url)) { window.location.href = data.url; }
  });
})();
"""
