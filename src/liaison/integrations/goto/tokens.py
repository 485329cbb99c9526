"""GoTo e-mail tokens: personal join links and buttons, start buttons, support-session buttons.

``{webinar_link}`` / ``{webinar_link=KEY}`` (the URL, for ``href``), ``{webinar_button}`` /
``{webinar_button=KEY}``, ``{training_button}`` / ``{training_button=KEY}``,
``{meeting_button}``, ``{assist_button}``.

Which registration a join link comes from (webinars, trainings):

1. ``=KEY``: the contact's registration to that event (its GoTo key);
2. else the event the send is about: ``context["goto"] = {"product": "webinar", "event": KEY}``,
   set by the campaign step (or any sender) that knows it;
3. else the contact's next upcoming registration.

Only an approved registration to an event that is not over and not cancelled gives a link:
never a past one, never a cancelled one, never an empty link. Otherwise the token renders
nothing and says why, so the send is skipped with that reason (or the author's ``|default``
goes out). Every GoTo link is personal: click tracking never rewrites it (Mautic's tracked
join links were mixed up between contacts).

Start buttons: a send whose context carries ``goto.start_url`` (the start-link actions) makes
``{meeting_button}`` / ``{training_button}`` the organizer's start button (Mautic's meaning of
both). ``{meeting_button}`` is nothing else: GoToMeeting has no registrations, and GoTo gives
a meeting's join link only to whoever creates the meeting. ``{assist_button}`` is the
customer's join button of a GoToAssist session: the one in the send's context
(``goto.assist.join_url``, set by "Request GoToAssist session" and by the connector's
"e-mail the link"), else the contact's latest open session.

Buttons carry the class ``citrix-start-button`` (Mautic's, so existing style sheets still
apply) and inline styles, since e-mail clients drop style sheets. Each token loads what it
needs for a whole batch of sends in one query (``prefetch``).
"""

from __future__ import annotations

import html as html_lib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from liaison.core.contributions import EmailToken, TokenContext, TokenResult
from liaison.core.contributions.emails import BUTTON_STYLE
from liaison.integrations.goto import queries, services, support
from liaison.integrations.goto.models import Event, Registration
from liaison.integrations.goto.spec import PRODUCT_LABELS

BUTTON_CLASS = "citrix-start-button"
PREVIEW_URLS = {"webinar": "https://global.gotowebinar.com/join/preview",
                "training": "https://global.gototraining.com/join/preview",
                "meeting": "https://global.gotomeeting.com/join/preview",
                "assist": "https://www.fastsupport.com/preview"}
JOIN_LABELS = {"webinar": "Join the webinar", "training": "Join the training", "meeting": "Join the meeting",
               "assist": "Join the support session"}
START_LABELS = {"training": "Start the training", "meeting": "Start the meeting"}


def button(url: str, label: str) -> TokenResult:
    """A personal link styled as a button; the text part reads “label: url”."""
    markup = (f'<a href="{html_lib.escape(url)}" target="_blank" rel="noopener" class="{BUTTON_CLASS}" data-personal '
              f'style="{BUTTON_STYLE}">{html_lib.escape(label)}</a>')
    return TokenResult(text=f"{label}: {url}", html=markup, url=url, personal=True)


def sample(product: str, as_button: bool, problem: str) -> TokenResult:
    """What previews and tests show when a real send would have no link (with the reason)."""
    url = PREVIEW_URLS[product]
    result = button(url, JOIN_LABELS[product]) if as_button else TokenResult.link(url, personal=True)
    return TokenResult(text=result.text, html=result.html, url=url, personal=True,
                       problem=f"sample link in this preview; a real send: {problem}")


def context_event(ctx: TokenContext, product: str) -> str | None:
    """The event the send is about (``context["goto"]``), if it is of this product."""
    about = (ctx.context or {}).get(services.CONTEXT)
    if isinstance(about, dict) and about.get("product") == product and about.get("event"):
        return str(about["event"])
    return None


def start_url(ctx: TokenContext, product: str) -> str:
    about = (ctx.context or {}).get(services.CONTEXT)
    if isinstance(about, dict) and about.get("product") == product:
        return str(about.get("start_url") or "")
    return ""


# -- registrations (webinars, trainings) ---------------------------------------------------------------

@dataclass(frozen=True)
class Reg:
    key: str
    title: str
    status: str
    join_url: str
    starts_at: datetime | None
    ends_at: datetime | None
    cancelled_event: bool

    def over(self, now: datetime) -> bool:
        return self.ends_at is not None and self.ends_at <= now

    def usable(self, now: datetime) -> bool:
        return (self.status == Registration.Status.APPROVED and bool(self.join_url) and not self.cancelled_event
                and not self.over(now))


def registrations_by_contact(product: str, contact_ids: list[int], keys: set[str]) -> dict[int, list[Reg]]:
    """Every registration of these contacts to events of ``product`` that are not over, or are
    named by ``keys``: one query for a batch."""
    if not contact_ids:
        return {}
    now = timezone.now()
    rows = (Registration.objects.filter(contact_id__in=contact_ids, event__product=product)
            .filter(Q(event__ends_at__gt=now) | Q(event__ends_at__isnull=True) | Q(event__provider_key__in=keys))
            .values_list("contact_id", "event__provider_key", "event__title", "status", "join_url",
                         "event__starts_at", "event__ends_at", "event__status"))
    found: dict[int, list[Reg]] = defaultdict(list)
    for contact_id, key, title, status, url, starts, ends, event_status in rows:
        found[contact_id].append(Reg(key, title, status, url, starts, ends, event_status == Event.Status.CANCELLED))
    for regs in found.values():
        regs.sort(key=lambda r: (r.starts_at is None, r.starts_at or now))
    return found


