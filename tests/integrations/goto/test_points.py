"""Point events and the ``occurred`` signal: once per fact, after the commit, never for history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from liaison.contacts.models import Contact
from liaison.core.contributions import PointEvent
from liaison.core.models import EventRecord
from liaison.core.registry import registry
from liaison.integrations.goto import points, services
from liaison.integrations.goto.models import Event, Registration
from tests.integrations.goto.conftest import slot, sync

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
HOUR = timedelta(hours=1)


@pytest.fixture
def heard():
    got: list[dict] = []

    def listener(sender, **kwargs):
        kwargs.pop("signal", None)
        got.append({"sender": sender, **kwargs})

    points.occurred.connect(listener)
    yield got
    points.occurred.disconnect(listener)


def about(heard, key: str, event_key: str | None = None) -> list[dict]:
    return [h for h in heard if h["goto_event_key"] == key and (event_key is None or h["event_key"] == event_key)]


def synced(account, capture, **options):
    with capture(execute=True):
        return sync(account, **options)


def test_the_point_events_are_registered():
    assert {e.key for e in registry.all(PointEvent) if e.key.startswith("goto.")} == {
        "goto.webinar.registered", "goto.webinar.attended", "goto.training.registered", "goto.training.attended",
        "goto.meeting.attended", "goto.assist.attended", "goto.assist.left"}
    attended = registry.get(PointEvent, "goto.webinar.attended")
    assert attended.group == "GoToWebinar" and attended.subject == "goto_event_key"


def test_a_registration_and_an_attendance_are_announced_once(account, sandbox, heard,
                                                               django_capture_on_commit_callbacks):
    start = sandbox.now().replace(microsecond=0) - timedelta(hours=30)
    second = start + timedelta(hours=20)
    remote = sandbox.add_webinar("Scored", [(start, start + HOUR), (second, second + HOUR)], type="sequence")[0]
    sandbox.add_registrant(remote.webinar_key, "pat@people.test", "Pat", "Doe",
                           registration_date=start - timedelta(days=1))
    sandbox.simulate_session(remote.webinar_key, {"pat@people.test": [(start, start + HOUR)]}, start=start,
                             end=start + HOUR)
    sandbox.simulate_session(remote.webinar_key, {"pat@people.test": [(second, second + HOUR)]}, start=second,
                             end=second + HOUR)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sync(account)
    assert about(heard, str(remote.webinar_key)) == []  # nothing before the commit
    for callback in callbacks:
        callback()
    key = str(remote.webinar_key)
    pat = Contact.objects.get(email_key="pat@people.test")
    event = Event.objects.get(provider_key=key)
    registered, = about(heard, key, "goto.webinar.registered")
    assert registered == {
        "sender": Registration, "event_key": "goto.webinar.registered", "contact_ids": [pat.pk],
        "occurred_at": start - timedelta(days=1), "dedup_ref": f"goto:webinar:{key}", "product": "webinar",
        "integration_id": account.pk, "goto_event_id": event.pk, "goto_event_key": key, "title": "Scored"}
    attended, = about(heard, key, "goto.webinar.attended")  # two sessions attended: announced once
    assert attended["contact_ids"] == [pat.pk] and attended["occurred_at"] == start
    # The same facts are on the contact-event bus (points, campaigns), written with them.
    recorded = {(r.key, tuple(r.contact_ids), r.ref): r.data for r in EventRecord.objects.filter(
        data__goto_event_key=key)}
    assert set(recorded) == {("goto.webinar.registered", (pat.pk,), f"goto:webinar:{key}"),
                             ("goto.webinar.attended", (pat.pk,), f"goto:webinar:{key}")}
    assert recorded[("goto.webinar.registered", (pat.pk,), f"goto:webinar:{key}")] == {
        "product": "webinar", "integration_id": account.pk, "goto_event_id": event.pk, "goto_event_key": key,
        "title": "Scored"}
    heard.clear()
    synced(account, django_capture_on_commit_callbacks, full=True)  # a re-run announces nothing again
    assert about(heard, key) == []
    assert EventRecord.objects.filter(data__goto_event_key=key).count() == 2
    assert points.announce_registrations(event, ["pat@people.test"], timezone.now()) == 0


def test_a_webhook_then_the_sync_announce_a_registration_once(db, sandbox, deliveries, admin_user, heard,
                                                              django_capture_on_commit_callbacks):
    from tests.integrations.goto.conftest import connect, create_account

    account = create_account(admin_user, webhooks=True)
    with django_capture_on_commit_callbacks(execute=True):
        connect(account, sandbox)
    remote = sandbox.add_webinar("Live news", [slot(sandbox, days=2)])[0]
    synced(account, django_capture_on_commit_callbacks, product="webinar")
    with django_capture_on_commit_callbacks(execute=True):
        sandbox.add_registrant(remote.webinar_key, "quinn@people.test", "Quinn", "Lee")  # registrant.added
    assert len(about(heard, str(remote.webinar_key), "goto.webinar.registered")) == 1
    synced(account, django_capture_on_commit_callbacks, product="webinar", full=True)
    announced = about(heard, str(remote.webinar_key), "goto.webinar.registered")
    assert len(announced) == 1 and announced[0]["contact_ids"] == [
        Contact.objects.get(email_key="quinn@people.test").pk]


def test_registering_from_liaison_is_announced(account, sandbox, heard, django_capture_on_commit_callbacks):
    remote = sandbox.add_webinar("Form target", [slot(sandbox, days=3)])[0]
    synced(account, django_capture_on_commit_callbacks, product="webinar", id=str(remote.webinar_key))
    ada = Contact.objects.create(email="ada@people.test", email_key="ada@people.test", first_name="Ada",
                                 last_name="Lovelace")
    with django_capture_on_commit_callbacks(execute=True):
        services.register_contact(Event.objects.get(provider_key=str(remote.webinar_key)), ada, source="form")
    assert [h["contact_ids"] for h in about(heard, str(remote.webinar_key))] == [[ada.pk]]


def test_history_is_stored_but_not_announced(account, sandbox, heard, django_capture_on_commit_callbacks):
    old = sandbox.now().replace(microsecond=0) - timedelta(days=20)
    remote = sandbox.add_webinar("Last month", [(old, old + HOUR)])[0]
    sandbox.add_registrant(remote.webinar_key, "old@people.test", "Old", "Timer", registration_date=old - HOUR)
    sandbox.simulate_session(remote.webinar_key, {"old@people.test": None}, start=old, end=old + HOUR)
    synced(account, django_capture_on_commit_callbacks)
    assert Registration.objects.filter(event__provider_key=str(remote.webinar_key)).count() == 1
    assert about(heard, str(remote.webinar_key)) == []


def test_training_meeting_and_support_session_facts(account, sandbox, heard, django_capture_on_commit_callbacks):
    now = sandbox.now().replace(microsecond=0)
    training = sandbox.add_training("Course", [(now + HOUR, now + 2 * HOUR)])
    sandbox.add_training_registrant(training.training_key, "tia@people.test", "Tia", "Ray")
    meeting = sandbox.add_meeting("Stand-up", now - 3 * HOUR, now - 2 * HOUR)
    sandbox.simulate_meeting_session(meeting.meeting_id, [("Mo Ray", "mo@people.test", now - 3 * HOUR,
                                                           now - 2 * HOUR)], start=now - 3 * HOUR, end=now - 2 * HOUR)
    joined = sandbox.add_assist_session("Ivy Ray", "ivy@people.test")
    sandbox.start_assist_session(joined.session_id)
    sandbox.end_assist_session(joined.session_id)
    abandoned = sandbox.add_assist_session("Jon Ray", "jon@people.test")
    sandbox.start_assist_session(abandoned.session_id, customer_joins=False)
    sandbox.end_assist_session(abandoned.session_id)
    synced(account, django_capture_on_commit_callbacks)
    ids = dict(Contact.objects.values_list("email_key", "pk"))
    assert [h["event_key"] for h in about(heard, str(training.training_key))] == ["goto.training.registered"]
    assert [(h["event_key"], h["contact_ids"]) for h in about(heard, str(meeting.meeting_id))] == [
        ("goto.meeting.attended", [ids["mo@people.test"]])]
    support, = about(heard, joined.session_id, "goto.assist.attended")
    assert support["contact_ids"] == [ids["ivy@people.test"]]
    assert support["dedup_ref"] == f"goto:{account.pk}:assist:{joined.session_id}"
    assert about(heard, abandoned.session_id, "goto.assist.attended") == []
    # Both ended: "left" is announced for each, the abandoned one too, with no rating yet.
    for session, email in ((joined, "ivy@people.test"), (abandoned, "jon@people.test")):
        left, = about(heard, session.session_id, "goto.assist.left")
        assert left["contact_ids"] == [ids[email]] and left["rating"] is None
        assert left["dedup_ref"] == f"goto:{account.pk}:assist:{session.session_id}:left"
    heard.clear()
    synced(account, django_capture_on_commit_callbacks, full=True)
    assert [h for h in heard if h["goto_event_key"] in (joined.session_id, abandoned.session_id,
                                                        str(meeting.meeting_id), str(training.training_key))] == []
    sandbox.rate_assist_session(joined.session_id, 4, "Fine")
    synced(account, django_capture_on_commit_callbacks)
    rated, = about(heard, joined.session_id)
    assert (rated["event_key"], rated["rating"], rated["dedup_ref"]) == (
        "goto.assist.left", 4, f"goto:{account.pk}:assist:{joined.session_id}:rated")
