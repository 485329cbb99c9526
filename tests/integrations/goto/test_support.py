"""GoToAssist support workflows against the sandbox: sessions from a contact's page, the join
link shown and e-mailed (real SMTP), connection codes, imported sessions on the timeline
and in the report (filters, CSV), and the monitor."""

from __future__ import annotations

import csv
import io

import pytest

from liaison.contacts.models import Activity, Contact
from liaison.core import jobs
from liaison.emails.models import Send
from liaison.integrations.goto import support
from liaison.integrations.goto.models import AssistSession, ConnectionCode
from tests.factories import EmailFactory
from tests.integrations.goto.conftest import sync

pytestmark = pytest.mark.postgres


@pytest.fixture
def ada(db):
    return Contact.objects.create(email="ada@example.com", email_key="ada@example.com", first_name="Ada",
                                  last_name="Lovelace")


@pytest.fixture
def link_email(db):
    return EmailFactory(name="Your support link", subject="Join your support session",
                        html='<p>Hello {contactfield=first_name},</p><p><a href="{support_session_link}">Join</a></p>'
                             '<p><a href="{unsubscribe_url}">Unsubscribe</a></p>')


def contact_page(client, contact) -> str:
    return client.get(f"/contacts/{contact.pk}/").content.decode()


def test_start_a_session_from_the_contact_page_and_show_the_link(admin_client, account, sandbox, ada):
    page = contact_page(admin_client, ada)
    assert "Start a support session" in page and "Create a connection code" in page
    response = admin_client.post(f"/integrations/goto/assist/contacts/{ada.pk}/start/",
                                 {"integration": account.pk})
    assert response.status_code == 302 and response["Location"] == f"/contacts/{ada.pk}/#goto-assist"
    session = AssistSession.objects.get(contact=ada)
    assert session.partner_object == f"liaison-contact-{ada.pk}"
    assert session.partner_object_url == f"http://testserver/contacts/{ada.pk}/"
    remote = sandbox.state.assist_sessions[session.session_id]
    assert (remote.partner_object, remote.customer_email, remote.customer_name) == (
        f"liaison-contact-{ada.pk}", "ada@example.com", "Ada Lovelace")
    page = contact_page(admin_client, ada)
    assert session.customer_join_url in page and f'data-copy="assist-link-{session.pk}"' in page
    assert "publish a template e-mail containing" in page  # no e-mail can carry the link yet
    entry = Activity.objects.get(contact=ada, kind="goto.assist.requested")
    assert entry.title == "Support session requested by admin" and entry.data["session_id"] == session.session_id
    assert session.customer_join_url in page


def test_a_read_only_user_sees_no_buttons_and_cannot_start(client, reader, account, ada):
    client.force_login(reader)
    assert "Start a support session" not in contact_page(client, ada)
    assert client.post(f"/integrations/goto/assist/contacts/{ada.pk}/start/").status_code == 403
    assert not AssistSession.objects.exists()


def test_e_mail_the_join_link_through_smtp(admin_client, account, sandbox, ada, link_email, smtp_server):
    session = support.start_session(account, ada)
    page = contact_page(admin_client, ada)
    assert "E-mail the link" in page and "Your support link" in page
    url = f"/integrations/goto/assist/sessions/{session.pk}/send-link/"
    admin_client.post(url, {"email": link_email.pk})
    send = Send.objects.get(contact=ada)
    assert send.context == {"goto.assist.join_url": session.customer_join_url,
                            "goto.assist.session": session.session_id}
    jobs.run_job(send.job_id)
    [message] = smtp_server.messages
    assert message.to == "ada@example.com" and message.header("Subject") == "Join your support session"
    assert f'href="{session.customer_join_url}"' in message.html  # personal: never rewritten for tracking
    assert session.customer_join_url in message.text
    # Asking again (a double click) sends nothing more.
    admin_client.post(url, {"email": link_email.pk})
    assert Send.objects.count() == 1
    assert Activity.objects.filter(contact=ada, kind="goto.assist.link_sent").count() == 1
    # An e-mail without the token is refused in words, and nothing is sent.
    plain = EmailFactory(name="Newsletter")
    response = admin_client.post(url, {"email": plain.pk}, follow=True)
    assert "“Newsletter” does not contain {support_session_link}" in response.content.decode()
    assert Send.objects.count() == 1


