"""Sending through a real SMTP server (aiosmtpd): one contact, batches, crashes, refusals, recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.mail.backends.smtp import EmailBackend
from django.utils import timezone

from liaison.contacts.models import Activity
from liaison.contacts.services import set_do_not_contact
from liaison.core import jobs
from liaison.core.errors import RetryableError, ValidationFailed
from liaison.core.models import Job
from liaison.emails import services, signals
from liaison.emails.models import Send
from tests.factories import ContactFactory, EmailFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


class SimulatedCrash(BaseException):
    """The process dies: nothing after this point runs (it is not an Exception)."""


def crash_after(monkeypatch, accepted: int):
    """Let the mail server accept ``accepted`` messages, then kill the process right after the last accept."""
    original = EmailBackend.send_messages
    calls = {"n": 0}

    def send_messages(self, messages):
        sent = original(self, messages)
        calls["n"] += 1
        if calls["n"] == accepted:
            raise SimulatedCrash
        return sent

    monkeypatch.setattr(EmailBackend, "send_messages", send_messages)
    return calls


def test_send_email_to_a_contact_through_smtp(smtp_server, deliver, marketer):
    contact = ContactFactory(email="ann@example.com", first_name="Ann", last_name="Lee")
    email = EmailFactory(from_name="Liaison Team", from_email="news@liaison.test", reply_to="help@liaison.test")
    sent = []
    signals.email_sent.connect(lambda **kw: sent.append(kw), weak=False, dispatch_uid="t1")
    try:
        with deliver():
            send = services.send_email(email, contact, context={"campaign_id": 7}, user=marketer)
    finally:
        signals.email_sent.disconnect(dispatch_uid="t1")
    send.refresh_from_db()
    assert send.status == Send.Status.SENT and send.sent_at and send.job.kind == "emails.deliver"
    assert send.job.status == Job.Status.SUCCEEDED and send.job.created_by == marketer
    [received] = smtp_server.messages
    assert received.to == "ann@example.com" and received.mail_from == "news@liaison.test"
    assert received.header("To") == "Ann Lee <ann@example.com>"
    assert received.header("From") == "Liaison Team <news@liaison.test>"
    assert received.header("Reply-To") == "help@liaison.test"
    assert received.header("Subject") == "Hello Ann"
    assert received.header("Message-ID") == send.message_id and send.message_id.endswith("@liaison.test>")
    assert received.header("List-Unsubscribe") == f"<http://testserver/u/{send.token}/>"
    assert received.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert f'href="http://testserver/t/c/{send.token}/0/"' in received.html
    assert f'src="http://testserver/t/o/{send.token}.gif"' in received.html
    assert f"Read the news (http://testserver/t/c/{send.token}/0/)" in received.text
    assert send.links == ["https://example.com/news"] and send.context == {"campaign_id": 7}
    entry = Activity.objects.get(contact=contact, kind="emails.sent")
    assert entry.title == "“Hello Ann”" and entry.data["webview"] == f"/v/{send.token}/"
    assert sent == [{"signal": signals.email_sent, "sender": Send, "email_id": email.pk,
                     "sends": [(send.pk, contact.pk, {"campaign_id": 7})]}]


def test_do_not_contact_is_skipped_with_the_reason(smtp_server, deliver):
    contact = ContactFactory(do_not_contact=True, dnc_reason="Asked by phone")
    with deliver():
        send = services.send_email(EmailFactory(), contact)
    assert send.status == Send.Status.SKIPPED and send.reason == "Do not contact (Asked by phone)"
    assert send.job is None and smtp_server.messages == []
    assert Activity.objects.get(contact=contact, kind="emails.skipped").data["reason"] == send.reason


def test_do_not_contact_set_while_queued_is_respected(smtp_server, run_on_commit):
    contact = ContactFactory()
    send = services.send_email(EmailFactory(), contact)  # queued; its job runs after the commit
    set_do_not_contact(contact, True, "Unsubscribed elsewhere")
    with run_on_commit():
        jobs.dispatch(send.job_id)
    send.refresh_from_db()
    assert send.status == Send.Status.SKIPPED and send.reason == "Do not contact (Unsubscribed elsewhere)"
    assert smtp_server.messages == []


def test_a_dedupe_key_sends_once(smtp_server, deliver):
    contact = ContactFactory()
    email = EmailFactory()
    with deliver():
        first = services.send_email(email, contact, dedupe_key="campaign:1:step:2:contact")
    with deliver():
        again = services.send_email(email, contact, dedupe_key="campaign:1:step:2:contact")
    assert first.pk == again.pk and len(smtp_server.messages) == 1
    assert Job.objects.filter(kind="emails.deliver").count() == 1


def test_only_published_template_emails_go_to_one_contact():
    contact = ContactFactory()
    with pytest.raises(ValidationFailed, match="segment e-mail is sent to its segments"):
        services.send_email(EmailFactory(kind="segment"), contact)
    with pytest.raises(ValidationFailed, match="not published"):
        services.send_email(EmailFactory(published=False), contact)
    assert not Send.objects.exists()


def test_queue_sends_is_bulk_and_idempotent(django_assert_max_num_queries):
    email = EmailFactory()
    contacts = ContactFactory.create_batch(30)
    ids = [c.pk for c in contacts] + [999_999]
    with django_assert_max_num_queries(6):
        first = services.queue_sends(email, ids, dedupe_prefix=f"broadcast:{email.pk}", context={"b": 1})
    assert (first.created, first.existing, first.missing_contacts) == (30, 0, 1)
    again = services.queue_sends(email, ids, dedupe_prefix=f"broadcast:{email.pk}")
    assert (again.created, again.existing) == (0, 30) and sorted(again.send_ids) == sorted(first.send_ids)
    assert Send.objects.count() == 30 and all(s.context == {"b": 1} for s in Send.objects.all())


def test_batch_is_exactly_once_across_a_crash(smtp_server, monkeypatch):
    """The mail server accepts the 4th message, then the process dies before recording it.

    Re-running the broadcast: nobody gets a message twice; the one whose fate is unknown is
    marked failed (at most once); the messages never attempted are sent; do-not-contact
    contacts are skipped with the reason."""
    email = EmailFactory(kind="segment", html="<p>Hi</p><a href='{unsubscribe_url}'>u</a>")
    contacts = [ContactFactory(email=f"p{n}@example.com") for n in range(10)]
    for contact in contacts[2:4]:
        set_do_not_contact(contact, True, "Unsubscribed")
    ids = [c.pk for c in contacts]
    prefix = f"broadcast:{email.pk}"
    crash_after(monkeypatch, accepted=4)
    with pytest.raises(SimulatedCrash):
        services.send_batch(email, ids, dedupe_prefix=prefix, owner="broadcast:1")
    assert len(smtp_server.messages) == 4
    statuses = dict(Send.objects.values_list("contact_id", "status"))
    assert list(statuses.values()).count("sent") == 3 and list(statuses.values()).count("sending") == 5
    monkeypatch.undo()

    # The broadcast runs again (its next attempt): first the repair, then the same batch call.
    recovery = services.recover_interrupted(owner="broadcast:1")
    assert len(recovery.interrupted) == 1 and len(recovery.requeued) == 4
    result = services.send_batch(email, ids, dedupe_prefix=prefix, owner="broadcast:1")
    assert len(result.sent) == 4 and result.already == 6

    received = [m.to for m in smtp_server.messages]
    assert len(received) == len(set(received)) == 8  # everyone eligible, once
    assert not {"p2@example.com", "p3@example.com"} & set(received)
    by_status = {s.contact.email: s for s in Send.objects.select_related("contact")}
    assert by_status["p2@example.com"].status == "skipped" and by_status["p2@example.com"].reason == (
        "Do not contact (Unsubscribed)")
    interrupted = [s for s in by_status.values() if s.status == "failed"]
    assert [s.contact.email for s in interrupted] == ["p5@example.com"]  # accepted, fate unknown: never resent
    assert interrupted[0].reason.startswith("Interrupted while sending")
    assert Send.objects.filter(status="sent").count() == 7
    # A third run changes nothing and sends nothing.
    assert services.send_batch(email, ids, dedupe_prefix=prefix).sent == []
    assert len(smtp_server.messages) == 8
    assert Activity.objects.filter(kind="emails.sent").count() == 7
    assert Activity.objects.filter(kind="emails.failed").count() == 1


def test_a_crashed_job_is_repaired_by_its_next_attempt(smtp_server, monkeypatch, settings, run_on_commit):
    contact = ContactFactory(email="solo@example.com")
    send = services.send_email(EmailFactory(), contact)
    crash_after(monkeypatch, accepted=1)
    with pytest.raises(SimulatedCrash):
        jobs.run_job(send.job_id)
    monkeypatch.undo()
    send.refresh_from_db()
    assert send.status == Send.Status.SENDING and len(smtp_server.messages) == 1
    # The worker is gone: the sweep notices the silent job and retries it.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS + 5)):
        assert jobs.sweep()["recovered"] == 1
        jobs.run_queued()
    send.refresh_from_db()
    job = Job.objects.get(pk=send.job_id)
    assert send.status == Send.Status.FAILED and send.reason.startswith("Interrupted while sending")
    assert job.status == Job.Status.SUCCEEDED and "marked failed (never sent twice)" in job.log
    assert len(smtp_server.messages) == 1


def test_refusals_and_temporary_failures(smtp_server, deliver):
    email = EmailFactory()
    good, bad, later = (ContactFactory(email=a) for a in ("good@example.com", "bad@example.com",
                                                           "later@example.com"))
    smtp_server.refuse.add("bad@example.com")
    smtp_server.refuse_for_now.add("later@example.com")
    queued = services.queue_sends(email, [good.pk, bad.pk, later.pk], dedupe_prefix="t")
    with pytest.raises(RetryableError, match="refused for now: 451"):
        services.deliver(queued.queued_ids, owner="t")
    status = {s.to_email: s for s in Send.objects.all()}
    assert status["good@example.com"].status == "sent"
    assert status["bad@example.com"].status == "failed"
    assert status["bad@example.com"].reason == "Refused by the mail server: 550 5.1.1 No such user here"
    assert status["later@example.com"].status == "queued"
    smtp_server.refuse_for_now.clear()
    result = services.deliver(queued.send_ids, owner="t")
    assert len(result.sent) == 1 and result.already == 2
    assert sorted(m.to for m in smtp_server.messages) == ["good@example.com", "later@example.com"]


def test_a_broken_connection_fails_that_message_only_and_retries_the_rest(smtp_server):
    email = EmailFactory()
    contacts = [ContactFactory(email=f"c{n}@example.com") for n in range(4)]
    smtp_server.drop_on.add("c1@example.com")
    queued = services.queue_sends(email, [c.pk for c in contacts], dedupe_prefix="d")
    with pytest.raises(RetryableError, match="connection to the mail server broke"):
        services.deliver(queued.queued_ids, owner="d")
    status = dict(Send.objects.values_list("to_email", "status"))
    assert status == {"c0@example.com": "sent", "c1@example.com": "failed", "c2@example.com": "queued",
                      "c3@example.com": "queued"}
    smtp_server.drop_on.clear()
    services.deliver(queued.send_ids, owner="d")
    assert sorted(m.to for m in smtp_server.messages) == ["c0@example.com", "c2@example.com", "c3@example.com"]


def test_an_unreachable_server_keeps_everything_queued_then_fails_on_the_last_attempt(settings, run_on_commit):
    from tests.smtp import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    with run_on_commit():
        send = services.send_email(EmailFactory(), ContactFactory())
    send.refresh_from_db()
    job = send.job
    job.refresh_from_db()
    assert job.status == Job.Status.RETRYING and "could not be reached" in job.error
    assert send.status == Send.Status.QUEUED
    Job.objects.filter(pk=job.pk).update(attempts=job.max_attempts - 1, run_after=None)
    jobs.run_job(job.pk)
    send.refresh_from_db()
    assert send.status == Send.Status.FAILED and send.reason.startswith("Not sent after 5 attempts: The mail server")


def test_time_based_recovery_restarts_orphaned_single_sends(smtp_server, run_on_commit):
    contacts = ContactFactory.create_batch(3)
    email = EmailFactory()
    queued = services.queue_sends(email, [c.pk for c in contacts], dedupe_prefix="o")
    dead = Job.objects.create(kind="emails.deliver", label="dead", status=Job.Status.FAILED)
    Send.objects.update(status="sending", claim="job:dead:x", claimed_at=timezone.now() - timedelta(hours=1),
                        job=dead)
    with run_on_commit():
        recovery = services.recover_interrupted()
    assert len(recovery.interrupted) == 1 and len(recovery.requeued) == 2 and len(recovery.jobs) == 1
    assert sorted(m.to for m in smtp_server.messages) == sorted(c.email for c in contacts[1:])
    assert Send.objects.get(pk=min(queued.send_ids)).status == "failed"
    # Fresh claims of live batches are left alone.
    Send.objects.filter(pk=min(queued.send_ids)).update(status="sending", claimed_at=timezone.now())
    assert not services.recover_interrupted()


def test_a_batch_that_lost_its_claim_stops_sending(smtp_server, monkeypatch):
    email = EmailFactory()
    contacts = [ContactFactory(email=f"s{n}@example.com") for n in range(3)]
    queued = services.queue_sends(email, [c.pk for c in contacts], dedupe_prefix="s")
    monkeypatch.setattr(services, "CLAIM_HEARTBEAT_SECONDS", -1)  # check the claim before every message
    original = EmailBackend.send_messages

    def frozen_then_recovered(self, messages):
        sent = original(self, messages)
        # While this process was frozen, another one recovered the batch.
        Send.objects.filter(status="sending").update(status="queued", claim="")
        return sent

    monkeypatch.setattr(EmailBackend, "send_messages", frozen_then_recovered)
    with pytest.raises(RetryableError, match="taken over"):
        services.deliver(queued.queued_ids, owner="s")
    assert [m.to for m in smtp_server.messages] == ["s0@example.com"]


def test_stop_request_puts_the_rest_back(smtp_server):
    email = EmailFactory()
    contacts = ContactFactory.create_batch(4)
    queued = services.queue_sends(email, [c.pk for c in contacts], dedupe_prefix="p")
    asked = {"n": 0}

    def stop():
        asked["n"] += 1
        return asked["n"] > 2

    result = services.deliver(queued.queued_ids, owner="p", stop=stop)
    assert result.stopped and len(result.sent) == 2 and len(result.released) == 2
    assert Send.objects.filter(status="queued").count() == 2 and len(smtp_server.messages) == 2


def test_test_message_is_untracked_and_leaves_no_send(smtp_server, deliver, marketer):
    email = EmailFactory()
    contact = ContactFactory(first_name="Zoe")
    with deliver():
        job = services.send_test(email, "me@example.com", contact=contact, user=marketer)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.result == "Test message sent to me@example.com."
    [received] = smtp_server.messages
    assert received.header("Subject") == "[Test] Hello Zoe"
    assert 'href="https://example.com/news"' in received.html and "/t/o/" not in received.html
    assert 'href="http://testserver/u/preview/"' in received.html
    assert not Send.objects.exists()
    with pytest.raises(ValidationFailed) as exc:
        services.send_test(email, "not an address")
    assert "to" in exc.value.errors


def test_delivery_refuses_to_run_inside_a_transaction():
    from django.db import transaction

    queued = services.queue_sends(EmailFactory(), [ContactFactory().pk], dedupe_prefix="tx")
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside any transaction"):
        services.deliver(queued.queued_ids)
    assert Send.objects.get().status == "queued"
