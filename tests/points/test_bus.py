"""From the fact to the trigger's actions, through the real event bus and jobs."""

from __future__ import annotations

import pytest
from django.db import transaction

from liaison.contacts.models import Activity, Contact
from liaison.core import events
from liaison.points import services
from liaison.points.models import PointAward, TriggerFiring
from tests.factories import ContactFactory
from tests.points.conftest import push

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_an_announced_fact_scores_fires_the_trigger_and_a_redelivery_scores_nothing(crm):
    ann = ContactFactory()
    services.save_rule({"name": "Right wave", "event": "tests.waved", "subjects": ["right"], "points": 10})
    services.save_trigger({"name": "Hot lead", "threshold": 20, "actions": [push()]})
    for ref in ("wave:1", "wave:2", "wave:2"):  # the second fact announced twice
        with transaction.atomic():
            events.announce("tests.waved", [ann.pk], ref=ref, data={"hand": "right"})
    with transaction.atomic():
        events.announce("tests.waved", [ann.pk], ref="wave:3", data={"hand": "left"})  # another subject
    assert Contact.objects.get(pk=ann.pk).points == 20
    assert PointAward.objects.count() == 2
    firing = TriggerFiring.objects.get()
    assert firing.status == "succeeded" and firing.points == 20
    assert [c["email"] for c in crm.CALLS] == [ann.email]
    kinds = list(Activity.objects.filter(contact=ann).order_by("pk").values_list("kind", flat=True))
    assert kinds == ["contact.points", "contact.points", "points.trigger"]
    # The whole batch again, e.g. after a crash before the dispatch was marked: nothing changes.
    from liaison.core.models import EventRecord

    EventRecord.objects.update(dispatched_at=None)
    events.dispatch()
    assert Contact.objects.get(pk=ann.pk).points == 20 and TriggerFiring.objects.count() == 1


def test_opening_this_email_scores_once_per_send_and_other_emails_score_nothing(client):
    from liaison.emails import services as emails
    from liaison.emails.models import Send
    from tests.factories import EmailFactory

    newsletter, other = EmailFactory(name="Newsletter"), EmailFactory(name="Other")
    ann = ContactFactory(first_name="Ann")
    rule = services.save_rule({"name": "Reads the newsletter", "event": "emails.opened", "points": 3,
                               "subjects": [str(newsletter.pk)]})
    assert services.describe_rule(rule) == "+3 when opens an e-mail (e-mail: Newsletter (template e-mail))"
    for email in (newsletter, other):
        queued = emails.queue_sends(email, [ann.pk], dedupe_prefix=f"points-test-{email.pk}")
        emails.deliver(queued.queued_ids)
    for send in Send.objects.filter(contact=ann):
        client.get(f"/t/o/{send.token}.gif")
        client.get(f"/t/o/{send.token}.gif")  # opened again: the same fact
    assert Contact.objects.get(pk=ann.pk).points == 3
    assert PointAward.objects.get().event_ref == f"emails:send:{Send.objects.get(email=newsletter).pk}"