def test_the_link_token_in_previews_and_for_contacts_without_a_session(ada, link_email, account, sandbox, api,
                                                                       reader):
    from liaison.emails.services import send_email

    preview = api(reader).get(f"/api/emails/{link_email.pk}/preview?contact_id={ada.pk}").json()
    assert "/gotoassist/join/preview" in preview["html"]

    other = Contact.objects.create(email="bob@example.com", email_key="bob@example.com", first_name="Bob")
    send = send_email(link_email, other, dispatch=False)
    jobs.run_job(send.job_id)
    send.refresh_from_db()
    assert send.status == "skipped" and "no open GoToAssist support session" in send.reason
    # Without the send's context, the contact's latest open session is used.
    support.start_session(account, ada)
    send = send_email(link_email, ada, dispatch=False)
    jobs.run_job(send.job_id)
    send.refresh_from_db()
    assert send.status == "sent", send.reason


def test_connection_codes_from_the_contact_page_listed_and_cancelled(admin_client, account, sandbox, ada):
    admin_client.post(f"/integrations/goto/assist/contacts/{ada.pk}/code/", {"integration": account.pk,
                                                                            "valid_minutes": "30"})
    code = ConnectionCode.objects.get(contact=ada)
    assert len(code.code) == 9 and code.session.contact_id == ada.pk
    assert sandbox.state.connection_codes[code.code].session_id == code.session_id_text
    assert (code.expires_at - code.created_at).total_seconds() == 30 * 60
    page = contact_page(admin_client, ada)
    assert code.code in page and "Cancel connection code" in page
    listing = admin_client.get(f"/integrations/goto/{account.pk}/assist/codes/").content.decode()
    assert code.code in listing and f"/contacts/{ada.pk}/" in listing
    admin_client.post(f"/integrations/goto/{account.pk}/assist/codes/{code.code}/cancel/",
                      {"next": f"/contacts/{ada.pk}/"})
    code.refresh_from_db()
    assert code.cancelled_at and sandbox.state.connection_codes[code.code].cancelled_at
    assert f"Cancel connection code {code.code}" not in contact_page(admin_client, ada)
    again = admin_client.post(f"/integrations/goto/{account.pk}/assist/codes/{code.code}/cancel/", follow=True)
    assert f"Connection code {code.code} is not active any more" in again.content.decode()
    bad = admin_client.post(f"/integrations/goto/assist/contacts/{ada.pk}/code/",
                            {"integration": account.pk, "valid_minutes": "0"}, follow=True)
    assert "A code is valid between 1 and 1440 minutes." in bad.content.decode()


def test_without_the_capability_codes_and_monitor_say_so(admin_client, account, sandbox, ada):
    for capability in ("connectionCodes", "agentStatus", "waitingQueue"):
        sandbox.set_g2a_capability(None, capability, False)
    support.capabilities(account, force=True)
    assert "Create a connection code" not in contact_page(admin_client, ada)
    response = admin_client.post(f"/integrations/goto/assist/contacts/{ada.pk}/code/", {"integration": account.pk},
                                 follow=True)
    assert "“Marketing GoTo” does not offer Phone Mode connection codes" in response.content.decode()
    page = admin_client.get(f"/integrations/goto/{account.pk}/assist/codes/").content.decode()
    assert "does not offer Phone Mode connection codes" in page
    monitor = admin_client.get(f"/integrations/goto/{account.pk}/assist/monitor/").content.decode()
    assert "does not offer agents&#x27; status (Monitors API)" in monitor
    assert "does not offer the waiting queue (Monitors API)" in monitor and 'id="agents"' not in monitor


