"""GoToAssist support workflows: sessions started from a contact, the customer's join link
(shown or e-mailed), Phone Mode connection codes, the sessions report, and the monitor.

The Integration Services capabilities (connection codes, agents' status, the waiting
queue, session reports) exist only on some accounts: ``capabilities()`` says which (probed
when the account is connected and daily by the sync), and every page hides what is absent
with a sentence instead of failing.

Contacts are referred to in GoTo by their reference ``liaison-contact-<id>`` (the session's
partner object, with the contact page as its URL), so imported sessions come back to the
right contact even when the customer typed another e-mail address.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from liaison.contacts.models import Contact
from liaison.contacts.services import ActivityInput, record_activities
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.http import ProviderError
from liaison.integrations.goto import facts, services
from liaison.integrations.goto.assist import OPEN_STATUSES, AssistApi
from liaison.integrations.goto.client import parse_instant
from liaison.integrations.goto.models import AssistSession, ConnectionCode
from liaison.integrations.models import Integration

CAPABILITY_LABELS = {
    "sessionReports": "session reports (resolution, rating, feedback, portal, custom fields)",
    "connectionCodes": "Phone Mode connection codes",
    "agentStatus": "agents' status (Monitors API)",
    "waitingQueue": "the waiting queue (Monitors API)",
}
PROBE_EVERY = timedelta(days=1)
MONITOR_CACHE_SECONDS = 15
JOIN_URL_CONTEXT = "goto.assist.join_url"  # the e-mail send's context keys (docs/integrations/goto.md)
SESSION_CONTEXT = "goto.assist.session"
LINK_TOKEN = "support_session_link"
LINK_TOKENS = (LINK_TOKEN, "assist_button")  # either carries the link (the button: tokens.py)


def reference(contact: Contact) -> str:
    return f"{facts.CONTACT_REFERENCE}{contact.pk}"


def contact_url(contact: Contact) -> str:
    return f"{settings.LIAISON_BASE_URL}{reverse('contacts:detail', args=[contact.pk])}"


# -- accounts and capabilities -----------------------------------------------------------------------

def assist_accounts() -> list[Integration]:
    """Published, connected GoTo accounts with GoToAssist switched on."""
    return [i for i in Integration.objects.filter(spec_key="goto", published=True).order_by("name")
            if i.feature_enabled("assist") and (i.account or {}).get("organizer_key")]


def assist_account(integration_id: int | str | None) -> Integration:
    accounts = {str(i.pk): i for i in assist_accounts()}
    if integration_id in (None, "") and len(accounts) == 1:
        return next(iter(accounts.values()))
    found = accounts.get(str(integration_id or ""))
    if found is None:
        raise ValidationFailed({"integration": [
            "Choose a GoTo account with GoToAssist switched on (published and connected)." if accounts else
            "No GoTo account offers GoToAssist: connect one and switch GoToAssist on."]})
    return found


def capabilities(integration: Integration, *, api: AssistApi | None = None, force: bool = False) -> set[str]:
    """The account's Integration Services capabilities, probed at most once a day."""
    account = dict(integration.account or {})
    probed = account.get("g2a_probed_at")
    now = timezone.now()
    if force or not probed or now - parse_instant(probed) >= PROBE_EVERY:
        if api is None:
            with AssistApi(integration) as own:
                found = own.capabilities()
        else:
            found = api.capabilities()
        account.update(g2a_capabilities=sorted(found), g2a_probed_at=now.isoformat())
        Integration.objects.filter(pk=integration.pk).update(account=account)
        integration.account = account
    return set(account.get("g2a_capabilities") or [])


def missing_sentence(integration: Integration, capability: str) -> str:
    return (f"“{integration.name}” does not offer {CAPABILITY_LABELS[capability]}: GoTo does not provide it for "
            f"this account.")


def require(integration: Integration, capability: str) -> None:
    if capability not in capabilities(integration):
        raise LiaisonError(missing_sentence(integration, capability))


# -- starting a session from a contact ---------------------------------------------------------------------

def _requested(integration: Integration, contact: Contact, session: AssistSession, *, code: str = "",
               user=None) -> None:
    who = f" by {user}" if getattr(user, "is_authenticated", False) else ""
    title = (f"Support session requested{who} (connection code {code})" if code
             else f"Support session requested{who}")
    record_activities([ActivityInput(
        contact_id=contact.pk, kind="goto.assist.requested", occurred_at=timezone.now(), title=title[:300],
        dedup_key=f"goto:{integration.pk}:assist:{session.session_id}:requested",
        data={"product": "assist", "session_id": session.session_id, "customer_join_url": session.customer_join_url,
              "code": code, "integration_id": integration.pk}, source=facts.source_of(integration))])


