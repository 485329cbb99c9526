"""Broadcasts: a segment e-mail to its audiences, exactly once across crashes, pauses and re-runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.mail.backends.smtp import EmailBackend
from django.db import IntegrityError, transaction
from django.utils import timezone

from liaison.contacts.services import set_do_not_contact
from liaison.core import jobs
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.models import Job
from liaison.emails import broadcasts, services
from liaison.emails.models import Broadcast, EmailAudience, Send
from liaison.segments import services as segments
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

HTML = '<p>Hi {contactfield=first_name|there}</p><p><a href="{unsubscribe_url}">Unsubscribe</a></p>'


class SimulatedCrash(BaseException):
    """The process dies: nothing after this point runs (it is not an Exception)."""


def crash_after(monkeypatch, accepted: int):
    """The mail server accepts ``accepted`` messages; the process dies right after the last one."""
    original = EmailBackend.send_messages
    calls = {"n": 0}

    def send_messages(self, messages):
        sent = original(self, messages)
        calls["n"] += 1
        if calls["n"] == accepted:
            raise SimulatedCrash
        return sent

    monkeypatch.setattr(EmailBackend, "send_messages", send_messages)


def segment_of(name, contacts):
    segment = segments.save_segment({"name": name})
    segments.add_static(segment, [c.pk for c in contacts])
    return segment


def segment_email(*segs, **extra):
    data = {"name": "Newsletter", "subject": "News", "html": HTML, "kind": "segment",
            "audiences": [{"audience": "segments.segment", "values": [str(s.pk) for s in segs]}], **extra}
    return services.save_email(data)


def run_broadcast(email, **kw):
    broadcast = broadcasts.start(email, dispatch=False, **kw)
    return jobs.run_job(broadcast.job_id), Broadcast.objects.get(pk=broadcast.pk)


def test_audiences_are_stored_and_checked():
    seg = segment_of("A", [])
    email = segment_email(seg)
    assert email.audience_targets() == [("segments.segment", [str(seg.pk)])]
    with pytest.raises(ValidationFailed) as exc:
        services.save_email({"audiences": [{"audience": "segments.segment", "values": ["999999"]}]}, email=email)
    assert exc.value.errors == {"audiences": ["Segments: #999999 does not exist."]}
    with pytest.raises(ValidationFailed) as exc:
        services.save_email({"audiences": [{"audience": "nope.list", "values": ["1"]}]}, email=email)
    assert exc.value.errors == {"audiences": ["'nope.list' is not a known audience."]}
    with pytest.raises(ValidationFailed) as exc:
        services.save_email({"kind": "template", "audiences": [{"audience": "segments.segment",
                                                                 "values": [str(seg.pk)]}]}, email=email)
    assert exc.value.errors["audiences"][0].startswith("Only segment e-mails are sent to segments")
    assert EmailAudience.objects.filter(email=email).exists()
    services.save_email({"kind": "template"}, email=email)  # a template e-mail has no audience
    assert not EmailAudience.objects.filter(email=email).exists()


def test_a_broadcast_goes_to_every_member_once_and_respects_do_not_contact(smtp_server):
    people = [ContactFactory(email=f"p{n}@example.com", first_name=f"P{n}") for n in range(6)]
    other = [ContactFactory(email=f"o{n}@example.com") for n in range(2)]
    set_do_not_contact(people[1], True, "Asked by phone")
    email = segment_email(segment_of("A", people[:4]), segment_of("B", people[3:] + other))
    counts = broadcasts.recipients(email)
    assert (counts.in_audience, counts.do_not_contact, counts.to_send, counts.already) == (8, 1, 7, 0)
    outcome, broadcast = run_broadcast(email)
    assert outcome.status == Job.Status.SUCCEEDED and broadcast.status == Broadcast.Status.FINISHED
    received = sorted(m.to for m in smtp_server.messages)
    assert len(received) == 7 and "p1@example.com" not in received and len(set(received)) == 7
    job = Job.objects.get(pk=broadcast.job_id)
    assert (job.progress_current, job.progress_total) == (7, 7)
    assert broadcasts.stats(email)["sent"] == 7
    # Running it again ("send to new members") finds nobody new.
    assert broadcasts.recipients(email).to_send == 0
    outcome, broadcast = run_broadcast(email)
    assert outcome.status == Job.Status.SUCCEEDED and len(smtp_server.messages) == 7


def test_new_members_get_it_without_anyone_getting_it_twice(smtp_server):
    first = [ContactFactory() for _ in range(3)]
    segment = segment_of("A", first)
    email = segment_email(segment)
    run_broadcast(email)
    late = [ContactFactory() for _ in range(2)]
    segments.add_static(segment, [c.pk for c in late])
    assert broadcasts.recipients(email).to_send == 2 and broadcasts.recipients(email).already == 3
    _, broadcast = run_broadcast(email)
    assert broadcast.runs == 2 and broadcast.status == Broadcast.Status.FINISHED
    received = [m.to for m in smtp_server.messages]
    assert len(received) == len(set(received)) == 5


def test_a_contact_has_at_most_one_send_per_broadcast():
    contact = ContactFactory()
    email = segment_email(segment_of("A", [contact]))
    broadcast = broadcasts.broadcast_of(email)
    Send.objects.create(email=email, contact=contact, to_email=contact.email, broadcast=broadcast)
    with pytest.raises(IntegrityError), transaction.atomic():
        Send.objects.create(email=email, contact=contact, to_email=contact.email, broadcast=broadcast)
    # The sender ignores the conflict instead of failing or duplicating.
    assert services.queue_sends(email, [contact.pk], broadcast=broadcast).created == 0


def test_exactly_once_across_a_crash_then_the_retry_continues(smtp_server, monkeypatch, settings):
    settings.EMAIL_BATCH_SIZE = 4
    people = [ContactFactory(email=f"c{n:02}@example.com") for n in range(12)]
    email = segment_email(segment_of("A", people))
    broadcast = broadcasts.start(email, dispatch=False)
    crash_after(monkeypatch, accepted=6)
    with pytest.raises(SimulatedCrash):
        jobs.run_job(broadcast.job_id)
    monkeypatch.undo()
    assert len(smtp_server.messages) == 6
    assert Send.objects.filter(status="sending").exists()
    assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.RUNNING
    # Starting it again while the dead job still looks alive is refused: never two at once.
    with pytest.raises(LiaisonError):
        broadcasts.start(email, dispatch=False)
    # The worker is gone: the sweep notices the silent job; its next attempt repairs and continues.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS + 5)):
        assert jobs.sweep()["recovered"] == 1
        jobs.run_queued()
    job = Job.objects.get(pk=broadcast.job_id)
    assert job.status == Job.Status.SUCCEEDED and "never sent twice" in job.log
    received = [m.to for m in smtp_server.messages]
    # Everyone once: the message in doubt had reached the server and is not sent again.
    assert len(received) == len(set(received)) == 12
    failed = Send.objects.get(status="failed")
    assert failed.reason.startswith("Interrupted while sending")
    assert Send.objects.filter(status="sent").count() == 11  # 5 before the crash, 6 after; 1 in doubt
    assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.FINISHED
    assert Send.objects.count() == 12


def test_pause_then_resume_continues_where_it_stopped(smtp_server, monkeypatch, settings):
    settings.EMAIL_BATCH_SIZE = 3
    people = [ContactFactory() for _ in range(10)]
    email = segment_email(segment_of("A", people))
    broadcast = broadcasts.start(email, dispatch=False)
    original = EmailBackend.send_messages
    calls = {"n": 0}

    def send_messages(self, messages):
        calls["n"] += 1
        if calls["n"] == 4:  # someone presses "Pause" while the 4th message goes out
            broadcasts.pause(email)
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", send_messages)
    monkeypatch.setattr(jobs.JobContext, "is_cancelled",
                        lambda self: Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists())
    outcome = jobs.run_job(broadcast.job_id)
    monkeypatch.undo()
    assert outcome.status == Job.Status.CANCELLED
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.PAUSED and len(smtp_server.messages) == 4
    # The page of recipients was queued at once; what was not handed over waits for the resume.
    assert Send.objects.filter(status="queued").count() == 6
    assert broadcasts.recipients(email).waiting == 6 and broadcasts.recipients(email).to_send == 0
    with pytest.raises(LiaisonError):
        broadcasts.pause(email)
    resumed = broadcasts.resume(email, dispatch=False)
    assert jobs.run_job(resumed.job_id).status == Job.Status.SUCCEEDED
    received = [m.to for m in smtp_server.messages]
    assert len(received) == len(set(received)) == 10
    assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.FINISHED
    with pytest.raises(LiaisonError):
        broadcasts.resume(email)


def test_cancel_marks_waiting_messages_not_sent(smtp_server):
    people = [ContactFactory() for _ in range(3)]
    email = segment_email(segment_of("A", people))
    broadcast = broadcasts.start(email, dispatch=False)
    services.queue_sends(email, [people[0].pk], dedupe_prefix=broadcasts.owner_of(email),
                         broadcast=broadcast)
    broadcasts.cancel(email)
    assert Job.objects.get(pk=broadcast.job_id).status == Job.Status.CANCELLED
    send = Send.objects.get()
    assert send.status == "skipped" and send.reason == broadcasts.CANCELLED_REASON
    assert smtp_server.messages == []
    stats = broadcasts.stats(email)
    assert stats["skipped"] == 1 and stats["reasons"] == [{"reason": f"Not sent: {broadcasts.CANCELLED_REASON}",
                                                           "count": 1}]


def test_what_cannot_be_broadcast_is_refused():
    seg = segment_of("A", [ContactFactory()])
    email = services.save_email({"name": "n", "subject": "s", "html": HTML, "kind": "segment"})
    with pytest.raises(ValidationFailed) as exc:
        broadcasts.start(email)
    assert exc.value.errors == {"audiences": ["Choose the segments to send it to."]}
    email = segment_email(seg, published=False)
    with pytest.raises(ValidationFailed) as exc:
        broadcasts.start(email)
    assert "not published" in exc.value.errors["email"][0]
    template = services.save_email({"name": "t", "subject": "s", "html": "<p>x</p>"})
    with pytest.raises(ValidationFailed):
        broadcasts.start(template)


def test_stats_say_why_messages_were_not_sent(smtp_server):
    people = [ContactFactory() for _ in range(3)]
    email = segment_email(segment_of("A", people))
    broadcast = broadcasts.broadcast_of(email)
    services.queue_sends(email, [p.pk for p in people], dedupe_prefix=broadcasts.owner_of(email), broadcast=broadcast)
    set_do_not_contact(people[0], True, "Unsubscribed from “x”")
    set_do_not_contact(people[1], True, "Asked by phone")
    Broadcast.objects.filter(pk=broadcast.pk).update(status="running")
    services.deliver(Send.objects.values_list("pk", flat=True))
    stats = broadcasts.stats(email)
    assert (stats["sent"], stats["skipped"]) == (1, 2)
    assert stats["reasons"] == [{"reason": "Not sent: Do not contact", "count": 2}]


def test_an_unreachable_server_retries_then_stops_and_resume_sends_the_rest(settings, smtp_server):
    from tests.smtp import free_port

    people = [ContactFactory() for _ in range(3)]
    email = segment_email(segment_of("A", people))
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()
    broadcast = broadcasts.start(email, dispatch=False)
    assert jobs.run_job(broadcast.job_id).status == Job.Status.RETRYING
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.RUNNING and broadcast.state == "running"  # waiting to retry
    Job.objects.filter(pk=broadcast.job_id).update(attempts=4, run_after=None)
    assert jobs.run_job(broadcast.job_id).status == Job.Status.FAILED
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.FAILED and "could not be reached" in broadcast.error
    assert Send.objects.filter(status="queued").count() == 3  # nothing lost, nothing failed
    settings.EMAIL_PORT = port
    resumed = broadcasts.resume(email, dispatch=False)
    assert jobs.run_job(resumed.job_id).status == Job.Status.SUCCEEDED
    assert len(smtp_server.messages) == 3 and Broadcast.objects.get(pk=broadcast.pk).error == ""
