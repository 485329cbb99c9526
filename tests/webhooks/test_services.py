"""Outgoing webhooks: matching, signing (checked the way a receiver checks), retries with
back-off, the delivery log, and turning off a subscription that keeps failing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from liaison.core import jobs
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.models import Job
from liaison.webhooks import services, signing
from liaison.webhooks.models import Delivery, Subscription
from tests.webhooks.conftest import RECEIVER

pytestmark = pytest.mark.postgres

TOPIC = "goto.training.created"


def subscribe(url=f"{RECEIVER}/hooks/liaison/?token=abc", scope="", **kw):
    subscription, created = services.create_subscription(topic=TOPIC, url=url, scope=scope, **kw)
    assert created
    return subscription


def publish(event_id="e1", scopes=("goto:3",), data=None):
    with transaction.atomic():
        return services.publish(TOPIC, data or [{"trainingKey": "1"}], event_id=event_id, scopes=scopes,
                                extra={"account": 3})


def run(delivery: Delivery) -> Delivery:
    """Run the delivery's job now (as the worker would once it is due)."""
    Job.objects.filter(pk=delivery.job_id).update(run_after=None)
    jobs.run_job(delivery.job_id)
    delivery.refresh_from_db()
    return delivery


def test_a_delivery_is_signed_and_verifiable_by_the_receiver(db, receiver):
    subscription = subscribe()
    [delivery] = publish(data=[{"trainingKey": "812", "name": "Onboarding"}])
    assert delivery.status == "pending" and delivery.job_id
    run(delivery)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)
    assert delivery.duration_ms is not None and delivery.delivered_at and not delivery.last_error
    [request] = receiver.requests
    # The address exactly as given: path with its trailing slash, and the query.
    assert (request["path"], request["query"]) == ("/hooks/liaison/", "token=abc")
    headers, body = request["headers"], request["body"]
    assert signing.verify(subscription.secret, headers, body) is None
    assert headers["X-Liaison-Event"] == TOPIC and headers["X-Liaison-Delivery"] == str(delivery.pk)
    assert headers["X-Liaison-Signature"].startswith("sha256=")
    payload = json.loads(body)
    assert payload["id"] == "e1" and payload["event"] == TOPIC and payload["account"] == 3
    assert payload["data"] == [{"trainingKey": "812", "name": "Onboarding"}]
    # A tampered body, another secret or an old timestamp are refused by the same check.
    assert signing.verify(subscription.secret, headers, body + b" ") == "The signature does not match the secret."
    assert signing.verify("whsec_other", headers, body) == "The signature does not match the secret."
    old = {**headers, "X-Liaison-Timestamp": str(int(headers["X-Liaison-Timestamp"]) - 600)}
    assert "too old" in signing.verify(subscription.secret, old, body)
    subscription.refresh_from_db()
    assert subscription.last_success_at and subscription.failure_streak == 0


def test_matching_by_topic_scope_and_state_and_once_per_event(db, receiver):
    everything = subscribe(url=f"{RECEIVER}/all")
    account3 = subscribe(url=f"{RECEIVER}/3", scope="goto:3")
    subscribe(url=f"{RECEIVER}/4", scope="goto:4")
    off = subscribe(url=f"{RECEIVER}/off")
    services.disable(off, "Turned off by a user.")
    first = publish("e1")
    assert {d.subscription_id for d in first} == {everything.pk, account3.pk}
    assert publish("e1") == []  # the same event again queues nothing
    assert Delivery.objects.count() == 2 and Job.objects.count() == 2
    assert services.publish("goto.webinar.created", [], event_id="e1", scopes=["goto:3"]) == []


def test_retries_with_back_off_then_success(db, receiver):
    subscribe()
    receiver.answer(503, 502)
    [delivery] = publish()
    started = timezone.now()
    run(delivery)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("retrying", 1, 503)
    assert delivery.last_error == "receiver.test answered HTTP 503: status 503."
    job = Job.objects.get(pk=delivery.job_id)
    assert job.status == "retrying"
    first_wait = (job.run_after - started).total_seconds()
    assert 24 <= first_wait <= 37  # 30 s, spread by ±20 %
    assert services.next_attempt(delivery) == job.run_after
    run(delivery)
    job.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("retrying", 2, 502)
    assert (job.run_after - timezone.now()).total_seconds() >= 47  # doubled
    run(delivery)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 3, 200)
    assert len(receiver.requests) == 3
    assert len({r["headers"]["X-Liaison-Delivery"] for r in receiver.requests}) == 1  # one delivery, 3 attempts