def start_session(integration: Integration, contact: Contact, *, user=None, customer_name: str = "",
                  customer_email: str = "") -> AssistSession:
    """A screen-sharing session for the contact: their reference is the partner object (the
    customer's name and address default to the contact's)."""
    session = services.create_assist_session(integration, contact=contact, partner_object=reference(contact),
                                             partner_object_url=contact_url(contact), customer_name=customer_name,
                                             customer_email=customer_email)
    _requested(integration, contact, session, user=user)
    return session


def create_code(integration: Integration, contact: Contact, *, user=None, valid_minutes: int = 20) -> ConnectionCode:
    """A Phone Mode connection code for the contact (the agent reads it out on the phone)."""
    if not 1 <= int(valid_minutes) <= 1440:
        raise ValidationFailed({"valid_minutes": ["A code is valid between 1 and 1440 minutes."]})
    require(integration, "connectionCodes")
    with AssistApi(integration) as api:
        record = api.create_connection_code(partner_object=reference(contact), partner_object_url=contact_url(contact),
                                            customer_name=contact.full_name, customer_email=contact.email,
                                            valid_minutes=int(valid_minutes))
        session_record = api.session(record.session_id)
    now = timezone.now()
    with transaction.atomic():
        facts.store_assist_sessions(integration, [session_record], now=now)
        session = AssistSession.objects.get(integration=integration, session_id=record.session_id)
        code, _ = ConnectionCode.objects.update_or_create(
            integration=integration, code=record.code,
            defaults={"session": session, "session_id_text": record.session_id, "contact": contact,
                      "customer_join_url": record.customer_join_url or session.customer_join_url,
                      "created_by": user if getattr(user, "is_authenticated", False) else None,
                      "created_at": record.created_at or now,
                      "expires_at": record.expires_at or now + timedelta(minutes=int(valid_minutes))})
        _requested(integration, contact, session, code=record.code, user=user)
    return code


def open_codes(integration: Integration) -> list[dict[str, Any]]:
    """The account's active connection codes, as GoTo lists them, with the contact each is for."""
    require(integration, "connectionCodes")
    with AssistApi(integration) as api:
        records = api.connection_codes()
    known = {c.code: c for c in ConnectionCode.objects.filter(integration=integration,
                                                              code__in=[r.code for r in records])
             .select_related("contact")}
    sessions = dict(AssistSession.objects.filter(integration=integration,
                                                 session_id__in=[r.session_id for r in records])
                    .values_list("session_id", "contact_id"))
    contacts = {c.pk: c for c in Contact.objects.filter(pk__in=[v for v in sessions.values() if v])}
    rows = []
    for record in records:
        local = known.get(record.code)
        contact = local.contact if local and local.contact_id else contacts.get(sessions.get(record.session_id))
        rows.append({"code": record.code, "session_id": record.session_id, "created_at": record.created_at,
                     "expires_at": record.expires_at, "status": record.status,
                     "customer_join_url": record.customer_join_url, "contact": contact})
    return rows


def cancel_code(integration: Integration, code: str) -> None:
    code = (code or "").strip()
    if not code.isdigit():
        raise ValidationFailed({"code": [f"“{code}” is not a connection code (9 digits)."]})
    require(integration, "connectionCodes")
    with AssistApi(integration) as api:
        try:
            api.cancel_connection_code(code)
        except ProviderError as exc:
            if exc.status == 404:
                raise LiaisonError(f"Connection code {code} is not active any more (used, expired or cancelled "
                                   f"already).") from None
            raise
    ConnectionCode.objects.filter(integration=integration, code=code, cancelled_at__isnull=True).update(
        cancelled_at=timezone.now())


def contact_codes(contact: Contact) -> QuerySet[ConnectionCode]:
    return ConnectionCode.objects.filter(contact=contact, cancelled_at__isnull=True,
                                         expires_at__gt=timezone.now()).select_related("integration")


# -- the join link by e-mail ---------------------------------------------------------------------------------

