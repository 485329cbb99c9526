"""The GoTo sync against the sandbox: what is stored, how incrementally, how failures behave."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from liaison.contacts.models import Activity, Contact
from liaison.integrations import services as framework
from liaison.integrations.goto.models import AssistSession, Attendance, Event, Registration, Session
from liaison.integrations.models import SyncRun
from tests.integrations.goto.conftest import slot, sync

pytestmark = pytest.mark.postgres


def webinars_of(sandbox):
    organizer = sandbox.default_organizer().organizer_key
    return [w for w in sandbox.state.webinars.values() if w.organizer_key == organizer and w.cancelled_at is None]


def test_first_sync_stores_every_fact_with_real_times(account, sandbox):
    series = sandbox.add_webinar("A series", [slot(sandbox, days=4), slot(sandbox, days=11)], type="series")
    run = sync(account)
    assert run.status == SyncRun.Status.SUCCEEDED, run.errors
    now = sandbox.now()
    remote = webinars_of(sandbox)
    events = {e.provider_key: e for e in Event.objects.filter(product="webinar")}
    assert set(events) == {str(w.webinar_key) for w in remote}
    for webinar in remote:
        event = events[str(webinar.webinar_key)]
        assert event.title == webinar.subject and event.starts_at == webinar.times[0][0]
        assert event.status == ("live" if webinar.in_session(now) else "past" if webinar.last_end <= now
                                else "upcoming")
        assert set(event.registrations.values_list("registrant_key", flat=True)) == {
            str(k) for k in webinar.registrants}
        for held in webinar.visible_sessions(now):
            session = Session.objects.get(event=event, provider_key=str(held.session_key))
            for registrant_key, intervals in held.attendance.items():
                email = webinar.registrants[registrant_key].email.lower()
                attendance = Attendance.objects.get(session=session, email_key=email)
                # Real join and leave times, never the sync time; the duration in seconds.
                assert attendance.first_join_at == min(j for j, _ in intervals)
                assert attendance.last_leave_at == max(lv for _, lv in intervals)
                assert attendance.duration_seconds == sum(int((lv - j).total_seconds()) for j, lv in intervals)
                assert len(attendance.intervals) == len(intervals)
                assert attendance.registration.email_key == email
    kinds = {e.recurrence for e in events.values()}
    assert {"series", "sequence", "single_session"} <= kinds
    # Each member of a series is its own webinar (own key, registrants, sessions).
    assert [events[str(w.webinar_key)].recurrence for w in series] == ["series", "series"]
    multi = next(e for e in events.values() if e.recurrence == "sequence")
    assert len(multi.times) > 1 and multi.ends_at > multi.starts_at + timedelta(days=1)
    # Every fact is on its contact's timeline.
    active = Registration.objects.filter(status__in=Registration.ACTIVE, event__product="webinar")
    assert Activity.objects.filter(kind="goto.webinar.registered").count() == active.count()
    assert Activity.objects.filter(kind="goto.webinar.attended").count() == Attendance.objects.filter(
        event__product="webinar").count()
    sample = Attendance.objects.filter(event__product="webinar").first()
    entry = Activity.objects.get(kind="goto.webinar.attended", contact=sample.contact,
                                 dedup_key__contains=sample.session.provider_key)
    assert entry.occurred_at == sample.first_join_at and entry.data["duration_seconds"] == sample.duration_seconds
    assert entry.data["title"] == sample.event.title and entry.source == f"integration:{account.pk}"
    assert run.api_calls == account.api_calls.filter(sync_run=run).count()
    assert run.created == run.fetched and run.failed == 0


def test_a_second_sync_with_nothing_changed_is_cheap_and_changes_nothing(account, sandbox):
    first = sync(account)
    counts = (Registration.objects.count(), Attendance.objects.count(), Activity.objects.count())
    second = sync(account)
    assert second.status == "succeeded" and second.created == 0 and second.updated == 0
    assert (Registration.objects.count(), Attendance.objects.count(), Activity.objects.count()) == counts
    # Only the listings, the live or imminent events' registrants, and the one-call products.
    assert second.api_calls <= 12 < first.api_calls
    full = sync(account, full=True)
    assert full.created == 0 and full.api_calls >= first.api_calls - 2
    assert (Registration.objects.count(), Attendance.objects.count(), Activity.objects.count()) == counts


def test_finished_events_are_not_fetched_again_unless_full(account, sandbox):
    sync(account, product="webinar")
    complete = Event.objects.filter(product="webinar", attendance_complete=True)
    assert complete.exists()
    keys = set(complete.values_list("provider_key", flat=True))
    before = len(sandbox.calls.entries())
    sync(account, product="webinar")
    paths = [e.path for e in sandbox.calls.entries()[before:]]
    assert not any(key in path for key in keys for path in paths)
    before = len(sandbox.calls.entries())
    sync(account, product="webinar", full=True)
    paths = [e.path for e in sandbox.calls.entries()[before:]]
    assert all(any(key in path for path in paths) for key in keys)


def test_a_registrant_gone_from_goto_is_cancelled_never_deleted(account, sandbox):
    webinar = sandbox.add_webinar("Cancellations", [slot(sandbox, days=0.5)])[0]
    people = [sandbox.add_registrant(webinar.webinar_key, f"p{n}@example.com", "Pat", f"N{n}") for n in range(3)]
    sync(account, product="webinar")
    event = Event.objects.get(provider_key=str(webinar.webinar_key))
    assert event.registrations.filter(status="approved").count() == 3
    sandbox.run(lambda: webinar.remove_registrant(people[0].registrant_key))
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        sync(account, product="webinar")
    gone = Registration.objects.get(event=event, email_key="p0@example.com")
    assert gone.status == "cancelled" and gone.cancelled_at is not None
    assert event.registrations.count() == 3
    assert Activity.objects.filter(kind="goto.webinar.cancelled", contact=gone.contact).count() == 1
    # Registering again brings the registration back, with a new timeline entry.
    sandbox.add_registrant(webinar.webinar_key, "p0@example.com", "Pat", "N0")
    with time_machine.travel(timezone.now() + timedelta(minutes=40)):
        sync(account, product="webinar")
    gone.refresh_from_db()
    assert gone.status == "approved" and gone.cancelled_at is None
    assert Activity.objects.filter(kind="goto.webinar.registered", contact=gone.contact).count() == 2


def test_a_registration_made_a_moment_ago_is_not_cancelled_by_a_lagging_list(account, sandbox, admin_user):
    webinar = sandbox.add_webinar("Fresh", [slot(sandbox, days=0.5)])[0]
    sync(account, product="webinar")
    event = Event.objects.get(provider_key=str(webinar.webinar_key))
    contact = Contact.objects.create(email="new@example.com", email_key="new@example.com")
    Registration.objects.create(event=event, contact=contact, email=contact.email, email_key=contact.email_key,
                                source="form", registered_at=timezone.now())
    sync(account, product="webinar")
    assert Registration.objects.get(email_key="new@example.com").status == "approved"


def test_a_cancelled_webinar_is_marked_cancelled_and_keeps_its_registrations(account, sandbox):
    webinar = sandbox.add_webinar("To be cancelled", [slot(sandbox, days=5)])[0]
    sandbox.add_registrant(webinar.webinar_key, "keep@example.com", "Kim", "Keep")
    sync(account, product="webinar")
    from liaison.sandbox.goto.webinar import cancel

    sandbox.run(lambda: cancel(sandbox, webinar, notify=False))
    run = sync(account, product="webinar")
    assert run.status == "succeeded"
    event = Event.objects.get(provider_key=str(webinar.webinar_key))
    assert event.status == "cancelled" and event.cancelled_at is not None
    assert event.registrations.get().email_key == "keep@example.com"


def test_a_renamed_webinar_updates_its_timeline_entries(account, sandbox):
    webinar = sandbox.add_webinar("Old title", [slot(sandbox, days=0.5)])[0]
    sandbox.add_registrant(webinar.webinar_key, "ren@example.com", "Ren", "Amed")
    sync(account, product="webinar")
    sandbox.run(lambda: setattr(webinar, "subject", "New title"))
    sync(account, product="webinar")
    entry = Activity.objects.get(kind="goto.webinar.registered", contact__email_key="ren@example.com")
    assert entry.title == "Registered for “New title”" and entry.data["title"] == "New title"


def test_names_typed_by_marketers_are_kept_and_new_contacts_get_the_default_owner(account, sandbox, marketer):
    framework.update_integration(account, owner=marketer)
    webinar = sandbox.add_webinar("Names", [slot(sandbox, days=0.5)])[0]
    sandbox.add_registrant(webinar.webinar_key, "typed@example.com", "Remote", "Name")
    sandbox.add_registrant(webinar.webinar_key, "fresh@example.com", "Fresh", "Person")
    Contact.objects.create(email="typed@example.com", email_key="typed@example.com", first_name="Typed")
    sync(account, product="webinar")
    typed = Contact.objects.get(email_key="typed@example.com")
    assert (typed.first_name, typed.last_name, typed.owner_id) == ("Typed", "Name", None)
    fresh = Contact.objects.get(email_key="fresh@example.com")
    assert (fresh.first_name, fresh.owner_id) == ("Fresh", marketer.pk)


def test_one_failing_event_does_not_stop_the_others(account, sandbox):
    webinar = sandbox.add_webinar("Broken one", [slot(sandbox, days=0.5)])[0]
    key = str(webinar.webinar_key)
    sandbox.scripted.fail(400, {"errorCode": "InvalidRequest", "description": "Registrant data is being migrated",
                                "incident": 42}, times=20, when=lambda m, p: key in p and p.endswith("/registrants"))
    run = sync(account, product="webinar")
    assert run.status == SyncRun.Status.PARTIAL and run.failed == 1
    assert "“Broken one”" in run.errors[0]["message"]
    assert "Registrant data is being migrated" in run.errors[0]["message"]
    assert Registration.objects.exclude(event__provider_key=key).count() > 0
    # The next run reads it.
    sandbox.scripted.clear()
    assert sync(account, product="webinar").status == "succeeded"
    assert Event.objects.get(provider_key=key).registrants_synced_at is not None


def test_options_product_and_id(account, sandbox):
    webinar = sandbox.add_webinar("Only me", [slot(sandbox, days=20)])[0]
    sandbox.add_registrant(webinar.webinar_key, "me@example.com", "Me", "Only")
    run = sync(account, product="webinar", id=str(webinar.webinar_key))
    assert run.status == "succeeded"
    assert list(Event.objects.values_list("provider_key", flat=True)) == [str(webinar.webinar_key)]
    assert {row["path"] for row in run.api_summary} == {
        "/organizers/{organizerKey}/webinars/{webinarKey}", "/organizers/{organizerKey}/webinars/{webinarKey}/sessions",
        "/organizers/{organizerKey}/webinars/{webinarKey}/registrants"}
    bad = sync(account, product="webinars")
    assert bad.status == "failed" and "Unknown product “webinars”" in bad.message
    assert "Say which product" in sync(account, id="123").message
    missing = sync(account, product="webinar", id="1234567890123456789")
    assert missing.status == "failed" and "GoToWebinar has no webinar 1234567890123456789" in missing.message


def test_the_past_window_limits_history(account, sandbox):
    framework.update_integration(account, values={"past_window_days": 2})
    sync(account, product="webinar")
    # Only events with a session in the window (a sequence begun earlier counts by its later sessions).
    assert not Event.objects.filter(ends_at__lt=timezone.now() - timedelta(days=2, hours=1)).exists()
    assert len(webinars_of(sandbox)) > Event.objects.count()


def test_later_events_are_re_read_on_the_refresh_interval(account, sandbox):
    far = sandbox.add_webinar("Far away", [slot(sandbox, days=20)])[0]
    sync(account, product="webinar")
    key = str(far.webinar_key)

    def reads() -> int:
        return sum(1 for e in sandbox.calls.entries() if key in e.path and e.path.endswith("/registrants"))

    assert reads() == 1
    sync(account, product="webinar")
    assert reads() == 1
    sandbox.add_registrant(far.webinar_key, "later@example.com", "Late", "R")
    with time_machine.travel(timezone.now() + timedelta(minutes=account.config().upcoming_refresh_minutes + 1)):
        sync(account, product="webinar")
    assert reads() == 2 and Registration.objects.filter(email_key="later@example.com").exists()


def test_gototraining(account, sandbox):
    sandbox.settings.g2t_registrant_lag_seconds = 0
    run = sync(account, product="training")
    assert run.status == "succeeded", run.errors
    now = sandbox.now()
    for training in sandbox.state.trainings.values():
        ended = [s for s in training.sessions if s.end <= now]
        if training.last_end > now:
            event = Event.objects.get(product="training", provider_key=str(training.training_key))
            assert event.registrations.count() == len(training.registrants)
        for held in ended:
            session = Session.objects.get(event__product="training", provider_key=str(held.session_key))
            if training.last_end <= now and session.event.provider_key != str(training.training_key):
                # Completed before Liaison ever listed it: known from GoTo's session report only.
                assert session.event.provider_key == f"s{held.session_key}"
                assert session.event.registrations.count() == len(training.registrants)
            for registrant_key, intervals in held.attendance.items():
                person = training.registrants[registrant_key]
                attendance = Attendance.objects.get(session=session, email_key=person.email.lower())
                minutes = sum(round((lv - j).total_seconds() / 60) for j, lv in intervals)
                assert attendance.duration_seconds == minutes * 60
                assert attendance.first_join_at == min(j for j, _ in intervals)
            non_attendees = set(training.registrants) - set(held.attendance)
            assert not Attendance.objects.filter(session=session, email_key__in=[
                training.registrants[k].email.lower() for k in non_attendees]).exists()
    assert Activity.objects.filter(kind="goto.training.attended").count() == Attendance.objects.filter(
        event__product="training").count()


def test_gototraining_attaches_a_finished_session_to_the_known_training(account, sandbox):
    start, end = slot(sandbox, days=0.2)
    training = sandbox.add_training("Onboarding", [(start, end)])
    sandbox.add_training_registrant(training.training_key, "t1@example.com", "Tia", "One")
    sandbox.add_training_registrant(training.training_key, "t2@example.com", "Tom", "Two")
    sync(account, product="training")
    sandbox.simulate_training_session(training.training_key, {"t1@example.com": [(start, start + timedelta(minutes=30))]})
    sandbox.advance(timedelta(days=1))
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        run = sync(account, product="training")
    assert run.status == "succeeded", run.errors
    event = Event.objects.get(provider_key=str(training.training_key))
    session = event.sessions.get()
    assert event.status == "past"
    assert list(session.attendances.values_list("email_key", "duration_seconds")) == [("t1@example.com", 1800)]
    assert not Event.objects.filter(provider_key__startswith="s").filter(title="Onboarding").exists()


def test_gotomeeting(account, sandbox):
    now = sandbox.now().replace(microsecond=0)
    meeting = sandbox.add_meeting("Restarted meeting", now - timedelta(hours=5), now - timedelta(hours=4))
    first = sandbox.simulate_meeting_session(meeting.meeting_id, [
        ("Ada Lovelace", "ada@example.com", meeting.start, meeting.start + timedelta(minutes=10)),
        ("Ada Lovelace", "ada@example.com", meeting.start + timedelta(minutes=20), meeting.start + timedelta(minutes=25)),
        ("Dial-in caller", "", meeting.start, meeting.start + timedelta(minutes=5)),
    ], start=meeting.start, end=meeting.start + timedelta(minutes=30))
    sandbox.simulate_meeting_session(meeting.meeting_id, [
        ("Ada Lovelace", "ada@example.com", meeting.start + timedelta(minutes=40), meeting.end)],
        start=meeting.start + timedelta(minutes=40), end=meeting.end)
    run = sync(account, product="meeting")
    assert run.status == "succeeded", run.errors
    event = Event.objects.get(product="meeting", provider_key=str(meeting.meeting_id))
    assert event.sessions.count() == 2
    ada = Attendance.objects.get(session__provider_key=str(first.session_id), email_key="ada@example.com")
    assert ada.duration_seconds == 15 * 60 and len(ada.intervals) == 2
    assert ada.first_join_at == meeting.start and ada.last_leave_at == meeting.start + timedelta(minutes=25)
    assert Activity.objects.filter(kind="goto.meeting.attended", contact=ada.contact).count() == 2
    assert not Contact.objects.filter(first_name="Dial-in").exists()
    upcoming = [m for m in sandbox.state.meetings.values() if m.end > now and m.deleted_at is None]
    assert Event.objects.filter(product="meeting", status__in=["upcoming", "live"]).count() == len(upcoming)
    second = sync(account, product="meeting")
    assert second.created == 0 and second.api_calls == 3


def test_gotoassist_with_session_reports(account, sandbox):
    done = sandbox.add_assist_session("Grace Hopper", "Grace@Example.com", partner_object="INC-42")
    sandbox.start_assist_session(done.session_id)
    sandbox.advance(timedelta(minutes=25))
    sandbox.end_assist_session(done.session_id, resolution="resolved")
    sandbox.rate_assist_session(done.session_id, 5, "Quick and kind")
    run = sync(account, product="assist")
    assert run.status == "succeeded", run.errors
    remote = sandbox.state.assist_sessions
    assert AssistSession.objects.count() == len(remote)
    stored = AssistSession.objects.get(session_id=done.session_id)
    assert (stored.rating, stored.resolution) == (done.rating, done.resolution)
    assert stored.duration_seconds == int((done.ended_at - done.started_at).total_seconds())
    assert stored.contact.email_key == "grace@example.com" and stored.partner_object == "INC-42"
    assert (stored.feedback, stored.status) == ("Quick and kind", "complete")
    entry = Activity.objects.get(kind="goto.assist.session", contact=stored.contact,
                                 dedup_key=f"goto:{account.pk}:assist:{done.session_id}")
    assert entry.data["rating"] == done.rating
    assert account.account.get("g2a_capabilities")


def test_gotoassist_without_the_capability_still_syncs_sessions(account, sandbox):
    for capability in ("sessionReports", "connectionCodes", "agentStatus", "waitingQueue"):
        sandbox.set_g2a_capability(None, capability, False)
    run = sync(account, product="assist", full=True)
    assert run.status == "succeeded", run.errors
    assert not any("x-sandbox/sessionReports" in row["path"] for row in run.api_summary)
    account.refresh_from_db()
    assert account.account["g2a_capabilities"] == []
    assert AssistSession.objects.count() == len(sandbox.state.assist_sessions)
    assert not AssistSession.objects.exclude(resolution="").exists()


def test_switched_off_products_are_left_alone(account, sandbox):
    framework.update_integration(account, features={"webinar": False, "meeting": False, "assist": False})
    run = sync(account)
    assert {row["path"].split("/")[1] for row in run.api_summary} <= {"organizers", "reports"}
    assert not Event.objects.filter(product__in=["webinar", "meeting"]).exists()
    assert Event.objects.filter(product="training").exists()


def test_a_disconnected_account_is_refused_in_words(account, sandbox):
    framework.disconnect(account)
    run = sync(account)
    assert run.status == "failed" and "not connected" in run.message


def test_a_revoked_grant_stops_the_run_at_once(account, sandbox):
    sandbox.oauth.refresh.clear()
    sandbox.faults.expire_tokens()
    run = sync(account)
    assert run.status == "failed" and "reconnect the account" in run.message
    assert len(run.errors) == 1