def why_not(regs: list[Reg], key: str, noun: str, now: datetime) -> str:
    """Why no link for event ``key``, in words."""
    if not regs:
        return f"not registered for the {noun} {key}"
    reg = regs[0]
    if reg.cancelled_event:
        return f"the {noun} “{reg.title}” was cancelled"
    if reg.over(now):
        return f"the {noun} “{reg.title}” is over"
    if reg.status == Registration.Status.CANCELLED:
        return f"the registration for “{reg.title}” was cancelled"
    if reg.status == Registration.Status.WAITING:
        return f"the registration for “{reg.title}” is waiting for the organizer's approval"
    if reg.status == Registration.Status.DENIED:
        return f"the registration for “{reg.title}” was denied"
    return f"GoTo gave no join link for “{reg.title}”"


def pick(regs: list[Reg], key: str | None, noun: str) -> tuple[Reg | None, str]:
    now = timezone.now()
    if key is not None:
        named = [r for r in regs if r.key == key]
        found = next((r for r in named if r.usable(now)), None)
        return found, "" if found else why_not(named, key, noun, now)
    found = next((r for r in regs if r.usable(now)), None)
    return found, "" if found else f"no registration to an upcoming {noun}"


def registration_token(product: str, key: str, label: str, *, as_button: bool, description: str) -> EmailToken:
    noun = product

    def prefetch(contacts, email, params):
        return registrations_by_contact(product, [c.pk for c in contacts if c.pk], {p for p in params if p})

    def render(ctx: TokenContext, param: str | None) -> TokenResult:
        if as_button and product in START_LABELS and start_url(ctx, product):
            return button(start_url(ctx, product), START_LABELS[product])
        event_key = param or context_event(ctx, product)
        reg, problem = pick((ctx.prefetched or {}).get(ctx.contact.pk, []), event_key, noun)
        if reg is None:
            return sample(product, as_button, problem) if ctx.is_preview else TokenResult.missing(problem)
        return button(reg.join_url, JOIN_LABELS[product]) if as_button else TokenResult.link(reg.join_url,
                                                                                            personal=True)

    return EmailToken(key=key, label=label, render=render, param="optional", param_label=f"{noun} key",
                      group="GoTo", description=description, is_link=not as_button, prefetch=prefetch,
                      check=_check(product, key), choices=_choices(product))


# -- meetings and support sessions ------------------------------------------------------------------------

def render_meeting(ctx: TokenContext, param: str | None) -> TokenResult:
    """GoToMeeting has no registrations and GoTo gives a meeting's join link only when it is
    created: the button is the organizer's start link that the send carries."""
    if start_url(ctx, "meeting"):
        return button(start_url(ctx, "meeting"), START_LABELS["meeting"])
    problem = "no GoToMeeting start link in this send (send it with “Send GoToMeeting start link”)"
    return sample("meeting", True, problem) if ctx.is_preview else TokenResult.missing(problem)


def render_assist(ctx: TokenContext, param: str | None) -> TokenResult:
    url = (ctx.context or {}).get(support.JOIN_URL_CONTEXT) or (ctx.prefetched or {}).get(ctx.contact.pk, "")
    if url:
        return button(str(url), JOIN_LABELS["assist"])
    problem = "no open GoToAssist support session for this contact"
    return sample("assist", True, problem) if ctx.is_preview else TokenResult.missing(problem)


# -- save-time checks and the editor's choices ---------------------------------------------------------------

def _check(product: str, token: str):
    def check(email, param: str | None) -> list[str]:
        if param is None or Event.objects.filter(product=product, provider_key=param).exists():
            return []
        return [f"{{{token}={param}}}: there is no {PRODUCT_LABELS[product]} event {param} (is GoTo synchronised?)."]
    return check


def _choices(product: str):
    def choices() -> list[tuple[str, str]]:
        items, _ = queries.event_choices(product, events=queries.upcoming_events(product), limit=100,
                                         soonest_first=True)
        return items
    return choices


def email_tokens() -> list[EmailToken]:
    return [
        registration_token("webinar", "webinar_link", "GoToWebinar join URL", as_button=False,
                           description="The contact's own join link (for href): of the webinar given as =KEY, else "
                                       "the one the send is about, else their next upcoming webinar."),
        registration_token("webinar", "webinar_button", "GoToWebinar join button", as_button=True,
                           description="A “Join the webinar” button with the contact's own join link (same choice "
                                       "of webinar as {webinar_link})."),
        registration_token("training", "training_button", "GoToTraining button", as_button=True,
                           description="The start button in e-mails of “Send GoToTraining start link”; otherwise a "
                                       "“Join the training” button with the contact's own join link."),
        EmailToken(key="meeting_button", label="GoToMeeting start button", render=render_meeting, group="GoTo",
                   description="The organizer's start button, in e-mails sent by “Send GoToMeeting start link” "
                               "(whoever gets it can start the meeting)."),
        EmailToken(key="assist_button", label="GoToAssist support session button", render=render_assist,
                   group="GoTo", prefetch=support.open_join_links,
                   description="The customer's join button of the GoToAssist session requested for this e-mail "
                               "(“Request GoToAssist session”), else of their latest open session."),
    ]
