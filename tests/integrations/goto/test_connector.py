"""The GoTo connector at /api/connectors/goto/: every action against the sandbox, the
connector's limits (100 calls per 60 s per connection, one trigger poll per 120 s),
polling triggers with their cursor, and push subscriptions."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from liaison.contacts.models import Contact
from liaison.integrations.goto.models import Event, Registration, TriggerEvent, TriggerPoll
from liaison.webhooks.models import Subscription
from tests.integrations.goto.conftest import slot, sync

pytestmark = pytest.mark.postgres

TRAINING_FIELDS = {"trainingId", "name", "timeZone", "times", "organizers", "trainingKey"}
REGISTRANT_FIELDS = {"email", "givenName", "surname", "status", "registrationDate", "joinUrl", "confirmationUrl",
                     "registrantKey"}


@pytest.fixture(autouse=True)
def _no_settle(settings):
    settings.GOTO_TRIGGER_SETTLE_SECONDS = 0


class Connection:
    """An API client with one token (one connection) that posts JSON."""

    def __init__(self, client):
        self.client = client

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, **kw):
        return self.client.post(url, data or {}, content_type="application/json", **kw)

    def delete(self, url, **kw):
        return self.client.delete(url, **kw)


@pytest.fixture
def connection(api):
    return lambda user: Connection(api(user))


@pytest.fixture
def conn(connection, marketer):
    """One connection: an API token of a marketer."""
    return connection(marketer)


@pytest.fixture
def training(account, sandbox):
    remote = sandbox.add_training("Connector course", [slot(sandbox, days=5)])
    sandbox.add_training_registrant(remote.training_key, "grace@example.com", "Grace", "Hopper")
    return remote


def base(account) -> str:
    return f"/api/connectors/goto/{account.pk}"


def calls(sandbox, path_part: str) -> int:
    return sum(1 for e in sandbox.calls.entries() if path_part in e.path)


def test_accounts_and_get_training_with_exactly_the_connector_fields(account, sandbox, conn, training):
    accounts = conn.get("/api/connectors/goto/accounts").json()
    assert accounts == [{"id": account.pk, "name": "Marketing GoTo", "organizerKey": account.account["organizer_key"],
                         "products": ["training", "webinar"]}]
    response = conn.get(f"{base(account)}/trainings/{training.training_key}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == TRAINING_FIELDS
    organizer = sandbox.default_organizer()
    assert body["trainingKey"] == str(training.training_key) and body["name"] == "Connector course"
    assert body["trainingId"] == training.training_id and body["timeZone"]
    assert body["times"] == [{"startDate": training.times[0][0].strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "endDate": training.times[0][1].strftime("%Y-%m-%dT%H:%M:%SZ")}]
    assert body["organizers"] == [{"givenName": organizer.first_name, "surname": organizer.last_name,
                                   "email": organizer.email, "organizerKey": str(organizer.organizer_key)}]
    # Stored on the way, so the same training by its short id is answered from Liaison's tables.
    assert Event.objects.filter(product="training", provider_key=str(training.training_key)).exists()


def test_get_training_reads_liaison_when_fresh_and_goto_when_stale(account, sandbox, conn, training, settings):
    sync(account, product="training")  # the sync just listed the trainings: fresh
    before = calls(sandbox, "/trainings/")
    assert conn.get(f"{base(account)}/trainings/{training.training_key}").status_code == 200
    assert conn.get(f"{base(account)}/trainings/{training.training_id}").json()["trainingKey"] == str(
        training.training_key)
    assert calls(sandbox, "/trainings/") == before
    settings.GOTO_CONNECTOR_FRESH_SECONDS = 0
    assert conn.get(f"{base(account)}/trainings/{training.training_key}").status_code == 200
    assert calls(sandbox, "/trainings/") == before + 1


def test_unknown_training_is_a_404_in_words_and_bad_keys_a_422(account, sandbox, conn):
    response = conn.get(f"{base(account)}/trainings/1234567890123")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("GoToTraining has no such training: it may have been deleted.")
    assert "NoSuchTraining" in response.json()["detail"]
    response = conn.get(f"{base(account)}/trainings/abc")
    assert response.status_code == 422
    assert response.json()["errors"] == {"trainingKey": [
        "“abc” is not a GoTo key: give the trainingKey (or trainingId), digits only."]}
    assert conn.get("/api/connectors/goto/999/trainings/1").json()["detail"].startswith("There is no GoTo account 999")


def test_list_and_get_registrants(account, sandbox, conn, training):
    response = conn.get(f"{base(account)}/trainings/{training.training_key}/registrants")
    assert response.status_code == 200
    [grace] = response.json()
    assert set(grace) == REGISTRANT_FIELDS
    assert (grace["email"], grace["givenName"], grace["surname"], grace["status"]) == (
        "grace@example.com", "Grace", "Hopper", "APPROVED")
    assert grace["joinUrl"].startswith("http") and grace["confirmationUrl"].startswith("http")
    assert Contact.objects.filter(email_key="grace@example.com").exists()
    reads = calls(sandbox, "/registrants")
    one = conn.get(f"{base(account)}/trainings/{training.training_key}/registrants/{grace['registrantKey']}")
    assert one.status_code == 200 and one.json() == grace
    assert calls(sandbox, "/registrants") == reads  # the list was read a moment ago: answered locally
    missing = conn.get(f"{base(account)}/trainings/{training.training_key}/registrants/4242424242")
    assert missing.status_code == 404 and "GoToTraining" in missing.json()["detail"]


def test_add_registrant_new_then_duplicate(account, sandbox, conn, training):
    url = f"{base(account)}/trainings/{training.training_key}/registrants"
    response = conn.post(url, {"email": "ada@example.com", "givenName": "Ada", "surname": "Lovelace"})
    assert response.status_code == 201, response.content
    added = response.json()
    assert set(added) == {"joinUrl", "confirmationUrl", "registrantKey"}
    remote = sandbox.state.trainings[training.training_key].registrants[int(added["registrantKey"])]
    assert (remote.email, remote.given_name, remote.surname) == ("ada@example.com", "Ada", "Lovelace")
    registration = Registration.objects.get(email_key="ada@example.com")
    assert registration.source == "api" and registration.registrant_key == added["registrantKey"]
    # GoTo's 409 DuplicateRegistrant is a success with the same links.
    Registration.objects.filter(pk=registration.pk).delete()
    again = conn.post(url, {"email": "ADA@example.com", "givenName": "Ada", "surname": "Lovelace"})
    assert again.status_code == 200 and again.json()["registrantKey"] == added["registrantKey"]
    assert again.json()["joinUrl"] == added["joinUrl"]


def test_add_registrant_refusals_change_nothing(account, sandbox, conn, training):
    url = f"{base(account)}/trainings/{training.training_key}/registrants"
    response = conn.post(url, {"givenName": "Ada", "surname": "Lovelace"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"email": ["GoToTraining needs the registrant's e-mail address."]}
    response = conn.post(url, {"email": "nobody@example.com"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"givenName": ["GoToTraining needs a first name to register someone."],
                                         "surname": ["GoToTraining needs a last name to register someone."]}
    assert conn.post(url, {"email": "x@example.com", "nickname": "x"}).json()["errors"] == {
        "nickname": ["Unknown field."]}
    assert not Contact.objects.filter(email_key__in=["nobody@example.com", "x@example.com"]).exists()
    # GoTo's refusal reaches the caller in GoTo's words (a training that is over).
    over = sandbox.add_training("Over", [(sandbox.now() - timedelta(days=2),
                                          sandbox.now() - timedelta(days=2) + timedelta(hours=1))])
    response = conn.post(f"{base(account)}/trainings/{over.training_key}/registrants",
                         {"email": "ada@example.com", "givenName": "Ada", "surname": "Lovelace"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("This training is over: GoToTraining no longer accepts registrations")
    assert "TrainingOver" in response.json()["detail"]
    assert not Registration.objects.filter(email_key="ada@example.com").exists()


def test_a_goto_failure_is_a_502_in_words(account, sandbox, conn, training):
    sandbox.scripted.fail(500, {"errorCode": "InternalServerError", "description": "Boom", "incident": 7}, times=10)
    response = conn.get(f"{base(account)}/trainings/{training.training_key}")
    assert response.status_code == 502
    assert "GoToTraining's server failed to handle the request" in response.json()["detail"]
    assert response.json()["provider"]["detail"] == "Boom"


def test_webinar_actions(account, sandbox, conn):
    webinar = sandbox.add_webinar("Connector webinar", [slot(sandbox, days=6)])[0]
    sandbox.add_registrant(webinar.webinar_key, "linus@example.com", "Linus", "Torvalds")
    listed = conn.get(f"{base(account)}/webinars")
    assert listed.status_code == 200
    found = next(w for w in listed.json() if w["webinarKey"] == str(webinar.webinar_key))
    assert set(found) == {"webinarKey", "webinarID", "subject", "description", "organizerKey", "timeZone", "times",
                          "registrationUrl"}
    assert found["subject"] == "Connector webinar" and found["times"][0]["startTime"].endswith("Z")
    assert conn.get(f"{base(account)}/webinars/{webinar.webinar_key}").json() == found
    [linus] = conn.get(f"{base(account)}/webinars/{webinar.webinar_key}/registrants").json()
    assert set(linus) == {"registrantKey", "firstName", "lastName", "email", "status", "registrationDate", "joinUrl"}
    assert conn.get(f"{base(account)}/webinars/{webinar.webinar_key}/registrants/{linus['registrantKey']}"
                    ).json() == linus
    url = f"{base(account)}/webinars/{webinar.webinar_key}/registrants"
    added = conn.post(url, {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"})
    assert added.status_code == 201 and set(added.json()) == {"registrantKey", "joinUrl"}
    duplicate = conn.post(url, {"email": "linus@example.com", "firstName": "Linus", "lastName": "Torvalds"})
    assert duplicate.status_code == 200 and duplicate.json()["registrantKey"] == linus["registrantKey"]
    gone = conn.get(f"{base(account)}/webinars/9999999999")
    assert gone.status_code == 404 and "GoToWebinar" in gone.json()["detail"]


def test_a_switched_off_product_and_an_unpublished_account_are_refused(account, conn, training):
    from liaison.integrations import services as framework

    framework.update_integration(account, features={**account.features, "training": False})
    response = conn.get(f"{base(account)}/trainings/{training.training_key}")
    assert response.status_code == 400 and response.json()["detail"] == (
        "GoToTraining is switched off for “Marketing GoTo”.")
    framework.update_integration(account, published=False)
    assert "unpublished" in conn.get(f"{base(account)}/webinars").json()["detail"]


def test_the_connector_needs_a_token_and_the_right_role(account, client, admin_client, connection, reader,
                                                       training):
    assert client.get(f"{base(account)}/trainings/{training.training_key}").status_code == 401
    assert admin_client.get(f"{base(account)}/trainings/{training.training_key}").status_code == 401  # a session
    read_only = connection(reader)
    assert read_only.get(f"{base(account)}/trainings/{training.training_key}").status_code == 200
    response = read_only.post(f"{base(account)}/trainings/{training.training_key}/registrants",
                              {"email": "a@example.com", "givenName": "A", "surname": "B"})
    assert response.status_code == 403


def test_100_calls_per_connection_per_60_seconds(account, connection, marketer, settings, training):
    settings.GOTO_CONNECTOR_CALLS = (3, 60)  # the documented 100 / 60 s, scaled down
    first, second = connection(marketer), connection(marketer)
    url = f"{base(account)}/trainings/{training.training_key}"
    assert [first.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = first.get(url)
    assert refused.status_code == 429
    assert 55 <= int(refused["Retry-After"]) <= 61
    assert refused.json()["detail"].startswith("This connection made 3 calls in the last 60 seconds")
    assert first.get("/api/connectors/goto/accounts").status_code == 429  # every connector call counts
    assert second.get(url).status_code == 200  # another connection has its own budget


def test_polling_triggers_cursor_and_the_120_second_limit(account, sandbox, conn, connection, marketer):
    url = f"{base(account)}/triggers/new-trainings"
    with time_machine.travel(timezone.now(), tick=True) as clock:
        first = conn.get(url)
        assert first.status_code == 200 and first.json() == []  # a new trigger starts now
        cursor = first["X-Liaison-Cursor"]
        assert first["Location"].endswith(f"{url}?cursor={cursor}") and first["Retry-After"] == "120"
        clock.shift(100)
        too_soon = conn.get(f"{url}?cursor={cursor}")
        assert too_soon.status_code == 429 and 19 <= int(too_soon["Retry-After"]) <= 20
        assert "at most once every 120 seconds" in too_soon.json()["detail"]
        new = sandbox.add_training("Brand new", [slot(sandbox, days=8)])
        other = connection(marketer).get(url)  # another connection polls on its own clock: it starts now
        assert other.status_code == 200 and other.json() == []
        clock.shift(21)
        second = conn.get(f"{url}?cursor={cursor}")
        assert second.status_code == 200
        assert [t["trainingKey"] for t in second.json()] == [str(new.training_key)]
        assert set(second.json()[0]) == TRAINING_FIELDS
        clock.shift(121)
        third = conn.get(f"{url}?cursor={second['X-Liaison-Cursor']}")
        assert third.status_code == 200 and third.json() == []
        clock.shift(121)
        assert conn.get(f"{url}?cursor=abc").status_code == 422
    assert TriggerPoll.objects.count() == 2  # one row per connection and trigger


def test_new_registrant_trigger_of_one_training(account, sandbox, conn, training):
    url = f"{base(account)}/trainings/{training.training_key}/triggers/new-registrants"
    with time_machine.travel(timezone.now(), tick=True) as clock:
        start = conn.get(url)
        assert start.status_code == 200 and start.json() == []
        sandbox.add_training_registrant(training.training_key, "alan@example.com", "Alan", "Turing")
        clock.shift(121)
        found = conn.get(f"{url}?cursor={start['X-Liaison-Cursor']}")
        assert [r["email"] for r in found.json()] == ["alan@example.com"]
        assert set(found.json()[0]) == REGISTRANT_FIELDS


def test_push_subscriptions(account, sandbox, conn, connection, marketer, training):
    url = f"{base(account)}/subscriptions"
    created = conn.post(url, {"trigger": "OnNewRegistration", "callbackUrl": "https://hooks.example.com/a",
                              "trainingKey": str(training.training_key)})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["key"] == str(training.training_key)
    assert body["trigger"] == "OnNewRegistration" and body["active"]
    assert created["Location"] == f"http://testserver{url}/{body['id']}"
    subscription = Subscription.objects.get(pk=body["id"])
    assert subscription.topic == "goto.training.registrant_added"
    assert subscription.scope == f"goto:{account.pk}:training:{training.training_key}"
    again = conn.post(url, {"trigger": "OnNewRegistration", "callbackUrl": "https://hooks.example.com/a",
                            "trainingKey": str(training.training_key)})
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert conn.post(url, {"trigger": "OnNewRegistration", "callbackUrl": "https://hooks.example.com/a"}
                     ).json()["errors"] == {"trainingKey": [
                         "OnNewRegistration watches one training: give its trainingKey."]}
    assert conn.post(url, {"trigger": "OnSomething", "callbackUrl": "https://x.example.com"}).status_code == 422
    assert conn.post(url, {"trigger": "OnNewTraining", "callbackUrl": "ftp://x"}).json()["errors"] == {
        "url": ["Use a full http:// or https:// address."]}
    assert [s["id"] for s in conn.get(url).json()] == [body["id"]]
    other = connection(marketer)
    assert other.get(url).json() == []
    assert other.delete(f"{url}/{body['id']}").status_code == 404
    assert conn.get(f"{url}/{body['id']}/deliveries").json() == []
    assert conn.delete(f"{url}/{body['id']}").status_code == 204
    assert not Subscription.objects.exists() and not TriggerEvent.objects.filter(topic="x").exists()


def test_the_account_page_shows_the_connector(admin_client, account, conn):
    conn.post(f"{base(account)}/subscriptions", {"trigger": "OnNewTraining", "callbackUrl": "https://h.example.com/"})
    page = admin_client.get(f"/integrations/{account.pk}/").content.decode()
    assert f"http://testserver/api/connectors/goto/{account.pk}/" in page and "1 push subscription " in page
