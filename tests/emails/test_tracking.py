"""Open pixel, click tracking (a link never resolves to another contact), unsubscribe, web view, hooks."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from liaison.contacts.models import Activity
from liaison.emails import services, signals
from liaison.emails.models import Click, Send
from tests.factories import ContactFactory, EmailFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

HTML = ('<p>Hi {contactfield=first_name}</p><a href="https://example.com/offer?c={contactfield=first_name}">Offer</a>'
        '<a href="https://example.com/shared">Shared</a><a href="{webview_url}">View</a>'
        '<a href="{unsubscribe_url}">Unsubscribe</a>')


@pytest.fixture
def two_sends(deliver):
    email = EmailFactory(html=HTML)
    ann, bob = ContactFactory(first_name="Ann"), ContactFactory(first_name="Bob")
    with deliver():
        queued = services.queue_sends(email, [ann.pk, bob.pk], dedupe_prefix="test")
        services.deliver(queued.queued_ids)
    return Send.objects.get(contact=ann), Send.objects.get(contact=bob)


@pytest.fixture
def heard():
    events = []

    def listen(**kwargs):
        events.append((kwargs.pop("signal"), kwargs))

    hooks = (signals.email_opened, signals.email_clicked, signals.email_unsubscribed)
    for signal in hooks:
        signal.connect(listen, weak=False)
    yield events
    for signal in hooks:
        signal.disconnect(listen)


def test_each_click_url_resolves_only_to_its_own_contacts_link(client, two_sends, heard, run_on_commit):
    ann, bob = two_sends
    assert ann.links[0] == "https://example.com/offer?c=Ann" and bob.links[0] == "https://example.com/offer?c=Bob"
    with run_on_commit():
        response = client.get(f"/t/c/{ann.token}/0/")
    assert response.status_code == 302 and response["Location"] == "https://example.com/offer?c=Ann"
    # Bob's token with the same index leads to Bob's own link, never Ann's.
    assert client.get(f"/t/c/{bob.token}/0/")["Location"] == "https://example.com/offer?c=Bob"
    assert client.get(f"/t/c/{ann.token}/1/")["Location"] == "https://example.com/shared"
    assert client.get(f"/t/c/{ann.token}/2/").status_code == 404  # Ann's send has two links
    assert client.get("/t/c/NoSuchTokenAtAll0000/0/").status_code == 404
    ann.refresh_from_db()
    assert ann.click_count == 2 and ann.clicked_at and ann.opened_at  # a click proves the open
    assert Click.objects.filter(send=ann).count() == 2
    kinds = list(Activity.objects.filter(contact=ann.contact, kind__startswith="emails.").values_list("kind",
                                                                                                       flat=True))
    assert sorted(kinds) == ["emails.clicked", "emails.clicked", "emails.opened", "emails.sent"]
    clicked = [e for s, e in heard if s is signals.email_clicked]
    assert clicked[0] == {"sender": Send, "send_id": ann.pk, "email_id": ann.email_id, "contact_id": ann.contact_id,
                          "context": {}, "link": 0, "url": "https://example.com/offer?c=Ann", "first": True}
    assert [s for s, _ in heard][:2] == [signals.email_opened, signals.email_clicked]


def test_the_same_link_twice_is_one_timeline_entry(client, two_sends):
    ann, _ = two_sends
    client.get(f"/t/c/{ann.token}/0/")
    client.get(f"/t/c/{ann.token}/0/")
    assert Activity.objects.filter(kind="emails.clicked", contact=ann.contact).count() == 1
    ann.refresh_from_db()
    assert ann.click_count == 2


def test_open_pixel_counts_and_records_once(client, two_sends, heard, run_on_commit):
    ann, bob = two_sends
    with run_on_commit():
        response = client.get(f"/t/o/{ann.token}.gif")
        client.get(f"/t/o/{ann.token}.gif")
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a") and "no-cache" in response["Cache-Control"]
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert ann.open_count == 2 and ann.opened_at and bob.open_count == 0
    assert Activity.objects.filter(kind="emails.opened").count() == 1
    assert [e["first"] for s, e in heard if s is signals.email_opened] == [True, False]
    assert client.get("/t/o/unknownunknown.gif").status_code == 200  # same image, nothing counted


def test_unsubscribe_page_then_post_sets_do_not_contact(client, two_sends, heard, run_on_commit):
    ann, bob = two_sends
    page = client.get(f"/u/{ann.token}/")
    assert page.status_code == 200 and b"Stop all e-mails to" in page.content
    with run_on_commit():
        done = client.post(f"/u/{ann.token}/")
    assert b"You are unsubscribed" in done.content and b"Undo" in done.content
    ann.refresh_from_db()
    contact = ann.contact
    contact.refresh_from_db()
    assert contact.do_not_contact and contact.dnc_reason == f"Unsubscribed from “{ann.email.name}”"
    assert contact.dnc_at and ann.unsubscribed_at
    assert Activity.objects.filter(contact=contact, kind="emails.unsubscribed").count() == 1
    assert Activity.objects.filter(contact=contact, kind="contact.do_not_contact").count() == 1
    assert [s for s, _ in heard] == [signals.email_unsubscribed]
    assert not bob.contact.do_not_contact
    # A later send to Ann is skipped with the reason.
    send = services.send_email(EmailFactory(), contact)
    assert send.status == "skipped" and "Unsubscribed from" in send.reason
    assert b"already unsubscribed" in client.get(f"/u/{ann.token}/").content


def test_one_click_unsubscribe_answers_without_a_page(client, two_sends):
    ann, _ = two_sends
    response = client.post(f"/u/{ann.token}/", "List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.content == b"Unsubscribed.\n"
    ann.contact.refresh_from_db()
    assert ann.contact.do_not_contact
    assert client.post("/u/NoSuchTokenAtAll0000/", "List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded").status_code == 404


def test_undo_unsubscribe_within_minutes_only(client, two_sends):
    ann, bob = two_sends
    client.post(f"/u/{ann.token}/")
    response = client.post(f"/u/{ann.token}/undo/")
    assert b"Welcome back" in response.content
    ann.contact.refresh_from_db()
    assert not ann.contact.do_not_contact
    client.post(f"/u/{bob.token}/")
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = client.post(f"/u/{bob.token}/undo/")
    bob.contact.refresh_from_db()
    assert bob.contact.do_not_contact and b"already unsubscribed" in response.content


def test_web_view_shows_the_message_as_sent(client, two_sends):
    ann, bob = two_sends
    email = ann.email
    ann.contact.first_name = "Changed"
    ann.contact.save()
    email.html = "<p>Edited after sending</p>"
    email.save()
    response = client.get(f"/v/{ann.token}/")
    body = response.content.decode()
    assert response.status_code == 200 and "script-src 'none'" in response["Content-Security-Policy"]
    assert "Hi Ann" in body and "Edited" not in body and "Changed" not in body
    assert f'href="http://testserver/t/c/{ann.token}/0/"' in body  # links still tracked for this send
    assert f'href="http://testserver/u/{ann.token}/"' in body
    assert "/t/o/" not in body  # reading it in the browser is not an open
    assert "Hi Bob" in client.get(f"/v/{bob.token}/").content.decode()
    assert client.get("/v/NoSuchTokenAtAll0000/").status_code == 404


def test_preview_links_lead_to_an_explanation(client):
    assert b"comes from a preview or a test" in client.get("/u/preview/").content
    assert b"comes from a preview or a test" in client.get("/v/preview/").content


def test_tracking_endpoints_need_no_login_but_the_ui_does(client, two_sends):
    ann, _ = two_sends
    assert client.get(f"/emails/{ann.email_id}/").status_code == 302
    assert client.get(f"/v/{ann.token}/").status_code == 200


def test_timeline_shows_email_entries(marketer_client, two_sends, client):
    ann, _ = two_sends
    client.get(f"/t/c/{ann.token}/0/")
    page = marketer_client.get(f"/contacts/{ann.contact_id}/").content.decode()
    assert "E-mail sent" in page and "Link clicked" in page and "E-mail opened" in page
    assert "https://example.com/offer?c=Ann" in page and f"/v/{ann.token}/" in page
    assert 'id="contact-emails"' in page and "Send an e-mail" in page


def test_opens_clicks_and_sends_are_announced_on_the_contact_event_bus(client, two_sends):
    from liaison.core.models import EventRecord

    ann, bob = two_sends
    sent = EventRecord.objects.get(key="emails.sent")
    assert sorted(sent.contact_ids) == sorted([ann.contact_id, bob.contact_id])
    assert sent.ref == f"emails:email:{ann.email_id}" and sent.data == {"email_id": ann.email_id}
    client.get(f"/t/o/{ann.token}.gif")
    client.get(f"/t/o/{ann.token}.gif")  # a second open is not a new fact
    client.get(f"/t/c/{ann.token}/0/")
    client.get(f"/t/c/{ann.token}/1/")  # another link of the same send: still one "clicked" fact
    opened, = EventRecord.objects.filter(key="emails.opened")
    assert opened.contact_ids == [ann.contact_id] and opened.ref == f"emails:send:{ann.pk}"
    assert opened.data == {"email_id": ann.email_id, "send_id": ann.pk, "send_context": ann.context}
    clicked, = EventRecord.objects.filter(key="emails.clicked")
    assert clicked.ref == f"emails:send:{ann.pk}" and clicked.data["url"] == "https://example.com/offer?c=Ann"