def send_join_link(session: AssistSession, email, *, user=None):
    """E-mail the customer's join link with a template e-mail containing ``{support_session_link}``.

    The link travels in the send's context (``goto.assist.join_url``); the same session and
    e-mail again sends nothing more (``dedupe_key``).
    """
    from liaison.emails import services as emails

    if session.contact_id is None:
        raise ValidationFailed({"session": ["This support session has no contact to e-mail."]})
    if session.status not in OPEN_STATUSES or not session.customer_join_url:
        state = session.get_status_display().lower()
        raise ValidationFailed({"session": [f"This support session is {state}: there is no join link to send."]})
    if not any(use.name in LINK_TOKENS for use in email.token_uses()):
        message = (f"“{email.name}” does not contain {{{LINK_TOKEN}}}: the customer would get no link. Add the token "
                   f"to the e-mail or choose another one.")
        raise ValidationFailed({"email": [message]})
    with transaction.atomic():
        send = emails.send_email(
            email, session.contact, user=user,
            context={JOIN_URL_CONTEXT: session.customer_join_url, SESSION_CONTEXT: session.session_id},
            dedupe_key=f"goto:{session.integration_id}:assist:{session.session_id}:link:{email.pk}")
        record_activities([ActivityInput(
            contact_id=session.contact_id, kind="goto.assist.link_sent", occurred_at=timezone.now(),
            title=f"Support session join link e-mailed (“{email.name}”)"[:300],
            dedup_key=f"goto:{session.integration_id}:assist:{session.session_id}:link:{email.pk}",
            data={"product": "assist", "session_id": session.session_id, "email_id": email.pk, "send_id": send.pk,
                  "customer_join_url": session.customer_join_url}, source=facts.source_of(session.integration))])
    return send


def link_emails():
    """Template e-mails that can carry the link (published, containing the token)."""
    from liaison.emails.models import Email

    candidates = Email.objects.filter(kind=Email.Kind.TEMPLATE, published=True).order_by("name")
    found = Q()
    for token in LINK_TOKENS:
        found |= Q(html__contains=token) | Q(text__contains=token) | Q(subject__contains=token)
    return list(candidates.filter(found))


# -- the sessions report -------------------------------------------------------------------------------------

REPORT_COLUMNS = (
    ("session_id", "Session"), ("account", "Account"), ("status", "Status"), ("agent", "Agent"),
    ("agent_email", "Agent e-mail"), ("portal", "Portal"), ("customer_name", "Customer"),
    ("customer_email", "Customer e-mail"), ("contact_id", "Contact id"), ("partner_object", "Ticket"),
    ("started_at", "Started (UTC)"), ("ended_at", "Ended (UTC)"), ("duration_seconds", "Duration (s)"),
    ("resolution", "Resolution"), ("rating", "Rating"), ("feedback", "Feedback"), ("custom_fields", "Custom fields"),
    ("replay_url", "Replay"),
)


def filter_sessions(params: Mapping[str, Any], qs: QuerySet[AssistSession] | None = None) -> QuerySet[AssistSession]:
    """Sessions for the report: account, contact, status, agent, portal, resolution, rating range,
    start range, and a search over customer, agent, ticket and session id."""
    qs = qs if qs is not None else AssistSession.objects.all()
    for name, column in (("integration", "integration_id"), ("contact", "contact_id"), ("status", "status"),
                         ("resolution", "resolution"), ("portal", "portal")):
        if params.get(name):
            qs = qs.filter(**{column: params[name]})
    agent = (params.get("agent") or "").strip()
    if agent:
        qs = qs.filter(Q(expert_name__icontains=agent) | Q(expert_email__iexact=agent) | Q(expert_key=agent))
    if params.get("rating_min") not in (None, ""):
        qs = qs.filter(rating__gte=params["rating_min"])
    if params.get("rating_max") not in (None, ""):
        qs = qs.filter(rating__lte=params["rating_max"])
    if isinstance(params.get("started_after"), datetime):
        qs = qs.filter(started_at__gte=params["started_after"])
    if isinstance(params.get("started_before"), datetime):
        qs = qs.filter(started_at__lt=params["started_before"])
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(customer_email__icontains=q) | Q(customer_name__icontains=q) | Q(partner_object=q)
                       | Q(session_id=q) | Q(expert_name__icontains=q))
    return qs.order_by("-started_at", "-first_seen_at", "-id")


def report_choices() -> dict[str, list[str]]:
    """Values the report's filters offer (portals and resolutions seen)."""
    distinct = AssistSession.objects.order_by()
    return {"portals": sorted(p for p in distinct.values_list("portal", flat=True).distinct() if p),
            "resolutions": sorted(r for r in distinct.values_list("resolution", flat=True).distinct() if r)}


