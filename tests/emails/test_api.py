"""The e-mails API: CRUD with validation (422 with field errors), preview, send (202), sends, stats, roles."""

from __future__ import annotations

import json

import pytest

from liaison.emails.models import Email, Send
from tests.factories import ContactFactory, EmailFactory

pytestmark = pytest.mark.django_db

VALID = {"name": "Welcome", "subject": "Hi {contactfield=first_name|there}", "html": "<p>Hello</p>"}


def body(response):
    return json.loads(response.content)


def test_crud(api, marketer):
    c = api(marketer)
    response = c.post("/api/emails", VALID, content_type="application/json")
    assert response.status_code == 201, response.content
    created = body(response)
    assert created["kind"] == "template" and created["published"] and created["created_by_id"] == marketer.pk
    pk = created["id"]
    response = c.patch(f"/api/emails/{pk}", {"subject": "New subject", "reply_to": "help@example.com"},
                       content_type="application/json")
    assert body(response)["subject"] == "New subject" and body(response)["name"] == "Welcome"
    assert body(c.get("/api/emails?q=welc"))["count"] == 1
    assert c.get(f"/api/emails/{pk}").status_code == 200
    assert c.delete(f"/api/emails/{pk}").status_code == 204
    assert c.get(f"/api/emails/{pk}").status_code == 404


@pytest.mark.parametrize("payload, field, message", [
    ({**VALID, "subject": "Hi {first_name}"}, "subject", "{first_name} is not a known token."),
    ({**VALID, "html": "{contactfield}"}, "html", "{contactfield} needs a value: write {contactfield=ALIAS}."),
    ({**VALID, "from_email": "nobody"}, "from_email", "'nobody' is not a valid e-mail address."),
    ({**VALID, "kind": "segment"}, "html", "A segment e-mail must let people unsubscribe: add a link to "
                                            "{unsubscribe_url} in the HTML body."),
    ({**VALID, "subject": "LOUD NEWS"}, "subject", "Example CRM refuses subjects in capitals."),
    ({"subject": "s", "html": "h"}, "name", "Give the e-mail a name."),
    ({**VALID, "subject": "two\nlines"}, "subject", "Write it on one line."),
    ({**VALID, "kind": "newsletter"}, "kind", None),
    ({**VALID, "colour": "red"}, "colour", "Unknown field."),
])
def test_bad_input_is_422_with_field_errors_and_changes_nothing(api, marketer, payload, field, message):
    response = api(marketer).post("/api/emails", payload, content_type="application/json")
    assert response.status_code == 422, response.content
    errors = body(response)["errors"]
    assert field in errors, errors
    if message:
        assert message in errors[field]
    assert not Email.objects.exists()


def test_failed_patch_changes_nothing(api, marketer):
    email = EmailFactory(name="Keep")
    response = api(marketer).patch(f"/api/emails/{email.pk}", {"name": "Changed", "html": "{nope}"},
                                   content_type="application/json")
    assert response.status_code == 422
    email.refresh_from_db()
    assert email.name == "Keep"


def test_preview_for_a_contact(api, reader):
    email = EmailFactory(html='<a href="https://example.com">x</a>')
    contact = ContactFactory(first_name="Ann")
    response = api(reader).get(f"/api/emails/{email.pk}/preview?contact_id={contact.pk}")
    assert response.status_code == 200
    out = body(response)
    assert out["subject"] == "Hello Ann" and 'href="https://example.com"' in out["html"] and out["problems"] == {}
    assert body(api(reader).get(f"/api/emails/{email.pk}/preview"))["subject"] == "Hello Alex"
    assert api(reader).get(f"/api/emails/{email.pk}/preview?contact_id=999999").status_code == 422


def test_send_to_a_contact_is_accepted_and_runs_in_the_background(api, marketer, run_on_commit, smtp_server):
    email = EmailFactory()
    contact = ContactFactory(email="ann@example.com")
    with run_on_commit():
        response = api(marketer).post(f"/api/emails/{email.pk}/send",
                                      {"contact_email": "ANN@example.com", "context": {"form_id": 4},
                                       "dedupe_key": "form:4:submission:9"}, content_type="application/json")
    assert response.status_code == 202, response.content
    out = body(response)
    assert out["send"]["status"] == "queued" and out["job_id"] and out["send"]["context"] == {"form_id": 4}
    assert [m.to for m in smtp_server.messages] == ["ann@example.com"]
    again = api(marketer).post(f"/api/emails/{email.pk}/send", {"contact_id": contact.pk,
                                                               "dedupe_key": "form:4:submission:9"},
                               content_type="application/json")
    assert body(again)["send"]["id"] == out["send"]["id"] and body(again)["send"]["status"] == "sent"
    sends = body(api(marketer).get(f"/api/emails/{email.pk}/sends?status=sent"))
    assert sends["count"] == 1 and sends["items"][0]["to_email"] == "ann@example.com"
    assert body(api(marketer).get(f"/api/sends?contact={contact.pk}"))["count"] == 1
    assert body(api(marketer).get(f"/api/sends/{out['send']['id']}"))["links"] == ["https://example.com/news"]
    stats = body(api(marketer).get(f"/api/emails/{email.pk}/stats"))
    assert stats["sent"] == 1 and stats["opened"] == 0 and stats["links"] == []


