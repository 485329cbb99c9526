"""Demo data: about 1,000 realistic contacts with companies, custom fields and timelines."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from faker import Faker

from liaison.contacts import services as contacts
from liaison.contacts.models import Contact, Field

MARKER = "demo.seeded"

DEMO_FIELDS = [
    {"alias": "industry", "label": "Industry", "type": "select", "group": "professional",
     "choices": [{"value": v, "label": v} for v in ("Software", "Manufacturing", "Healthcare", "Education",
                                                     "Retail", "Finance", "Public sector")]},
    {"alias": "lead_source", "label": "Lead source", "type": "select", "group": "marketing",
     "choices": [{"value": v, "label": v} for v in ("Webinar", "Trade show", "Website", "Referral", "Partner")]},
    {"alias": "newsletter", "label": "Newsletter", "type": "boolean", "group": "marketing", "default": False},
    {"alias": "birthday", "label": "Birthday", "type": "date", "group": "personal"},
    {"alias": "annual_revenue", "label": "Annual revenue (k€)", "type": "number", "group": "professional"},
    {"alias": "interests", "label": "Interests", "type": "multiselect", "group": "marketing",
     "choices": [{"value": v, "label": v} for v in ("Automation", "Analytics", "CRM", "E-mail", "Events")]},
]


def seed_demo(contact_count: int = 1000, seed: int = 42) -> dict[str, int]:
    """Create the demo fields, companies, contacts and timeline entries (idempotent)."""
    fake = Faker(["en_GB", "fr_FR", "de_DE"])
    Faker.seed(seed)
    rng = random.Random(seed)
    with transaction.atomic():
        for spec in DEMO_FIELDS:
            if not Field.objects.filter(object="contact", alias=spec["alias"]).exists():
                contacts.save_field({"object": "contact", **spec})
        companies = [fake.unique.company() for _ in range(max(10, contact_count // 8))]
        rows = []
        for n in range(contact_count):
            first, last = fake.first_name(), fake.last_name()
            domain = "example.com" if n % 3 else "example.org"
            rows.append({
                "email": f"{_ascii(first)}.{_ascii(last)}.{n}@{domain}",
                "first_name": first, "last_name": last, "position": fake.job()[:150],
                "phone": fake.numerify("+44 20 #### ####"), "city": fake.city(), "country": fake.current_country(),
                "postcode": fake.postcode(), "address1": fake.street_address().replace("\n", ", "),
                "company": rng.choice(companies), "points": rng.choice([0, 0, 5, 10, 20, 35, 50, 80]),
                "custom": {
                    "industry": rng.choice(DEMO_FIELDS[0]["choices"])["value"],
                    "lead_source": rng.choice(DEMO_FIELDS[1]["choices"])["value"],
                    "newsletter": rng.random() < 0.6,
                    "birthday": fake.date_of_birth(minimum_age=22, maximum_age=65).isoformat(),
                    "annual_revenue": rng.randrange(50, 50000, 50),
                    "interests": rng.sample([c["value"] for c in DEMO_FIELDS[5]["choices"]], k=rng.randint(0, 3)),
                },
            })
        result = contacts.upsert_contacts(rows)
        now = timezone.now()
        ids = sorted(result.ids.values())
        created_at = {pk: now - timedelta(days=rng.randint(1, 400), minutes=rng.randint(0, 1440)) for pk in ids}
        activities = []
        for pk in ids:
            activities.append(contacts.ActivityInput(pk, "contact.created", created_at[pk], "Contact created",
                                                     f"contact.created:{pk}", {"by": "demo"}, "demo"))
            if rng.random() < 0.3:
                when = created_at[pk] + timedelta(days=rng.randint(0, 30))
                activities.append(contacts.ActivityInput(
                    pk, "contact.note", min(when, now), rng.choice(
                        ["Called about the spring webinar", "Asked for a product demo", "Met at the trade show",
                         "Interested in the training programme", "Wants a quote for 50 seats"]),
                    f"demo.note:{pk}", {}, "demo"))
        written = contacts.record_activities(activities)
        dnc = ids[:: 37]
        Contact.objects.filter(pk__in=dnc).update(do_not_contact=True, dnc_reason="Unsubscribed", dnc_at=now)
        _backdate(created_at)
    sent = seed_emails(ids[:40])
    marketing = seed_marketing()
    return {"contacts": len(ids), "activities": written, "emails_sent": sent, **marketing}


DEMO_FOOTER = ('<p style="font-size:12px;color:#666"><a href="{webview_url}">View in your browser</a> · '
               '<a href="{unsubscribe_url}">Unsubscribe</a></p>')


def seed_emails(contact_ids: list[int]) -> int:
    """A template and a segment e-mail; the template sent to a few contacts (with the configured
    backend: files under var/mail/ in the demo). Returns how many messages went out."""
    from liaison.emails.models import Email
    from liaison.emails.services import save_email, send_batch

    if Email.objects.exists():
        return 0
    welcome = save_email({
        "name": "Welcome", "category": "Onboarding", "subject": "Welcome to Liaison, {contactfield=first_name|friend}",
        "from_name": "The Liaison team",
        "html": "<h1>Hello {contactfield=first_name|there},</h1>\n<p>Thank you for your interest. People in "
                "{contactfield=industry|your industry} like our webinars: see "
                '<a href="https://example.com/webinars">the events page</a>.</p>\n' + DEMO_FOOTER,
    })
    save_email({
        "name": "Spring newsletter", "kind": "segment", "category": "Newsletter",
        "subject": "Spring news for {contactfield=company|you}",
        "html": "<h1>Spring news</h1>\n<p>Dear {contactfield=first_name|reader}, here is what changed this "
                'season: <a href="https://example.com/blog/spring">read the blog</a>.</p>\n' + DEMO_FOOTER,
    })
    save_email({  # used by "E-mail the link" on a contact's GoToAssist card
        "name": "Your support session link", "category": "Support",
        "subject": "Your support session with {contactfield=first_name|us}",
        "html": "<p>Hello {contactfield=first_name|there},</p>\n<p>Our expert is ready: "
                '<a href="{support_session_link}">join the support session</a>.</p>\n' + DEMO_FOOTER,
    })
    result = send_batch(welcome, contact_ids, dedupe_prefix=f"demo:{welcome.pk}", owner="demo")
    return len(result.sent)


PEOPLE_FIELDS = [
    {"key": "email", "label": "E-mail", "type": "email", "required": True, "contact_field": "email"},
    {"key": "first_name", "label": "First name", "type": "text", "required": True, "contact_field": "first_name"},
    {"key": "last_name", "label": "Last name", "type": "text", "required": True, "contact_field": "last_name"},
]

DEMO_SEGMENTS = [
    ("Newsletter subscribers", "Contacts who asked for the newsletter.",
     [{"filter": "contact.custom.newsletter", "operator": "eq", "value": True},
      {"filter": "contact.do_not_contact", "operator": "eq", "value": False}]),
    ("Hot leads", "50 points or more.", [{"filter": "contact.points", "operator": "gte", "value": 50}]),
    ("Sales-ready", "Added by the “Ready for sales” points trigger at 100 points.", []),
]

DEMO_POINT_RULES = [
    {"name": "Submits a form", "event": "webforms.submitted", "points": 5},
    {"name": "Opens an e-mail", "event": "emails.opened", "points": 2},
    {"name": "Clicks a link in an e-mail", "event": "emails.clicked", "points": 3},
]

# Their filters need a connected GoTo account: seeded by the demo's connection job.
DEMO_GOTO_SEGMENTS = [
    ("Webinar registrants", "Registered for any GoToWebinar webinar (filled by the GoTo sync).",
     [{"filter": "goto.webinar.registered", "operator": "ever", "value": {"values": ["any"]}}]),
    ("Webinar no-shows", "Registered for a webinar that is over, and did not attend.",
     [{"filter": "goto.webinar.not_attended", "operator": "ever", "value": {"values": ["any"]}}]),
]


def _ensure_segments(specs) -> dict[str, Any]:
    from liaison.segments.models import Segment
    from liaison.segments.services import save_segment

    found = {s.name: s for s in Segment.objects.filter(name__in=[name for name, _, _ in specs])}
    return {name: found.get(name) or save_segment({"name": name, "description": description,
                                                   "filters": {"match": "all", "rules": rules}})
            for name, description, rules in specs}


def _ensure_form(data: dict[str, Any]) -> int:
    from liaison.webforms.models import Form
    from liaison.webforms.services import save_form

    if Form.objects.filter(name=data["name"]).exists():
        return 0
    save_form(data)
    return 1


def seed_marketing() -> dict[str, int]:
    """What to start from: a newsletter list, hot leads, a contact form, point rules and a
    trigger, a draft welcome campaign."""
    segments = _ensure_segments(DEMO_SEGMENTS)
    forms = _ensure_form({
        "name": "Contact us", "success_message": "Thank you! We will get back to you shortly.",
        "fields": [*PEOPLE_FIELDS,
                   {"key": "company", "label": "Company", "type": "text", "contact_field": "company"},
                   {"key": "message", "label": "Your message", "type": "textarea"},
                   {"key": "newsletter", "label": "Send me the newsletter", "type": "checkbox",
                    "contact_field": "custom.newsletter"}],
        "actions": [{"key": "contact.points", "config": {"points": 10, "reason": "Wrote to us"}},
                    {"key": "segments.add", "config": {"segment_id": segments["Hot leads"].pk}}],
    })
    return {"segments": len(segments), "forms": forms, **_ensure_points(segments["Sales-ready"]),
            "campaigns": _ensure_campaign(segments["Newsletter subscribers"])}


def _ensure_points(sales_ready) -> dict[str, int]:
    """Point rules for the core events and a trigger at 100 points (skipped when any exist)."""
    from liaison.points.models import PointRule, PointTrigger
    from liaison.points.services import save_rule, save_trigger

    rules = 0 if PointRule.objects.exists() else len([save_rule(spec) for spec in DEMO_POINT_RULES])
    triggers = 0
    if not PointTrigger.objects.exists():
        save_trigger({"name": "Ready for sales", "threshold": 100,
                      "actions": [{"key": "segments.add", "config": {"segments": [sales_ready.pk]}}]})
        triggers = 1
    return {"point_rules": rules, "point_triggers": triggers}


def _ensure_campaign(audience) -> int:
    """A draft welcome campaign to publish from the builder (a draft sends nothing)."""
    from liaison.campaigns import services as campaigns
    from liaison.campaigns.models import Campaign
    from liaison.emails.models import Email

    welcome = Email.objects.filter(name="Welcome").first()
    if welcome is None or Campaign.objects.exists():
        return 0
    campaign = campaigns.create_campaign({
        "name": "Welcome series", "description": "Welcome the newsletter subscribers; reward those who open it.",
        "audiences": [{"key": "segments.segment", "values": [str(audience.pk)]}]})
    send = campaigns.add_step(campaign, {"key": "emails.send", "config": {"email": welcome.pk}})
    opens = campaigns.add_step(campaign, {"key": "emails.opens", "parent": send.pk, "config": {"emails": [welcome.pk]},
                                          "timeout_amount": 3, "timeout_unit": "days"})
    campaigns.add_step(campaign, {"key": "contacts.points", "parent": opens.pk, "branch": "yes",
                                  "config": {"points": 5, "reason": "Opened the welcome e-mail"}})
    return 1


def seed_goto_marketing() -> dict[str, int]:
    """Once the demo GoTo account is connected: webinar segments and a webinar registration form."""
    segments = _ensure_segments(DEMO_GOTO_SEGMENTS)
    forms = _ensure_form({
        "name": "Webinar registration", "success_message": "You are registered: your join link is on its way.",
        "fields": [*PEOPLE_FIELDS,
                   {"key": "webinar", "label": "Webinar", "type": "goto.webinar.upcoming", "required": True,
                    "config": {"multiple": False}}],
        "actions": [{"key": "goto.webinar.register", "config": {}},
                    {"key": "contact.points", "config": {"points": 20,
                                                         "reason": "Registered through the webinar form"}}],
    })
    return {"segments": len(segments), "forms": forms}


def _ascii(name: str) -> str:
    """A name as it would appear in an e-mail address (e.g. Françoise -> francoise)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain.lower()) or "contact"


def _backdate(created_at: dict) -> None:
    """Spread creation dates over the last year, as a real database would have them."""
    batch = [Contact(pk=pk, created_at=when) for pk, when in created_at.items()]
    Contact.objects.bulk_update(batch, ["created_at"], batch_size=500)


def prepare_demo(write: Callable[[str], None] = print) -> str:
    """Seed the demo once (a marker file under var/ remembers it)."""
    marker = settings.VAR_DIR / MARKER
    if marker.exists():
        return "Demo data already present."
    write("Seeding demo data…")
    counts = seed_demo()
    marker.write_text("seeded\n")
    return (f"Demo data: {counts['contacts']} contacts, {counts['activities']} timeline entries, "
            f"{counts['emails_sent']} e-mails sent.")
