"""GoToAssist from a contact's page in the browser: start a support session, see and copy the
customer's join link, e-mail it; then the monitor page and its queue."""

from __future__ import annotations

import httpx
import pytest

from liaison.contacts.models import Contact
from liaison.core.http import transports
from liaison.emails.models import Send
from tests.factories import EmailFactory
from tests.integrations.goto.conftest import API, connect, create_account, make_sandbox


@pytest.fixture
def goto_account(signed_in, monkeypatch):
    from django.contrib.auth import get_user_model

    monkeypatch.setattr("liaison.integrations.goto.client.REQUESTS_PER_SECOND", 10_000)
    sandbox = make_sandbox()
    with transports.mounted(API, httpx.WSGITransport(app=sandbox)):
        account = create_account(get_user_model().objects.get(username="e2e-admin"), name="Support desk")
        connect(account, sandbox)
        yield account, sandbox


def test_start_a_session_and_e_mail_the_link(signed_in, goto_account):
    page = signed_in
    account, sandbox = goto_account
    contact = Contact.objects.create(email="grace@example.com", email_key="grace@example.com", first_name="Grace",
                                     last_name="Hopper")
    EmailFactory(name="Support link", html='<p><a href="{support_session_link}">Join</a></p>'
                                           '<p><a href="{unsubscribe_url}">Unsubscribe</a></p>')
    page.goto(f"/contacts/{contact.pk}/")
    page.click("#goto-assist >> button:has-text('Start a support session')")
    page.wait_for_selector("text=give Grace Hopper the join link below")
    link = page.locator("#goto-assist .mono").first.inner_text()
    assert "/gotoassist/join/" in link
    page.select_option("#goto-assist select[name=email]", label="Support link")
    page.click("#goto-assist >> button:has-text('E-mail the link')")
    page.wait_for_selector("text=with the join link is queued for grace@example.com")
    assert Send.objects.get(contact=contact).context["goto.assist.join_url"] == link
    assert "Support session requested" in page.locator(".timeline").inner_text()

    waiting = sandbox.add_assist_session("Wally Waits", "wally@example.com", portal="Billing")
    sandbox.start_assist_session(waiting.session_id, customer_joins=False)
    page.goto(f"/integrations/goto/{account.pk}/assist/monitor/")
    assert "Wally Waits" in page.locator("#waiting-queue").inner_text()
    assert page.locator("#agents tbody tr").count() >= 1