@pytest.mark.parametrize("payload, field", [
    ({}, "contact_email"),
    ({"contact_id": 999999}, "contact_id"),
    ({"contact_email": "nobody@example.com"}, "contact_email"),
    ({"contact_id": 1, "dedupe_key": ""}, "dedupe_key"),
    ({"contact_id": 1, "extra": 1}, "extra"),
])
def test_bad_send_requests(api, marketer, payload, field):
    email = EmailFactory()
    ContactFactory(id=1)
    response = api(marketer).post(f"/api/emails/{email.pk}/send", payload, content_type="application/json")
    assert response.status_code == 422 and field in body(response)["errors"], body(response)
    assert not Send.objects.exists()


def test_segment_emails_are_not_sent_one_by_one(api, marketer):
    email = EmailFactory(kind="segment")
    contact = ContactFactory()
    response = api(marketer).post(f"/api/emails/{email.pk}/send", {"contact_id": contact.pk},
                                  content_type="application/json")
    assert response.status_code == 422 and "segment e-mail" in body(response)["errors"]["email"][0]


def test_test_message(api, marketer, run_on_commit, smtp_server):
    email = EmailFactory()
    with run_on_commit():
        response = api(marketer).post(f"/api/emails/{email.pk}/test", {"to": "me@example.com"},
                                      content_type="application/json")
    assert response.status_code == 202 and body(response)["job_id"]
    assert smtp_server.messages[0].header("Subject").startswith("[Test]")


def test_tokens_catalogue(api, reader):
    tokens = {t["key"]: t for t in body(api(reader).get("/api/emails/tokens"))}
    assert tokens["contactfield"]["syntax"] == "{contactfield=ALIAS}" and tokens["unsubscribe_url"]["is_link"]
    assert tokens["example_join"]["group"] == "Example CRM"


def test_read_only_role_is_refused_changes(api, reader):
    email = EmailFactory()
    contact = ContactFactory()
    c = api(reader)
    assert c.get("/api/emails").status_code == 200
    assert c.post("/api/emails", VALID, content_type="application/json").status_code == 403
    assert c.patch(f"/api/emails/{email.pk}", {"name": "x"}, content_type="application/json").status_code == 403
    assert c.delete(f"/api/emails/{email.pk}").status_code == 403
    assert c.post(f"/api/emails/{email.pk}/send", {"contact_id": contact.pk},
                  content_type="application/json").status_code == 403
    assert Email.objects.get().name == email.name and not Send.objects.exists()


SEGMENT_HTML = '<p>News</p><p><a href="{unsubscribe_url}">Unsubscribe</a></p>'


def test_broadcast_through_the_api(api, marketer, smtp_server, run_on_commit):
    from liaison.segments import services as segments

    people = [ContactFactory() for _ in range(3)]
    seg = segments.save_segment({"name": "Readers"})
    segments.add_static(seg, [p.pk for p in people])
    c = api(marketer)
    assert {"key": "segments.segment", "label": "Segments", "group": "Segments",
            "description": "The members of the chosen segments (marketing lists)."} in body(c.get("/api/emails/audiences"))
    response = c.post("/api/emails", {**VALID, "html": SEGMENT_HTML, "kind": "segment",
                                      "audiences": [{"audience": "segments.segment", "values": ["424242"]}]},
                      content_type="application/json")
    assert response.status_code == 422 and body(response)["errors"] == {"audiences": ["Segments: #424242 does not exist."]}
    response = c.post("/api/emails", {**VALID, "html": SEGMENT_HTML, "kind": "segment",
                                      "audiences": [{"audience": "segments.segment", "values": [str(seg.pk)]}]},
                      content_type="application/json")
    assert response.status_code == 201, response.content
    pk = body(response)["id"]
    assert body(response)["audiences"] == [{"audience": "segments.segment", "values": [str(seg.pk)]}]
    before = body(c.get(f"/api/emails/{pk}/broadcast"))
    assert before["status"] == "draft" and before["recipients"]["to_send"] == 3
    assert before["audiences"] == ["Segments: Readers"]
    assert c.post(f"/api/emails/{pk}/broadcast/resume").status_code == 400  # nothing to resume yet
    with run_on_commit():
        response = c.post(f"/api/emails/{pk}/broadcast")
    assert response.status_code == 202, response.content
    after = body(c.get(f"/api/emails/{pk}/broadcast"))
    assert after["status"] == "finished" and after["stats"]["sent"] == 3 and after["recipients"]["already"] == 3
    assert after["progress_current"] == after["progress_total"] == 3
    assert len(smtp_server.messages) == 3
    assert c.post(f"/api/emails/{pk}/broadcast/pause").status_code == 400
    assert body(c.post(f"/api/emails/{pk}/broadcast/cancel"))["detail"].startswith("Only a broadcast")


def test_a_template_email_cannot_be_broadcast(api, marketer):
    email = EmailFactory()
    response = api(marketer).post(f"/api/emails/{email.pk}/broadcast")
    assert response.status_code == 422 and "Only segment e-mails" in body(response)["errors"]["email"][0]
