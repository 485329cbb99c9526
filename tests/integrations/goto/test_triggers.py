"""Trigger events ("a training is created", "a registrant is added"): emitted exactly once per
new fact, wherever it is stored (sync, GoTo webhooks, Liaison's own registrations), as
signals after the commit and as signed pushes to the connector's subscriptions."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.db import transaction
from django.utils import timezone

from liaison.contacts.models import Contact
from liaison.core import jobs
from liaison.core.http import transports
from liaison.integrations.goto import facts, services, signals
from liaison.integrations.goto.client import RegistrantRecord
from liaison.integrations.goto.models import Event, Registration, TriggerEvent
from liaison.webhooks import signing
from liaison.webhooks.models import Delivery
from tests.integrations.goto.conftest import slot, sync
from tests.webhooks.conftest import RECEIVER, Receiver

pytestmark = pytest.mark.postgres


@pytest.fixture
def heard():
    """What the signals said: (signal name, kwargs) in order."""
    calls = []

    def listen(name):
        def receiver(sender, **kwargs):
            calls.append((name, kwargs))
        return receiver

    created, added = listen("event_created"), listen("registrant_added")
    signals.event_created.connect(created, weak=False)
    signals.registrant_added.connect(added, weak=False)
    yield calls
    signals.event_created.disconnect(created)
    signals.registrant_added.disconnect(added)


def upcoming_trainings(sandbox) -> set[str]:
    now = sandbox.now()
    return {str(t.training_key) for t in sandbox.state.trainings.values()
            if t.deleted_at is None and max(end for _, end in t.times) > now}


def test_a_training_is_created_fires_once_per_training(account, sandbox, heard, run_on_commit):
    with run_on_commit():
        sync(account, product="training")
    created = TriggerEvent.objects.filter(topic="goto.training.created")
    expected = upcoming_trainings(sandbox)
    assert expected and {t.subject for t in created} == expected  # past trainings are history, not "created"
    [(_, said)] = [c for c in heard if c[0] == "event_created"]
    assert said["integration_id"] == account.pk and said["product"] == "training"
    assert {i["event_key"] for i in said["items"]} == expected
    item = said["items"][0]
    assert set(item) == {"trigger_id", "event_id", "event_key", "title", "starts_at", "payload"}
    assert set(item["payload"]) == {"trainingId", "name", "timeZone", "times", "organizers", "trainingKey"}
    heard.clear()
    with run_on_commit():
        sync(account, product="training", full=True)
    assert created.count() == len(expected) and not [c for c in heard if c[0] == "event_created"]
    new = sandbox.add_training("Fresh course", [slot(sandbox, days=3)])
    with run_on_commit():
        sync(account, product="training")
    assert [c[1]["items"][0]["event_key"] for c in heard if c[0] == "event_created"] == [str(new.training_key)]


def test_a_registrant_is_added_fires_once_and_again_after_a_cancellation(account, sandbox, heard, run_on_commit):
    remote = sandbox.add_training("Course", [slot(sandbox, days=4)])
    sync(account, product="training")
    event = Event.objects.get(provider_key=str(remote.training_key))
    record = RegistrantRecord(email="Ann@Example.com", first_name="Ann", last_name="Lee", key="77",
                              join_url="https://example.com/j")
    now = timezone.now()
    heard.clear()
    with run_on_commit():
        with transaction.atomic():
            facts.store_registrants(account, event, [record], now=now)
            facts.store_registrants(account, event, [record], now=now)  # twice in one run
        with transaction.atomic():
            facts.store_registrants(account, event, [record], now=now, marker=now)  # a re-run
    rows = TriggerEvent.objects.filter(topic="goto.training.registrant_added", event=event)
    assert rows.count() == 1
    [(_, said)] = [c for c in heard if c[0] == "registrant_added"]
    assert (said["event_id"], said["event_key"], said["product"]) == (event.pk, event.provider_key, "training")
    [item] = said["items"]
    registration = Registration.objects.get(email_key="ann@example.com")
    assert (item["registration_id"], item["contact_id"], item["email"], item["status"], item["source"]) == (
        registration.pk, registration.contact_id, "Ann@Example.com", "approved", "sync")
    assert item["payload"]["registrantKey"] == "77" and item["payload"]["status"] == "APPROVED"
    # Cancelled, then registered again: a new "added".
    with transaction.atomic():
        facts.store_registrants(account, event, [RegistrantRecord(email="ann@example.com", key="77",
                                                                  status="cancelled")], now=now)
    later = now + timedelta(minutes=5)
    with transaction.atomic():
        facts.store_registrants(account, event, [record], now=later)
    assert rows.count() == 2


def test_a_signal_is_sent_only_after_the_commit(account, sandbox, heard, django_capture_on_commit_callbacks):
    remote = sandbox.add_training("Rolled back", [slot(sandbox, days=4)])
    sync(account, product="training")
    event = Event.objects.get(provider_key=str(remote.training_key))
    record = RegistrantRecord(email="rb@example.com", first_name="R", last_name="B")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            facts.store_registrants(account, event, [record], now=timezone.now())
            assert TriggerEvent.objects.filter(event=event, topic="goto.training.registrant_added").count() == 1
            raise RuntimeError("the page failed")
    assert not TriggerEvent.objects.filter(event=event, topic="goto.training.registrant_added").exists()
    assert not [c for c in heard if c[0] == "registrant_added"]
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            facts.store_registrants(account, event, [record], now=timezone.now())
            assert not heard  # not before the commit
    assert [c[1]["items"][0]["email"] for c in heard if c[0] == "registrant_added"] == ["rb@example.com"]


def test_registrations_made_from_liaison_and_past_events(account, sandbox, heard, run_on_commit):
    webinar = sandbox.add_webinar("Upcoming", [slot(sandbox, days=2)])[0]
    sync(account, product="webinar", id=str(webinar.webinar_key))
    event = Event.objects.get(provider_key=str(webinar.webinar_key))
    contact = Contact.objects.create(email="form@example.com", email_key="form@example.com", first_name="Fo",
                                     last_name="Rm")
    with run_on_commit():
        services.register_contact(event, contact, source="form")
    [item] = [c for c in heard if c[0] == "registrant_added"][-1][1]["items"]
    assert item["source"] == "form" and item["contact_id"] == contact.pk
    assert set(item["payload"]) == {"registrantKey", "firstName", "lastName", "email", "status", "registrationDate",
                                    "joinUrl"}
    # A past webinar's registrants, read for the first time, are history: no trigger.
    past = sandbox.add_webinar("Last month", [(sandbox.now() - timedelta(days=30),
                                               sandbox.now() - timedelta(days=30) + timedelta(hours=1))])[0]
    sandbox.add_registrant(past.webinar_key, "old@example.com", "Old", "Timer")
    before = TriggerEvent.objects.count()
    sync(account, product="webinar", id=str(past.webinar_key))
    assert Registration.objects.filter(email_key="old@example.com").exists()
    assert TriggerEvent.objects.count() == before


def test_a_push_subscription_receives_signed_batches(account, sandbox, api, marketer):
    receiver = Receiver()
    remote = sandbox.add_training("Pushed", [slot(sandbox, days=4)])
    client = api(marketer)
    with transports.mounted(RECEIVER, httpx.WSGITransport(app=receiver)):
        created = client.post(f"/api/connectors/goto/{account.pk}/subscriptions",
                              {"trigger": "OnNewRegistration", "callbackUrl": f"{RECEIVER}/flow",
                               "trainingKey": str(remote.training_key)}, content_type="application/json")
        assert created.status_code == 201, created.content
        secret = created.json()["secret"]
        account_wide = client.post(f"/api/connectors/goto/{account.pk}/subscriptions",
                                   {"trigger": "OnNewTraining", "callbackUrl": f"{RECEIVER}/trainings"},
                                   content_type="application/json").json()
        sandbox.add_training_registrant(remote.training_key, "p1@example.com", "P", "One")
        sandbox.add_training_registrant(remote.training_key, "p2@example.com", "P", "Two")
        other = sandbox.add_training("Another", [slot(sandbox, days=6)])
        sandbox.add_training_registrant(other.training_key, "p3@example.com", "P", "Three")
        sync(account, product="training")
        sync(account, product="training")  # nothing new: nothing more to deliver
        deliveries = Delivery.objects.order_by("id")
        assert [(d.subscription_id, d.topic) for d in deliveries] == [
            (account_wide["id"], "goto.training.created"),
            (created.json()["id"], "goto.training.registrant_added")]
        for delivery in deliveries:
            jobs.run_job(delivery.job_id)
    by_path = {r["path"]: r for r in receiver.requests}
    flow = by_path["/flow"]
    assert signing.verify(secret, flow["headers"], flow["body"]) is None
    body = json.loads(flow["body"])
    assert body["event"] == "goto.training.registrant_added" and body["trainingKey"] == str(remote.training_key)
    assert sorted(r["email"] for r in body["data"]) == ["p1@example.com", "p2@example.com"]  # not p3: other training
    # The account-wide subscription: trainings first seen after it was made ("Pushed" was read when the
    # registrant subscription named it, before).
    new_trainings = {t["trainingKey"] for t in json.loads(by_path["/trainings"]["body"])["data"]}
    assert str(other.training_key) in new_trainings and str(remote.training_key) not in new_trainings
    log = client.get(f"/api/connectors/goto/{account.pk}/subscriptions/{created.json()['id']}/deliveries").json()
    assert [(d["status"], d["attempts"], d["responseCode"]) for d in log] == [("succeeded", 1, 200)]


def test_a_goto_webhook_and_the_sync_announce_a_webinar_registrant_once(account, sandbox, deliveries):
    from liaison.integrations.goto import webhooks

    assert webhooks.enable(account).state == "active"
    webinar = sandbox.add_webinar("Real time", [slot(sandbox, days=2)])[0]  # webinar.created pushed by GoTo
    sandbox.add_registrant(webinar.webinar_key, "rt@example.com", "Real", "Time")  # registrant.added pushed
    assert [status for _, status, _ in deliveries.answers] == [200, 200]
    sync(account, product="webinar")
    event = Event.objects.get(provider_key=str(webinar.webinar_key))
    topics = list(TriggerEvent.objects.filter(event=event).values_list("topic", "subject"))
    assert topics == [("goto.webinar.created", str(webinar.webinar_key)),
                      ("goto.webinar.registrant_added", f"{webinar.webinar_key}:rt@example.com")]


def test_old_trigger_events_are_pruned_by_the_sync(account, sandbox):
    sync(account, product="training")
    old = TriggerEvent.objects.first()
    TriggerEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    sync(account, product="training")
    assert not TriggerEvent.objects.filter(pk=old.pk).exists() and TriggerEvent.objects.exists()
    assert Event.objects.filter(pk=old.event_id).exists()
