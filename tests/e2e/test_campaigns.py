"""Build a campaign in the UI from a segment (send an e-mail, a condition, adjust points), run it,
read the contact's timeline, then open the received message, follow its tracked link, unsubscribe."""

from __future__ import annotations

import re

from liaison.contacts.models import Contact
from liaison.emails.models import Send
from liaison.segments.models import Segment
from liaison.segments.services import add_static
from tests.factories import ContactFactory, EmailFactory


def settle(page) -> None:
    # htmx binds the new content's hx-* attributes in its settle phase, a moment after the swap.
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")


def swapped(page, selector: str, state: str = "attached") -> None:
    """Wait until an htmx swap has put `selector` in the page (or removed it) and has settled."""
    page.wait_for_selector(selector, state=state)
    settle(page)


def add_step(page, link: str, kind: str, key: str, settings: dict[str, str]) -> None:
    page.click(f"#builder >> text={link}")
    swapped(page, "#step-kind")
    page.select_option("#step-kind", kind)
    swapped(page, f"#step-key option[value='{key}']")
    page.select_option("#step-key", key)
    swapped(page, "#step-form button[type=submit]")
    for name, value in settings.items():
        selector = f"#id_step-c-{name}"
        if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
            page.select_option(selector, label=value)
        else:
            page.fill(selector, value)
    page.click("#step-form button[type=submit]")
    swapped(page, "#step-form", state="detached")


def test_build_run_and_follow_a_campaign(signed_in, live_server, smtp_server, settings):
    settings.LIAISON_BASE_URL = live_server.url
    page = signed_in
    grace = ContactFactory(email="grace@example.com", first_name="Grace", city="Lyon")
    alan = ContactFactory(email="alan@example.com", first_name="Alan", city="Paris")
    segment = Segment.objects.create(name="Prospects")
    add_static(segment, [grace.pk, alan.pk])
    target = f"{live_server.url}/static/liaison/liaison.css?from=campaign"
    EmailFactory(name="Welcome", subject="Welcome {contactfield=first_name}",
                 html=f'<p>Hi {{contactfield=first_name}}</p><p><a href="{target}">Read more</a></p>'
                      '<p><a href="{unsubscribe_url}">Unsubscribe link</a></p>')

    page.click("nav >> text=Campaigns")
    page.click("text=New campaign")
    page.fill("#id_name", "Onboarding")
    page.select_option("[id='id_audience-segments.segment']", label="Prospects")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
    settle(page)

    add_step(page, "+ Add a step", "action", "emails.send", {"email": "Welcome"})
    add_step(page, "+ Add the next step", "condition", "segments.field_value",
             {"field": "Contact: City", "operator": "equals", "value": "lyon"})
    add_step(page, "+ Add to “Yes”", "action", "contacts.points", {"points": "10", "reason": "Lives in Lyon"})
    builder = page.locator("#builder").inner_text()
    assert "Send “Welcome”" in builder and "Adjust points: +10" in builder

    page.click("button:has-text('Publish')")
    page.wait_for_selector("text=“Onboarding” is published")
    page.click("button:has-text('Run now')")
    page.wait_for_selector("text=Running “Onboarding” now")
    assert sorted(m.to for m in smtp_server.messages) == ["alan@example.com", "grace@example.com"]
    assert Contact.objects.get(pk=grace.pk).points == 10 and Contact.objects.get(pk=alan.pk).points == 0

    page.goto(f"/contacts/{grace.pk}/")
    timeline = page.locator(".timeline").inner_text()
    for entry in ("Entered campaign “Onboarding”", "Onboarding: Send “Welcome”", "E-mail sent", "+10 points"):
        assert entry in timeline, entry

    received = next(m for m in smtp_server.messages if m.to == "grace@example.com")
    send = Send.objects.get(contact=grace)
    page.set_content(received.html, wait_until="load")
    assert page.get_attribute("text=Read more", "href") == f"{live_server.url}/t/c/{send.token}/0/"
    page.click("text=Read more")
    page.wait_for_url(target)
    page.set_content(received.html, wait_until="load")
    page.click("text=Unsubscribe link")
    page.click("button:has-text('Unsubscribe')")
    page.wait_for_selector("text=You are unsubscribed")
    assert Contact.objects.get(pk=grace.pk).do_not_contact
    page.goto(f"/contacts/{grace.pk}/")
    timeline = page.locator(".timeline").inner_text()
    for entry in ("Link clicked", "Unsubscribed"):
        assert entry in timeline, entry