def test_429_honours_retry_after_and_connection_errors_are_retried(db, receiver, unreachable):
    subscribe()
    receiver.answer((429, {"Retry-After": "300"}))
    [delivery] = publish()
    run(delivery)
    job = Job.objects.get(pk=delivery.job_id)
    assert delivery.status == "retrying" and delivery.response_code == 429
    assert (job.run_after - timezone.now()).total_seconds() >= 295
    down = subscribe(url=unreachable)
    [refused] = services.publish(TOPIC, [], event_id="e2", subscriptions=[down])
    run(refused)
    assert refused.status == "retrying" and refused.response_code is None
    assert refused.last_error.startswith("down.test could not be reached.")


def test_other_refusals_fail_at_once_and_410_turns_the_subscription_off(db, receiver):
    subscription = subscribe()
    receiver.answer(400)
    [delivery] = publish("e1")
    run(delivery)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "receiver.test answered HTTP 400: status 400."
    assert Job.objects.get(pk=delivery.job_id).status == "succeeded"  # the job did its work: no retry
    receiver.answer(410)
    [gone] = publish("e2")
    run(gone)
    subscription.refresh_from_db()
    assert gone.status == "failed" and "It no longer wants these deliveries." in gone.last_error
    assert not subscription.active and "410 Gone" in subscription.disabled_reason


def test_giving_up_and_turning_off_after_repeated_failures(db, receiver, settings):
    settings.WEBHOOKS_DISABLE_AFTER = 2
    subscription = subscribe()
    for event_id in ("e1", "e2"):
        receiver.answer(*[500] * services.MAX_ATTEMPTS)
        [delivery] = publish(event_id)
        for _ in range(services.MAX_ATTEMPTS):
            run(delivery)
        assert delivery.status == "failed" and delivery.attempts == services.MAX_ATTEMPTS
        assert delivery.last_error.endswith(f"Gave up after {services.MAX_ATTEMPTS} attempts.")
    subscription.refresh_from_db()
    assert not subscription.active and subscription.failure_streak == 2
    assert subscription.disabled_reason.startswith("Turned off on ")
    assert "after 2 deliveries in a row failed. Last error: receiver.test answered HTTP 500" in (
        subscription.disabled_reason)
    assert publish("e3") == []  # turned off: nothing more is queued
    # A delivery queued before it was turned off is cancelled when its turn comes.
    services.enable(subscription)
    [queued] = publish("e4")
    services.disable(subscription, "Turned off by a user.")
    assert run(queued).status == "cancelled" and "turned off" in queued.last_error
    with pytest.raises(LiaisonError, match="turn it on before"):
        services.redeliver(queued)
    services.enable(subscription)
    assert subscription.failure_streak == 0
    again = services.redeliver(queued)
    assert run(again).status == "succeeded"


def test_subscription_rules(db):
    subscription = subscribe()
    same, created = services.create_subscription(topic=TOPIC, url=subscription.url)
    assert not created and same.pk == subscription.pk
    with pytest.raises(ValidationFailed) as info:
        services.create_subscription(topic="nope", url="mailto:x@example.com")
    assert info.value.errors["url"] == ["Use a full http:// or https:// address."]
    assert info.value.errors["topic"][0].startswith("“nope” is not a webhook topic (known: ")
    with pytest.raises(ValidationFailed, match="Leave credentials out"):
        services.create_subscription(topic=TOPIC, url="https://user:pw@example.com/")
    other = subscribe(url="https://example.com/other")
    with pytest.raises(ValidationFailed, match="already sends this topic"):
        services.update_subscription(other, url=subscription.url)
    old = subscription.secret
    assert services.rotate_secret(subscription) != old
    assert Subscription.objects.get(pk=subscription.pk).secret == subscription.secret
    from liaison.core.models import Schedule

    assert Schedule.objects.filter(name=services.PRUNE_SCHEDULE, kind="webhooks.prune").exists()


def test_test_deliveries_and_pruning(db, receiver):
    subscription = subscribe()
    delivery = run(services.send_test(subscription))
    assert delivery.status == "succeeded"
    body = json.loads(receiver.requests[0]["body"])
    assert body["test"] is True and body["data"][0]["name"] == "Onboarding"
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert services.prune() == 1 and not Delivery.objects.exists()
