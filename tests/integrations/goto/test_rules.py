"""GoToAssist rules: a low rating or an unresolved session notifies once per session (e-mail
through a real SMTP server, or a signed webhook); the waiting-queue alert notifies once
per crossing of its threshold."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from liaison.core import jobs
from liaison.core.http import transports
from liaison.core.models import Job, Schedule
from liaison.integrations.goto import rules
from liaison.integrations.goto.models import AssistNotification, AssistRule
from liaison.webhooks import signing
from liaison.webhooks.models import Delivery, Subscription
from tests.integrations.goto.conftest import sync
from tests.webhooks.conftest import RECEIVER, Receiver

pytestmark = pytest.mark.postgres


def ended(sandbox, name, *, rating=None, resolution="resolved", feedback="", joins=True):
    session = sandbox.add_assist_session(name, f"{name.split()[0].lower()}@example.com", portal="Billing")
    sandbox.start_assist_session(session.session_id, customer_joins=joins)
    sandbox.end_assist_session(session.session_id, resolution=resolution)
    if rating is not None:
        sandbox.rate_assist_session(session.session_id, rating, feedback)
    return session


def run_notifications():
    for job in Job.objects.filter(kind=rules.NOTIFY_JOB, status="queued"):
        jobs.run_job(job.pk)


def test_a_low_rating_is_e_mailed_once(account, sandbox, smtp_server):
    rule, secret = rules.save_rule({"name": "Low ratings", "kind": "low_rating", "threshold": 2,
                                    "email": "lead@example.com"})
    assert secret is None
    low = ended(sandbox, "Rita Low", rating=1, feedback="Still broken")
    ended(sandbox, "Hank High", rating=5)
    sync(account, product="assist")
    run_notifications()
    notes = AssistNotification.objects.filter(rule=rule)
    assert [n.occurrence for n in notes] == [f"session:{account.pk}:{low.session_id}"]
    [message] = smtp_server.messages
    assert message.to == "lead@example.com"
    assert message.header("Subject") == "GoToAssist: Rita Low's support session was rated 1/5"
    assert "Feedback: Still broken" in message.text and "Portal: Billing" in message.text
    assert notes.get().status == "sent"
    # The next sync (and a full one) finds nothing new: nothing more is sent.
    sandbox.rate_assist_session(low.session_id, 1, "Still broken, really")
    sync(account, product="assist", full=True)
    run_notifications()
    assert notes.count() == 1 and len(smtp_server.messages) == 1


def test_an_unresolved_session_goes_to_a_signed_webhook_once(account, sandbox):
    receiver = Receiver()
    rule, secret = rules.save_rule({"name": "Unresolved", "kind": "unresolved", "channel": "webhook",
                                    "webhook_url": f"{RECEIVER}/alerts", "integration": account.pk})
    assert secret and rule.webhook.topic == "goto.assist.alert"
    session = ended(sandbox, "Una Solved", resolution="unresolved")
    ended(sandbox, "Rex Solved", resolution="resolved")
    sync(account, product="assist")
    sync(account, product="assist", full=True)
    [delivery] = Delivery.objects.filter(subscription=rule.webhook)
    with transports.mounted(RECEIVER, httpx.WSGITransport(app=receiver)):
        jobs.run_job(delivery.job_id)
    [request] = receiver.requests
    assert signing.verify(secret, request["headers"], request["body"]) is None
    body = json.loads(request["body"])
    assert body["event"] == "goto.assist.alert" and body["data"][0]["rule"]["name"] == "Unresolved"
    assert body["data"][0]["session"]["sessionId"] == session.session_id
    assert body["data"][0]["session"]["resolution"] == "unresolved"
    note = AssistNotification.objects.get(rule=rule)
    assert note.delivery_id == delivery.pk and note.status == "sent"


def test_a_new_rule_does_not_report_the_past_and_a_user_can_be_the_recipient(account, sandbox, smtp_server, marketer):
    old = ended(sandbox, "Olga Old", rating=1)
    sync(account, product="assist")
    rule, _ = rules.save_rule({"name": "Low", "kind": "low_rating", "threshold": 2, "user": marketer.pk})
    AssistRule.objects.filter(pk=rule.pk).update(created_at=timezone.now() + timedelta(days=2))
    sandbox.rate_assist_session(old.session_id, 2, "changed")  # the old session changes after the rule
    sync(account, product="assist")
    assert not AssistNotification.objects.exists()
    AssistRule.objects.filter(pk=rule.pk).update(created_at=timezone.now())
    fresh = ended(sandbox, "Nina New", rating=2)
    sync(account, product="assist")
    run_notifications()
    assert [m.to for m in smtp_server.messages] == [marketer.email]
    assert AssistNotification.objects.get().session.session_id == fresh.session_id


def test_a_refused_address_fails_in_words(account, sandbox, smtp_server):
    smtp_server.refuse.add("gone@example.com")
    rules.save_rule({"name": "Low", "kind": "low_rating", "threshold": 2, "email": "gone@example.com"})
    ended(sandbox, "Rita Low", rating=1)
    sync(account, product="assist")
    run_notifications()
    note = AssistNotification.objects.get()
    assert note.status == "failed" and note.error.startswith("The mail server refused the message")


def test_the_waiting_queue_alert_fires_once_per_crossing(account, sandbox, smtp_server):
    already = len(sandbox.state.queue)  # the seed has a customer waiting
    rule, _ = rules.save_rule({"name": "Queue", "kind": "waiting", "threshold": already + 2,
                               "email": "lead@example.com", "integration": account.pk})
    schedule = Schedule.objects.get(name=rules.WAITING_SCHEDULE)
    assert schedule.enabled and schedule.cron == "* * * * *" and schedule.kind == rules.WAITING_JOB

    def wait(name):
        s = sandbox.add_assist_session(name, f"{name.lower()}@example.com")
        sandbox.start_assist_session(s.session_id, customer_joins=False)
        return s

    def check():
        result = rules.check_waiting()
        run_notifications()
        return result

    assert check()["counts"] == {account.pk: already} and not smtp_server.messages
    first = wait("One")
    wait("Two")
    assert check()["notified"] == 1
    assert check()["notified"] == 0  # still above: no second alert
    [message] = smtp_server.messages
    assert message.header("Subject") == f"GoToAssist: {already + 2} customers waiting (Marketing GoTo)"
    sandbox.start_assist_session(first.session_id)  # the customer joins: one waiting
    assert check()["notified"] == 0
    rule.refresh_from_db()
    assert not rule.above and rule.last_count == already + 1
    wait("Three")
    assert check()["notified"] == 1  # a second crossing
    assert len(smtp_server.messages) == 2
    assert list(AssistNotification.objects.values_list("occurrence", flat=True).order_by("id")) == [
        "crossing:1", "crossing:2"]
    rules.delete_rule(rule)
    assert not Schedule.objects.get(name=rules.WAITING_SCHEDULE).enabled


def test_the_waiting_alert_without_the_capability(account, sandbox):
    from liaison.integrations.goto import support

    rules.save_rule({"name": "Queue", "kind": "waiting", "threshold": 1, "email": "lead@example.com"})
    sandbox.set_g2a_capability(None, "waitingQueue", False)
    support.capabilities(account, force=True)
    result = rules.check_waiting()
    assert result["notified"] == 0 and result["problems"] == [
        "“Marketing GoTo” does not offer the waiting queue (Monitors API): GoTo does not provide it for this account."]


def test_rules_api(api, marketer, reader, account):
    client = api(marketer)
    bad = client.post("/api/integrations/goto/assist/rules", {"name": "", "kind": "low_rating", "threshold": 9,
                                                              "channel": "email"}, content_type="application/json")
    assert bad.status_code == 422
    assert bad.json()["errors"] == {"name": ["Give the rule a name, e.g. “Low ratings to the support lead”."],
                                    "threshold": ["Give the rating at or below which to notify, from 1 to 5."],
                                    "email": ["Give the address to notify, or choose a user."]}
    assert not AssistRule.objects.exists()
    created = client.post("/api/integrations/goto/assist/rules",
                          {"name": "Hooked", "kind": "unresolved", "channel": "webhook",
                           "webhook_url": "https://hooks.example.com/assist"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["webhook_secret"].startswith("whsec_")
    rule_id = created.json()["id"]
    assert created.json()["condition"] == "left unresolved" and created.json()["recipient"] == (
        "https://hooks.example.com/assist")
    changed = client.patch(f"/api/integrations/goto/assist/rules/{rule_id}",
                           {"channel": "email", "email": "lead@example.com"}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["recipient"] == "lead@example.com"
    assert not Subscription.objects.exists()  # the webhook no rule uses any more is gone
    assert client.get("/api/integrations/goto/assist/rules").json()[0]["id"] == rule_id
    assert client.get(f"/api/integrations/goto/assist/rules/{rule_id}/notifications").json()["count"] == 0
    assert api(reader).delete(f"/api/integrations/goto/assist/rules/{rule_id}").status_code == 403
    assert client.delete(f"/api/integrations/goto/assist/rules/{rule_id}").status_code == 204


def test_rules_pages(admin_client, account):
    page = admin_client.get("/integrations/goto/assist/rules/")
    assert page.status_code == 200 and "No rules yet." in page.content.decode()
    form = admin_client.post("/integrations/goto/assist/rules/new/", {"name": "Queue", "kind": "waiting",
                                                                      "channel": "email", "email": "nope"})
    assert form.status_code == 422
    text = form.content.decode()
    assert "“nope” is not an e-mail address." in text and "Give the number of waiting customers" in text
    saved = admin_client.post("/integrations/goto/assist/rules/new/", {
        "name": "Queue", "kind": "waiting", "threshold": "3", "channel": "webhook",
        "webhook_url": "https://hooks.example.com/q", "active": "1"}, follow=True)
    text = saved.content.decode()
    assert "Rule “Queue” saved." in text and "not shown again: whsec_" in text
    rule = AssistRule.objects.get()
    assert rule.threshold == 3 and rule.webhook.url == "https://hooks.example.com/q"
    assert "3 or more customers waiting" in text
    edit = admin_client.get(f"/integrations/goto/assist/rules/{rule.pk}/")
    assert "https://hooks.example.com/q" in edit.content.decode()
    admin_client.post(f"/integrations/goto/assist/rules/{rule.pk}/delete/")
    assert not AssistRule.objects.exists() and not Subscription.objects.exists()
