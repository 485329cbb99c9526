"""Webhooks from the REST API, the pages and the command line."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from liaison.core import jobs
from liaison.webhooks import services
from liaison.webhooks.models import Delivery, Subscription
from tests.webhooks.conftest import RECEIVER

TOPIC = "goto.webinar.registrant_added"


def test_the_api(api, marketer, reader, receiver):
    client = api(marketer)
    topics = client.get("/api/webhooks/topics").json()
    assert {"goto.training.created", "goto.training.registrant_added", "goto.webinar.created", TOPIC,
            "goto.assist.alert"} <= {t["key"] for t in topics}
    payload = {"topic": TOPIC, "url": f"{RECEIVER}/in", "name": "CRM bridge", "scope": "goto:1"}
    created = client.post("/api/webhooks/subscriptions", payload, content_type="application/json")
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    sub_id = created.json()["id"]
    again = client.post("/api/webhooks/subscriptions", payload, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == sub_id
    bad = client.post("/api/webhooks/subscriptions", {"topic": TOPIC, "url": "nope"}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"] == {"url": ["Use a full http:// or https:// address."]}
    listed = client.get("/api/webhooks/subscriptions").json()
    assert listed["count"] == 1 and "secret" not in listed["items"][0]
    assert api(reader).post("/api/webhooks/subscriptions", payload, content_type="application/json"
                            ).status_code == 403
    off = client.patch(f"/api/webhooks/subscriptions/{sub_id}", {"active": False}, content_type="application/json")
    assert off.json()["active"] is False and off.json()["disabled_reason"] == "Turned off by a user."
    on = client.patch(f"/api/webhooks/subscriptions/{sub_id}", {"active": True}, content_type="application/json")
    assert on.json()["active"] is True
    secret = client.post(f"/api/webhooks/subscriptions/{sub_id}/rotate-secret").json()["secret"]
    assert Subscription.objects.get(pk=sub_id).secret == secret
    receiver.answer(400)
    test = client.post(f"/api/webhooks/subscriptions/{sub_id}/test")
    assert test.status_code == 202
    jobs.run_job(test.json()["job_id"])
    log = client.get(f"/api/webhooks/deliveries?subscription={sub_id}&status=failed").json()
    assert log["count"] == 1
    row = log["items"][0]
    assert (row["attempts"], row["response_code"], row["status"]) == (1, 400, "failed")
    assert row["last_error"] == "receiver.test answered HTTP 400: status 400." and row["duration_ms"] is not None
    detail = client.get(f"/api/webhooks/deliveries/{row['id']}").json()
    assert detail["payload"]["test"] is True
    again = client.post(f"/api/webhooks/deliveries/{row['id']}/redeliver")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    jobs.run_job(again.json()["job_id"])
    assert Delivery.objects.get(pk=row["id"]).status == "succeeded"
    refused = client.post(f"/api/webhooks/deliveries/{row['id']}/redeliver")
    assert refused.status_code == 400 and refused.json()["detail"] == (
        "Only failed or cancelled deliveries can be sent again.")
    assert client.delete(f"/api/webhooks/subscriptions/{sub_id}").status_code == 204
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_the_pages(admin_client, receiver):
    page = admin_client.get("/webhooks/")
    assert page.status_code == 200 and b"No subscriptions yet." in page.content
    form = admin_client.post("/webhooks/new/", {"topic": TOPIC, "url": "ftp://x"})
    assert form.status_code == 422 and b"Use a full http:// or https:// address." in form.content
    created = admin_client.post("/webhooks/new/", {"topic": TOPIC, "url": f"{RECEIVER}/in", "name": "Bridge"})
    subscription = Subscription.objects.get()
    assert created.status_code == 200 and subscription.secret.encode() in created.content  # shown once
    detail = admin_client.get(f"/webhooks/{subscription.pk}/")
    assert subscription.secret.encode() not in detail.content and b"X-Liaison-Signature" in detail.content
    admin_client.post(f"/webhooks/{subscription.pk}/action/", {"action": "test"})
    delivery = Delivery.objects.get()
    jobs.run_job(delivery.job_id)
    detail = admin_client.get(f"/webhooks/{subscription.pk}/?status=succeeded")
    assert b"Delivered" in detail.content and b"200" in detail.content
    page = admin_client.get(f"/webhooks/deliveries/{delivery.pk}/")
    assert page.status_code == 200 and b"&quot;test&quot;: true" in page.content
    admin_client.post(f"/webhooks/{subscription.pk}/action/", {"action": "disable"})
    subscription.refresh_from_db()
    assert not subscription.active
    rotated = admin_client.post(f"/webhooks/{subscription.pk}/action/", {"action": "rotate"})
    subscription.refresh_from_db()
    assert subscription.secret.encode() in rotated.content
    admin_client.post(f"/webhooks/{subscription.pk}/action/", {"action": "delete"})
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_read_only_users_see_but_cannot_change(client, reader):
    client.force_login(reader)
    subscription, _ = services.create_subscription(topic=TOPIC, url="https://example.com/h")
    assert client.get(f"/webhooks/{subscription.pk}/").status_code == 200
    assert b"Rotate secret" not in client.get(f"/webhooks/{subscription.pk}/").content
    assert client.post(f"/webhooks/{subscription.pk}/action/", {"action": "delete"}).status_code == 403
    assert client.get("/webhooks/new/").status_code == 403


@pytest.mark.django_db
def test_the_command_line(capsys, receiver):
    subscription, _ = services.create_subscription(topic=TOPIC, url=f"{RECEIVER}/cli")
    receiver.answer(404)
    delivery = services.send_test(subscription)
    jobs.run_job(delivery.job_id)
    call_command("webhooks", "list")
    assert f"#{subscription.pk}  {TOPIC}  *  {RECEIVER}/cli  [people]  on" in capsys.readouterr().out
    call_command("webhooks", "deliveries", "--status", "failed")
    assert "failed  attempts=1  code=404" in capsys.readouterr().out
    call_command("webhooks", "redeliver", str(delivery.pk))
    assert "queued again" in capsys.readouterr().out
    call_command("webhooks", "off", str(subscription.pk))
    assert "is off" in capsys.readouterr().out
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="There is no delivery #999"):
        call_command("webhooks", "redeliver", "999")
