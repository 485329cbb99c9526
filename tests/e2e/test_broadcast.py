"""A segment e-mail with {webinar_link}, written and broadcast in the browser to three contacts
registered for a sandbox webinar: each message holds that contact's own join link, untouched
by click tracking, while the ordinary link in the same message is tracked per send."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from liaison.core.http import DbTokenStore, Token
from liaison.emails.models import Broadcast, Email, Send
from liaison.integrations import services as framework
from liaison.integrations.goto import services
from liaison.integrations.goto.models import Event, Registration
from liaison.integrations.sync import run_sync
from liaison.sandbox.common import make_server
from liaison.sandbox.goto import SeedConfig, create_app
from liaison.segments import services as segments
from liaison.users.models import User
from tests.factories import ContactFactory


@pytest.fixture
def goto(settings, live_server, monkeypatch):
    monkeypatch.setattr("liaison.integrations.goto.client.REQUESTS_PER_SECOND", 10_000)
    settings.LIAISON_BASE_URL = live_server.url
    sandbox = create_app(seed=7, config=SeedConfig(organizers=1, webinars=2, registrants_per_webinar=3, trainings=0,
                                                   meetings=0, assist_sessions=0), sleep=lambda s: None)
    server = make_server(sandbox, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield sandbox, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_broadcast_personal_join_links(signed_in, live_server, goto, smtp_server):
    sandbox, base = goto
    integration = framework.create_integration("goto", "GoTo", {
        "client_id": "liaison-demo", "client_secret": "liaison-demo-secret", "api_base_url": base,
        "auth_base_url": base, "webhooks": False}, user=User.objects.get(username="e2e-admin"))
    DbTokenStore(integration.credential_key).save(Token.from_response(sandbox.mint_token()))
    services.discover_account(integration)
    start = (sandbox.now() + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    webinar = sandbox.add_webinar("Autumn launch", [(start, start + timedelta(hours=1))])[0]
    run_sync(None, integration.pk, "test", {})
    event = Event.objects.get(product="webinar", provider_key=str(webinar.webinar_key))
    people = [ContactFactory(email=f"guest{n}@example.com", first_name=f"Guest{n}") for n in range(3)]
    for person in people:
        assert services.register_contact(event, person).registration.join_url
    ContactFactory(email="not.registered@example.com")  # in the database, not in the segment
    links = dict(Registration.objects.filter(event=event, contact__in=people).values_list("contact__email",
                                                                                          "join_url"))
    assert len(set(links.values())) == 3  # personal: one link each
    segment = segments.save_segment({"name": "Autumn launch registrants", "filters": {"match": "all", "rules": [
        {"filter": "goto.webinar.registered", "operator": "ever", "value": {"values": [event.provider_key]}}]}})
    segments.rebuild_segment(segment)
    target = f"{live_server.url}/static/liaison/liaison.css?from=launch"

    page = signed_in
    page.goto("/emails/new/?kind=segment")
    page.fill("#id_name", "Autumn launch: your link")
    page.fill("#id_subject", "See you on {date}")
    page.fill("#id_html", f'<p>Hello {{contactfield=first_name}},</p><p><a href="{{webinar_link}}">Join</a></p>'
                          f'<p><a href="{target}">Agenda</a></p><p><a href="{{unsubscribe_url}}">Unsubscribe</a></p>')
    assert page.locator("#audiences-field").is_visible()
    page.select_option("select[name='audience:segments.segment']", label="Autumn launch registrants")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/emails/\d+/$"))
    email = Email.objects.get()
    assert page.locator("#broadcast-recipients strong").inner_text() == "3"

    page.once("dialog", lambda dialog: dialog.accept())  # "Send … to 3 contact(s) now?"
    page.click("#broadcast button:has-text('Send to 3 contact(s)')")
    page.wait_for_selector("#broadcast >> text=Sent")
    assert Broadcast.objects.get(email=email).status == "finished"
    assert page.locator("#broadcast-stats td").first.inner_text() == "3"  # sent

    received = {m.to: m for m in smtp_server.messages}
    assert sorted(received) == sorted(links)
    for address, join_url in links.items():
        message = received[address]
        send = Send.objects.get(email=email, contact__email=address)
        page.set_content(message.html, wait_until="load")
        assert page.get_attribute("text=Join", "href") == join_url  # own link, never rewritten
        assert page.get_attribute("text=Agenda", "href").startswith(f"{live_server.url}/t/c/{send.token}/")
        others = [url for other, url in links.items() if other != address]
        assert not any(url in message.html or url in message.text for url in others)
        assert join_url in message.text
    # Sending again reaches nobody: everyone had it.
    page.goto(f"/emails/{email.pk}/")
    assert page.locator("#broadcast button:has-text('Send to new members (0)')").is_disabled()
