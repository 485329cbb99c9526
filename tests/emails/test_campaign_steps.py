from datetime import UTC, datetime

import pytest
from django.utils import timezone

from liaison.contacts.models import Contact
from liaison.core.contributions import CampaignStep, ContactEvent, StepTarget
from liaison.core.registry import registry
from liaison.emails.models import Send
from tests.factories import ContactFactory, EmailFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def step(key):
    return registry.get(CampaignStep, key)


def test_send_email_once_per_dedupe_key_and_do_not_contact():
    email = EmailFactory(name="Welcome")
    a, b = ContactFactory(), ContactFactory(do_not_contact=True, dnc_reason="unsubscribed")
    send = step("emails.send")
    targets = [StepTarget(contact=c, dedupe_key=f"campaign:1:step:2:enrollment:{c.pk}",
                          context={"goto": {"product": "webinar"}}) for c in (a, b)]
    results = send.run(targets, send.parse({"email": email.pk}))
    assert results[0].ok and "Welcome" in results[0].message
    assert not results[1].ok and "Do not contact (unsubscribed)" in results[1].message
    again = send.run(targets, send.parse({"email": email.pk}))
    assert [r.ok for r in again] == [True, False]  # the re-run reports the same outcome, sends nothing new
    assert Send.objects.filter(email=email).count() == 2
    assert Send.objects.get(contact=a).context == {"goto": {"product": "webinar"}}
    segment_email = EmailFactory(kind="segment")
    assert send.check(send.parse({"email": segment_email.pk}))
    assert not send.check(send.parse({"email": email.pk}))


def test_opened_condition_and_decisions():
    e1, e2 = EmailFactory(), EmailFactory()
    a, b = ContactFactory(), ContactFactory()
    Send.objects.create(email=e1, contact=a, to_email=a.email, status="sent", opened_at=timezone.now())
    Send.objects.create(email=e2, contact=b, to_email=b.email, status="sent")
    opened = step("emails.opened")
    ids = [a.pk, b.pk]

    def yes(config):
        return set(Contact.objects.filter(pk__in=ids).filter(opened.to_q(opened.parse(config))).values_list("pk", flat=True))

    assert yes({}) == {a.pk}
    assert yes({"emails": [e2.pk]}) == set()
    event = ContactEvent(key="emails.clicked", contact_ids=(a.pk,), occurred_at=datetime.now(UTC), ref="x",
                         data={"email_id": e1.pk})
    clicks, opens = step("emails.clicks"), step("emails.opens")
    assert clicks.matches(clicks.parse({"emails": [e1.pk]}), event)
    assert not clicks.matches(clicks.parse({"emails": [e2.pk]}), event)
    assert not opens.matches(opens.parse({}), event)