def report_row(session: AssistSession) -> dict[str, Any]:
    return {"session_id": session.session_id, "account": session.integration.name, "status": session.status,
            "agent": session.expert_name, "agent_email": session.expert_email, "portal": session.portal,
            "customer_name": session.customer_name, "customer_email": session.customer_email,
            "contact_id": session.contact_id or "", "partner_object": session.partner_object,
            "started_at": facts.iso(session.started_at) or "", "ended_at": facts.iso(session.ended_at) or "",
            "duration_seconds": "" if session.duration_seconds is None else session.duration_seconds,
            "resolution": session.resolution, "rating": "" if session.rating is None else session.rating,
            "feedback": session.feedback,
            "custom_fields": "; ".join(f"{k}: {v}" for k, v in sorted((session.custom_fields or {}).items())),
            "replay_url": session.recording_url}


def export_csv(qs: QuerySet[AssistSession]) -> Iterator[str]:
    """The report as CSV lines (streamed: any size)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return value

    writer.writerow([label for _, label in REPORT_COLUMNS])
    yield flush()
    for session in qs.select_related("integration").iterator(chunk_size=1000):
        row = report_row(session)
        writer.writerow([_safe(row[key]) for key, _ in REPORT_COLUMNS])
        yield flush()


def _safe(value: Any) -> Any:
    """Cells a spreadsheet would run as a formula are prefixed with a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


# -- the monitor -----------------------------------------------------------------------------------------------

def monitor(integration: Integration, *, refresh: bool = False) -> dict[str, Any]:
    """Agents' status and the waiting queue, read through the capability group at most every
    15 s per account (a cached answer otherwise), so refreshing the page spends no budget."""
    key = f"goto:assist:monitor:{integration.pk}"
    if not refresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    available = capabilities(integration)
    wanted = ("agentStatus", "waitingQueue")
    snapshot: dict[str, Any] = {"agents": None, "queue": None, "fetched_at": timezone.now(), "error": "",
                                "missing": [missing_sentence(integration, c) for c in wanted if c not in available]}
    if any(c in available for c in wanted):
        try:
            with AssistApi(integration) as api:
                if "agentStatus" in available:
                    snapshot["agents"] = api.agents()
                if "waitingQueue" in available:
                    snapshot["queue"] = api.queue()
        except ProviderError as exc:
            snapshot["error"] = str(exc)
    cache.set(key, snapshot, MONITOR_CACHE_SECONDS)
    return snapshot


def sessions_for(contact: Contact, limit: int = 5) -> list[AssistSession]:
    return list(AssistSession.objects.filter(contact=contact).select_related("integration")
                .order_by("-first_seen_at", "-id")[:limit])


# -- the e-mail token ------------------------------------------------------------------------------------------

def open_join_links(contacts, email, params) -> dict[int, str]:
    """The latest open session's join link per contact, for a batch (one query)."""
    ids = [c.pk for c in contacts if c.pk]
    links: dict[int, str] = {}
    for contact_id, url in (AssistSession.objects.filter(contact_id__in=ids, status__in=("notStarted", "waiting"))
                            .exclude(customer_join_url="").order_by("first_seen_at", "id")
                            .values_list("contact_id", "customer_join_url")):
        links[contact_id] = url  # the latest wins
    return links


def render_link(ctx, param):
    """``{support_session_link}``: the send's own link (``goto.assist.join_url`` in its context,
    set when the link is e-mailed from a contact's page), else the contact's latest open
    support session's join link. A contact without any is not sent the e-mail."""
    from liaison.core.contributions import TokenResult

    if ctx.is_preview and not (ctx.context or {}).get(JOIN_URL_CONTEXT):
        return TokenResult.link(f"{ctx.base_url}/gotoassist/join/preview", personal=True)
    url = (ctx.context or {}).get(JOIN_URL_CONTEXT) or (ctx.prefetched or {}).get(ctx.contact.pk, "")
    if not url:
        return TokenResult.missing("no open GoToAssist support session for this contact")
    return TokenResult.link(url, personal=True)


def email_token():
    from liaison.core.contributions import EmailToken

    return EmailToken(key=LINK_TOKEN, label="GoToAssist support session link", render=render_link, group="GoTo",
                      is_link=True, prefetch=open_join_links,
                      description="The customer's join link of a GoToAssist support session: the one being sent from "
                                  "the contact's page, else the contact's latest open session.")