def test_the_monitor_reads_through_a_short_cache(admin_client, account, sandbox, api, reader):
    waiting = sandbox.add_assist_session("Wally Waits", "wally@example.com", portal="Billing")
    sandbox.start_assist_session(waiting.session_id, customer_joins=False)
    page = admin_client.get(f"/integrations/goto/{account.pk}/assist/monitor/").content.decode()
    assert 'hx-trigger="every 15s"' in page and "Wally Waits" in page
    assert '<span class="waiting-count">' in page and 'id="agents"' in page
    organizer = sandbox.default_organizer()
    assert organizer.name in page
    calls = sandbox.calls.total
    fragment = admin_client.get(f"/integrations/goto/{account.pk}/assist/monitor/?fragment=1")
    assert "Wally Waits" in fragment.content.decode() and "<html" not in fragment.content.decode()
    assert sandbox.calls.total == calls  # served from the cache
    body = api(reader).get(f"/api/integrations/goto/assist/monitor?integration={account.pk}").json()
    assert body["queue"]["waiting_count"] >= 1 and body["missing"] == []
    assert any(a["name"] == organizer.name for a in body["agents"])
    assert sandbox.calls.total == calls


def test_imported_sessions_on_the_timeline_and_linked_by_reference(account, sandbox, ada):
    session = support.start_session(account, ada)
    remote = sandbox.state.assist_sessions[session.session_id]
    remote.customer_email = "someone.else@example.com"  # the customer typed another address in GoTo
    remote.portal, remote.custom_fields = "Billing", {"Plan": "Pro"}
    sandbox.start_assist_session(session.session_id, chat=[("Ada", "Hello")])
    sandbox.end_assist_session(session.session_id, resolution="resolved", recording=True)
    sandbox.rate_assist_session(session.session_id, 5, "Great help")
    sync(account, product="assist")
    session.refresh_from_db()
    assert session.contact_id == ada.pk and session.status == "complete"
    assert (session.portal, session.rating, session.feedback, session.resolution) == ("Billing", 5, "Great help",
                                                                                      "resolved")
    assert session.custom_fields == {"Plan": "Pro"} and session.recording_url
    entry = Activity.objects.get(contact=ada, kind="goto.assist.session")
    for key in ("expert_name", "portal", "started_at", "ended_at", "duration_seconds", "resolution", "rating",
                "feedback", "custom_fields", "recording_url"):
        assert entry.data[key] not in (None, "", {}), key
    from django.test import Client

    client = Client()
    client.force_login(account.owner)
    timeline = client.get(f"/contacts/{ada.pk}/").content.decode()
    assert "“Great help”" in timeline and "portal Billing" in timeline and "Plan: Pro" in timeline
    assert "replay" in timeline and "rated 5/5" in timeline


def seed_report(account, sandbox):
    """Three ended sessions with different agents' outcomes."""
    rows = [("Rita Low", "rita@example.com", "Billing", 1, "unresolved", "Still broken"),
            ("Hank High", "hank@example.com", "Sales", 5, "resolved", "=HYPERLINK(\"x\")"),
            ("Mia Mid", "mia@example.com", "Billing", 3, "resolved", "Ok")]
    for name, email, portal, rating, resolution, feedback in rows:
        s = sandbox.add_assist_session(name, email, portal=portal, custom_fields={"Plan": "Pro"})
        sandbox.start_assist_session(s.session_id)
        sandbox.end_assist_session(s.session_id, resolution=resolution)
        sandbox.rate_assist_session(s.session_id, rating, feedback)
    sync(account, product="assist")


