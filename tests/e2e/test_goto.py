"""GoTo in the browser: add an account, connect it through GoTo's consent page (the sandbox,
served on loopback), sync, read an event with its attendance chart and a contact's timeline."""

from __future__ import annotations

import re
import threading

import pytest

from liaison.integrations.goto.models import Attendance, Event
from liaison.sandbox.common import make_server
from liaison.sandbox.goto import SeedConfig, create_app


@pytest.fixture
def goto_server(settings, live_server, monkeypatch):
    monkeypatch.setattr("liaison.integrations.goto.client.REQUESTS_PER_SECOND", 10_000)
    settings.LIAISON_BASE_URL = live_server.url  # GoTo redirects the browser back here
    sandbox = create_app(seed=3, config=SeedConfig(organizers=1, webinars=6, registrants_per_webinar=15, trainings=1,
                                                   meetings=2, assist_sessions=3), sleep=lambda s: None)
    server = make_server(sandbox, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_connect_sync_and_read_goto(signed_in, live_server, goto_server):
    page = signed_in
    page.goto("/integrations/add/goto/")
    page.fill("#id_name", "GoTo e2e")
    page.fill("#id_client_id", "liaison-demo")
    page.fill("#id_client_secret", "liaison-demo-secret")
    page.fill("#id_api_base_url", goto_server)
    page.fill("#id_auth_base_url", goto_server)
    page.uncheck("#id_webhooks")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/integrations/\d+/$"))

    page.click("button:has-text('Connect GoTo')")
    page.wait_for_url(re.compile(r"/oauth/authorize"))  # GoTo's consent page
    page.click("button:has-text('Allow')")
    page.wait_for_url(re.compile(r"/integrations/\d+/$"))
    assert "Connected to GoTo as" in page.content()
    assert "Organizer key" in page.content()

    page.click("button:has-text('Sync now')")
    page.wait_for_selector("text=Succeeded")
    page.click("a:has-text('Webinars')")
    event = Event.objects.filter(product="webinar", status="past").exclude(attendances=None).first()
    page.click(f"text={event.title}")
    page.wait_for_url(re.compile(r"/events/\d+/$"))
    assert page.locator("svg rect").count() >= 60
    assert "Registrants" in page.content() and "Attendees" in page.content()

    attendance = Attendance.objects.filter(event=event).first()
    page.goto(f"/contacts/{attendance.contact_id}/")
    timeline = page.locator(".timeline").inner_text()
    assert "Attended a webinar" in timeline and event.title in timeline
