"""The core's campaign steps run by the real executor: e-mails, segments, points, fields, forms."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import transaction

from liaison.campaigns import services as campaigns
from liaison.contacts.models import Activity, Contact
from liaison.core import events
from liaison.core.errors import ValidationFailed
from liaison.emails import services as emails
from liaison.emails.models import Send
from liaison.segments.models import Membership, Segment
from tests.campaigns.helpers import audience, campaign, run, runs, statuses
from tests.factories import ContactFactory, EmailFactory

pytestmark = [pytest.mark.django_db]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_send_email_once_per_contact_and_do_not_contact_fails_with_why(clock, smtp_server):
    segment, (ada, bob, cy) = audience("Ada", "Bob", "Cy")
    Contact.objects.filter(pk=cy.pk).update(do_not_contact=True, dnc_reason="Asked by phone")
    email = EmailFactory(name="Welcome")
    found = campaign(segment, [("emails.send", {"email": email.pk})])
    run(found)
    assert sorted(m.to for m in smtp_server.messages) == sorted([ada.email, bob.email])
    assert statuses(found) == {"done": 2, "failed": 1}
    assert runs(found, contact=cy).get().message == "Not sent: Do not contact (Asked by phone)."
    assert runs(found, contact=ada).get().message == "Sent “Welcome”."
    send = Send.objects.get(contact=ada)
    step = found.steps.get()
    assert send.dedupe_key == f"campaign:{found.pk}:step:{step.pk}:enrollment:{runs(found, contact=ada).get().enrollment_id}"
    # asking the service again for the same keys (a re-run after a crash) sends nothing more
    again = emails.queue_sends(email, [ada.pk], keys={ada.pk: send.dedupe_key})
    assert again.created == 0 and again.queued_ids == []
    run(found)
    assert len(smtp_server.messages) == 2


def test_send_email_refuses_a_segment_or_unpublished_email():
    segment, _ = audience("Ada")
    broadcast = EmailFactory(kind="segment", name="Newsletter")
    found = campaign(segment, publish=False)
    with pytest.raises(ValidationFailed) as refused:
        campaigns.add_step(found, {"key": "emails.send", "config": {"email": broadcast.pk}})
    assert "“Newsletter” is a segment e-mail" in str(refused.value.errors)
    draft = EmailFactory(published=False, name="Draft")
    with pytest.raises(ValidationFailed) as refused:
        campaigns.add_step(found, {"key": "emails.send", "config": {"email": draft.pk}})
    assert "“Draft” is not published." in str(refused.value.errors)


def test_field_condition_points_and_segments(clock):
    segment, (ada, bob) = audience("Ada", "Bob")
    Contact.objects.filter(pk=ada.pk).update(city="Lyon")
    hot = Segment.objects.create(name="Hot")
    cold = Segment.objects.create(name="Cold")
    found = campaign(segment, [("segments.field_value", {"field": "contact.city", "operator": "eq", "value": "lyon"}, {}, {
        "yes": [("contacts.points", {"points": 10, "reason": "Lives in Lyon"}),
                ("segments.add", {"segments": [hot.pk]})],
        "no": [("segments.add", {"segments": [cold.pk]}), ("segments.remove", {"segments": [segment.pk]}),
               ("contacts.update_field", {"field": "city", "value": "Elsewhere", "policy": "fill"})]})])
    run(found)
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert (ada.points, bob.points) == (10, 0)
    assert set(Membership.objects.filter(segment=hot).values_list("contact_id", flat=True)) == {ada.pk}
    assert set(Membership.objects.filter(segment=cold).values_list("contact_id", flat=True)) == {bob.pk}
    assert not Membership.objects.filter(segment=segment, contact=bob).exists()
    assert bob.city == "Elsewhere" and ada.city == "Lyon"
    assert Activity.objects.filter(contact=ada, kind="contact.points").exists()
    assert "failed" not in statuses(found)
    tree = campaigns.campaign_tree(found)
    assert tree[0]["summary"].lower().startswith("city")


def test_field_condition_checks_its_operator_and_field():
    segment, _ = audience("Ada")
    found = campaign(segment, publish=False)
    with pytest.raises(ValidationFailed):
        campaigns.add_step(found, {"key": "segments.field_value",
                                   "config": {"field": "no_such_field", "operator": "eq", "value": "x"}})
    with pytest.raises(ValidationFailed):
        campaigns.add_step(found, {"key": "segments.field_value",
                                   "config": {"field": "contact.points", "operator": "gt", "value": "many"}})


def test_in_segment_and_opened_email_conditions(clock, smtp_server):
    segment, (ada, bob) = audience("Ada", "Bob")
    vip = Segment.objects.create(name="VIP")
    from liaison.segments.services import add_static
    add_static(vip, [bob.pk])
    email = EmailFactory()
    with transaction.atomic():
        emails.queue_sends(email, [ada.pk], dedupe_prefix="test")
    send = Send.objects.get(contact=ada)
    Send.objects.filter(pk=send.pk).update(status=Send.Status.SENT)
    assert emails.record_open(send.token)
    other = EmailFactory()
    found = campaign(segment, [
        ("segments.member", {"segments": [vip.pk]}, {}, {"yes": [("contacts.points", {"points": 1})]}),
        ("emails.opened", {"emails": [email.pk]}, {}, {"yes": [("contacts.points", {"points": 100})]}),
        ("emails.opened", {"emails": [other.pk]}, {}, {"yes": [("contacts.points", {"points": 1000})]}),
    ])
    run(found)
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert (ada.points, bob.points) == (100, 1)


def _announce(key, contacts, ref, **data):
    with transaction.atomic():
        events.announce(key, [c.pk for c in contacts], ref=ref, data=data)
    events.dispatch()


def test_opens_and_clicks_decisions(clock):
    segment, (ada, bob) = audience("Ada", "Bob")
    email = EmailFactory()
    found = campaign(segment, [
        ("emails.opens", {"emails": [email.pk]}, {"timeout_amount": 1, "timeout_unit": "days"},
         {"yes": [("contacts.points", {"points": 5})]}),
        ("emails.clicks", {}, {"timeout_amount": 1, "timeout_unit": "days"},
         {"yes": [("contacts.points", {"points": 50})]}),
    ])
    run(found)
    _announce("emails.opened", [ada], "emails:send:1", email_id=email.pk + 1000)  # another e-mail
    _announce("emails.opened", [ada], "emails:send:2", email_id=email.pk)
    _announce("emails.clicked", [bob], "emails:send:3", email_id=email.pk + 1000)  # any e-mail counts
    run(found)
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert (ada.points, bob.points) == (5, 50)


def test_submits_form_starts_a_campaign(clock):
    from liaison.webforms.models import Form

    form = Form.objects.create(name="Contact us", slug="contact-us")
    found = campaign(None, [("contacts.points", {"points": 7})], starts=[
        {"key": "webforms.submits", "config": {"forms": [form.pk]}}])
    ada = ContactFactory()
    _announce("webforms.submitted", [ada], "webforms:submission:1", form_id=form.pk + 1)  # another form
    _announce("webforms.submitted", [ada], "webforms:submission:2", form_id=form.pk, submission_id=2)
    run(found)
    ada.refresh_from_db()
    assert ada.points == 7
