"""The e-mail pages: list with counts, editor with errors next to fields, preview, sending, roles."""

from __future__ import annotations

import pytest

from liaison.core.models import Job
from liaison.emails import services
from liaison.emails.models import Email, Send
from tests.factories import ContactFactory, EmailFactory

pytestmark = pytest.mark.django_db

VALID = {"name": "Welcome", "kind": "template", "subject": "Welcome {contactfield=first_name|friend}",
         "html": '<p>Hi</p><a href="https://example.com">Site</a>', "published": "1"}


def test_create_shows_errors_next_to_fields_and_keeps_input(marketer_client):
    response = marketer_client.post("/emails/new/", {**VALID, "subject": "Hi {firstname}", "from_email": "nope",
                                                     "html": "<p>{contactfield=shoe_size}</p>"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "{firstname} is not a known token." in html
    assert "there is no contact field “shoe_size”" in html
    assert "&#x27;nope&#x27; is not a valid e-mail address." in html
    assert 'value="Welcome"' in html and not Email.objects.exists()


def test_create_then_edit(marketer_client, marketer):
    response = marketer_client.post("/emails/new/", VALID)
    email = Email.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/emails/{email.pk}/"
    assert email.created_by == marketer and email.published
    response = marketer_client.post(f"/emails/{email.pk}/edit/", {**VALID, "name": "Welcome 2"})
    email.refresh_from_db()
    assert email.name == "Welcome 2" and not email.text
    response = marketer_client.post(f"/emails/{email.pk}/edit/", {**VALID, "kind": "segment"})
    assert response.status_code == 422 and "must let people unsubscribe" in response.content.decode()
    email.refresh_from_db()
    assert email.kind == "template" and email.name == "Welcome 2"


def test_registry_validator_message_shows_next_to_its_field(marketer_client):
    response = marketer_client.post("/emails/new/", {**VALID, "subject": "BIG NEWS"})
    assert response.status_code == 422
    assert "Example CRM refuses subjects in capitals." in response.content.decode()


def test_editor_lists_core_and_registry_tokens(marketer_client):
    html = marketer_client.get("/emails/new/").content.decode()
    for token in ("{contactfield=ALIAS}", "{unsubscribe_url}", "{webview_url}", "{date}", "Example CRM join button"):
        assert token in html
    assert 'value="{contactfield=first_name}"' in html and 'value="{example_join=spring}"' in html


def test_live_preview_of_unsaved_work_for_a_chosen_contact(marketer_client):
    ContactFactory(email="ann@example.com", first_name="Ann")
    response = marketer_client.post("/emails/preview/", {**VALID, "preview_contact": "ann@example.com"})
    html = response.content.decode()
    assert "Welcome Ann" in html and "srcdoc=" in html and 'sandbox=""' in html
    assert "&lt;a href=&quot;https://example.com&quot;&gt;" in html  # untracked in previews
    sample = marketer_client.post("/emails/preview/", VALID).content.decode()
    assert "Welcome Alex" in sample
    broken = marketer_client.post("/emails/preview/", {**VALID, "html": "{nope}"}).content.decode()
    assert "cannot be sent as it is" in broken and "{nope} is not a known token." in broken
    unknown = marketer_client.post("/emails/preview/", {**VALID, "preview_contact": "who@x.org"}).content.decode()
    assert "No contact has the address" in unknown


def test_contact_search_fills_the_picker(marketer_client):
    ContactFactory(email="ann@example.com", first_name="Ann", last_name="Lee")
    ContactFactory(email="bob@example.com", first_name="Bob", last_name="Brown")  # a random "An…" would match
    html = marketer_client.get("/emails/contacts/?q=an").content.decode()
    assert 'value="ann@example.com"' in html and "bob@" not in html


def test_list_shows_counts(marketer_client, run_on_commit):
    email = EmailFactory(name="Newsletter")
    contacts = ContactFactory.create_batch(3)
    with run_on_commit():
        for contact in contacts:
            services.send_email(email, contact)
    Send.objects.filter(pk=Send.objects.first().pk).update(opened_at="2025-01-01T00:00:00Z")
    html = marketer_client.get("/emails/").content.decode()
    assert "Newsletter" in html
    assert '<td class="num">3</td>\n      <td class="num">1</td>\n      <td class="num">0</td>' in html


def test_send_to_a_contact_from_the_email_page(marketer_client, run_on_commit, smtp_server):
    email = EmailFactory()
    contact = ContactFactory(email="ann@example.com")
    with run_on_commit():
        response = marketer_client.post(f"/emails/{email.pk}/send/", {"contact": "Ann@Example.com"})
    assert response.status_code == 302
    assert [m.to for m in smtp_server.messages] == ["ann@example.com"]
    page = marketer_client.get(f"/emails/{email.pk}/").content.decode()
    assert "ann@example.com" in page and "Sent" in page
    bad = marketer_client.post(f"/emails/{email.pk}/send/", {"contact": "nobody@example.com"})
    assert bad.status_code == 422 and "No contact has the address" in bad.content.decode()
    assert Send.objects.filter(contact=contact).count() == 1


def test_send_log_filters_by_status_and_pages(marketer_client):
    email = EmailFactory()
    contacts = ContactFactory.create_batch(55)
    queued = services.queue_sends(email, [c.pk for c in contacts], dedupe_prefix="x")
    Send.objects.filter(pk__in=queued.send_ids[:5]).update(status="failed", reason="Refused by the mail server")
    page = marketer_client.get(f"/emails/{email.pk}/?status=failed").content.decode()
    assert page.count("Refused by the mail server") == 5
    all_sends = marketer_client.get(f"/emails/{email.pk}/").content.decode()
    assert "Page 1 of 2" in all_sends


def test_send_a_test(marketer_client, run_on_commit, smtp_server):
    email = EmailFactory()
    with run_on_commit():
        response = marketer_client.post(f"/emails/{email.pk}/test/", {"to": "me@example.com"})
    assert response.status_code == 302 and smtp_server.messages[0].header("Subject") == "[Test] Hello Alex"
    bad = marketer_client.post(f"/emails/{email.pk}/test/", {"to": "me"})
    assert bad.status_code == 422 and "is not a valid e-mail address" in bad.content.decode()


def test_send_from_the_contact_page(marketer_client, run_on_commit, smtp_server):
    email = EmailFactory(name="Follow-up")
    EmailFactory(name="Broadcast", kind="segment")
    contact = ContactFactory(email="zoe@example.com")
    form = marketer_client.get(f"/emails/send/?contact={contact.pk}").content.decode()
    assert "Follow-up" in form and "Broadcast" not in form
    missing = marketer_client.post("/emails/send/", {"contact": contact.pk, "email": ""})
    assert missing.status_code == 422 and "Choose an e-mail." in missing.content.decode()
    with run_on_commit():
        response = marketer_client.post("/emails/send/", {"contact": contact.pk, "email": email.pk})
    assert response["Location"] == f"/contacts/{contact.pk}/"
    assert [m.to for m in smtp_server.messages] == ["zoe@example.com"]
    detail = marketer_client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Hello" in detail and f"/emails/send/?contact={contact.pk}" in detail


def test_send_detail_and_contact_sends(marketer_client, run_on_commit):
    contact = ContactFactory()
    with run_on_commit():
        send = services.send_email(EmailFactory(), contact, context={"campaign_id": 3})
    send.refresh_from_db()
    html = marketer_client.get(f"/emails/sends/{send.pk}/").content.decode()
    assert "https://example.com/news" in html and "campaign_id" in html and "srcdoc=" in html
    assert "Hello" in marketer_client.get(f"/emails/contact/{contact.pk}/").content.decode()


def test_delete_asks_first_and_removes_the_log(marketer_client, run_on_commit):
    email = EmailFactory()
    with run_on_commit():
        services.send_email(email, ContactFactory())
    page = marketer_client.get(f"/emails/{email.pk}/").content.decode()
    assert "data-confirm=\"Delete" in page
    marketer_client.post(f"/emails/{email.pk}/delete/")
    assert not Email.objects.exists() and not Send.objects.exists()


def test_read_only_users_look_but_do_not_change(client, reader):
    email = EmailFactory()
    contact = ContactFactory()
    client.force_login(reader)
    assert client.get("/emails/").status_code == 200
    assert client.get(f"/emails/{email.pk}/").status_code == 200
    assert "Send to a contact" not in client.get(f"/emails/{email.pk}/").content.decode()
    for url, data in ((f"/emails/{email.pk}/send/", {"contact": contact.email}), ("/emails/new/", VALID),
                      (f"/emails/{email.pk}/delete/", {}), (f"/emails/{email.pk}/test/", {"to": "a@b.co"})):
        assert client.post(url, data).status_code == 403
    assert Email.objects.count() == 1 and not Send.objects.exists() and not Job.objects.exists()
    assert "Send an e-mail" not in client.get(f"/contacts/{contact.pk}/").content.decode()


def test_broadcast_from_the_ui(marketer_client, reader, client, smtp_server, run_on_commit):
    from liaison.contacts.services import set_do_not_contact
    from liaison.emails.models import Broadcast
    from liaison.segments import services as segments

    people = [ContactFactory() for _ in range(3)]
    set_do_not_contact(people[2], True, "Asked by phone")
    seg = segments.save_segment({"name": "Readers"})
    segments.add_static(seg, [p.pk for p in people])
    editor = marketer_client.get("/emails/new/?kind=segment").content.decode()
    assert 'name="audience:segments.segment"' in editor and f'<option value="{seg.pk}">Readers</option>' in editor
    html = '<p>News</p><a href="{unsubscribe_url}">Unsubscribe</a>'
    response = marketer_client.post("/emails/new/", {**VALID, "kind": "segment", "html": html,
                                                     "audience:segments.segment": [str(seg.pk)]})
    assert response.status_code == 302, response.content.decode()
    email = Email.objects.get()
    assert email.audience_targets() == [("segments.segment", [str(seg.pk)])]
    edit = marketer_client.get(f"/emails/{email.pk}/edit/").content.decode()
    assert f'<option value="{seg.pk}" selected>Readers</option>' in edit
    page = marketer_client.get(f"/emails/{email.pk}/").content.decode()
    assert 'id="broadcast"' in page and "<strong>2</strong> new" in page and "1 do not contact" in page
    assert 'data-confirm="Send “Welcome” to 2 contact(s) now?"' in page
    # Sending: the card polls its fragment while the job runs.
    with run_on_commit():
        response = marketer_client.post(f"/emails/{email.pk}/broadcast/start/")
    assert response.status_code == 302
    assert Broadcast.objects.get(email=email).status == "finished" and len(smtp_server.messages) == 2
    broadcast = Broadcast.objects.get(email=email)
    Broadcast.objects.filter(email=email).update(status="running")
    fragment = marketer_client.get(f"/emails/{email.pk}/broadcast/").content.decode()
    assert "Interrupted" in fragment and ">Resume</button>" in fragment  # marked sending, its job is over
    Job.objects.filter(pk=broadcast.job_id).update(status="running")
    fragment = marketer_client.get(f"/emails/{email.pk}/broadcast/").content.decode()
    assert 'hx-trigger="every 2s"' in fragment and ">Pause</button>" in fragment
    Broadcast.objects.filter(email=email).update(status="finished")
    Job.objects.filter(pk=broadcast.job_id).update(status="succeeded")
    fragment = marketer_client.get(f"/emails/{email.pk}/broadcast/").content.decode()
    assert "every 2s" not in fragment and "Send to new members (0)" in fragment
    assert '<td class="num">2</td>' in fragment
    listing = marketer_client.get("/emails/").content.decode()
    assert "Segment e-mail" in listing and ">Sent</span>" in listing
    response = marketer_client.post(f"/emails/{email.pk}/broadcast/pause/", follow=True)
    assert "Only a broadcast being sent can be paused." in response.content.decode()
    client.force_login(reader)
    assert client.post(f"/emails/{email.pk}/broadcast/start/").status_code == 403