def test_the_sessions_report_filters_and_exports(admin_client, account, sandbox, api, reader):
    seed_report(account, sandbox)
    page = admin_client.get("/integrations/goto/assist/report/?portal=Billing&rating_max=2").content.decode()
    assert "Rita Low" in page and "Mia Mid" not in page and "Hank High" not in page
    assert "Still broken" in page and "Plan: Pro" in page
    page = admin_client.get("/integrations/goto/assist/report/?resolution=resolved&rating_min=4").content.decode()
    assert "Hank High" in page and "Rita Low" not in page
    agent = sandbox.default_organizer().name
    assert "Mia Mid" in admin_client.get(f"/integrations/goto/assist/report/?agent={agent[:4]}").content.decode()
    bad = admin_client.get("/integrations/goto/assist/report/?rating_min=9")
    assert bad.status_code == 422 and "A rating from 1 to 5." in bad.content.decode()
    export = admin_client.get("/integrations/goto/assist/report/?portal=Billing&format=csv")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert sorted(r["Customer"] for r in rows) == ["Mia Mid", "Rita Low"]
    row = next(r for r in rows if r["Customer"] == "Rita Low")
    assert (row["Portal"], row["Rating"], row["Resolution"], row["Custom fields"]) == ("Billing", "1", "unresolved",
                                                                                       "Plan: Pro")
    assert row["Agent"] == agent and row["Started (UTC)"] and row["Duration (s)"] != ""
    api_rows = api(reader).get("/api/integrations/goto/assist-sessions?rating_max=1&portal=Billing").json()
    assert [r["customer_name"] for r in api_rows["items"]] == ["Rita Low"]
    assert api_rows["items"][0]["custom_fields"] == {"Plan": "Pro"} and api_rows["items"][0]["portal"] == "Billing"
    exported = api(reader).get("/api/integrations/goto/assist-sessions/export?resolution=resolved")
    text = b"".join(exported.streaming_content).decode()
    assert "Hank High" in text and "Rita Low" not in text
    assert "'=HYPERLINK" in text  # a formula in a cell is neutralised
    assert api(reader).get("/api/integrations/goto/assist-sessions?rating_min=7").status_code == 422


def test_assist_api_start_send_and_codes(api, marketer, account, sandbox, ada, link_email, smtp_server):
    client = api(marketer)
    started = client.post("/api/integrations/goto/assist-sessions", {"contact_id": ada.pk},
                          content_type="application/json")
    assert started.status_code == 201, started.content
    session = started.json()["session"]
    assert session["partner_object"] == f"liaison-contact-{ada.pk}" and session["customer_join_url"]
    sent = client.post(f"/api/integrations/goto/assist-sessions/{session['id']}/send-link",
                       {"email_id": link_email.pk}, content_type="application/json")
    assert sent.status_code == 202 and sent.json()["status"] == "queued"
    jobs.run_job(sent.json()["job_id"])
    assert [m.to for m in smtp_server.messages] == ["ada@example.com"]
    coded = client.post("/api/integrations/goto/assist-sessions", {"contact_id": ada.pk, "connection_code": True,
                                                                   "valid_minutes": 10},
                        content_type="application/json").json()
    assert len(coded["code"]) == 9 and coded["session"]["contact_id"] == ada.pk
    listed = client.get(f"/api/integrations/goto/assist/codes?integration={account.pk}").json()
    assert [(c["code"], c["contact_id"]) for c in listed] == [(coded["code"], ada.pk)]
    assert client.delete(f"/api/integrations/goto/assist/codes/{coded['code']}?integration={account.pk}"
                         ).status_code == 204
    assert client.get(f"/api/integrations/goto/assist/codes?integration={account.pk}").json() == []
    missing = client.post("/api/integrations/goto/assist-sessions", {"contact_id": ada.pk, "integration": 999},
                          content_type="application/json")
    assert missing.status_code == 422 and "integration" in missing.json()["errors"]


def test_the_command_line(account, sandbox, ada, tmp_path, capsys):
    from django.core.management import CommandError, call_command

    seed_report(account, sandbox)
    target = tmp_path / "report.csv"
    call_command("goto_assist", "report", "--csv", str(target), "--portal", "Billing", "--rating-max", "1")
    assert "1 session(s) written" in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["Customer"] for r in rows] == ["Rita Low"]
    code = support.create_code(account, ada)
    call_command("goto_assist", "codes", "--integration", str(account.pk))
    out = capsys.readouterr().out
    assert f"{code.code}  until" in out and "ada@example.com" in out
    call_command("goto_assist", "cancel-code", "--integration", str(account.pk), code.code)
    assert "cancelled" in capsys.readouterr().out
    with pytest.raises(CommandError, match="is not active any more"):
        call_command("goto_assist", "cancel-code", "--integration", str(account.pk), code.code)
    call_command("goto_assist", "check-queue")
    assert "0 rule(s) checked" in capsys.readouterr().out


def test_no_card_without_a_goto_assist_account(admin_client, ada, account):
    from liaison.integrations import services as framework

    assert 'id="goto-assist"' in contact_page(admin_client, ada)
    framework.update_integration(account, features={**account.features, "assist": False})
    assert 'id="goto-assist"' not in contact_page(admin_client, ada)
