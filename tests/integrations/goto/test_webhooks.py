"""GoToWebinar webhooks: set-up on GoTo, signed deliveries, de-duplication, the same upserts as the sync."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.test import Client

from liaison.contacts.models import Activity
from liaison.integrations import services as framework
from liaison.integrations.goto import webhooks
from liaison.integrations.goto.models import Attendance, Event, Registration, WebhookChannel, WebhookEvent
from tests.integrations.goto.conftest import connect, create_account, slot, sync

pytestmark = pytest.mark.postgres


@pytest.fixture
def hooked(account, sandbox):
    channel = webhooks.enable(account)
    assert channel.state == WebhookChannel.State.ACTIVE, channel.message
    return channel


def test_set_up_creates_the_secret_webhooks_and_subscriptions(hooked, sandbox, account):
    assert len(hooked.secret) == 36 and hooked.secret_key_id
    assert set(hooked.webhook_keys) == {"registrant.added", "registrant.joined", "webinar.created", "webinar.changed"}
    assert hooked.callback_url == f"http://testserver/integrations/goto/webhooks/{hooked.token}/"
    hooks = sandbox.state.webhooks
    assert {h.state for h in hooks.values()} == {"ACTIVE"} and len(hooks) == 4
    assert {s.webhook_key for s in sandbox.state.user_subscriptions.values()} == set(hooked.webhook_keys.values())
    # Setting up again replaces them: never two sets of webhooks.
    again = webhooks.enable(account)
    assert len(sandbox.state.webhooks) == 4 and set(again.webhook_keys.values()) == set(sandbox.state.webhooks)
    # The secret is stored encrypted.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM goto_webhookchannel WHERE id = %s", [hooked.pk])
        assert again.secret not in cursor.fetchone()[0]


def test_a_registration_arrives_in_real_time_once(hooked, sandbox, deliveries):
    webinar = sandbox.add_webinar("Live updates", [slot(sandbox, days=2)])[0]
    sandbox.add_registrant(webinar.webinar_key, "Rita@Example.com", "Rita", "Realtime")
    assert [status for _, status, _ in deliveries.answers] == [200, 200]  # webinar.created, registrant.added
    registration = Registration.objects.get(email_key="rita@example.com")
    assert registration.source == "webhook" and registration.registrant_key
    assert registration.event.title == "Live updates" and registration.event.starts_at == webinar.times[0][0]
    assert Activity.objects.filter(kind="goto.webinar.registered", contact=registration.contact).count() == 1
    # GoTo delivering the same event again changes nothing.
    delivery = sandbox.deliveries.all()[-1]
    deliveries(delivery.url, delivery.headers, delivery.body)
    assert deliveries.answers[-1][1] == 200 and b"Already received" in deliveries.answers[-1][2]
    assert Registration.objects.count() == 1 and WebhookEvent.objects.count() == 2
    # The next sync finds it known: nothing new.
    run = sync(hooked.integration, product="webinar")
    assert Registration.objects.filter(email_key="rita@example.com").count() == 1
    assert run.status == "succeeded"


def post(channel, body: bytes, headers: dict) -> tuple[int, dict]:
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    response = Client().post(f"/integrations/goto/webhooks/{channel.token}/", data=body,
                             content_type="application/json", **extra)
    return response.status_code, json.loads(response.content)


def signed(secret: str, payload: dict, stamp: int | None = None) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    timestamp = str(stamp if stamp is not None else int(time.time() * 1000))
    return body, {webhooks.TIMESTAMP_HEADER: timestamp, webhooks.SIGNATURE_HEADER: webhooks.sign(secret, timestamp,
                                                                                                  body)}


def added(webinar_key: int, email: str, event_key: str = "0d1e7f2a-0000-4000-8000-000000000001") -> dict:
    return {"eventName": "registrant.added", "eventVersion": "1.0.0", "product": "g2w", "eventKey": event_key,
            "timestamp": "2026-03-02T10:00:00.000Z", "webinarKey": webinar_key, "webinarTitle": "Signed",
            "registrantKey": 9_007_199_254_740_993, "email": email, "firstName": "Sig", "lastName": "Ned",
            "status": "Approved", "registrationDate": "2026-03-02T09:59:00Z", "joinUrl": "https://example.com/j/1"}


def test_unsigned_forged_or_stale_deliveries_are_refused_and_nothing_stored(hooked):
    payload = added(1234567890123456789, "forged@example.com")
    body, headers = signed(hooked.secret, payload)
    assert post(hooked, body, {})[0] == 401
    status, answer = post(hooked, body.replace(b"forged", b"victim"), headers)
    assert (status, answer["detail"]) == (401, "The signature does not match the stored secret.")
    old, old_headers = signed(hooked.secret, payload, stamp=int((time.time() - 3 * 3600) * 1000))
    assert "too far from now" in post(hooked, old, old_headers)[1]["detail"]
    assert not Registration.objects.exists() and not WebhookEvent.objects.exists()
    hooked.refresh_from_db()
    assert hooked.rejected == 3
    status, answer = post(hooked, body, headers)
    assert status == 200 and Registration.objects.get().registrant_key == "9007199254740993"


def test_malformed_payloads_are_refused_in_words(hooked):
    body, headers = signed(hooked.secret, {**added(1234567890123456789, "not-an-email"), "eventKey": "k-1"})
    status, answer = post(hooked, body, headers)
    assert status == 400 and "is not an e-mail address" in answer["detail"]
    assert WebhookEvent.objects.get().outcome == "failed" and not Registration.objects.exists()
    assert not Event.objects.exists()
    body, headers = signed(hooked.secret, {"eventName": "registrant.added"})
    assert post(hooked, body, headers) == (400, {"detail": "The delivery has no eventKey."})
    body = b"{not json"
    timestamp = str(int(time.time() * 1000))
    assert post(hooked, body, {webhooks.TIMESTAMP_HEADER: timestamp,
                               webhooks.SIGNATURE_HEADER: webhooks.sign(hooked.secret, timestamp, body)})[0] == 400


def test_the_receiver_answers_goto_callback_check_and_unknown_addresses(hooked):
    client = Client()
    assert client.get(f"/integrations/goto/webhooks/{hooked.token}/").status_code == 200
    assert client.post("/integrations/goto/webhooks/nope/", data=b"{}", content_type="application/json"
                       ).status_code == 404


def test_joined_is_provisional_until_the_session_report(hooked, sandbox, account):
    now = sandbox.now().replace(microsecond=0)
    start, end = now - timedelta(minutes=10), now + timedelta(minutes=50)
    webinar = sandbox.add_webinar("In session", [(start, end)])[0]
    sandbox.add_registrant(webinar.webinar_key, "jo@example.com", "Jo", "Joiner")
    joined = now - timedelta(minutes=5)
    sandbox.simulate_session(webinar.webinar_key, {"jo@example.com": [(joined, joined + timedelta(minutes=40))]},
                             start=start, end=end)
    attendance = Attendance.objects.get(email_key="jo@example.com")
    assert attendance.first_join_at == joined and attendance.last_leave_at is None
    assert attendance.duration_seconds == 0
    sandbox.advance(timedelta(hours=2))
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        sync(account, product="webinar")
    attendance = Attendance.objects.get(email_key="jo@example.com")
    assert attendance.last_leave_at == joined + timedelta(minutes=40) and attendance.duration_seconds == 2400
    entry = Activity.objects.get(kind="goto.webinar.attended", contact=attendance.contact)
    assert entry.data["duration_seconds"] == 2400


def test_changes_and_cancellations_of_webinars(hooked, sandbox):
    webinar = sandbox.add_webinar("Announced", [slot(sandbox, days=5)])[0]
    event = Event.objects.get(provider_key=str(webinar.webinar_key))
    assert event.status == "upcoming" and event.times
    from liaison.sandbox.goto.webinar import cancel

    sandbox.run(lambda: cancel(sandbox, webinar, notify=False))
    event.refresh_from_db()
    assert event.status == "cancelled" and event.cancelled_at
    assert WebhookEvent.objects.filter(event_name="webinar.changed").get().message == "“Announced” was cancelled."


def test_an_unpublished_account_ignores_deliveries(hooked, sandbox, account):
    framework.update_integration(account, published=False)
    webinar = sandbox.add_webinar("Quiet", [slot(sandbox, days=5)])[0]
    sandbox.add_registrant(webinar.webinar_key, "quiet@example.com", "Q", "Uiet")
    assert not Registration.objects.exists()
    assert set(WebhookEvent.objects.values_list("outcome", flat=True)) == {"ignored"}


def test_turning_webhooks_off_removes_them_on_goto(hooked, sandbox, account):
    channel = webhooks.disable(account)
    assert channel.state == "off" and not sandbox.state.webhooks and not sandbox.state.user_subscriptions


def test_connecting_turns_webhooks_on_and_accounts_of_one_client_share_the_secret(db, sandbox, admin_user,
                                                                                  deliveries):
    first = create_account(admin_user, "First", webhooks=True)
    message = connect(first, sandbox)
    assert "Real-time updates are on." in message
    second = create_account(admin_user, "Second", webhooks=True)
    organizers = list(sandbox.state.organizers.values())
    other = next((o for o in organizers if o.organizer_key != organizers[0].organizer_key), None)
    if other is None:
        from liaison.sandbox.goto.state import Organizer

        other = sandbox.run(lambda: sandbox.state.add_organizer(Organizer(
            sandbox.state.keys.key(), organizers[0].account_key, "Otto", "Other", "otto@example.com")))
    connect(second, sandbox, user=other.organizer_key)
    a, b = WebhookChannel.objects.get(integration=first), WebhookChannel.objects.get(integration=second)
    assert a.secret == b.secret and a.state == b.state == "active"
    webinar = sandbox.add_webinar("First's webinar", [slot(sandbox, days=2)])[0]
    sandbox.add_registrant(webinar.webinar_key, "share@example.com", "Sha", "Red")
    assert deliveries.answers[-1][1] == 200
    assert Registration.objects.get(email_key="share@example.com").event.integration == first
