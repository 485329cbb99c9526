"""GoTo services: connecting an account, and what the marketing features call.

For forms, campaigns, e-mail tokens and the connector (GoTo part 2), the entry points are:

* ``register_contact(event, contact, *, source="api", first_name=None, last_name=None,
  fields=None, resend_confirmation=False) -> RegistrationOutcome``
* ``cancel_registration(registration, *, source="api") -> Registration``
* ``join_url(event, contact) -> str`` (local, no API call)
* ``start_url(event) -> str`` (the organizer's host link; one API call)
* ``create_assist_session(integration, *, contact=None, customer_name="", customer_email="",
  partner_object="", partner_object_url="", callback_url="") -> AssistSession``
* ``sync_event(event, user=None) -> Job`` (re-read one event in the background)

Added for the marketing features (part 2):

* ``usable_events(product, keys) -> {key: Event}`` (events of published accounts with the product on)
* ``registration_form(event, refresh=False) -> dict`` (a webinar's fields and custom questions, cached)
* ``send_start_link(event, contact, email, *, dedupe_key=None, user=None) -> Send``
* ``event_context(event, **extra) -> dict``: the e-mail send context naming the event (``goto``)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from liaison.contacts.models import Contact, normalize_email
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.http import ProviderError
from liaison.integrations import services as framework
from liaison.integrations.goto import facts, queries
from liaison.integrations.goto.assist import AssistApi
from liaison.integrations.goto.client import AlreadyRegistered, IdentityApi, RegistrantRecord
from liaison.integrations.goto.models import AssistSession, Event, Registration
from liaison.integrations.goto.spec import ENTITLEMENTS, PRODUCT_LABELS, PRODUCTS
from liaison.integrations.goto.training import TrainingApi
from liaison.integrations.goto.webinar import WebinarApi, is_gone
from liaison.integrations.models import Integration

# -- connecting ----------------------------------------------------------------------------------

def discover_account(integration: Integration) -> str:
    """After the OAuth flow: who is connected (organizer and account keys, never typed).

    Products the user has no licence for (when GoTo lists entitlements) are switched off,
    the GoToAssist capabilities are probed, and GoToWebinar webhooks are turned on when
    the settings ask for it. Returns the message shown to the user.
    """
    with IdentityApi(integration) as api:
        me = api.me()
    first_account = me["accounts"][0] if me["accounts"] else {}
    previous = (integration.account or {}).get("organizer_key")
    account = {
        "organizer_key": me["organizer_key"], "account_key": first_account.get("key", ""),
        "account_name": first_account.get("name", ""), "email": me["email"], "display_name": me["display_name"],
        "time_zone": me["time_zone"], "entitlements": first_account.get("entitlements", []),
        "connected_at": timezone.now().isoformat(),
    }
    notes = []
    if previous and previous != me["organizer_key"]:
        notes.append(f"This account was connected to another GoTo user before (organizer {previous}); what was "
                     f"synchronised from that user is kept.")
    twin = Integration.objects.filter(spec_key="goto", account__organizer_key=me["organizer_key"]).exclude(
        pk=integration.pk).first()
    if twin is not None:
        notes.append(f"“{twin.name}” is connected to the same GoTo user: its events would be synchronised twice.")
    features = dict(integration.features)
    if account["entitlements"]:
        missing = [p for p in PRODUCTS if ENTITLEMENTS[p] not in account["entitlements"] and features.get(p, True)]
        for product in missing:
            features[product] = False
        if missing:
            notes.append("Switched off (no licence for this user): "
                         + ", ".join(PRODUCT_LABELS[p] for p in missing) + ".")
    Integration.objects.filter(pk=integration.pk).update(account=account, features=features)
    integration.account, integration.features = account, features
    if integration.feature_enabled("assist"):
        try:
            with AssistApi(integration) as api:
                capabilities = sorted(api.capabilities())
        except ProviderError:
            capabilities = []
        account.update(g2a_capabilities=capabilities, g2a_probed_at=timezone.now().isoformat())
        Integration.objects.filter(pk=integration.pk).update(account=account)
    if integration.config().webhooks and integration.feature_enabled("webinar"):
        from liaison.integrations.goto import webhooks

        channel = webhooks.enable(integration)
        notes.append("Real-time updates are on." if channel.state == channel.State.ACTIVE else channel.message)
    who = me["display_name"] or me["email"]
    return " ".join([f"Connected to GoTo as {who} (organizer {me['organizer_key']})."] + notes)


# -- registrations -----------------------------------------------------------------------------------

@dataclass
class RegistrationOutcome:
    registration: Registration
    created: bool  # False: the person was already registered (Liaison knew, or GoTo said so)

    @property
    def join_url(self) -> str:
        return self.registration.join_url


def _require_usable(event: Event) -> Integration:
    integration = Integration.objects.get(pk=event.integration_id)  # fresh: published may have just changed
    event.integration = integration
    if not integration.published:
        raise ValidationFailed({"__all__": [f"“{integration.name}” is unpublished: publish it to register people."]})
    if event.product not in ("webinar", "training"):
        raise ValidationFailed({"event": [
            f"{event.product_label} has no registration: send the meeting's join link instead."]})
    if event.status == Event.Status.CANCELLED:
        raise ValidationFailed({"event": [f"“{event.title}” was cancelled."]})
    return integration


def register_contact(event: Event, contact: Contact, *, source: str = Registration.Source.API,
                     first_name: str | None = None, last_name: str | None = None,
                     fields: dict[str, Any] | None = None, resend_confirmation: bool = False) -> RegistrationOutcome:
    """Register a contact for a webinar or training on GoTo, and store the registration.

    Someone already registered is not an error: the existing registration (with its join
    URL) comes back with ``created=False`` (GoTo's 409 ``DuplicateRegistrant``). Other
    refusals raise ``ProviderError`` with GoTo's reason in words.
    """
    integration = _require_usable(event)
    if source not in Registration.Source.values:
        raise ValueError(f"unknown registration source {source!r}")
    key = normalize_email(contact.email)
    known = Registration.objects.filter(event=event, email_key=key).first()
    if known is not None and known.is_active and known.join_url and not resend_confirmation:
        return RegistrationOutcome(known, created=False)
    first = (first_name if first_name is not None else contact.first_name).strip()
    last = (last_name if last_name is not None else contact.last_name).strip()
    errors = {}
    if not first:
        errors["first_name"] = [f"{event.product_label} needs a first name to register someone."]
    if not last:
        errors["last_name"] = [f"{event.product_label} needs a last name to register someone."]
    if errors:
        raise ValidationFailed(errors)
    now = timezone.now()
    created = True
    if event.product == "webinar":
        with WebinarApi(integration) as api:
            try:
                registrant_key, join = api.create_registrant(
                    event.provider_key, email=contact.email, first_name=first, last_name=last, fields=fields,
                    resend_confirmation=resend_confirmation, organizer_key=event.organizer_key or None)
                approval = str((event.extra or {}).get("approvalType", "")).upper()
                if approval in ("AUTOMATIC", "MANUAL"):
                    record = RegistrantRecord(email=contact.email, first_name=first, last_name=last,
                                              key=registrant_key, join_url=join, registered_at=now,
                                              status="waiting" if approval == "MANUAL" else "approved")
                else:  # approval mode unknown (event read by key only): ask GoTo what it made of it
                    record = api.registrant(event.provider_key, registrant_key,
                                            organizer_key=event.organizer_key or None)
                    record.join_url = record.join_url or join
            except AlreadyRegistered:
                created = False
                record = _find_webinar_registrant(api, event, key, known)
    else:
        with TrainingApi(integration) as api:
            try:
                record = api.create_registrant(event.provider_key, email=contact.email, first_name=first,
                                               last_name=last, organizer_key=event.organizer_key or None)
                record.registered_at = now
            except AlreadyRegistered as exc:
                created = False
                record = _find_training_registrant(api, event, exc.registrant_key, contact, known)
    with transaction.atomic():
        facts.store_registrants(integration, event, [record], now=now, source=source)
    return RegistrationOutcome(Registration.objects.get(event=event, email_key=key), created=created)


def _find_webinar_registrant(api: WebinarApi, event: Event, email_key: str, known: Registration | None
                             ) -> RegistrantRecord:
    """GoToWebinar's 409 carries no key: look the registrant up (what Liaison knows, else the list)."""
    if known is not None and known.registrant_key:
        try:
            return api.registrant(event.provider_key, known.registrant_key, organizer_key=event.organizer_key or None)
        except ProviderError as exc:
            if exc.status != 404:
                raise
    page = 0
    while True:
        result = api.registrants(event.provider_key, page, organizer_key=event.organizer_key or None)
        for record in result.items:
            if normalize_email(record.email) == email_key:
                return record
        if result.last or not result.items:
            break
        page += 1
    raise LiaisonError("GoToWebinar says this person is already registered but does not list them yet; try again "
                       "in a few minutes.")


def _find_training_registrant(api: TrainingApi, event: Event, registrant_key: str, contact: Contact,
                              known: Registration | None) -> RegistrantRecord:
    """GoToTraining's 409 names the existing registrant; its cache may not show them yet."""
    if registrant_key:
        try:
            return api.registrant(event.provider_key, registrant_key, organizer_key=event.organizer_key or None)
        except ProviderError as exc:
            if exc.status != 404:
                raise
    return RegistrantRecord(email=contact.email, first_name=contact.first_name, last_name=contact.last_name,
                            key=registrant_key or (known.registrant_key if known else ""),
                            join_url=known.join_url if known else "",
                            confirmation_url=known.confirmation_url if known else "")


def cancel_registration(registration: Registration, *, source: str = Registration.Source.API) -> Registration:
    """Remove the registrant on GoTo (when it still exists) and mark the registration cancelled."""
    event = registration.event
    integration = _require_usable(event)
    if registration.status == Registration.Status.CANCELLED:
        return registration
    if registration.registrant_key:
        api_class = WebinarApi if event.product == "webinar" else TrainingApi
        with api_class(integration) as api:
            try:
                api.delete_registrant(event.provider_key, registration.registrant_key,
                                      organizer_key=event.organizer_key or None)
            except ProviderError as exc:
                if not (exc.status == 404 or is_gone(exc)):
                    raise
    now = timezone.now()
    record = RegistrantRecord(email=registration.email, first_name=registration.first_name,
                              last_name=registration.last_name, key=registration.registrant_key,
                              status=Registration.Status.CANCELLED, registered_at=registration.registered_at)
    with transaction.atomic():
        facts.store_registrants(integration, event, [record], now=now, source=source)
    registration.refresh_from_db()
    return registration


def join_url(event: Event, contact: Contact) -> str:
    """The contact's own join link for this event ('' when not registered). No API call."""
    if event.product == "meeting":
        return event.join_url
    reg = Registration.objects.filter(event=event, email_key=normalize_email(contact.email),
                                      status__in=Registration.ACTIVE).only("join_url").first()
    return reg.join_url if reg else ""


def start_url(event: Event) -> str:
    """The organizer's link that starts the event (give it to hosts only)."""
    from liaison.integrations.goto.meeting import MeetingApi

    api_class = {"webinar": WebinarApi, "training": TrainingApi, "meeting": MeetingApi}[event.product]
    with api_class(event.integration) as api:
        return api.start_url(event.provider_key)


def create_assist_session(integration: Integration, *, contact: Contact | None = None, customer_name: str = "",
                          customer_email: str = "", partner_object: str = "", partner_object_url: str = "",
                          callback_url: str = "") -> AssistSession:
    """A GoToAssist screen-sharing session; ``launch_url`` is the expert's link, ``customer_join_url`` the customer's."""
    if not integration.feature_enabled("assist"):
        raise ValidationFailed({"__all__": ["GoToAssist is switched off for this account."]})
    if contact is not None:
        customer_email = customer_email or contact.email
        customer_name = customer_name or contact.full_name
    with AssistApi(integration) as api:
        record = api.create_session(customer_name=customer_name, customer_email=customer_email,
                                    partner_object=partner_object, partner_object_url=partner_object_url,
                                    callback_url=callback_url)
    with transaction.atomic():
        facts.store_assist_sessions(integration, [record], now=timezone.now())
    return AssistSession.objects.get(integration=integration, session_id=record.session_id)


def sync_event(event: Event, user=None):
    """Re-read one event now (registrants, sessions, attendees) in the background."""
    return framework.start_sync(event.integration, user=user, trigger="manual",
                                options={"product": event.product, "id": event.provider_key})


# -- for forms, campaigns and e-mails (part 2) -----------------------------------------------------------

# The e-mail send's context: ``{"goto": {"product", "event", "start_url"?}}`` names the event an
# e-mail is about (campaign steps, start-link actions); GoToAssist join links travel under
# ``support.JOIN_URL_CONTEXT`` (docs/emails.md, docs/integrations/goto.md).
CONTEXT = "goto"
BUTTON_TOKENS = {"meeting": "meeting_button", "training": "training_button"}
FORM_CACHE = timedelta(hours=6)


def event_context(event: Event, **extra: Any) -> dict[str, Any]:
    return {CONTEXT: {"product": event.product, "event": event.provider_key, **extra}}


def usable_events(product: str, keys: Iterable[str]) -> dict[str, Event]:
    """The events with these GoTo keys in published accounts with ``product`` on (one per key:
    the most recently updated, should two accounts read the same event)."""
    keys = [str(k) for k in keys if k]
    if not keys:
        return {}
    found: dict[str, Event] = {}
    for event in (Event.objects.filter(product=product, provider_key__in=keys,
                                       integration_id__in=queries.usable_accounts(product))
                  .select_related("integration").order_by("-updated_at", "-id")):
        found.setdefault(event.provider_key, event)
    return found


def registration_form(event: Event, *, refresh: bool = False) -> dict[str, Any]:
    """What the webinar's registration form asks (standard fields and custom questions),
    read from GoTo at most every six hours and kept with the event."""
    if event.product != "webinar":
        return {"fields": [], "questions": []}
    cached = (event.extra or {}).get("registration_form")
    now = timezone.now()
    if cached and not refresh:
        try:
            if now - datetime.fromisoformat(cached["read_at"]) < FORM_CACHE:
                return cached
        except (KeyError, TypeError, ValueError):
            pass
    with WebinarApi(Integration.objects.get(pk=event.integration_id)) as api:
        form = api.registration_fields(event.provider_key, organizer_key=event.organizer_key or None)
    form["read_at"] = now.isoformat()
    current = Event.objects.filter(pk=event.pk).values_list("extra", flat=True).first() or {}
    Event.objects.filter(pk=event.pk).update(extra={**current, "registration_form": form})
    event.extra = {**(event.extra or {}), "registration_form": form}
    return form


def _require_token(email, product: str) -> None:
    token = BUTTON_TOKENS[product]
    if not any(use.name == token for use in email.token_uses()):
        raise ValidationFailed({"email": [(f"“{email.name}” does not contain {{{token}}}: the link would not be "
                                           f"in the message. Add the token or choose another e-mail.")]})


def send_start_link(event: Event, contact: Contact, email, *, dedupe_key: str | None = None, user=None):
    """E-mail the organizer's start link of a meeting or training to ``contact`` with a template
    e-mail containing ``{meeting_button}`` / ``{training_button}`` (the link travels in the send's
    context, ``goto.start_url``). Whoever gets it can start the event as its organizer."""
    from liaison.emails import services as emails
    from liaison.emails.models import Send

    if event.product not in ("meeting", "training"):
        raise ValidationFailed({"event": [f"{event.product_label} has no start link to send."]})
    integration = Integration.objects.get(pk=event.integration_id)
    if not integration.published or not integration.feature_enabled(event.product):
        raise ValidationFailed({"event": [f"{event.product_label} is switched off for “{integration.name}”."]})
    if event.status in (Event.Status.CANCELLED, Event.Status.PAST):
        raise ValidationFailed({"event": [(f"“{event.title}” is {event.get_status_display().lower()}: it cannot "
                                           f"be started any more.")]})
    _require_token(email, event.product)
    sent = Send.objects.filter(dedupe_key=dedupe_key).first() if dedupe_key else None
    if sent is not None:  # asked again (a retried job): the first send stands, no new start link
        return sent
    event.integration = integration
    url = start_url(event)
    return emails.send_email(email, contact, context=event_context(event, start_url=url), dedupe_key=dedupe_key,
                             user=user)
