"""A GoToWebinar registration form, built and submitted in the browser: the registration reaches
GoTo (the sandbox, served on loopback) and shows on the contact's timeline with its join URL."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from liaison.core.http import DbTokenStore, Token
from liaison.integrations import services as framework
from liaison.integrations.goto import services
from liaison.integrations.goto.models import Registration
from liaison.integrations.sync import run_sync
from liaison.sandbox.common import make_server
from liaison.sandbox.goto import SeedConfig, create_app
from liaison.users.models import User
from tests.e2e.test_forms_segments import settle


@pytest.fixture
def goto(settings, live_server, monkeypatch):
    monkeypatch.setattr("liaison.integrations.goto.client.REQUESTS_PER_SECOND", 10_000)
    settings.LIAISON_BASE_URL = live_server.url
    sandbox = create_app(seed=4, config=SeedConfig(organizers=1, webinars=3, registrants_per_webinar=5, trainings=0,
                                                   meetings=0, assist_sessions=0), sleep=lambda s: None)
    server = make_server(sandbox, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sandbox, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_webinar_form_registers_the_visitor(signed_in, live_server, goto):
    sandbox, base = goto
    integration = framework.create_integration("goto", "GoTo", {
        "client_id": "liaison-demo", "client_secret": "liaison-demo-secret", "api_base_url": base,
        "auth_base_url": base, "webhooks": False}, user=User.objects.get(username="e2e-admin"))
    DbTokenStore(integration.credential_key).save(Token.from_response(sandbox.mint_token()))
    services.discover_account(integration)
    start = (sandbox.now() + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    webinar = sandbox.add_webinar("Spring launch", [(start, start + timedelta(hours=1))])[0]
    run_sync(None, integration.pk, "test", {})

    page = signed_in
    page.goto("/forms/new/")
    page.fill("#id_name", "Spring launch sign-up")
    for index, label in ((1, "First name"), (2, "Last name")):
        page.select_option("#add-field-type", "text")
        page.click("button:has-text('+ Add field')")
        settle(page)
        page.fill(f"input[name='fields-{index}-label']", label)
        page.select_option(f"select[name='fields-{index}-contact_field']", label=label)
        page.check(f"input[name='fields-{index}-required']")
    page.select_option("#add-field-type", "goto.webinar.upcoming")
    page.click("button:has-text('+ Add field')")
    settle(page)
    page.fill("input[name='fields-3-label']", "Webinar")
    page.check("input[name='fields-3-required']")
    page.select_option("#add-action-type", "goto.webinar.register")
    page.click("button:has-text('+ Add action')")
    settle(page)
    assert page.locator("select[name='actions-0-c-event']").input_value() == "form"  # visitor selects
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/forms/\d+/$"))

    calls = sandbox.calls.total
    page.goto("/f/spring-launch-sign-up/")
    assert sandbox.calls.total == calls  # the webinars come from Liaison's table, not from GoTo
    page.fill("#id_email", "grace@example.com")
    page.fill("#id_first_name", "Grace")
    page.fill("#id_last_name", "Hopper")
    page.select_option("select[name='webinar']", str(webinar.webinar_key))
    assert "Spring launch — " in page.locator("select[name='webinar'] option:checked").inner_text()
    page.click("button:has-text('Submit')")
    page.wait_for_selector("#form-thanks")

    # GoTo has the registrant (the test task backend ran the action's job); Liaison shows it.
    assert "grace@example.com" in webinar.by_email
    registrant = webinar.registrants[webinar.by_email["grace@example.com"]]
    assert (registrant.first_name, registrant.last_name) == ("Grace", "Hopper")
    registration = Registration.objects.get(email_key="grace@example.com")
    assert registration.source == "form" and registration.join_url
    page.goto(f"/contacts/{registration.contact_id}/")
    timeline = page.locator(".timeline")
    assert "Registered for “Spring launch”" in timeline.inner_text()
    assert "Register to webinar: done" in timeline.inner_text()
    assert timeline.locator(f"a[href='{registration.join_url}']").count() >= 1
